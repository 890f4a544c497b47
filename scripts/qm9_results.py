"""Score a model on QM9 under a list of sampling settings and print a Markdown table.

Usage:
    python scripts/qm9_results.py --checkpoint checkpoints/qm9-mdlm-cfg \
        --setting mdlm:64 --setting mdlm:64:cfg:2 --setting remdm-loop:64:cfg:2 \
        [--num-samples 1024] [--seed 0] [--json results.json]

A setting is SAMPLER:STEPS[:cfg:GAMMA], for example ``remdm-cap:128`` or ``mdlm:64:cfg:0``.
Strategy options take their defaults.
"""

from __future__ import annotations

import argparse
import json

from molremdm.chem.metrics import evaluate_samples
from molremdm.data.qm9 import reference_smiles
from molremdm.experiments.generate import SamplingSettings, generate, run_record
from molremdm.models.checkpoint import load_model

COLUMNS = ("sampler", "steps", "guidance", "gamma", "validity", "uniqueness", "novelty",
           "num_novel", "mean_ring_count", "novel_mean_ring_count", "mean_qed", "nfe",
           "wall_time_s")


def parse_setting(text: str, num_samples: int, seed: int) -> SamplingSettings:
    parts = text.split(":")
    if len(parts) not in (2, 4) or (len(parts) == 4 and parts[2] != "cfg"):
        raise ValueError(f"setting {text!r} is not SAMPLER:STEPS or SAMPLER:STEPS:cfg:GAMMA")
    guidance = "cfg" if len(parts) == 4 else "none"
    gamma = float(parts[3]) if len(parts) == 4 else 0.0
    return SamplingSettings(num_samples=num_samples, steps=int(parts[1]), sampler=parts[0],
                            guidance=guidance, gamma=gamma, seed=seed)


def format_cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="exported model folder or .ckpt")
    parser.add_argument("--setting", action="append", required=True,
                        help="SAMPLER:STEPS[:cfg:GAMMA]; repeat for more rows")
    parser.add_argument("--num-samples", type=int, default=1024, help="molecules per setting")
    parser.add_argument("--seed", type=int, default=0, help="random seed of every setting")
    parser.add_argument("--json", help="write all rows to this JSON file")
    args = parser.parse_args()

    settings = [parse_setting(s, args.num_samples, args.seed) for s in args.setting]
    model = load_model(args.checkpoint)
    reference = reference_smiles()
    rows = []
    for setting in settings:
        result, smiles = generate(model, setting)
        rows.append(run_record(setting, result, evaluate_samples(smiles, reference),
                               args.checkpoint))

    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(format_cell(row.get(c)) for c in COLUMNS) + " |")
    print(f"\nRDKit {rows[0]['rdkit_version']}, {args.num_samples} samples, seed {args.seed}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
