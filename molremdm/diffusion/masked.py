"""Masked (absorbing-state) diffusion: forward corruption, SUBS parameterisation, MDLM loss.

Shapes: B batch, L sequence length, V vocabulary (mask token included).
"""

from __future__ import annotations

import torch

from molremdm.diffusion.schedules import LogLinearSchedule

# Finite stand-in for log(0): scaled by a negative guidance weight it stays finite, unlike -inf.
NEG_LOG = -1e4


def antithetic_times(batch: int, eps: float, generator: torch.Generator | None = None,
                     device: torch.device | str = "cpu") -> torch.Tensor:
    """Stratified times in [eps, 1]: one shared uniform offset plus i / B. Returns (B,)."""
    offset = torch.rand((), generator=generator, device=device)
    u = (offset + torch.arange(batch, device=device) / batch) % 1.0
    return eps + (1.0 - eps) * u


def subs_log_probs(logits: torch.Tensor, z_t: torch.Tensor, mask_id: int) -> torch.Tensor:
    """SUBS parameterisation: no mass on the mask, decoded tokens carried over.

    logits: (B, L, V) network output; z_t: (B, L). Returns log-probabilities (B, L, V) in the
    logits' dtype with ``NEG_LOG`` in place of log(0).
    """
    logits = logits.clone()
    logits[..., mask_id] = NEG_LOG
    log_probs = torch.log_softmax(logits, dim=-1)
    unmasked = z_t != mask_id
    carry = torch.full_like(log_probs, NEG_LOG)
    carry.scatter_(-1, z_t.unsqueeze(-1), 0.0)
    return torch.where(unmasked.unsqueeze(-1), carry, log_probs)


class MaskedProcess:
    """Absorbing-state forward process with the MDLM continuous-time loss.

    PAD positions are part of the loss, so the model learns to end a molecule with EOS and
    pad the rest; a sample is then read up to its first EOS.
    """

    name = "masked"

    def __init__(self, mask_id: int, schedule: LogLinearSchedule | None = None):
        self.mask_id = mask_id
        self.schedule = schedule or LogLinearSchedule()

    def corrupt(self, x: torch.Tensor, t: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Mask each token of x (B, L) independently with probability 1 - alpha(t), t (B,)."""
        alpha = self.schedule.alpha(t).unsqueeze(-1)
        keep = torch.rand(x.shape, generator=generator, device=x.device) < alpha
        return torch.where(keep, x, torch.full_like(x, self.mask_id))

    def loss(self, logits: torch.Tensor, x: torch.Tensor, z_t: torch.Tensor,
             t: torch.Tensor) -> torch.Tensor:
        """Per-token MDLM loss (B, L): -log x_theta(z_t)[x] / t on masked positions, 0 elsewhere.

        Its mean over tokens is an upper bound on the negative log-likelihood in nats per token.
        """
        # Only masked positions enter the loss, so carry-over need not be applied here.
        logits = logits.float().index_fill(-1, torch.tensor([self.mask_id], device=x.device),
                                           NEG_LOG)
        log_probs = torch.log_softmax(logits, dim=-1)
        token_nll = -log_probs.gather(-1, x.unsqueeze(-1)).squeeze(-1)
        masked = (z_t == self.mask_id).float()
        return token_nll * masked * self.schedule.loss_weight(t).unsqueeze(-1)

    def to_dict(self) -> dict:
        return {"name": self.name, "mask_id": self.mask_id, "schedule": self.schedule.to_dict()}
