"""The autoregressive sampler against a hand-built causal model with a known distribution."""

import pytest
import torch

from molremdm.sampling.autoregressive import sample_autoregressive

A, B, PAD, BOS, MASK, V = 0, 1, 2, 3, 4, 5
TARGET = {(A, A): 0.7, (B, B): 0.3}
SHIFTED = {(A, A): 0.2, (B, B): 0.8}  # the distribution under label 1


def exact_network(tokens, t, labels):
    """Logits at position 0 give p(x1), at position 1 give p(x2 | x1), for TARGET (labels
    None, or 0 and the null label 2) or SHIFTED (label 1)."""
    batch = tokens.shape[0]
    logits = torch.full((batch, 3, V), -1e9)
    for row in range(batch):
        table = SHIFTED if labels is not None and int(labels[row]) == 1 else TARGET
        first = {A: sum(p for (a, _), p in table.items() if a == A),
                 B: sum(p for (a, _), p in table.items() if a == B)}
        for token, p in first.items():
            logits[row, 0, token] = torch.tensor(p).log()
        x1 = int(tokens[row, 1])
        for (a, b), p in table.items():
            if a == x1:
                logits[row, 1, b] = torch.tensor(p / first[a]).log()
    return logits


def draw(**options):
    return sample_autoregressive(exact_network, num_samples=4000, length=3, bos_id=BOS,
                                 pad_id=PAD, mask_id=MASK,
                                 generator=torch.Generator().manual_seed(0), **options)


def total_variation(tokens, target):
    counts = {}
    for row in tokens[:, 1:].tolist():
        counts[tuple(row)] = counts.get(tuple(row), 0) + 1
    n = len(tokens)
    return 0.5 * sum(abs(counts.get(o, 0) / n - target.get(o, 0.0))
                     for o in set(counts) | set(target))


def test_reproduces_target():
    result = draw()
    assert (result.tokens[:, 0] == BOS).all()
    # 4,000 draws: sampling noise about 0.006, and an ordered sampler has no other error
    assert total_variation(result.tokens, TARGET) < 0.03
    assert result.nfe == 2


def test_gamma_zero_and_one():
    assert torch.equal(draw(label=1, null_label=2, gamma=0.0).tokens, draw(label=2).tokens)
    assert torch.equal(draw(label=1, null_label=2, gamma=1.0).tokens, draw(label=1).tokens)
    conditional = draw(label=1, null_label=2, gamma=1.0)
    assert total_variation(conditional.tokens, SHIFTED) < 0.03


def test_strong_guidance_sharpens_toward_label():
    guided = draw(label=1, null_label=2, gamma=3.0)
    share_bb = float(((guided.tokens[:, 1] == B) & (guided.tokens[:, 2] == B)).float().mean())
    assert share_bb > 0.9
    assert guided.nfe == 4


@pytest.mark.parametrize("options, message", [
    ({"temperature": 0.0}, "temperature must be > 0"),
    ({"top_p": 1.5}, "top_p=1.5"),
    ({"label": 1, "null_label": 2, "gamma": -1.0}, "gamma must be a finite number"),
])
def test_invalid_settings(options, message):
    with pytest.raises(ValueError, match=message):
        draw(**options)
