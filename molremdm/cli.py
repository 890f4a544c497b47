"""Command-line interface: argument parsing only; the work is done by library functions."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs" / "train"
DEFAULT_TRAIN_CONFIG = CONFIG_DIR / "qm9_mdlm_cfg.yaml"
DEFAULT_CLASSIFIER_CONFIG = CONFIG_DIR / "qm9_classifier.yaml"


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Append "(default: X)" to an option's help unless the help already names its default
    or there is none to name (None, False or an empty list: the option is off or unset)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_text = action.help or ""
        if "default" in help_text or action.default in (None, False, []):
            return help_text
        return super()._get_help_string(action)


def _add_data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", help="qm9 (bundled) or a CSV file of molecules with a "
                        "SMILES column and numeric property columns (default: from the config)")
    parser.add_argument("--smiles-column", help="column of the CSV that contains the SMILES "
                        "(default: from the config, smiles)")
    parser.add_argument("--representation", choices=["smiles", "selfies"],
                        help="molecule strings the model reads and writes: SMILES symbols or "
                        "SELFIES symbols (default: from the config)")
    parser.add_argument("--length", type=int, help="token ids per sequence with BOS and EOS; "
                        "longer molecules stop the run with their name (default: from the "
                        "config)")


def _add_train(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", formatter_class=HelpFormatter,
        help="train a diffusion model (MDLM or UDLM) or the AR baseline",
        description="Train a masked (MDLM) or uniform-noise (UDLM) diffusion model or the "
                    "autoregressive baseline. Values on the command line override "
                    "the config file. Class 1 of the label means 'property above its percentile'.")
    parser.add_argument("--config", type=Path, default=DEFAULT_TRAIN_CONFIG,
                        help="YAML config with sections data, network, optim, run")
    parser.add_argument("--property", help="property to label for guidance: ring_count, qed or a "
                        "numeric column of the data set, such as QM9's gap (default: from the "
                        "config)")
    _add_data_options(parser)
    parser.add_argument("--model", choices=["mdlm", "udlm", "ar"], help="masked diffusion "
                        "(mdlm), uniform-noise diffusion (udlm) or the autoregressive baseline "
                        "(ar) (default: from the config)")
    parser.add_argument("--max-steps", type=int, help="optimiser steps (default: from the config)")
    parser.add_argument("--batch-size", type=int, help="molecules per step (default: from config)")
    parser.add_argument("--lr", type=float, help="peak learning rate (default: from the config)")
    parser.add_argument("--width", type=int, help="transformer width (default: from the config)")
    parser.add_argument("--depth", type=int, help="transformer layers (default: from the config)")
    parser.add_argument("--val-every", type=int, dest="val_every_steps",
                        help="optimiser steps between validations (default: from the config)")
    parser.add_argument("--precision", choices=["auto", "bf16-mixed", "32-true"],
                        help="bf16 autocast or float32; auto takes bf16 where the hardware runs "
                        "it natively (default: from the config)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--seed", type=int, help="random seed (default: from the config)")
    parser.add_argument("--output-dir", help="folder for runs (default: from the config)")
    parser.add_argument("--name", help="run name; the run lives in OUTPUT_DIR/NAME "
                        "(default: from the config)")
    parser.add_argument("--logger", choices=["csv", "wandb"],
                        help="experiment logger; wandb runs offline without a key or network "
                        "(default: from the config)")
    parser.add_argument("--resume", type=Path, help="Lightning checkpoint to continue from "
                        "(for example OUTPUT_DIR/NAME/checkpoints/last.ckpt; default: start anew)")


def _data_overrides(args: argparse.Namespace) -> dict:
    """Return the data section overrides shared by train and train-classifier."""
    return {"property": args.property, "dataset": args.dataset,
            "smiles_column": args.smiles_column, "representation": args.representation,
            "length": args.length}


def _name_after_table(config, args: argparse.Namespace, suffix: str):
    """Return the config with its run named after the user table ("mine-mdlm" for mine.csv.gz)
    when --dataset is given without --name, so it does not overwrite the QM9 recipe's run."""
    if not args.dataset or args.name is not None:
        return config
    stem = Path(args.dataset).name.split(".")[0]
    return replace(config, run=replace(config.run, name=f"{stem}-{suffix}"))


def _check_resume(path: Path | None) -> None:
    if path is not None and not path.is_file():
        raise FileNotFoundError(f"checkpoint to resume from {path} not found")


def _run_train(args: argparse.Namespace) -> int:
    from molremdm.training.run import load_config, train

    overrides = {
        "data": _data_overrides(args),
        "network": {"width": args.width, "depth": args.depth, "kind": args.model},
        "optim": {"max_steps": args.max_steps, "lr": args.lr},
        "run": {"batch_size": args.batch_size, "precision": args.precision,
                "threads": args.threads, "seed": args.seed, "output_dir": args.output_dir,
                "name": args.name, "logger": args.logger,
                "val_every_steps": args.val_every_steps},
    }
    _check_resume(args.resume)
    config = load_config(args.config, overrides)
    config = _name_after_table(config, args, config.network.kind)
    folder = train(config, resume=args.resume)
    print(f"exported model: {folder}")
    return 0


def _add_train_classifier(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train-classifier", formatter_class=HelpFormatter,
        help="train a noisy property classifier for classifier guidance",
        description="Train a time-conditioned classifier of the property label (or a regressor "
                    "of its value) on sequences corrupted by the masked or uniform process.")
    parser.add_argument("--config", type=Path, default=DEFAULT_CLASSIFIER_CONFIG,
                        help="YAML config with sections data, network, optim, run")
    parser.add_argument("--property", help="property to label (default: from the config)")
    _add_data_options(parser)
    parser.add_argument("--task", choices=["classify", "regress"],
                        help="predict the label or the standardised value (default: config)")
    parser.add_argument("--process", choices=["masked", "uniform"], help="noise of the "
                        "diffusion model to guide (default: from the config)")
    parser.add_argument("--max-steps", type=int, help="optimiser steps (default: from config)")
    parser.add_argument("--output-dir", help="folder for runs (default: from the config)")
    parser.add_argument("--name", help="run name; the run lives in OUTPUT_DIR/NAME "
                        "(default: from the config)")
    parser.add_argument("--logger", choices=["csv", "wandb"],
                        help="experiment logger (default: from the config)")
    parser.add_argument("--resume", type=Path, help="Lightning checkpoint to continue from "
                        "(for example OUTPUT_DIR/NAME/checkpoints/last.ckpt; default: start anew)")


def _run_train_classifier(args: argparse.Namespace) -> int:
    from molremdm.training.classifier import classifier_config_from_dict, train_classifier
    from molremdm.training.run import read_sections

    overrides = {"data": _data_overrides(args),
                 "network": {"task": args.task, "process": args.process},
                 "optim": {"max_steps": args.max_steps},
                 "run": {"output_dir": args.output_dir, "name": args.name,
                         "logger": args.logger}}
    _check_resume(args.resume)
    config = classifier_config_from_dict(read_sections(args.config, overrides))
    config = _name_after_table(config, args, f"classifier-{config.network.process}")
    folder = train_classifier(config, resume=args.resume)
    print(f"exported classifier: {folder}")
    return 0


def _add_bench(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "bench", formatter_class=HelpFormatter, help="measure training and sampling speed",
        description="Measure the matmul peak, training tokens per second (molremdm's step in "
                    "the training dtype (bf16 where the CPU runs it natively) and fp32, and a "
                    "plain fp32 nn.TransformerEncoder baseline), training "
                    "MFU, and sampling costs (seconds per network evaluation, sampler overhead, "
                    "CFG and classifier-guidance step cost) on the default model size.")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and a smaller "
                        "sampling run (under a minute on 2 CPU cores)")
    parser.add_argument("--json", type=Path, help="write the measurements to this JSON file")


def _run_bench(args: argparse.Namespace) -> int:
    import json

    from molremdm.data.cache import atomic_write_text
    from molremdm.experiments.bench import run_bench

    report = run_bench(quick=args.quick)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        atomic_write_text(args.json, text + "\n")
    return 0


def _add_demo(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "demo", formatter_class=HelpFormatter, help="run the main job end to end",
        description="Load the shipped QM9 model (or train a short one), sample unguided with "
                    "MDLM and guided with ReMDM + D-CFG toward class 1 (property above its "
                    "90th percentile), score both against QM9 and plot the property.")
    parser.add_argument("--output-dir", type=Path, default=Path("runs/demo"),
                        help="folder for samples, demo.json and demo.png")
    parser.add_argument("--train", action="store_true", help="train a short model (about 12 "
                        "minutes on 2 CPU cores) instead of loading the shipped one")
    parser.add_argument("-n", "--num-samples", type=int, default=1024, help="molecules per run")
    parser.add_argument("--steps", type=int, default=64, help="denoising steps T")
    parser.add_argument("--gamma", type=float, default=2.0, help="D-CFG guidance strength")
    parser.add_argument("--sampler", default="remdm-loop", help="sampler of the guided run")
    parser.add_argument("--seed", type=int, default=0, help="random seed")


def _run_demo(args: argparse.Namespace) -> int:
    from molremdm.experiments.demo import format_summary, run_demo

    summary = run_demo(args.output_dir, args.train, args.num_samples, args.steps, args.gamma,
                       args.sampler, args.seed)
    print(format_summary(summary))
    print(f"RDKit {next(iter(summary['runs'].values()))['rdkit_version']}; outputs in "
          f"{args.output_dir} (demo.json, samples_*.csv, demo.png)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="molremdm", formatter_class=HelpFormatter,
        description="Property-steered molecule generation with masked diffusion, ReMDM "
                    "remasking and guidance.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_train(commands)
    _add_train_classifier(commands)
    _add_demo(commands)
    _add_bench(commands)
    from molremdm import cli_experiments, cli_sample
    cli_sample.add_commands(commands, HelpFormatter)
    cli_experiments.add_commands(commands, HelpFormatter)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    handlers = {"train": _run_train, "train-classifier": _run_train_classifier,
                "demo": _run_demo, "bench": _run_bench}
    from molremdm import cli_experiments, cli_sample
    handlers.update(cli_sample.HANDLERS)
    handlers.update(cli_experiments.HANDLERS)
    try:
        return handlers[args.command](args)
    except (ValueError, FileNotFoundError, NotImplementedError) as error:  # includes CheckpointError
        print(f"molremdm {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
