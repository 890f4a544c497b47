"""Plot alpha_t and sigma_t of every sampler strategy at T = 128 (default options).

Usage: python scripts/plot_schedules.py [--steps 128] [-o docs/figures/schedules.png]

sigma is read from a real sampling run with a uniform denoiser over 8 symbols (length 24,
64 sequences); for remdm-conf, whose sigma differs per position, the plot shows its mean over
positions and sequences.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from molremdm.sampling import STRATEGIES, sample  # noqa: E402

VOCAB, MASK, LENGTH = 9, 8, 24


def uniform_denoiser(z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return torch.full((*z.shape, VOCAB), -torch.log(torch.tensor(float(VOCAB - 1))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=128, help="sampling steps T")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/figures/schedules.png"),
                        help="PNG path; an SVG is written beside it")
    args = parser.parse_args()

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True,
                                         constrained_layout=True)
    for name in STRATEGIES:
        result = sample(uniform_denoiser, num_samples=64, length=LENGTH, mask_id=MASK,
                        steps=args.steps, strategy=name,
                        generator=torch.Generator().manual_seed(0))
        t = [row["t"] for row in result.trace]
        top.plot(t, [row["alpha_t"] for row in result.trace], label=name, lw=1.5)
        bottom.plot(t, [row["sigma"] for row in result.trace], label=name, lw=1.5)

    top.set_ylabel("alpha_t (clean fraction)")
    bottom.set_ylabel("sigma_t (remasking probability)")
    bottom.set_yscale("symlog", linthresh=1e-3)
    bottom.set_xlabel("t (1 = all masked, 0 = clean)")
    bottom.invert_xaxis()
    top.legend(ncol=2, fontsize=8, frameon=False)
    top.set_title(f"Sampler schedules at T = {args.steps}, default options")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=130)
    figure.savefig(args.output.with_suffix(".svg"))
    print(f"wrote {args.output} and {args.output.with_suffix('.svg')}")


if __name__ == "__main__":
    main()
