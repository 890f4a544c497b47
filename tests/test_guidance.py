import pytest
import torch

from molremdm.sampling.guidance import ClassifierFreeGuidance, LabelDenoiser
from molremdm.sampling.sampler import sample

MASK = 3


def draw(denoiser, seed=0, steps=12, strategy="remdm-cap"):
    return sample(denoiser, num_samples=48, length=6, mask_id=MASK, steps=steps,
                  strategy=strategy, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("strategy", ["mdlm", "remdm-cap", "remdm-loop"])
def test_gamma_zero_equals_null_label(tiny_network, strategy):
    guided = ClassifierFreeGuidance(tiny_network, label=1, gamma=0.0, num_classes=2,
                                    time_conditioned=False)
    null = LabelDenoiser(tiny_network, label=2, num_classes=2, time_conditioned=False)
    assert guided.passes_per_call == 1
    assert torch.equal(draw(guided, strategy=strategy).tokens, draw(null, strategy=strategy).tokens)


@pytest.mark.parametrize("strategy", ["mdlm", "remdm-cap", "remdm-loop"])
def test_gamma_one_equals_conditional(tiny_network, strategy):
    guided = ClassifierFreeGuidance(tiny_network, label=1, gamma=1.0, num_classes=2,
                                    time_conditioned=False)
    conditional = LabelDenoiser(tiny_network, label=1, num_classes=2, time_conditioned=False)
    assert guided.passes_per_call == 1
    assert torch.equal(draw(guided, strategy=strategy).tokens,
                       draw(conditional, strategy=strategy).tokens)


def test_mixed_gamma_is_log_linear_combination(tiny_network):
    z = torch.full((4, 6), MASK)
    t = torch.full((4,), 0.5)
    guided = ClassifierFreeGuidance(tiny_network, label=1, gamma=2.5, num_classes=2,
                                    time_conditioned=False)
    conditional = torch.log_softmax(tiny_network(z, t, torch.ones(4, dtype=torch.long)), -1)
    unconditional = torch.log_softmax(tiny_network(z, t, torch.full((4,), 2)), -1)
    expected = torch.log_softmax(2.5 * conditional - 1.5 * unconditional, -1)
    assert guided.passes_per_call == 2
    torch.testing.assert_close(guided(z, t), expected, atol=1e-5, rtol=1e-5)


def test_large_gamma_with_infinite_logits_stays_finite():
    def network(z, t, labels):
        logits = torch.zeros(*z.shape, 5)
        logits[..., 0] = float("-inf")  # a token the network rules out entirely
        logits[labels == 1, :, 1] = 3.0
        return logits

    guided = ClassifierFreeGuidance(network, label=1, gamma=8.0, num_classes=2,
                                    time_conditioned=False)
    out = guided(torch.full((3, 4), MASK), torch.full((3,), 0.3))
    assert torch.isfinite(out).all()
    assert (out.exp().sum(-1) - 1).abs().max() < 1e-5
    result = sample(guided, num_samples=8, length=4, mask_id=MASK, steps=4,
                    generator=torch.Generator().manual_seed(0))
    assert not (result.tokens == 0).any()
    assert result.nfe >= 2 * 1  # each step runs both branches


def test_cfg_nfe_counts_both_branches(tiny_network):
    guided = ClassifierFreeGuidance(tiny_network, label=1, gamma=2.0, num_classes=2,
                                    time_conditioned=True)
    plain = LabelDenoiser(tiny_network, label=1, num_classes=2, time_conditioned=True)
    assert draw(guided, steps=10).nfe == 2 * draw(plain, steps=10).nfe


@pytest.mark.parametrize("label", [-1, 2, 5])
def test_target_label_out_of_range(tiny_network, label):
    with pytest.raises(ValueError, match="target label must be in 0..1"):
        ClassifierFreeGuidance(tiny_network, label=label, gamma=2.0, num_classes=2,
                               time_conditioned=False)


@pytest.mark.parametrize("gamma", [-0.5, float("nan"), float("inf")])
def test_gamma_out_of_range(tiny_network, gamma):
    with pytest.raises(ValueError, match="gamma must be a finite number >= 0"):
        ClassifierFreeGuidance(tiny_network, label=1, gamma=gamma, num_classes=2,
                               time_conditioned=False)


def test_network_rejects_label_outside_embedding(tiny_network):
    with pytest.raises(ValueError, match=r"labels must be in 0..2"):
        tiny_network(torch.zeros(2, 6, dtype=torch.long), None, torch.tensor([0, 3]))


def test_null_label_has_its_own_embedding_row(tiny_network):
    assert tiny_network.label_embedding.num_embeddings == 3


def test_cfg_needs_conditional_model(tiny_network):
    with pytest.raises(ValueError, match="label-conditioned model"):
        ClassifierFreeGuidance(tiny_network, label=1, gamma=2.0, num_classes=0,
                               time_conditioned=False)
