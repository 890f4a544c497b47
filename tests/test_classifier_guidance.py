"""D-CBG: identities that hold for any classifier, and exact vs first-order agreement."""

import pytest
import torch

from molremdm.diffusion.uniform import UniformProcess
from molremdm.sampling.classifier_guidance import ClassifierGuidance
from molremdm.sampling.guidance import LabelDenoiser
from molremdm.sampling.sampler import sample
from molremdm.sampling.uniform_sampler import sample_uniform

MASK, V, L = 3, 10, 6


@pytest.fixture
def base(tiny_network):
    return LabelDenoiser(tiny_network, 2, 2, time_conditioned=False)


def constant(one_hot, t):
    return torch.full((one_hot.shape[0],), -0.7)


def linear_weights():
    return torch.randn(L, V, generator=torch.Generator().manual_seed(1))


def linear(one_hot, t):
    # log p(y | z) linear in the one-hot input, so a first-order expansion is exact
    return (one_hot * linear_weights()).sum(dim=(1, 2))


def draw(denoiser, strategy="remdm-cap", seed=0):
    return sample(denoiser, num_samples=24, length=L, mask_id=MASK, steps=10, strategy=strategy,
                  generator=torch.Generator().manual_seed(seed)).tokens


@pytest.mark.parametrize("mode", ["exact", "first-order"])
@pytest.mark.parametrize("strategy", ["mdlm", "remdm-cap", "remdm-loop"])
def test_constant_classifier_changes_nothing(base, mode, strategy):
    guided = ClassifierGuidance(base, constant, gamma=3.0, mode=mode, mask_id=MASK)
    assert torch.equal(draw(guided, strategy), draw(base, strategy))


@pytest.mark.parametrize("mode", ["exact", "first-order"])
def test_gamma_zero_equals_unguided(base, mode):
    guided = ClassifierGuidance(base, linear, gamma=0.0, mode=mode, mask_id=MASK)
    assert torch.equal(draw(guided), draw(base))


@pytest.mark.parametrize("editable", ["masked", "all"])
def test_linear_classifier_first_order_equals_exact(base, editable):
    generator = torch.Generator().manual_seed(2)
    z = torch.randint(0, V, (5, L), generator=generator)
    t = torch.full((5,), 0.4)
    exact = ClassifierGuidance(base, linear, 2.0, "exact", MASK, editable)
    first = ClassifierGuidance(base, linear, 2.0, "first-order", MASK, editable)
    w_exact = exact.transition_log_weights(z, t, V, remasking=True)
    w_first = first.transition_log_weights(z, t, V, remasking=True)
    if editable == "masked":
        # exact computes only what can happen: edits of masked positions, remasking of others
        masked = (z == MASK).unsqueeze(-1).expand(-1, -1, V)
        remask = torch.zeros_like(masked)
        remask[..., MASK] = z != MASK
        keep = masked | remask
        torch.testing.assert_close(w_exact[keep], w_first[keep], atol=1e-5, rtol=1e-5)
    else:
        torch.testing.assert_close(w_exact, w_first, atol=1e-5, rtol=1e-5)


def test_exact_cost_follows_masked_positions(base):
    guided = ClassifierGuidance(base, linear, 1.0, "exact", MASK)
    t = torch.full((2,), 0.5)
    counts = []
    for masked in (6, 3, 0):
        z = torch.zeros(2, L, dtype=torch.long)
        z[:, :masked] = MASK
        guided.classifier_evaluations = 0
        guided.transition_log_weights(z, t, V, remasking=False)
        counts.append(guided.classifier_evaluations)
    assert counts == [2 + 2 * 6 * (V - 1), 2 + 2 * 3 * (V - 1), 2]


def test_guidance_raises_target_likelihood(base):
    guided = ClassifierGuidance(base, linear, gamma=4.0, mode="exact", mask_id=MASK)
    weights = linear_weights()

    def score(tokens):
        return float(torch.nn.functional.one_hot(tokens, V).float().mul(weights).sum((1, 2)).mean())

    assert score(draw(guided, "mdlm")) > score(draw(base, "mdlm")) + 1.0


def test_uniform_constant_classifier_changes_nothing(tiny_network):
    process = UniformProcess(V, MASK)
    base = LabelDenoiser(tiny_network, 2, 2, time_conditioned=True)
    guided = ClassifierGuidance(base, constant, 5.0, "exact", editable="all")

    def run(denoiser):
        return sample_uniform(denoiser, num_samples=8, length=L, process=process, steps=5,
                              generator=torch.Generator().manual_seed(3)).tokens

    assert torch.equal(run(guided), run(base))


def test_invalid_settings_rejected(base):
    with pytest.raises(ValueError, match="mode 'taylor'"):
        ClassifierGuidance(base, linear, 1.0, "taylor", MASK)
    with pytest.raises(ValueError, match="gamma must be a finite number"):
        ClassifierGuidance(base, linear, -2.0, "exact", MASK)
