"""Classifier-based guidance (D-CBG) as a denoiser wrapper that tilts the sampler's transitions.

Shapes: B batch, L sequence length, V vocabulary. A classifier here is any callable
``log_likelihood(one_hot, t) -> (B,)``, the log-probability of the target class given a
(possibly noisy) sequence as one-hot rows (B, L, V) float; only differences of it matter.

A guided transition of position l is q(z_s^l = v | z_t) p(y | z_t with l set to v)^gamma
(Nisonoff et al. 2024; Schiff et al. 2025). The wrapper returns the log-weights
gamma (log p(y | z^{l -> v}) - log p(y | z)) for every (l, v), and the samplers multiply their
transition probabilities by exp of them:

* masked diffusion: masked positions weigh each token they can become; the "stay masked"
  option keeps weight 1. With remasking (ReMDM), an unmasked position weighs keep (1) against
  remask, p(y | z with l masked)^gamma / p(y | z)^gamma, so guidance also picks which tokens
  to take back.
* uniform diffusion: every position weighs every token.

``exact`` evaluates the classifier on each needed single-token edit (cost follows the number
of edited positions); ``first-order`` uses one forward and backward pass:
log p(y | z^{l -> v}) - log p(y | z) ~ g[l, v] - g[l, z^l], g the gradient with respect to the
one-hot input.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from molremdm.sampling.sampler import Denoiser

LogLikelihood = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
MODES = ("exact", "first-order")


class ClassifierGuidance:
    """Wrap a denoiser with D-CBG toward the classifier's target class.

    ``editable`` names which positions may change: "masked" (masked diffusion: decoded tokens
    only stay or are remasked) or "all" (uniform diffusion). Exact mode scores the edited
    sequences in chunks of ``chunk_size``: 512 rows of the default classifier ran about twice as
    fast as 4,096 in bf16 on 2 CPU cores.
    """

    def __init__(self, denoiser: Denoiser, log_likelihood: LogLikelihood, gamma: float,
                 mode: str = "exact", mask_id: int | None = None, editable: str = "masked",
                 chunk_size: int = 512):
        if mode not in MODES:
            raise ValueError(f"classifier guidance mode {mode!r} is not one of {MODES}")
        if not gamma >= 0.0 or gamma == float("inf"):
            raise ValueError(f"guidance gamma must be a finite number >= 0, got {gamma}")
        if editable not in ("masked", "all"):
            raise ValueError(f"editable must be 'masked' or 'all', got {editable!r}")
        if editable == "masked" and mask_id is None:
            raise ValueError("masked diffusion guidance needs the mask id")
        self.denoiser, self.log_likelihood = denoiser, log_likelihood
        self.gamma, self.mode, self.mask_id, self.editable = float(gamma), mode, mask_id, editable
        self.chunk_size = chunk_size
        self.time_conditioned = getattr(denoiser, "time_conditioned", True)
        self.passes_per_call = getattr(denoiser, "passes_per_call", 1)
        self.classifier_evaluations = 0  # sequences scored by the classifier, for cost reports

    def __call__(self, z_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.denoiser(z_t, t)

    def transition_log_weights(self, z_t: torch.Tensor, t: torch.Tensor, vocab_size: int,
                               remasking: bool) -> torch.Tensor | None:
        """Log-weights (B, L, V) for the guided transitions, or None when gamma = 0."""
        if self.gamma == 0.0:
            return None
        with torch.enable_grad() if self.mode == "first-order" else torch.no_grad():
            if self.mode == "first-order":
                deltas = self._first_order(z_t, t, vocab_size)
            else:
                deltas = self._exact(z_t, t, vocab_size, remasking)
        return self.gamma * deltas

    def _one_hot(self, z: torch.Tensor, vocab_size: int) -> torch.Tensor:
        return torch.nn.functional.one_hot(z, vocab_size).float()

    def _first_order(self, z_t: torch.Tensor, t: torch.Tensor, vocab_size: int) -> torch.Tensor:
        one_hot = self._one_hot(z_t, vocab_size).requires_grad_(True)
        log_p = self.log_likelihood(one_hot, t)
        self.classifier_evaluations += z_t.shape[0]
        if not log_p.requires_grad:  # a classifier that ignores its input has zero gradient
            return torch.zeros(one_hot.shape, dtype=torch.float64, device=z_t.device)
        (grad,) = torch.autograd.grad(log_p.sum(), one_hot, allow_unused=True)
        if grad is None:
            return torch.zeros(one_hot.shape, dtype=torch.float64, device=z_t.device)
        grad = grad.double()
        return grad - grad.gather(-1, z_t.unsqueeze(-1))  # (B, L, V)

    def _scores(self, sequences: torch.Tensor, times: torch.Tensor, vocab_size: int
                ) -> torch.Tensor:
        out = []
        for start in range(0, len(sequences), self.chunk_size):
            chunk = sequences[start:start + self.chunk_size]
            out.append(self.log_likelihood(self._one_hot(chunk, vocab_size),
                                           times[start:start + self.chunk_size]).double())
            self.classifier_evaluations += len(chunk)
        return torch.cat(out) if out else torch.zeros(0, dtype=torch.float64)

    def _exact(self, z_t: torch.Tensor, t: torch.Tensor, vocab_size: int,
               remasking: bool) -> torch.Tensor:
        B, L = z_t.shape
        base = self._scores(z_t, t, vocab_size)  # (B,)
        deltas = torch.zeros(B, L, vocab_size, dtype=torch.float64, device=z_t.device)

        # edits to every token at the positions that can change
        if self.editable == "masked":
            where = (z_t == self.mask_id).nonzero()  # (P, 2) rows of (b, l)
            targets = [v for v in range(vocab_size) if v != self.mask_id]
        else:
            where = torch.ones_like(z_t, dtype=torch.bool).nonzero()
            targets = list(range(vocab_size))
        if len(where):
            values = torch.tensor(targets, device=z_t.device)
            rows = where[:, 0].repeat_interleave(len(targets))
            cols = where[:, 1].repeat_interleave(len(targets))
            tokens = values.repeat(len(where))
            edited = z_t[rows].clone()
            edited[torch.arange(len(rows), device=z_t.device), cols] = tokens
            scores = self._scores(edited, t[rows], vocab_size)
            deltas[rows, cols, tokens] = scores - base[rows]

        # remasking: unmasked positions weigh "remask" against "keep"
        if remasking and self.editable == "masked":
            where = (z_t != self.mask_id).nonzero()
            if len(where):
                edited = z_t[where[:, 0]].clone()
                edited[torch.arange(len(where), device=z_t.device), where[:, 1]] = self.mask_id
                scores = self._scores(edited, t[where[:, 0]], vocab_size)
                deltas[where[:, 0], where[:, 1], self.mask_id] = scores - base[where[:, 0]]
        return deltas
