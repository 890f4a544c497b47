"""Sampler checks against an exact denoiser on a two-position problem with a known distribution."""

import itertools

import pytest
import torch

from molremdm.diffusion.masked import NEG_LOG
from molremdm.diffusion.schedules import LogLinearSchedule
from molremdm.sampling.sampler import categorical, sample
from molremdm.sampling.strategies import STRATEGIES, StepState, make_strategy, sigma_max

A, B, MASK = 0, 1, 2
# Strongly correlated target: only AA and BB, so decoding both positions in one step shows up.
TARGET = {(A, A): 0.7, (B, B): 0.3}


class ExactDenoiser:
    """The true posterior p(x^l | z_t) of TARGET, by enumeration; it does not depend on t."""

    time_conditioned = False

    def __init__(self):
        self.calls = 0

    def __call__(self, z, t):
        self.calls += 1
        out = torch.full((*z.shape, 3), 0.0, dtype=torch.float64)
        for sequence, p in TARGET.items():
            x = torch.tensor(sequence)
            consistent = ((z == x) | (z == MASK)).all(dim=-1)  # (B,)
            for position, token in enumerate(sequence):
                out[:, position, token] += p * consistent
        out = out / out.sum(-1, keepdim=True)
        return torch.where(out > 0, out.log(), torch.full_like(out, NEG_LOG))


def total_variation(tokens):
    counts = {}
    for row in tokens.tolist():
        counts[tuple(row)] = counts.get(tuple(row), 0) + 1
    n = len(tokens)
    outcomes = set(counts) | set(TARGET)
    return 0.5 * sum(abs(counts.get(o, 0) / n - TARGET.get(o, 0.0)) for o in outcomes)


N = 10_000
# With N draws the TV from sampling noise alone is about |count(AA)/N - 0.7|, mean 0.004 and
# standard deviation 0.003 (sqrt(0.21 / N)). MDLM at T steps decodes both positions in one
# step with probability about 1 / T, which adds about 0.42 / T. 0.02 leaves about 5 standard
# deviations at T = 200, while simultaneous decoding at T = 1 gives TV near 0.4.
TV_TOLERANCE = 0.02
STEPS = 200


def run(strategy, steps, seed=0, **options):
    generator = torch.Generator().manual_seed(seed)
    return sample(ExactDenoiser(), num_samples=N, length=2, mask_id=MASK, steps=steps,
                  strategy=strategy, generator=generator, **options)


def test_mdlm_large_t_matches_target():
    assert total_variation(run("mdlm", STEPS).tokens) < TV_TOLERANCE


def test_mdlm_single_step_decodes_independently():
    # One step decodes both positions from their marginals: AB and BA appear.
    assert total_variation(run("mdlm", 1).tokens) > 0.3


@pytest.mark.parametrize("strategy, options", [
    ("remdm-cap", {"eta": 0.005}),
    ("remdm-rescale", {"eta": 0.01}),
    ("remdm-loop", {"eta": 0.005}),
    ("remdm-switch", {"eta": 0.005}),
    ("remdm-conf", {"eta": 0.01}),
    ("forward-backward", {}),
    ("dfm", {}),
])
def test_remdm_small_eta_matches_target(strategy, options):
    assert total_variation(run(strategy, STEPS, **options).tokens) < TV_TOLERANCE


@pytest.mark.parametrize("strategy", sorted(n for n, c in STRATEGIES.items() if c.keeps_marginals))
def test_masked_fraction_follows_alpha(strategy):
    observed = []
    generator = torch.Generator().manual_seed(1)

    def record(step, t, s, tokens):
        observed.append(float((tokens == MASK).float().mean()))

    result = sample(ExactDenoiser(), num_samples=N, length=2, mask_id=MASK, steps=50,
                    strategy=strategy, generator=generator, callback=record)
    for step, fraction in enumerate(observed):
        expected = 1.0 - result.trace[step]["alpha_s"]
        # 2 N positions: the standard deviation of the fraction is at most 0.0036
        assert abs(fraction - expected) < 0.02, (step, fraction, expected)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("steps", [1, 2, 3, 7, 64, 1000])
def test_sigma_within_bound_every_step(strategy, steps):
    options = {"eta": 1.0} if strategy in ("remdm-cap", "remdm-rescale", "remdm-switch") else {}
    rule = make_strategy(strategy, **options)
    grid = rule.grid(steps, LogLinearSchedule())
    if strategy == "dfm":
        assert len(grid.alphas) >= steps + 1
    else:
        assert len(grid.alphas) == steps + 1
    assert (grid.alphas[1:] >= grid.alphas[:-1]).all()
    assert grid.alphas[-1] > 0.9999
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 3, (8, 5), generator=generator)
    state = StepState(tokens, torch.rand(8, 5, generator=generator), MASK)
    for k in range(len(grid.times) - 1):
        t, a_t, a_s = float(grid.times[k]), float(grid.alphas[k]), float(grid.alphas[k + 1])
        sigma = torch.as_tensor(rule.sigma(t, a_t, a_s, state), dtype=torch.float64)
        assert sigma.min() >= 0.0
        assert sigma.max() <= sigma_max(a_t, a_s) + 1e-12
        # the four ReMDM transition probabilities are non-negative
        assert (a_s - (1 - sigma) * a_t >= -1e-12).all()
        assert (1 - a_s - sigma * a_t >= -1e-12).all()


@pytest.mark.parametrize("strategy", ["remdm-cap", "remdm-rescale", "remdm-switch"])
def test_zero_eta_equals_mdlm(strategy):
    mdlm = run("mdlm", 32, seed=5).tokens
    assert torch.equal(run(strategy, 32, seed=5, eta=0.0).tokens, mdlm)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
@pytest.mark.parametrize("steps", [1, 2, 1000])
def test_no_mask_survives(tiny_network, strategy, steps):
    def denoiser(z, t):
        return torch.log_softmax(tiny_network(z, t, torch.full((z.shape[0],), 2)), -1)

    result = sample(denoiser, num_samples=16, length=6, mask_id=3, steps=steps,
                    strategy=strategy, generator=torch.Generator().manual_seed(0))
    assert not (result.tokens == 3).any()


def test_same_seed_same_samples(tiny_network):
    def denoiser(z, t):
        return torch.log_softmax(tiny_network(z, t, torch.zeros(z.shape[0], dtype=torch.long)), -1)

    def draw(seed):
        return sample(denoiser, num_samples=32, length=6, mask_id=3, steps=16,
                      strategy="remdm-loop", generator=torch.Generator().manual_seed(seed)).tokens

    assert torch.equal(draw(7), draw(7))
    assert not torch.equal(draw(7), draw(8))


def test_nfe_counts_only_real_calls():
    denoiser = ExactDenoiser()
    result = sample(denoiser, num_samples=1, length=2, mask_id=MASK, steps=1000,
                    generator=torch.Generator().manual_seed(0))
    assert result.nfe == denoiser.calls
    assert result.nfe <= 3  # two positions change at most twice, plus the first call


def test_time_conditioned_denoiser_is_never_cached():
    denoiser = ExactDenoiser()
    denoiser.time_conditioned = True
    result = sample(denoiser, num_samples=1, length=2, mask_id=MASK, steps=100,
                    generator=torch.Generator().manual_seed(0))
    assert result.nfe == denoiser.calls >= 100


@pytest.mark.parametrize("strategy, options", [("mdlm", {}), ("remdm-cap", {"eta": 0.05}),
                                               ("remdm-loop", {"eta": 0.05})])
def test_row_cache_matches_uncached(strategy, options):
    """Re-running only the sequences that changed gives the same draws as running all of them
    at every step, with fewer forward passes."""
    def draw(time_conditioned):
        denoiser = ExactDenoiser()
        denoiser.time_conditioned = time_conditioned
        return sample(denoiser, num_samples=64, length=2, mask_id=MASK, steps=50,
                      strategy=strategy, generator=torch.Generator().manual_seed(3), **options)

    cached, uncached = draw(False), draw(True)

    assert torch.equal(cached.tokens, uncached.tokens)
    assert uncached.nfe == 50
    assert cached.nfe < uncached.nfe


def test_categorical_draw_frequencies():
    probs = torch.tensor([0.6, 0.3, 0.099, 0.001], dtype=torch.float64)
    draws = categorical(probs.expand(400_000, 4), torch.Generator().manual_seed(0))
    frequencies = torch.bincount(draws, minlength=4).double() / len(draws)
    sd = (probs * (1 - probs) / len(draws)).sqrt()
    assert ((frequencies - probs).abs() < 5 * sd).all()


def test_categorical_never_picks_zero_probability():
    probs = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64).expand(10_000, 3)
    assert (categorical(probs, torch.Generator().manual_seed(0)) == 1).all()


@pytest.mark.parametrize("name, options, message", [
    ("remdm-foo", {}, "unknown sampler strategy 'remdm-foo'"),
    ("mdlm", {"eta": 0.1}, "does not take option"),
    ("remdm-cap", {"eta": 1.5}, r"eta=1.5 is outside the allowed range \[0, 1\]"),
    ("remdm-rescale", {"eta": -0.1}, "eta=-0.1 is outside"),
    ("remdm-loop", {"t_on": 0.1, "t_off": 0.2}, "0 < t_off < t_on < 1"),
    ("remdm-loop", {"alpha_on": 1.0}, "alpha_on=1.0"),
    ("remdm-loop", {"eta": 0.2, "alpha_on": 0.9}, "eta=0.2 is outside"),
    ("remdm-switch", {"t_switch": 1.5}, "t_switch=1.5 is outside"),
    ("remdm-conf", {"t_on": 0.1}, "does not take option"),
])
def test_invalid_strategy_settings_rejected(name, options, message):
    with pytest.raises(ValueError, match=message):
        make_strategy(name, **options)


def test_loop_phase_split():
    loop = make_strategy("remdm-loop")
    for steps in (1, 2, 3, 10, 128):
        phases = loop.phase_steps(steps)
        assert sum(phases) == steps
        assert min(phases) >= 0
        assert phases[2] >= 1
    assert loop.phase_steps(100) == (45, 50, 5)


def test_sample_rejects_bad_counts():
    with pytest.raises(ValueError, match="steps must be >= 1"):
        sample(ExactDenoiser(), num_samples=4, length=2, mask_id=MASK, steps=0)
    with pytest.raises(ValueError, match="num_samples must be >= 1"):
        sample(ExactDenoiser(), num_samples=0, length=2, mask_id=MASK, steps=4)


def test_enumerated_outcomes_cover_target():
    assert set(TARGET) <= set(itertools.product([A, B], repeat=2))


def test_switch_before_t_switch_equals_mdlm():
    # t_switch = 0: sigma is 0 at every step, so the draws are MDLM's
    assert torch.equal(run("remdm-switch", 32, seed=2, eta=0.5, t_switch=0.0).tokens,
                       run("mdlm", 32, seed=2).tokens)


def test_top_p_keeps_smallest_set_reaching_mass():
    from molremdm.sampling.sampler import clean_probabilities
    probs = torch.tensor([[[0.5, 0.3, 0.0, 0.15, 0.05]]], dtype=torch.float64)
    z = torch.tensor([[2]])  # masked position (mask id 2)
    cut = clean_probabilities(probs.log(), z, mask_id=2, top_p=0.8)
    torch.testing.assert_close(cut, torch.tensor([[[0.625, 0.375, 0.0, 0.0, 0.0]]],
                                                 dtype=torch.float64))
    full = clean_probabilities(probs.log(), z, mask_id=2, top_p=1.0)
    torch.testing.assert_close(full, probs)


def test_top_p_out_of_range():
    with pytest.raises(ValueError, match="top_p=0.0"):
        sample(ExactDenoiser(), num_samples=2, length=2, mask_id=MASK, steps=2, top_p=0.0)


def test_public_api_importable_without_lightning():
    import subprocess
    import sys
    code = ("import sys; from molremdm.sampling import sample, STRATEGIES; "
            "assert 'lightning' not in sys.modules; print(sorted(STRATEGIES))")
    output = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                            text=True, timeout=120).stdout
    for name in ("mdlm", "remdm-cap", "remdm-rescale", "remdm-conf", "remdm-loop",
                 "remdm-switch", "forward-backward", "dfm"):
        assert name in output
