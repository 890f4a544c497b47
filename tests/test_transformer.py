"""The explicit CPU attention equals torch's fused attention, causal models ignore the future,
and chunked inference equals one batch."""

import pytest
import torch
import torch.nn.functional as F

from molremdm.models.transformer import (INFERENCE_CHUNK_ROWS, DiffusionTransformer, ModelConfig,
                                         attention)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_matches_fused_kernel_fp32(causal):
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(3, 4, 24, 8, generator=generator) for _ in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.testing.assert_close(attention(q, k, v, causal=causal), expected, atol=1e-5,
                               rtol=1e-5)


def test_attention_gradients_match_fused_kernel():
    generator = torch.Generator().manual_seed(1)
    inputs = [torch.randn(2, 2, 24, 8, generator=generator, requires_grad=True)
              for _ in range(3)]
    attention(*inputs).square().sum().backward()
    ours = [x.grad.clone() for x in inputs]
    for x in inputs:
        x.grad = None
    F.scaled_dot_product_attention(*inputs).square().sum().backward()
    for mine, fused in zip(ours, (x.grad for x in inputs)):
        torch.testing.assert_close(mine, fused, atol=1e-5, rtol=1e-5)


def test_attention_in_bf16_stays_close():
    generator = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 4, 24, 16, generator=generator) for _ in range(3))
    exact = F.scaled_dot_product_attention(q, k, v)
    low = attention(q.bfloat16(), k.bfloat16(), v.bfloat16())
    assert low.dtype == torch.bfloat16
    # bf16 keeps 8 significant bits: errors of a few 1e-2 on unit-scale outputs
    torch.testing.assert_close(low.float(), exact, atol=5e-2, rtol=5e-2)


def test_causal_model_output_ignores_later_tokens():
    torch.manual_seed(0)
    model = DiffusionTransformer(ModelConfig(vocab_size=10, length=24, width=32, depth=2,
                                             heads=4, causal=True)).eval()
    tokens = torch.randint(0, 10, (2, 24))
    changed = tokens.clone()
    changed[:, 12:] = (changed[:, 12:] + 1) % 10
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    torch.testing.assert_close(before[:, :12], after[:, :12])
    assert not torch.allclose(before[:, 12:], after[:, 12:])


def test_chunked_inference_equals_one_batch():
    torch.manual_seed(0)
    model = DiffusionTransformer(ModelConfig(vocab_size=10, length=24, width=32, depth=1,
                                             heads=4, num_classes=2,
                                             time_conditioning=True)).eval()
    rows = 2 * INFERENCE_CHUNK_ROWS + 3
    tokens = torch.randint(0, 10, (rows, 24))
    t = torch.rand(rows)
    labels = torch.randint(0, 3, (rows,))
    with torch.no_grad():
        chunked = model(tokens, t, labels)
    whole = model(tokens, t, labels)  # gradients enabled: one batch
    torch.testing.assert_close(chunked, whole.detach(), atol=1e-5, rtol=1e-5)
