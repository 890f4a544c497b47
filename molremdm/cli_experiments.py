"""Command-line parsing for `molremdm sweep` and `molremdm pareto`."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_commands(commands: argparse._SubParsersAction, formatter: type) -> None:
    add_grid_command(commands, formatter)
    sweep = commands.add_parser(
        "sweep", formatter_class=formatter, help="run a grid of sampling settings",
        description="Run every combination of checkpoint, sampler, guidance, gamma, steps and "
                    "seed in a sweep config, appending one row per setting to the results "
                    "CSV. A restarted sweep skips finished settings; seeds are averaged into "
                    "RESULTS_summary.csv.")
    sweep.add_argument("--config", type=Path, required=True, help="sweep YAML "
                       "(configs/sweep/*.yaml)")
    sweep.add_argument("--results", help="results CSV (default: from the config)")
    sweep.add_argument("--workers", type=int, help="worker processes (default: one per 2 "
                       "cores)")
    sweep.add_argument("--num-samples", type=int, help="molecules per setting (default: "
                       "from the config)")
    sweep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    sweep.add_argument("--logger", choices=["none", "wandb"], default="none", help="also log "
                       "the results table to W&B (offline without a key or network)")

    pareto = commands.add_parser(
        "pareto", formatter_class=formatter, help="Pareto front of a results table",
        description="Write the non-dominated rows of a results CSV (both axes maximised "
                    "unless minimised) and plot every row with each group's front; prints and "
                    "saves the hypervolume of each group's front.")
    pareto.add_argument("results", type=Path, help="results CSV from `molremdm sweep`")
    pareto.add_argument("--x", default="num_novel", help="x column")
    pareto.add_argument("--y", default="novel_mean_ring_count", help="y column")
    pareto.add_argument("--group", action="append", default=[], help="column whose values "
                        "get separate fronts; repeat for more")
    pareto.add_argument("--min-x", type=float, help="drop rows with x below this (the papers "
                        "use 50 novel molecules)")
    pareto.add_argument("--minimize-x", action="store_true", help="smaller x is better")
    pareto.add_argument("--minimize-y", action="store_true", help="smaller y is better")
    pareto.add_argument("--front-csv", type=Path, required=True, help="CSV of the front rows")
    pareto.add_argument("-o", "--output", type=Path, required=True,
                        help="plot path (.png; an .svg is written beside it)")
    pareto.add_argument("--logger", choices=["none", "wandb"], default="none", help="also "
                        "log the front table, hypervolumes and plot to W&B")


def add_grid_command(commands: argparse._SubParsersAction, formatter: type) -> None:
    grid = commands.add_parser(
        "grid", formatter_class=formatter, help="draw the best novel molecules of a run",
        description="Draw the distinct novel molecules of a samples file with the highest "
                    "property values as an RDKit grid image, each labelled with its value.")
    grid.add_argument("samples", type=Path, help="samples CSV (smiles column) or text file")
    grid.add_argument("--property", default="ring_count", choices=["ring_count", "qed"],
                      help="property to rank and label by")
    grid.add_argument("--top", type=int, default=20, help="molecules to draw")
    grid.add_argument("--reference", default="qm9", help="novelty reference: qm9, none or a "
                      "file of SMILES")
    grid.add_argument("-o", "--output", type=Path, required=True, help="PNG path")


def run_grid_command(args: argparse.Namespace) -> int:
    from molremdm.chem.drawing import save_molecule_grid
    from molremdm.experiments.evaluate import best_novel, load_reference, read_samples

    if args.top < 1:
        raise ValueError(f"--top must be >= 1, got {args.top}")
    ranked = best_novel(read_samples(args.samples), load_reference(args.reference),
                        args.property, args.top)
    if not ranked:
        raise ValueError(f"{args.samples} contains no valid novel molecule to draw")
    legends = [f"{args.property} {value:.3g}" for _, value in ranked]
    save_molecule_grid([s for s, _ in ranked], legends, args.output)
    print(f"drew {len(ranked)} molecules to {args.output}")
    return 0


def run_sweep_command(args: argparse.Namespace) -> int:
    from molremdm.experiments.sweep import load_sweep_config, run_sweep

    config = load_sweep_config(args.config, {"results": args.results, "workers": args.workers,
                                             "num_samples": args.num_samples})
    table = run_sweep(config, progress=not args.no_progress)
    print(f"{len(table)} rows in {config.results}")
    if args.logger == "wandb":
        from molremdm.training.loggers import log_tables_and_images
        run_id = log_tables_and_images(f"sweep-{config.name}", Path(config.results).parent,
                                       {"sweep/results": table}, {}, {"sweep": config.name})
        print(f"W&B run {run_id}")
    return 0


def run_pareto_command(args: argparse.Namespace) -> int:
    import pandas as pd

    from molremdm.experiments.pareto import group_hypervolumes, pareto_front, plot_front

    if not args.results.is_file():
        raise FileNotFoundError(f"results file {args.results} not found")
    table = pd.read_csv(args.results)
    front = pareto_front(table, args.x, args.y, args.group, args.min_x, args.minimize_x,
                         args.minimize_y)
    front.to_csv(args.front_csv, index=False)
    shown = table if args.min_x is None else table[table[args.x] >= args.min_x]
    reference = (float(shown[args.x].max() if args.minimize_x else shown[args.x].min()),
                 float(shown[args.y].max() if args.minimize_y else shown[args.y].min()))
    volumes = group_hypervolumes(front, args.x, args.y, args.group, reference,
                                 args.minimize_x, args.minimize_y)
    volumes.to_csv(args.front_csv.with_name(args.front_csv.stem + "_hypervolume.csv"),
                   index=False)
    plot_front(shown, front, args.x, args.y, args.group, args.output)
    print(f"{len(front)} front rows of {len(table)} -> {args.front_csv}; plot {args.output}")
    print(f"hypervolume (reference x={reference[0]:g}, y={reference[1]:g}):")
    print(volumes.to_string(index=False))
    if args.logger == "wandb":
        from molremdm.training.loggers import log_tables_and_images
        run_id = log_tables_and_images(
            f"pareto-{args.results.stem}", args.output.parent,
            {"pareto/front": front, "pareto/hypervolume": volumes}, {"pareto/plot": args.output},
            {"x": args.x, "y": args.y, "groups": args.group, "min_x": args.min_x})
        print(f"W&B run {run_id}")
    return 0


HANDLERS = {"sweep": run_sweep_command, "pareto": run_pareto_command,
            "grid": run_grid_command}
