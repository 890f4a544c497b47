"""Noise schedules alpha(t): the probability that a token is still clean at time t in [0, 1]."""

from __future__ import annotations

import torch


class LogLinearSchedule:
    """alpha(t) = 1 - (1 - eps) t, so alpha(0) = 1 and alpha(1) = eps.

    Its MDLM loss weight -alpha'(t) / (1 - alpha(t)) is exactly 1 / t (Sahoo et al. 2024).
    """

    name = "loglinear"

    def __init__(self, eps: float = 1e-3):
        if not 0.0 <= eps < 1.0:
            raise ValueError(f"schedule eps must be in [0, 1), got {eps}")
        self.eps = eps

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 - (1.0 - self.eps) * t

    def loss_weight(self, t: torch.Tensor) -> torch.Tensor:
        """-alpha'(t) / (1 - alpha(t)) = 1 / t."""
        return 1.0 / t

    def time_of(self, alpha: torch.Tensor) -> torch.Tensor:
        """Inverse of ``alpha``: the time at which the clean probability is ``alpha``."""
        return ((1.0 - alpha) / (1.0 - self.eps)).clamp(0.0, 1.0)

    def to_dict(self) -> dict:
        return {"name": self.name, "eps": self.eps}


def schedule_from_dict(data: dict) -> LogLinearSchedule:
    if data.get("name") != LogLinearSchedule.name:
        raise ValueError(f"unknown noise schedule {data.get('name')!r}; available: ['loglinear']")
    return LogLinearSchedule(float(data["eps"]))
