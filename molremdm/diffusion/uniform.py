"""Uniform-noise diffusion (UDLM): forward corruption, exact posterior, continuous-time loss.

Shapes: B batch, L sequence length, V vocabulary. The noise is uniform over the N = V - 1
ids other than the mask token (the mask is unused by this process and gets no mass), so
specials BOS, EOS and PAD are part of the noise, as in the reference UDLM.

With q_t(. | x) = alpha_t x + (1 - alpha_t) / N (x one-hot or a distribution), the reverse
rate from state z to y != z is beta_t q_t(y | x) / (N q_t(z | x)) with beta_t = -alpha'_t /
alpha_t. The loss is the continuous-time ELBO of the reverse chain with x replaced by the
model's x_theta (Schiff et al. 2025, arXiv 2412.10193, derived here from that rate):

    L_t = beta_t / N [ 1/qhat_z - 1/q_z + sum_{y != z} (q_y / q_z) log((q_y qhat_z) / (qhat_y q_z)) ]

with q = q_t(. | x), qhat = q_t(. | x_theta). Each summand is of the form b - a + a log(a / b)
>= 0, and L_t = 0 when x_theta = x.

Because the posterior's normaliser depends on x, the x_theta that reproduces the data is not
p(x | z_t) itself but p(x = v | z_t) / (N alpha_t [v = z_t] + 1 - alpha_t), renormalised;
a trained network learns that quantity, and a hand-built exact denoiser must return it.
"""

from __future__ import annotations

import torch

from molremdm.diffusion.masked import NEG_LOG
from molremdm.diffusion.schedules import LogLinearSchedule


class UniformProcess:
    """Uniform-noise forward process over the non-mask ids of a vocabulary."""

    name = "uniform"

    def __init__(self, vocab_size: int, mask_id: int, schedule: LogLinearSchedule | None = None):
        if vocab_size < 3:
            raise ValueError(f"uniform diffusion needs at least 3 ids, got {vocab_size}")
        self.vocab_size, self.mask_id = vocab_size, mask_id
        self.num_states = vocab_size - 1
        self.schedule = schedule or LogLinearSchedule()
        allowed = torch.ones(vocab_size, dtype=torch.bool)
        allowed[mask_id] = False
        self.allowed = allowed

    def noise_distribution(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """Return the uniform distribution (V,) over the N non-mask ids."""
        return self.allowed.to(device).double() / self.num_states

    def marginal(self, x_probs: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """q_t(. | x) = alpha x + (1 - alpha) / N on non-mask ids. x_probs (..., V), alpha
        broadcastable to (..., 1)."""
        return alpha * x_probs + (1.0 - alpha) * self.noise_distribution(x_probs.device)

    def corrupt(self, x: torch.Tensor, t: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Replace each token of x (B, L) with a uniform non-mask id with probability 1 - alpha(t)."""
        alpha = self.schedule.alpha(t).unsqueeze(-1)
        keep = torch.rand(x.shape, generator=generator, device=x.device) < alpha
        draws = torch.randint(0, self.num_states, x.shape, generator=generator, device=x.device)
        draws = draws + (draws >= self.mask_id).long()  # skip the mask id
        return torch.where(keep, x, draws)

    def clean_probs(self, logits: torch.Tensor) -> torch.Tensor:
        """Model distribution over clean tokens (..., V) in float64 with no mass on the mask."""
        logits = logits.double().index_fill(-1, torch.tensor([self.mask_id],
                                                             device=logits.device), NEG_LOG)
        return torch.softmax(logits, dim=-1)

    def posterior(self, z_t: torch.Tensor, x_probs: torch.Tensor, alpha_t: float,
                  alpha_s: float) -> torch.Tensor:
        """q(z_s | z_t, x) for s < t: z_t (B, L), x_probs (B, L, V). Returns (B, L, V) float64.

        Proportional to N alpha_t x z_t + (alpha_t|s - alpha_t) z_t + (alpha_s - alpha_t) x
        + (1 - alpha_t|s)(1 - alpha_s) / N, with alpha_t|s = alpha_t / alpha_s; linear in x,
        so a distribution x_theta plugs in directly.
        """
        N = self.num_states
        x = x_probs.double()
        one_hot = torch.zeros_like(x).scatter_(-1, z_t.unsqueeze(-1), 1.0)
        alpha_ts = alpha_t / alpha_s
        noise = self.noise_distribution(x.device)
        unnormalised = (N * alpha_t * x * one_hot + (alpha_ts - alpha_t) * one_hot
                        + (alpha_s - alpha_t) * x + (1.0 - alpha_ts) * (1.0 - alpha_s) * noise)
        return unnormalised / unnormalised.sum(dim=-1, keepdim=True)

    def loss(self, logits: torch.Tensor, x: torch.Tensor, z_t: torch.Tensor,
             t: torch.Tensor) -> torch.Tensor:
        """Per-token continuous-time loss L_t (B, L) for clean x, noisy z_t and t (B,)."""
        alpha = self.schedule.alpha(t.double()).view(-1, 1, 1)
        beta = (1.0 - self.schedule.eps) / alpha  # -alpha'(t) / alpha(t), log-linear schedule
        one_hot_x = torch.zeros(*x.shape, self.vocab_size, dtype=torch.float64,
                                device=x.device).scatter_(-1, x.unsqueeze(-1), 1.0)
        q = self.marginal(one_hot_x, alpha)
        q_hat = self.marginal(self.clean_probs(logits), alpha)
        q_z = q.gather(-1, z_t.unsqueeze(-1))  # (B, L, 1)
        q_hat_z = q_hat.gather(-1, z_t.unsqueeze(-1))

        others = self.allowed.to(x.device).clone().expand_as(q).clone()
        others.scatter_(-1, z_t.unsqueeze(-1), False)
        # The mask id has q = qhat = 0, whose log is -inf and gives a NaN gradient even behind
        # torch.where. So the logs only see the entries that are summed.
        q_y = torch.where(others, q, torch.ones_like(q))
        q_hat_y = torch.where(others, q_hat, torch.ones_like(q_hat))
        ratio = q / q_z
        log_term = torch.log(q_y) + torch.log(q_hat_z) - torch.log(q_hat_y) - torch.log(q_z)
        summed = torch.where(others, ratio * log_term, torch.zeros_like(ratio)).sum(-1)
        per_token = beta.squeeze(-1) / self.num_states * (
            1.0 / q_hat_z.squeeze(-1) - 1.0 / q_z.squeeze(-1) + summed)
        return per_token.float()

    def to_dict(self) -> dict:
        return {"name": self.name, "mask_id": self.mask_id, "vocab_size": self.vocab_size,
                "schedule": self.schedule.to_dict()}
