"""Print the guidance matrix of one property as a Markdown table from sweep results.

Usage:
    python scripts/guidance_tables.py --property ring_count \
        runs/sweeps/qm9_ring_guidance_masked.csv runs/sweeps/qm9_ring_guidance_udlm.csv \
        runs/sweeps/qm9_ring_guidance_ar.csv \
        [--classifier checkpoints/qm9-ring-classifier ...]

One row per model family, sampler, guidance kind and T; one column per gamma. A cell reads
"validity % / distinct novel molecules / novel-mean property / NFE", and for D-CBG rows that
recorded it, "NFE+Cc" with C the classifier calls per molecule. With --classifier the
validation AUROC of each classifier export follows the table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

FAMILIES = {"mdlm": "MDLM", "udlm": "UDLM", "ar": "AR"}  # any other sampler is a ReMDM one
# decimals of the novel-mean property: QED lies in [0, 1] and guidance moves it by hundredths
DIGITS = {"qed": 3}


def row_label(row: pd.Series) -> tuple[str, str, str]:
    """Return the (model, sampler, guidance) names of a results row."""
    sampler = row["sampler"]
    model = FAMILIES.get(sampler, "ReMDM")
    if row["guidance"] == "cbg":
        guidance = f"D-CBG {row['cbg_mode']}"
    else:
        guidance = "D-CFG" if row["guidance"] == "cfg" else "none"
    return model, sampler, guidance


def cell(row: pd.Series, column: str, digits: int = 2) -> str:
    novel_mean = row[column]
    mean_text = "-" if pd.isna(novel_mean) else f"{novel_mean:.{digits}f}"
    cost = f"{int(row['nfe'])}"
    calls = row.get("classifier_calls")
    if calls is not None and not pd.isna(calls) and calls > 0:
        cost += f"+{calls:,.0f}c"
    return f"{100 * row['validity']:.1f} / {int(row['num_novel'])} / {mean_text} / {cost}"


def matrix(table: pd.DataFrame, prop: str) -> str:
    column = f"novel_mean_{prop}"
    if column not in table.columns:
        raise SystemExit(f"results have no column {column!r}. Pass a --property that the "
                         "sweep scored: ring_count or qed")
    labels = table.apply(row_label, axis=1, result_type="expand")
    table = table.assign(model=labels[0], sampler_name=labels[1], guidance_name=labels[2])
    gammas = sorted(table["gamma"].unique())
    order = {"MDLM": 0, "ReMDM": 1, "UDLM": 2, "AR": 3}
    table = table.assign(rank=table["model"].map(order))

    header = ["model", "sampler", "guidance", "T", *(f"gamma = {g:g}" for g in gammas)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    groups = table.groupby(["rank", "model", "sampler_name", "guidance_name", "steps"])
    digits = DIGITS.get(prop, 2)
    for (_, model, sampler, guidance, steps), chosen in groups:
        by_gamma = {row["gamma"]: row for _, row in chosen.iterrows()}
        cells = [cell(by_gamma[g], column, digits) if g in by_gamma else "" for g in gammas]
        lines.append("| " + " | ".join([model, sampler, guidance, str(steps), *cells]) + " |")
    return "\n".join(lines)


def auroc_lines(folders: list[Path]) -> list[str]:
    lines = []
    for folder in folders:
        config = json.loads((folder / "config.json").read_text())
        metrics = config.get("last_validation")
        if not metrics:
            lines.append(f"* {folder}: no validation metrics in config.json")
            continue
        bands = ", ".join(f"{k.split('_t')[-1]}: {v:.3f}" for k, v in sorted(metrics.items())
                          if k.startswith("val/auroc_t"))
        lines.append(f"* {folder} ({config['process']['name']} noise, step {metrics['step']}): "
                     f"AUROC {metrics.get('val/auroc', float('nan')):.3f} over all t; by band "
                     f"of t: {bands}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="sweep results CSVs")
    parser.add_argument("--property", required=True, dest="prop",
                        help="property column suffix: ring_count or qed")
    parser.add_argument("--classifier", action="append", type=Path, default=[],
                        help="classifier export folder whose AUROC to report (repeatable)")
    args = parser.parse_args()
    missing = [str(p) for p in args.results if not p.is_file()]
    if missing:
        raise SystemExit(f"results file(s) not found: {missing}; run `molremdm sweep` first")
    table = pd.concat([pd.read_csv(p) for p in args.results], ignore_index=True)
    print(matrix(table, args.prop))
    lines = auroc_lines(args.classifier)
    if lines:
        print("\nClassifier validation AUROC (last validation):\n")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
