"""Score a model on QM9 under a list of sampling settings and print a Markdown table.

Usage:
    python scripts/qm9_results.py --checkpoint checkpoints/qm9-mdlm-cfg \
        --setting mdlm:64 --setting mdlm:64:gamma=2 --setting remdm-cap:128:eta=0.01 \
        [--num-samples 1024] [--seed 0] [--jsonl results.jsonl]

A setting is SAMPLER:STEPS followed by optional KEY=VALUE items separated by colons, with KEY
one of eta, t_on, t_off, alpha_on, t_switch, top_p or gamma (gamma turns on D-CFG toward
class 1). Unset strategy options take their defaults. With --jsonl every finished row is
appended at once, and a rerun skips settings already in the file, so an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from molremdm.chem.metrics import evaluate_samples
from molremdm.data.qm9 import reference_smiles
from molremdm.experiments.generate import SamplingSettings, generate, run_record
from molremdm.models.checkpoint import load_model

COLUMNS = ("sampler", "precision", "steps", "eta", "guidance", "gamma", "validity", "uniqueness", "novelty",
           "num_novel", "mean_ring_count", "novel_mean_ring_count", "mean_qed", "nfe",
           "wall_time_s")


OPTION_KEYS = ("eta", "t_on", "t_off", "alpha_on", "t_switch", "top_p", "gamma")


def parse_setting(text: str, num_samples: int, seed: int, precision: str = "32"
                  ) -> SamplingSettings:
    sampler, _, rest = text.partition(":")
    steps, _, rest = rest.partition(":")
    if not sampler or not steps.isdigit():
        raise ValueError(f"setting {text!r} does not start with SAMPLER:STEPS")
    options: dict[str, float] = {}
    for item in filter(None, rest.split(":")):
        key, equals, value = item.partition("=")
        if not equals or key not in OPTION_KEYS:
            raise ValueError(f"setting {text!r}: item {item!r} is not KEY=VALUE with KEY in "
                             f"{OPTION_KEYS}")
        options[key] = float(value)
    gamma = options.pop("gamma", None)
    return SamplingSettings(num_samples=num_samples, steps=int(steps), sampler=sampler,
                            guidance="none" if gamma is None else "cfg",
                            gamma=0.0 if gamma is None else gamma, seed=seed,
                            precision=precision, **options)


def format_cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True, help="exported model folder or .ckpt")
    parser.add_argument("--setting", action="append", required=True,
                        help="SAMPLER:STEPS[:KEY=VALUE...]; repeat for more rows")
    parser.add_argument("--num-samples", type=int, default=1024, help="molecules per setting")
    parser.add_argument("--seed", type=int, default=0, help="random seed of every setting")
    parser.add_argument("--precision", choices=["32", "bf16"], default="32",
                        help="network precision of every setting")
    parser.add_argument("--jsonl", type=Path, help="append each row to this JSON-lines file "
                        "and skip settings already in it")
    args = parser.parse_args()

    settings = [parse_setting(s, args.num_samples, args.seed, args.precision)
                for s in args.setting]
    done = {}
    if args.jsonl is not None and args.jsonl.is_file():
        for line in args.jsonl.read_text().splitlines():
            row = json.loads(line)
            done[row["setting"]] = row
    model = load_model(args.checkpoint)
    reference = reference_smiles()
    rows = []
    for text, setting in zip(args.setting, settings):
        if text in done:
            rows.append(done[text])
            continue
        result, smiles = generate(model, setting)
        row = {"setting": text, **run_record(setting, result,
                                              evaluate_samples(smiles, reference),
                                              args.checkpoint)}
        rows.append(row)
        if args.jsonl is not None:
            with args.jsonl.open("a") as handle:
                handle.write(json.dumps(row) + "\n")

    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(format_cell(row.get(c)) for c in COLUMNS) + " |")
    print(f"\nRDKit {rows[0]['rdkit_version']}, {args.num_samples} samples, seed {args.seed}")


if __name__ == "__main__":
    main()
