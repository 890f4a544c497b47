"""Exponential moving average of model weights, with a warm-up for short runs."""

from __future__ import annotations

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


def ema_model(model: nn.Module, decay: float) -> AveragedModel:
    """An ``AveragedModel`` whose update uses decay min(decay, (1 + n) / (10 + n)) at update n.

    Without the warm-up the average of a short run still carries the random initial weights.
    The average lives in the LightningModule's state dict, so checkpoints hold both the raw
    and the averaged weights and a resume restores each exactly.
    """
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"EMA decay must be in [0, 1), got {decay}")

    def update(averaged: list[torch.Tensor], current: list[torch.Tensor],
               num_averaged: torch.Tensor) -> None:
        n = float(num_averaged)
        effective = min(decay, (1.0 + n) / (10.0 + n))
        torch._foreach_lerp_(averaged, current, 1.0 - effective)

    averaged = AveragedModel(model, multi_avg_fn=update)
    for parameter in averaged.parameters():
        parameter.requires_grad_(False)
    return averaged
