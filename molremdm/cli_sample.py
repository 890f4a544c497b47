"""Command-line parsing for `molremdm sample` and `molremdm evaluate`."""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
from pathlib import Path

from molremdm.sampling.strategies import STRATEGIES

logger = logging.getLogger(__name__)

SAMPLERS = [*STRATEGIES, "udlm", "ar"]
METRIC_KEYS_SHOWN = ("num_samples", "validity", "uniqueness", "novelty", "num_novel",
                     "mean_qed", "mean_ring_count", "novel_mean_qed", "novel_mean_ring_count")


def add_commands(commands: argparse._SubParsersAction, formatter: type) -> None:
    sample = commands.add_parser(
        "sample", formatter_class=formatter, help="sample molecules from a trained model",
        description="Sample molecules with MDLM or ReMDM, optionally with classifier-free "
                    "guidance (D-CFG), then score them. Guidance target 1 means 'property above "
                    "the training data's percentile' (see the model's label definition).")
    sample.add_argument("--checkpoint", type=Path, required=True,
                        help="exported model folder (model.safetensors + config.json) or a "
                        "Lightning .ckpt from training")
    sample.add_argument("-n", "--num-samples", type=int, default=1024, help="molecules to sample")
    sample.add_argument("--steps", type=int, default=64, help="denoising steps T")
    sample.add_argument("--sampler", default="mdlm", choices=SAMPLERS,
                        help="mdlm: ancestral sampling; remdm-cap: sigma = min(eta, sigma_max); "
                        "remdm-rescale: sigma = eta * sigma_max; remdm-conf: remask the least "
                        "confident tokens first; remdm-loop: MDLM to alpha_on at t_on, remask "
                        "with sigma = eta until t_off, then MDLM; remdm-switch: MDLM until "
                        "t_switch, then cap; forward-backward and dfm: corrector baselines; "
                        "udlm: exact-posterior sampler of uniform-noise models; ar: "
                        "token-by-token sampling of the autoregressive baseline. See "
                        "docs/samplers.md")
    sample.add_argument("--eta", type=float, help="remasking strength: in [0, 1] for cap "
                        "(default 0.02), rescale (0.015), switch (0.02) and conf (1.0); in "
                        "[0, (1 - alpha_on) / alpha_on] for loop (0.05)")
    sample.add_argument("--t-on", type=float, help="loop start time, t_off < t_on < 1 "
                        "(default 0.55)")
    sample.add_argument("--t-off", type=float, help="loop end time, 0 < t_off < t_on "
                        "(default 0.05)")
    sample.add_argument("--alpha-on", type=float, help="clean fraction held during the loop, "
                        "in (0, 1) (default 0.9)")
    sample.add_argument("--t-switch", type=float, help="switch: time in [0, 1] below which "
                        "remasking starts (default 0.5)")
    sample.add_argument("--top-p", type=float, help="nucleus sampling: keep the most likely "
                        "tokens up to this mass, in (0, 1] (default: off)")
    sample.add_argument("--temperature", type=float, default=1.0, help="softmax temperature "
                        "of the autoregressive sampler (> 0)")
    sample.add_argument("--guidance", choices=["none", "cfg", "cbg"], default="none",
                        help="cfg: classifier-free guidance toward --target; cbg: classifier "
                        "guidance with --classifier")
    sample.add_argument("--gamma", type=float, default=1.0, help="guidance strength >= 0; for "
                        "cfg 0 = unconditional (null label), 1 = conditional, > 1 = stronger")
    sample.add_argument("--classifier", type=Path, help="noisy classifier folder from "
                        "`molremdm train-classifier` (for --guidance cbg)")
    sample.add_argument("--cbg-approx", action="store_true", help="first-order (Taylor) "
                        "classifier guidance: one forward and backward pass per step instead "
                        "of scoring every single-token edit")
    sample.add_argument("--target", type=int, default=1, help="target class (1 = property above "
                        "its percentile)")
    sample.add_argument("--seed", type=int, default=0, help="random seed; same seed, same samples")
    sample.add_argument("--batch-size", type=int, help="molecules per network call "
                        "(default: all at once)")
    sample.add_argument("--precision", choices=["auto", "32", "bf16"], default="auto",
                        help="network precision; auto takes bf16 where the hardware runs it "
                        "natively; categorical draws are always float64")
    sample.add_argument("--reference", default="data", help="novelty reference: data (the "
                        "model's training data set), qm9, none or a file of SMILES")
    sample.add_argument("--out", type=Path, default=Path("samples.csv"),
                        help="CSV of samples (smiles, valid, canonical_smiles, qed, ring_count)")
    sample.add_argument("--json", type=Path, help="JSON file for metrics and sampling parameters")
    sample.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    evaluate = commands.add_parser(
        "evaluate", formatter_class=formatter, help="score a file of molecules",
        description="Validity, uniqueness, novelty and property means of sampled molecules, on "
                    "RDKit canonical SMILES. Novelty = distinct valid molecules absent from the "
                    "reference / valid molecules.")
    evaluate.add_argument("file", type=Path, help="CSV with a 'smiles' column (empty field = "
                          "empty sample) or a text file with one SMILES per line")
    evaluate.add_argument("--reference", default="qm9", help="novelty reference: qm9, none or "
                          "a file of SMILES")
    evaluate.add_argument("--json", type=Path, help="write the metrics to this JSON file")


def _check_writable(path: Path | None) -> None:
    if path is None:
        return
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"output folder {folder} for {path} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"output folder {folder} for {path} is not writable")


def _print_metrics(metrics: dict) -> None:
    for key in METRIC_KEYS_SHOWN:
        if key in metrics:
            value = metrics[key]
            shown = "nan" if value is None or (isinstance(value, float) and math.isnan(value)) \
                else (f"{value:.4f}" if isinstance(value, float) else value)
            print(f"{key:>24}: {shown}")
    print(f"{'rdkit_version':>24}: {metrics['rdkit_version']}")


def run_sample(args: argparse.Namespace) -> int:
    from molremdm.chem.metrics import evaluate_samples
    from molremdm.experiments.evaluate import load_reference
    from molremdm.experiments.generate import (SamplingSettings, generate, run_record,
                                               write_outputs)
    from molremdm.models.checkpoint import load_model

    settings = SamplingSettings(
        num_samples=args.num_samples, steps=args.steps, sampler=args.sampler, eta=args.eta,
        t_on=args.t_on, t_off=args.t_off, alpha_on=args.alpha_on, t_switch=args.t_switch,
        top_p=args.top_p, temperature=args.temperature, guidance=args.guidance,
        gamma=args.gamma if args.guidance != "none" else 0.0, target=args.target,
        classifier=str(args.classifier) if args.classifier else None,
        cbg_mode="first-order" if args.cbg_approx else "exact",
        seed=args.seed, batch_size=args.batch_size, precision=args.precision)
    for path in (args.out, args.json):
        _check_writable(path)
    model = load_model(args.checkpoint)
    if model.label_definition is not None:
        logger.info("model labels: %s", model.label_definition.describe())
    reference = load_reference(args.reference, model.config.get("data"))

    result, smiles = generate(model, settings, progress=not args.no_progress)
    metrics = evaluate_samples(smiles, reference)
    record = run_record(settings, result, metrics, str(args.checkpoint))
    record["reference"] = args.reference
    record["reference_molecules"] = None if reference is None else len(reference)
    write_outputs(smiles, record, args.out, args.json)
    calls = (f", {result.classifier_calls:.0f} classifier calls per molecule"
             if result.classifier_calls else "")
    print(f"sampled {settings.num_samples} molecules in {result.wall_time:.1f} s, "
          f"NFE {result.nfe}{calls} ({result.strategy})")
    _print_metrics(metrics)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from molremdm.chem.metrics import evaluate_samples
    from molremdm.data.cache import atomic_write_text
    from molremdm.experiments.evaluate import load_reference, read_samples

    _check_writable(args.json)
    samples = read_samples(args.file)
    metrics = evaluate_samples(samples, load_reference(args.reference))
    if args.json is not None:
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v)
                 for k, v in metrics.items()}
        atomic_write_text(args.json, json.dumps(clean, indent=2) + "\n")
    _print_metrics(metrics)
    return 0


HANDLERS = {"sample": run_sample, "evaluate": run_evaluate}
