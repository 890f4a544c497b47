"""Sampling for masked diffusion models; importable without Lightning.

``sample(denoiser, num_samples=..., length=..., mask_id=..., steps=..., strategy=...)`` works
with any callable ``denoiser(z_t, t) -> log-probabilities (B, L, V)``.
"""

from molremdm.sampling.sampler import SampleResult, sample
from molremdm.sampling.strategies import STRATEGIES, Strategy, make_strategy

__all__ = ["STRATEGIES", "SampleResult", "Strategy", "make_strategy", "sample"]
