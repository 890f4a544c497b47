"""Ancestral sampler for uniform-noise diffusion (UDLM) with the exact posterior.

Shapes: B batch, L sequence length, V vocabulary. The denoiser has the masked sampler's
interface, ``denoiser(z_t, t) -> log-probabilities (B, L, V)``, and must be time-conditioned
(uniform noise gives no sign of which tokens are clean). With classifier-free guidance at
gamma other than 0 and 1, the two branches' posteriors are mixed in log space,
gamma log p(z_s | z_t, y) + (1 - gamma) log p(z_s | z_t, null), as in the reference UDLM.
"""

from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm

from molremdm.diffusion.masked import NEG_LOG
from molremdm.diffusion.uniform import UniformProcess
from molremdm.sampling.guidance import ClassifierFreeGuidance
from molremdm.sampling.sampler import Denoiser, SampleResult, StepCallback, categorical
from molremdm.sampling.strategies import T_MIN


def _posterior(process: UniformProcess, denoiser: Denoiser, z: torch.Tensor, t: float,
               alpha_t: float, alpha_s: float) -> torch.Tensor:
    B = z.shape[0]
    times = torch.full((B,), t, device=z.device)
    if isinstance(denoiser, ClassifierFreeGuidance) and denoiser.passes_per_call == 2:
        conditional, unconditional = denoiser.branch_log_probs(z, times)
        log_c = process.posterior(z, process.clean_probs(conditional), alpha_t, alpha_s).log()
        log_u = process.posterior(z, process.clean_probs(unconditional), alpha_t, alpha_s).log()
        mixed = (denoiser.gamma * log_c.clamp(min=NEG_LOG)
                 + (1.0 - denoiser.gamma) * log_u.clamp(min=NEG_LOG))
        mixed[..., process.mask_id] = NEG_LOG
        return torch.softmax(mixed, dim=-1)
    return process.posterior(z, process.clean_probs(denoiser(z, times)), alpha_t, alpha_s)


@torch.no_grad()
def sample_uniform(denoiser: Denoiser, *, num_samples: int, length: int,
                   process: UniformProcess, steps: int, generator: torch.Generator | None = None,
                   batch_size: int | None = None, callback: StepCallback | None = None,
                   device: torch.device | str = "cpu", progress: bool = False) -> SampleResult:
    """Start from uniform noise and take ``steps`` exact-posterior steps from t = 1 to 1e-5.

    The last step goes to alpha(1e-5), which is nearly clean, so no separate noise removal
    is needed. Every step runs the network (``nfe`` = steps x guidance passes).
    """
    if num_samples < 1 or steps < 1:
        raise ValueError(f"num_samples and steps must be >= 1, got {num_samples}, {steps}")
    batch_size = batch_size or num_samples
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    times = torch.linspace(1.0, T_MIN, steps + 1, dtype=torch.float64)
    alphas = process.schedule.alpha(times)
    passes = int(getattr(denoiser, "passes_per_call", 1))

    start = time.perf_counter()
    chunks = []
    for first in range(0, num_samples, batch_size):
        B = min(batch_size, num_samples - first)
        noise = process.noise_distribution(device).expand(B, length, -1)
        z = categorical(noise, generator)
        for k in tqdm(range(steps), desc="sampling", leave=False, disable=not progress):
            t, s = float(times[k]), float(times[k + 1])
            probs = _posterior(process, denoiser, z, t, float(alphas[k]), float(alphas[k + 1]))
            if hasattr(denoiser, "transition_log_weights"):
                log_weights = denoiser.transition_log_weights(
                    z, torch.full((B,), t, device=device), probs.shape[-1], True)
                if log_weights is not None:
                    probs = probs * (log_weights - log_weights.amax(-1, keepdim=True)).exp()
            z = categorical(probs, generator)
            if callback is not None:
                callback(k, t, s, z)
        chunks.append(z)
    return SampleResult(tokens=torch.cat(chunks), nfe=steps * passes,
                        wall_time=time.perf_counter() - start, steps=steps,
                        strategy={"strategy": "udlm"})
