"""Denoisers built from a label-conditioned network, plain and with classifier-free guidance.

A network here is any callable ``network(z_t, t, labels) -> logits (B, L, V)``. Both wrappers
return log-probabilities (B, L, V) and expose ``time_conditioned`` and ``passes_per_call`` for
the sampler's caching and NFE count.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from molremdm.diffusion.masked import NEG_LOG

Network = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def _check_label(label: int | None, num_classes: int) -> None:
    if num_classes == 0:
        if label is not None:
            raise ValueError(f"label {label} given, but the model is unconditional")
        return
    if label is None or not 0 <= label <= num_classes:
        raise ValueError(f"label must be in 0..{num_classes} ({num_classes} = null label), "
                         f"got {label}")


class LabelDenoiser:
    """Condition a network on one fixed label (or none for an unconditional network)."""

    passes_per_call = 1

    def __init__(self, network: Network, label: int | None, num_classes: int,
                 time_conditioned: bool):
        _check_label(label, num_classes)
        self.network, self.label = network, label
        self.time_conditioned = time_conditioned

    def __call__(self, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        labels = None
        if self.label is not None:
            labels = torch.full((z_t.shape[0],), self.label, dtype=torch.long, device=z_t.device)
        return torch.log_softmax(self.network(z_t, t, labels).float(), dim=-1)


class ClassifierFreeGuidance:
    """D-CFG for masked diffusion (Schiff et al. 2025, arXiv 2412.10193):
    log x~ = gamma log x(. | z_t, y) + (1 - gamma) log x(. | z_t, null), renormalised.

    gamma = 0 is exactly the null-label denoiser and gamma = 1 exactly the conditional one,
    each one forward pass; any other gamma runs both branches as one batch of 2B (two passes).
    Log-probabilities are clamped to a finite floor first, because (1 - gamma) (-inf) is +inf.
    """

    def __init__(self, network: Network, label: int, gamma: float, num_classes: int,
                 time_conditioned: bool):
        if num_classes < 1:
            raise ValueError("classifier-free guidance needs a label-conditioned model "
                             "(trained with num_classes > 0 and label dropout)")
        if not 0 <= label < num_classes:
            raise ValueError(f"guidance target label must be in 0..{num_classes - 1}, got {label}")
        if not gamma >= 0.0 or gamma == float("inf"):
            raise ValueError(f"guidance gamma must be a finite number >= 0, got {gamma}")
        self.network, self.label, self.gamma = network, label, float(gamma)
        self.null_label = num_classes
        self.time_conditioned = time_conditioned
        self.passes_per_call = 1 if self.gamma in (0.0, 1.0) else 2

    def __call__(self, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        B = z_t.shape[0]
        if self.gamma in (0.0, 1.0):
            label = self.null_label if self.gamma == 0.0 else self.label
            labels = torch.full((B,), label, dtype=torch.long, device=z_t.device)
            return torch.log_softmax(self.network(z_t, t, labels).float(), dim=-1)

        conditional, unconditional = self.branch_log_probs(z_t, t)
        mixed = self.gamma * conditional + (1.0 - self.gamma) * unconditional
        return torch.log_softmax(mixed, dim=-1)

    def branch_log_probs(self, z_t: torch.Tensor, t: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor]:
        """Conditional and unconditional log-probabilities (B, L, V) each, from one batched
        call of 2B rows, clamped at a finite floor."""
        B = z_t.shape[0]
        labels = torch.cat([torch.full((B,), self.label, dtype=torch.long),
                            torch.full((B,), self.null_label, dtype=torch.long)]).to(z_t.device)
        logits = self.network(torch.cat([z_t, z_t]), torch.cat([t, t]), labels).float()
        log_probs = torch.log_softmax(logits, dim=-1).clamp(min=NEG_LOG)  # (2B, L, V)
        return log_probs[:B], log_probs[B:]
