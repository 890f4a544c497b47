"""Sampling the autoregressive baseline token by token, with optional D-CFG.

Shapes: B batch, L sequence length, V vocabulary. A network is any callable
``network(tokens, t, labels) -> logits (B, L, V)`` with causal attention, whose logits at
position l predict token l + 1. D-CFG mixes next-token log-probabilities:
gamma log p(. | prefix, y) + (1 - gamma) log p(. | prefix, null).
"""

from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm

from molremdm.diffusion.masked import NEG_LOG
from molremdm.sampling.sampler import SampleResult, categorical, clean_probabilities



@torch.no_grad()
def sample_autoregressive(network, *, num_samples: int, length: int, bos_id: int,
                          pad_id: int, mask_id: int, label: int | None = None,
                          null_label: int | None = None, gamma: float | None = None,
                          temperature: float = 1.0, top_p: float | None = None,
                          generator: torch.Generator | None = None,
                          device: torch.device | str = "cpu",
                          progress: bool = False) -> SampleResult:
    """Draw sequences BOS x_1 ... x_{L-1}, one network call per position (no key-value cache).

    With ``gamma`` set, ``label`` is the target and ``null_label`` the unconditional label;
    gamma 0 and 1 use one pass per position, other values two. The mask token gets no mass.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p={top_p} is outside the allowed range (0, 1]")
    if gamma is not None and (not gamma >= 0.0 or gamma == float("inf")):
        raise ValueError(f"guidance gamma must be a finite number >= 0, got {gamma}")

    B = num_samples
    two_branches = gamma is not None and gamma not in (0.0, 1.0)
    if gamma is None:
        labels = None if label is None else torch.full((B,), label, device=device)
    elif two_branches:
        labels = torch.cat([torch.full((B,), label), torch.full((B,), null_label)]).to(device)
    else:
        labels = torch.full((B,), label if gamma == 1.0 else null_label, device=device)

    start = time.perf_counter()
    tokens = torch.full((B, length), pad_id, dtype=torch.long, device=device)
    tokens[:, 0] = bos_id
    dummy_t = torch.zeros(2 * B if two_branches else B, device=device)
    for position in tqdm(range(1, length), desc="sampling", leave=False, disable=not progress):
        inputs = torch.cat([tokens, tokens]) if two_branches else tokens
        logits = network(inputs, dummy_t, labels)[:, position - 1].float() / temperature
        log_probs = torch.log_softmax(logits, dim=-1).clamp(min=NEG_LOG)  # (B or 2B, V)
        if two_branches:
            log_probs = gamma * log_probs[:B] + (1.0 - gamma) * log_probs[B:]
        masked_state = torch.full((B, 1), mask_id, device=device)
        probs = clean_probabilities(log_probs.unsqueeze(1), masked_state, mask_id, top_p)
        tokens[:, position] = categorical(probs.squeeze(1), generator)
    passes = 2 if two_branches else 1
    return SampleResult(tokens=tokens, nfe=(length - 1) * passes,
                        wall_time=time.perf_counter() - start, steps=length - 1,
                        strategy={"strategy": "ar", "temperature": temperature})
