"""One sampler loop for masked diffusion: MDLM ancestral steps and every ReMDM strategy.

Shapes: B batch, L sequence length, V vocabulary (mask token included).

A denoiser is any callable ``denoiser(z_t, t) -> log-probabilities (B, L, V)`` over clean
tokens, row by row: the output for one sequence depends on that sequence (and its t) only, so
the loop may call it on any subset of the batch. The loop itself enforces SUBS (no mass on the
mask, decoded tokens carried over), so a raw network works. Two optional attributes refine how
it is called:

* ``time_conditioned`` (default True): when False, only the sequences that changed in the last
  step are run through the network again; the others reuse their previous output. Without
  remasking a sequence changes at most L times, so at T >> L most steps cost nothing.
* ``passes_per_call`` (default 1): forward passes one call costs (2 for batched CFG), for NFE.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from molremdm.diffusion.masked import subs_log_probs
from molremdm.diffusion.schedules import LogLinearSchedule
from molremdm.sampling.strategies import StepState, Strategy, make_strategy, sigma_max

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, float, float, torch.Tensor], None]


@dataclass
class SampleResult:
    """Sampled token ids (N, L) and a record of the run."""

    tokens: torch.Tensor
    nfe: int
    wall_time: float
    steps: int
    strategy: dict
    trace: list[dict] = field(default_factory=list)
    # Sequences the D-CBG classifier scored per sample, 0 without classifier guidance. First
    # order scores each sequence once per step, exact once per candidate single-token edit.
    classifier_calls: float = 0.0


def categorical(probs: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw one index per row of probs (..., V) by an exponential race in float64.

    argmax(p / E) with E ~ Exp(1) picks index v with probability p_v. float32 noise would cut
    the tail of the distribution (Zheng et al. 2024, arXiv 2409.02908).
    """
    probs = probs.to(torch.float64)
    noise = torch.empty_like(probs).exponential_(generator=generator)
    return (probs / noise).argmax(dim=-1)


def remasking_step(z_t: torch.Tensor, clean_probs: torch.Tensor, alpha_t: float, alpha_s: float,
                   sigma: float | torch.Tensor, mask_id: int,
                   generator: torch.Generator | None = None,
                   log_weights: torch.Tensor | None = None) -> torch.Tensor:
    """One draw from the ReMDM posterior q_sigma(z_s | z_t, x) (sigma = 0 is MDLM).

    z_t: (B, L); clean_probs: (B, L, V) float64 with zero mass on the mask; sigma: scalar or
    (B, L). An unmasked token stays with 1 - sigma and is remasked with sigma; a masked one
    becomes v with x(v) (alpha_s - (1 - sigma) alpha_t) / (1 - alpha_t) and stays masked with
    (1 - alpha_s - sigma alpha_t) / (1 - alpha_t).

    ``log_weights`` (B, L, V), from classifier guidance, multiply the transition probabilities
    by exp(log_weights) before the draw (the draw needs no normalisation).
    """
    sigma_t = torch.as_tensor(sigma, dtype=torch.float64, device=z_t.device)
    if sigma_t.dim() == 2:
        sigma_t = sigma_t.unsqueeze(-1)  # (B, L, 1)
    masked = (z_t == mask_id).unsqueeze(-1)  # (B, L, 1)

    unmask = (alpha_s - (1.0 - sigma_t) * alpha_t) / (1.0 - alpha_t)
    stay_masked = (1.0 - alpha_s - sigma_t * alpha_t) / (1.0 - alpha_t)
    keep = torch.zeros_like(clean_probs).scatter_(-1, z_t.unsqueeze(-1), 1.0) * (1.0 - sigma_t)
    probs = torch.where(masked, clean_probs * unmask, keep)
    mask_column = torch.where(masked, stay_masked, sigma_t).expand_as(probs[..., :1])
    probs[..., mask_id : mask_id + 1] = mask_column
    if log_weights is not None:
        probs = probs * (log_weights - log_weights.amax(dim=-1, keepdim=True)).exp()
    return categorical(probs, generator)


def clean_probabilities(log_probs: torch.Tensor, z_t: torch.Tensor, mask_id: int,
                        top_p: float | None = None) -> torch.Tensor:
    """SUBS-constrained clean-token distribution (B, L, V) in float64, optionally nucleus-cut.

    Nucleus: per position, keep the smallest set of most likely tokens whose mass reaches
    ``top_p`` and renormalise; decoded positions are one-hot and unaffected.
    """
    probs = subs_log_probs(log_probs.to(torch.float64), z_t, mask_id).exp()
    if top_p is None or top_p >= 1.0:
        return probs
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
    sorted_probs = sorted_probs.masked_fill(mass_before >= top_p, 0.0)
    kept = torch.zeros_like(probs).scatter_(-1, order, sorted_probs)
    return kept / kept.sum(dim=-1, keepdim=True)


def _check_sigma(rule: Strategy, sigma: float | torch.Tensor, bound: float, step: int) -> None:
    low, high = (float(sigma.min()), float(sigma.max())) if torch.is_tensor(sigma) \
        else (sigma, sigma)
    if not (0.0 <= low and high <= bound + 1e-12):
        raise RuntimeError(f"{rule.name}: sigma in [{low}, {high}] leaves [0, {bound}] at "
                           f"step {step}")


@torch.no_grad()
def sample(denoiser: Denoiser, *, num_samples: int, length: int, mask_id: int, steps: int,
           strategy: str | Strategy = "mdlm", generator: torch.Generator | None = None,
           batch_size: int | None = None, callback: StepCallback | None = None,
           schedule: LogLinearSchedule | None = None, device: torch.device | str = "cpu",
           progress: bool = False, top_p: float | None = None,
           **options: float | None) -> SampleResult:
    """Sample ``num_samples`` sequences of ``length`` tokens in ``steps`` denoising steps.

    ``strategy`` is a name from ``STRATEGIES`` (its options as keyword arguments) or a built
    Strategy. ``top_p`` in (0, 1] applies nucleus sampling to the denoiser's distribution.
    ``nfe`` counts forward passes per sequence, averaged over the sequences: reused outputs
    are not counted, each guidance branch is. A final noise-removal step (one more call, argmax) fills any position still
    masked after the last step, so no mask survives. ``callback(step, t, s, tokens)`` runs
    after every step.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if top_p is not None and not 0.0 < top_p <= 1.0:
        raise ValueError(f"top_p={top_p} is outside the allowed range (0, 1]")
    rule = strategy if isinstance(strategy, Strategy) else make_strategy(strategy, **options)
    grid = rule.grid(steps, schedule or LogLinearSchedule())
    cacheable = not getattr(denoiser, "time_conditioned", True)
    passes = int(getattr(denoiser, "passes_per_call", 1))
    batch_size = batch_size or num_samples

    start = time.perf_counter()
    chunks, trace, rows_times_passes = [], [], 0
    for first in range(0, num_samples, batch_size):
        B = min(batch_size, num_samples - first)
        z = torch.full((B, length), mask_id, dtype=torch.long, device=device)
        confidence = torch.zeros((B, length), dtype=torch.float32, device=device)
        cached: torch.Tensor | None = None  # (B, L, V) clean probabilities
        stale = torch.ones(B, dtype=torch.bool, device=device)  # rows changed since computed
        bar = tqdm(range(len(grid.times) - 1), desc="sampling", leave=False,
                   disable=not progress)

        for k in bar:
            t, s = float(grid.times[k]), float(grid.times[k + 1])
            alpha_t, alpha_s = float(grid.alphas[k]), float(grid.alphas[k + 1])
            if cached is None or not cacheable:
                log_probs = denoiser(z, torch.full((B,), t, device=device))
                cached = clean_probabilities(log_probs, z, mask_id, top_p)
                rows_times_passes += B * passes
            elif stale.any():
                rows = stale.nonzero().squeeze(-1)
                log_probs = denoiser(z[rows], torch.full((len(rows),), t, device=device))
                cached[rows] = clean_probabilities(log_probs, z[rows], mask_id, top_p)
                rows_times_passes += len(rows) * passes
            state = StepState(z, confidence, mask_id) if rule.needs_confidence else None
            sigma = rule.sigma(t, alpha_t, alpha_s, state)
            bound = sigma_max(alpha_t, alpha_s)
            _check_sigma(rule, sigma, bound, k)

            log_weights = None
            if hasattr(denoiser, "transition_log_weights"):
                remasking = torch.is_tensor(sigma) or sigma > 0.0
                log_weights = denoiser.transition_log_weights(
                    z, torch.full((B,), t, device=device), cached.shape[-1], remasking)
            z_next = remasking_step(z, cached, alpha_t, alpha_s, sigma, mask_id, generator,
                                    log_weights)
            if rule.needs_confidence:
                decoded = (z == mask_id) & (z_next != mask_id)
                picked = cached.gather(-1, z_next.unsqueeze(-1)).squeeze(-1).float()
                confidence = torch.where(decoded, picked, confidence)
            stale = (z_next != z).any(dim=-1)
            z = z_next
            if first == 0:
                trace.append({"step": k, "t": t, "s": s, "alpha_t": alpha_t,
                              "alpha_s": alpha_s, "sigma": float(torch.as_tensor(sigma).mean()),
                              "sigma_max": bound,
                              "masked_fraction": float((z == mask_id).float().mean())})
            if callback is not None:
                callback(k, t, s, z)

        # final noise removal: fill what is still masked with the most likely clean token
        still_masked = z == mask_id
        if still_masked.any():
            log_probs = denoiser(z, torch.full((B,), float(grid.times[-1]), device=device))
            rows_times_passes += B * passes
            best = clean_probabilities(log_probs, z, mask_id).argmax(dim=-1)
            z = torch.where(still_masked, best, z)
        chunks.append(z)

    tokens = torch.cat(chunks)
    return SampleResult(tokens=tokens, nfe=int(round(rows_times_passes / num_samples)),
                        wall_time=time.perf_counter() - start, steps=len(grid.times) - 1,
                        strategy=rule.describe(), trace=trace)
