"""Plot validation NLL and sample validity of a training run from its Lightning metrics.csv.

Usage: python scripts/plot_training.py docs/training/qm9-mdlm-cfg_metrics.csv \
           -o docs/figures/qm9-mdlm-cfg_training.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", type=Path, help="metrics.csv written by the CSV logger")
    parser.add_argument("-o", "--output", type=Path, required=True, help="PNG path")
    args = parser.parse_args()

    table = pd.read_csv(args.metrics)
    validation = table.dropna(subset=["val/nll"])
    training = table.dropna(subset=["train/loss"])
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), constrained_layout=True)
    left.plot(training["step"], training["train/loss"].rolling(8, min_periods=1).mean(),
              label="train loss (moving mean of 8 logs)", lw=1)
    left.plot(validation["step"], validation["val/nll"], "o-", label="validation NLL (EMA)")
    left.set_xlabel("optimiser step")
    left.set_ylabel("nats per token")
    left.legend(frameon=False)
    right.plot(validation["step"], 100 * validation["val/validity"], "o-")
    right.set_xlabel("optimiser step")
    right.set_ylabel("valid molecules, % (256 samples, MDLM T = 32)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=130)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
