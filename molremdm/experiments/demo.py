"""The main job end to end: get a model, sample with and without guidance, score, plot."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np

from molremdm.chem.metrics import canonicalize_samples, evaluate_samples
from molremdm.chem.properties import compute_property
from molremdm.data.cache import atomic_write_text
from molremdm.experiments.generate import SamplingSettings, generate, run_record, samples_table
from molremdm.models.checkpoint import load_model

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = ROOT / "checkpoints" / "qm9-mdlm-cfg"
DEMO_CONFIG = ROOT / "configs" / "train" / "qm9_demo.yaml"


def obtain_model(train_fresh: bool, output_dir: Path) -> Path:
    """Return the shipped model folder, or train a short run when asked or when none ships."""
    if not train_fresh and (SHIPPED_MODEL / "config.json").is_file():
        logger.info("using the shipped model %s", SHIPPED_MODEL)
        return SHIPPED_MODEL
    from molremdm.training.run import load_config, train

    logger.info("training a short demo model with %s", DEMO_CONFIG)
    config = load_config(DEMO_CONFIG, {"run": {"output_dir": str(output_dir)}})
    return train(config)


def plot_property_histograms(groups: dict[str, list[float]], property_name: str,
                             path: Path) -> None:
    """Bar chart of the share of molecules per integer property value, one bar group per run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = sorted({int(v) for vs in groups.values() for v in vs})
    width = 0.8 / max(1, len(groups))
    figure, axis = plt.subplots(figsize=(7, 4), constrained_layout=True)
    for index, (name, data) in enumerate(groups.items()):
        counts = np.array([sum(1 for v in data if int(v) == x) for x in values], dtype=float)
        share = counts / max(1, len(data))
        mean = float(np.mean(data)) if data else math.nan
        axis.bar(np.array(values) + (index - (len(groups) - 1) / 2) * width, share, width,
                 label=f"{name} (mean {mean:.2f}, n={len(data)})")
    axis.set_xlabel(property_name.replace("_", " "))
    axis.set_ylabel("share of valid molecules")
    axis.set_xticks(values)
    axis.legend(frameon=False)
    axis.set_title("QM9 vs sampled molecules")
    figure.savefig(path, dpi=130)
    figure.savefig(path.with_suffix(".svg"))
    plt.close(figure)


def run_demo(output_dir: Path = Path("runs/demo"), train_fresh: bool = False,
             num_samples: int = 1024, steps: int = 64, gamma: float = 2.0,
             sampler: str = "remdm-loop", seed: int = 0) -> dict:
    """Sample unguided (MDLM) and guided (ReMDM + D-CFG toward class 1), score against QM9,
    and write CSVs, a JSON summary and a plot of the guided property into ``output_dir``.

    The network runs in bf16 where the hardware runs it natively, and in float32 otherwise.
    """
    from molremdm.data.qm9 import load_qm9

    output_dir.mkdir(parents=True, exist_ok=True)
    model = load_model(obtain_model(train_fresh, output_dir))
    definition = model.label_definition
    if definition is None:
        raise ValueError("the demo needs a label-conditioned model for classifier-free guidance")
    qm9 = load_qm9()
    reference = set(qm9["smiles"])

    runs = {
        "unguided MDLM": SamplingSettings(num_samples=num_samples, steps=steps, seed=seed,
                                          precision="auto"),
        f"{sampler} + D-CFG gamma {gamma:g}": SamplingSettings(
            num_samples=num_samples, steps=steps, sampler=sampler, guidance="cfg",
            gamma=gamma, target=1, seed=seed, precision="auto"),
    }
    records, property_values = {}, {"QM9": qm9[definition.property].dropna().tolist()}
    for name, settings in runs.items():
        result, smiles = generate(model, settings, progress=True)
        metrics = evaluate_samples(smiles, reference)
        records[name] = run_record(settings, result, metrics, str(model.source))
        slug = "unguided" if settings.guidance == "none" else "guided"
        atomic_write_text(output_dir / f"samples_{slug}.csv", samples_table(smiles))
        valid = [c for c in canonicalize_samples(smiles) if c is not None]
        property_values[name] = compute_property(definition.property, valid).tolist() \
            if definition.property in ("qed", "ring_count") else []

    summary = {"model": str(model.source), "label_definition": definition.to_dict(),
               "runs": records}
    atomic_write_text(output_dir / "demo.json", json.dumps(summary, indent=2) + "\n")
    if definition.property == "ring_count":
        plot_property_histograms(property_values, definition.property, output_dir / "demo.png")
    return summary


def format_summary(summary: dict) -> str:
    """Format the demo runs as a small text table."""
    keys = ("validity", "uniqueness", "novelty", "num_novel", "mean_ring_count",
            "novel_mean_ring_count", "mean_qed", "nfe", "wall_time_s")
    names = list(summary["runs"])
    lines = [f"{'metric':<22}" + "".join(f"{n:>32}" for n in names)]
    for key in keys:
        row = []
        for name in names:
            value = summary["runs"][name].get(key)
            row.append(f"{value:>32.4f}" if isinstance(value, float) else f"{str(value):>32}")
        lines.append(f"{key:<22}" + "".join(row))
    return "\n".join(lines)

