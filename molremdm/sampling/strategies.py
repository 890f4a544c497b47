"""Remasking strategies: the alpha grid of a sampling run and the remasking probability sigma.

A strategy turns ``steps`` into a grid alpha_0 < ... < alpha_T (clean probability, rising from
about 0 to about 1) with matching times, and gives sigma for each step t -> s. MDLM is the
strategy with sigma = 0 (ReMDM, Wang et al. 2025, arXiv 2503.00307).

Every sigma must lie in [0, sigma_max] with sigma_max = min(1, (1 - alpha_s) / alpha_t) (and 1
where alpha_t = 0): the four transition probabilities of the ReMDM posterior are non-negative
exactly then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from molremdm.diffusion.schedules import LogLinearSchedule

T_MIN = 1e-5  # last time of the grid; the final noise-removal step fills what is still masked


def sigma_max(alpha_t: float, alpha_s: float) -> float:
    """Largest remasking probability for the step t -> s that keeps probabilities valid."""
    if alpha_t <= 0.0:
        return 1.0
    return min(1.0, max(0.0, (1.0 - alpha_s) / alpha_t))


@dataclass(frozen=True)
class Grid:
    """Times (K+1,) falling from 1 and alphas (K+1,) rising; step k goes from index k to k+1.

    K equals the requested number of steps except for adaptive strategies (``dfm``).
    """

    times: torch.Tensor
    alphas: torch.Tensor


@dataclass
class StepState:
    """Inputs of a per-position strategy: the tokens z_t (B, L) and the confidence
    (B, L), float32, that the model gave each unmasked token when it was decoded."""

    tokens: torch.Tensor
    confidence: torch.Tensor
    mask_id: int


def _check_range(strategy: str, name: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high) or math.isnan(value):
        raise ValueError(f"{strategy}: {name}={value} is outside the allowed range "
                         f"[{low:g}, {high:g}]")


class Strategy:
    """Base class: the schedule's own alpha grid and sigma = 0 (plain MDLM ancestral sampling).

    ``sigma`` returns a float, or a (B, L) tensor for per-position strategies; every value must
    lie in [0, sigma_max(alpha_t, alpha_s)].
    """

    name = "mdlm"
    options: tuple[str, ...] = ()
    needs_confidence = False
    keeps_marginals = True  # P(masked after step k) = 1 - alpha_s exactly

    def grid(self, steps: int, schedule: LogLinearSchedule) -> Grid:
        times = torch.linspace(1.0, T_MIN, steps + 1, dtype=torch.float64)
        return Grid(times, schedule.alpha(times))

    def sigma(self, t: float, alpha_t: float, alpha_s: float,
              state: StepState | None = None) -> float | torch.Tensor:
        return 0.0

    def describe(self) -> dict:
        return {"strategy": self.name, **{k: getattr(self, k) for k in self.options}}


class MDLM(Strategy):
    pass


class Cap(Strategy):
    """sigma_t = min(eta, sigma_max)."""

    name = "remdm-cap"
    options = ("eta",)

    def __init__(self, eta: float = 0.02):
        _check_range(self.name, "eta", eta, 0.0, 1.0)
        self.eta = float(eta)

    def sigma(self, t, alpha_t, alpha_s, state=None):
        return min(self.eta, sigma_max(alpha_t, alpha_s))


class Rescale(Strategy):
    """sigma_t = eta * sigma_max."""

    name = "remdm-rescale"
    options = ("eta",)

    def __init__(self, eta: float = 0.015):
        _check_range(self.name, "eta", eta, 0.0, 1.0)
        self.eta = float(eta)

    def sigma(self, t, alpha_t, alpha_s, state=None):
        return self.eta * sigma_max(alpha_t, alpha_s)


class Confidence(Strategy):
    """Per position sigma_l = w_l eta sigma_max, with w the softmax of -psi over the unmasked
    positions of a sequence (psi: the probability the token had when decoded), so the least
    confident tokens are remasked first. Masked positions take sigma = 0. eta = 1 is the
    reference rule; smaller eta remasks less. The weights of a sequence sum to 1, so its
    expected number of remasked tokens is at most eta sigma_max, and the forward marginals are
    not kept exactly."""

    name = "remdm-conf"
    options = ("eta",)
    needs_confidence = True
    keeps_marginals = False

    def __init__(self, eta: float = 1.0):
        _check_range(self.name, "eta", eta, 0.0, 1.0)
        self.eta = float(eta)

    def sigma(self, t, alpha_t, alpha_s, state=None):
        unmasked = state.tokens != state.mask_id
        scores = torch.where(unmasked, -state.confidence.double(),
                             torch.full_like(state.confidence, -math.inf, dtype=torch.float64))
        weights = torch.softmax(scores, dim=-1).nan_to_num(0.0)  # rows with no unmasked token
        return weights * (self.eta * sigma_max(alpha_t, alpha_s))


class Loop(Strategy):
    """Three phases: MDLM up to alpha_on at t_on, a remasking loop at fixed alpha_on with
    sigma = eta until t_off, then MDLM to alpha = 1. Steps are split in proportion to the
    interval lengths 1 - t_on, t_on - t_off and t_off, with at least one step in the last phase.
    """

    name = "remdm-loop"
    options = ("eta", "t_on", "t_off", "alpha_on")

    def __init__(self, eta: float = 0.05, t_on: float = 0.55, t_off: float = 0.05,
                 alpha_on: float = 0.9):
        if not 0.0 < t_off < t_on < 1.0:
            raise ValueError(f"{self.name}: need 0 < t_off < t_on < 1, got t_off={t_off}, "
                             f"t_on={t_on}")
        if not 0.0 < alpha_on < 1.0:
            raise ValueError(f"{self.name}: alpha_on={alpha_on} is outside the allowed range "
                             "(0, 1)")
        _check_range(self.name, "eta", eta, 0.0, (1.0 - alpha_on) / alpha_on)
        self.eta, self.t_on, self.t_off, self.alpha_on = map(float, (eta, t_on, t_off, alpha_on))

    def phase_steps(self, steps: int) -> tuple[int, int, int]:
        first = int(round(steps * (1.0 - self.t_on)))
        second = int(round(steps * (self.t_on - self.t_off)))
        third = steps - first - second
        if third < 1:  # the last phase must reach alpha = 1; take its step from the loop
            second, third = second + third - 1, 1
            if second < 0:
                first, second = first + second, 0
        return first, second, third

    def grid(self, steps: int, schedule: LogLinearSchedule) -> Grid:
        first, second, third = self.phase_steps(steps)
        alphas = torch.cat([
            torch.linspace(0.0, self.alpha_on, first + 1, dtype=torch.float64),
            torch.full((second,), self.alpha_on, dtype=torch.float64),
            torch.linspace(self.alpha_on, 1.0, third + 1, dtype=torch.float64)[1:],
        ])
        times = torch.cat([
            torch.linspace(1.0, self.t_on, first + 1, dtype=torch.float64),
            torch.linspace(self.t_on, self.t_off, second + 1, dtype=torch.float64)[1:],
            torch.linspace(self.t_off, 0.0, third + 1, dtype=torch.float64)[1:],
        ])
        return Grid(times, alphas)

    def sigma(self, t, alpha_t, alpha_s, state=None):
        # Loop steps are exactly those where alpha stays put; phases 1 and 3 are plain MDLM.
        if alpha_t == alpha_s:
            return min(self.eta, sigma_max(alpha_t, alpha_s))
        return 0.0


class Switch(Strategy):
    """MDLM (sigma = 0) while t > t_switch, then the cap rule sigma_t = min(eta, sigma_max)."""

    name = "remdm-switch"
    options = ("eta", "t_switch")

    def __init__(self, eta: float = 0.02, t_switch: float = 0.5):
        _check_range(self.name, "eta", eta, 0.0, 1.0)
        _check_range(self.name, "t_switch", t_switch, 0.0, 1.0)
        self.eta, self.t_switch = float(eta), float(t_switch)

    def sigma(self, t, alpha_t, alpha_s, state=None):
        if t > self.t_switch:
            return 0.0
        return min(self.eta, sigma_max(alpha_t, alpha_s))


class ForwardBackward(Strategy):
    """Forward-backward corrector: sigma_t = (alpha_s - alpha_t) / alpha_t, clamped to
    sigma_max (unclamped it leaves the valid range at the last step)."""

    name = "forward-backward"

    def sigma(self, t, alpha_t, alpha_s, state=None):
        bound = sigma_max(alpha_t, alpha_s)
        if alpha_t <= 0.0:
            return bound
        return min(max(0.0, (alpha_s - alpha_t) / alpha_t), bound)


class FlowMatchingCorrector(Strategy):
    """Discrete flow matching corrector (Gat et al. 2024, appendix D schedule):
    a_t = 10 t^0.25 (1 - t)^0.25 + 1, b_t = a_t - 1, adaptive step
    dt = min(1 / T, 1 / (a_t / t + b_t / (1 - t))), and sigma_t = b_t (alpha_s - alpha_t) /
    alpha_t clamped to sigma_max. Its grid has at least T steps (more near t = 0)."""

    name = "dfm"
    max_steps_factor = 10  # safety stop after 10 T + 1000 steps; noise removal then ends it

    @staticmethod
    def _coefficients(t: float) -> tuple[float, float]:
        a = 10.0 * t ** 0.25 * (1.0 - t) ** 0.25 + 1.0
        return a, a - 1.0

    def grid(self, steps: int, schedule: LogLinearSchedule) -> Grid:
        times, t = [1.0], 1.0
        while t > T_MIN and len(times) <= self.max_steps_factor * steps + 1000:
            a, b = self._coefficients(t)
            dt = 1.0 / steps if t >= 1.0 else min(1.0 / steps, 1.0 / (a / t + b / (1.0 - t)))
            t = max(t - dt, T_MIN)
            times.append(t)
        times_t = torch.tensor(times, dtype=torch.float64)
        return Grid(times_t, schedule.alpha(times_t))

    def sigma(self, t, alpha_t, alpha_s, state=None):
        bound = sigma_max(alpha_t, alpha_s)
        if alpha_t <= 0.0:
            return bound
        _, b = self._coefficients(t)
        return min(max(0.0, b * (alpha_s - alpha_t) / alpha_t), bound)


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (MDLM, Cap, Rescale, Confidence, Loop, Switch, ForwardBackward,
                              FlowMatchingCorrector)
}


def make_strategy(name: str, **options: float | None) -> Strategy:
    """Build a strategy by name; options left as None take the strategy's defaults.

    Raises ValueError for an unknown name, an option the strategy does not take, or a value
    outside its allowed range.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown sampler strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    cls = STRATEGIES[name]
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - set(cls.options))
    if unknown:
        allowed = list(cls.options) or "none"
        raise ValueError(f"sampler {name!r} does not take option(s) {unknown}; "
                         f"its options: {allowed}")
    return cls(**given)
