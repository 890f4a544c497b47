"""Grid sweeps over checkpoints, samplers, guidance, gamma, steps and seeds, with resume.

Every finished setting is appended to the results CSV at once, by the parent process only, so
a sweep that is stopped loses at most the settings in flight; a restart skips settings whose
key is already in the file. Seeds are then averaged into ``<results>_summary.csv``.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from tqdm.auto import tqdm

from molremdm.experiments.generate import SamplingSettings

logger = logging.getLogger(__name__)

METRIC_COLUMNS = ("num_samples", "num_valid", "validity", "num_unique", "uniqueness",
                  "num_novel", "novelty", "mean_qed", "mean_ring_count", "novel_mean_qed",
                  "novel_mean_ring_count", "num_invalid", "rdkit_version")
SETTING_COLUMNS = tuple(f.name for f in fields(SamplingSettings))
RESULT_COLUMNS = ("key", "checkpoint", *SETTING_COLUMNS, "strategy", "nfe", "classifier_calls",
                  "wall_time_s",
                  *(m for m in METRIC_COLUMNS if m != "num_samples"))


@dataclass(frozen=True)
class SweepConfig:
    """A grid: every checkpoint x sampler entry x guidance x gamma x steps x seed."""

    name: str
    checkpoints: list[str]
    samplers: list[dict[str, Any]] = field(default_factory=lambda: [{"sampler": "mdlm"}])
    guidance: list[str] = field(default_factory=lambda: ["none"])
    gamma: list[float] = field(default_factory=lambda: [0.0])
    steps: list[int] = field(default_factory=lambda: [64])
    seeds: list[int] = field(default_factory=lambda: [0])
    num_samples: int = 1024
    target: int = 1
    classifier: str | None = None
    cbg_mode: list[str] = field(default_factory=lambda: ["exact"])
    precision: str = "auto"  # network: "auto", "32" or "bf16" (draws are float64 either way)
    results: str = "runs/sweeps/results.csv"
    workers: int | None = None  # None: sized to the machine
    # novelty reference of every row: "data" (each model's training data set), "qm9", "none"
    # or a file of molecules
    reference: str = "data"

    def settings(self) -> list[tuple[str, SamplingSettings]]:
        """Expand the grid into (checkpoint, settings) pairs; unguided entries ignore gamma."""
        grid = []
        for checkpoint, entry, guidance, steps, seed in itertools.product(
                self.checkpoints, self.samplers, self.guidance, self.steps, self.seeds):
            gammas = [0.0] if guidance == "none" else self.gamma
            modes = self.cbg_mode if guidance == "cbg" else ["exact"]
            # Only D-CBG reads the classifier, so the other settings leave it out and their
            # keys do not change when a config names another classifier.
            classifier = self.classifier if guidance == "cbg" else None
            for gamma, mode in itertools.product(gammas, modes):
                grid.append((checkpoint, SamplingSettings(
                    num_samples=self.num_samples, steps=steps, guidance=guidance, gamma=gamma,
                    target=self.target, seed=seed, classifier=classifier, cbg_mode=mode,
                    precision=self.precision, **entry)))
        return grid


def load_sweep_config(path: str | Path, overrides: dict[str, Any] | None = None) -> SweepConfig:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sweep config {path} not found")
    data = yaml.safe_load(path.read_text()) or {}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    known = {f.name for f in fields(SweepConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in sweep config {path}; known: "
                         f"{sorted(known)}")
    for key in ("guidance", "gamma", "steps", "seeds", "checkpoints", "cbg_mode"):
        if key in data and not isinstance(data[key], list):
            data[key] = [data[key]]
    return SweepConfig(**data)


def setting_key(checkpoint: str, settings: SamplingSettings) -> str:
    return canonical_key(json.dumps({"checkpoint": checkpoint, **asdict(settings)}))


def canonical_key(key: str) -> str:
    """Return the key with the classifier fields blanked unless the setting uses D-CBG.

    Older rows also stored the classifier in the keys of unguided and D-CFG settings, so
    blanking it maps them onto the keys written now.
    """
    fields = json.loads(key)
    if fields.get("guidance") != "cbg":
        fields.update(classifier=None, cbg_mode="exact")
    return json.dumps(fields, sort_keys=True)


def read_finished(path: Path) -> dict[str, dict[str, str]]:
    """Finished rows by key; a row cut short by a stop mid-write is dropped from the file."""
    if not path.is_file():
        return {}
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    complete = [r for r in rows if r.get("key") and None not in r.values()
                and r.get(RESULT_COLUMNS[-1]) is not None]
    if len(complete) != len(rows):
        logger.warning("%s: dropping %d incomplete row(s) left by an interrupted sweep",
                       path, len(rows) - len(complete))
        _write_rows(path, complete)
    return {canonical_key(row["key"]): row for row in complete}


def _header(path: Path) -> list[str]:
    with path.open(newline="") as handle:
        return next(csv.reader(handle), [])


def _write_rows(path: Path, rows: list[dict]) -> None:
    temporary = path.with_suffix(".tmp")
    with temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, RESULT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    temporary.replace(path)


_MODELS: dict[str, Any] = {}
_REFERENCES: dict[str, set[str] | None] = {}  # loaded novelty references
_REFERENCE_SPEC = "data"


def _init_worker(threads: int, reference: str = "data") -> None:
    global _REFERENCE_SPEC
    import torch
    torch.set_num_threads(threads)
    _REFERENCE_SPEC = reference


def _reference(data: dict) -> set[str] | None:
    """Load (once per worker) the novelty reference of a model with data section ``data``."""
    from molremdm.experiments.evaluate import load_reference

    key = _REFERENCE_SPEC
    if key == "data":
        key = json.dumps([data.get("dataset", "qm9"), data.get("smiles_column", "smiles")])
    if key not in _REFERENCES:
        _REFERENCES[key] = load_reference(_REFERENCE_SPEC, data)
    return _REFERENCES[key]


def run_setting(job: tuple[str, str, SamplingSettings]) -> dict[str, Any]:
    """Sample and score one setting (in a worker); returns its results row."""
    from molremdm.chem.metrics import evaluate_samples
    from molremdm.experiments.generate import generate, run_record
    from molremdm.models.checkpoint import load_model

    key, checkpoint, settings = job
    if checkpoint not in _MODELS:
        _MODELS[checkpoint] = load_model(checkpoint)
    reference = _reference(_MODELS[checkpoint].config.get("data") or {})
    result, smiles = generate(_MODELS[checkpoint], settings)
    row = run_record(settings, result, evaluate_samples(smiles, reference), checkpoint)
    return {"key": key, **row}


def cost_rank(settings: SamplingSettings) -> tuple[bool, int]:
    """Sort key that runs cheap settings first: exact classifier guidance (one classifier call
    per candidate edit) last, fewer steps before more. A sweep stopped early then contains the
    most rows."""
    exact = settings.guidance == "cbg" and settings.cbg_mode == "exact"
    return exact, settings.steps


def worker_plan(workers: int | None) -> tuple[int, int]:
    """(processes, torch threads each). Default: one process per 2 cores, all cores used."""
    cores = os.cpu_count() or 1
    processes = workers or max(1, cores // 2)
    return processes, max(1, cores // processes)


def run_sweep(config: SweepConfig, progress: bool = True) -> pd.DataFrame:
    """Run every unfinished setting and return the full results table."""
    path = Path(config.results)
    path.parent.mkdir(parents=True, exist_ok=True)
    finished = read_finished(path)
    grid = [(setting_key(c, s), c, s) for c, s in config.settings()]
    keys = [job[0] for job in grid]
    if len(set(keys)) != len(keys):
        raise ValueError(f"sweep {config.name!r} lists the same setting twice")
    todo = sorted((job for job in grid if job[0] not in finished), key=lambda j: cost_rank(j[2]))
    logger.info("sweep %s: %d settings, %d finished, %d to run", config.name, len(grid),
                len(grid) - len(todo), len(todo))
    if not path.is_file():
        _write_rows(path, [])
    elif _header(path) != list(RESULT_COLUMNS):
        # A file from an older version is rewritten with the current columns (missing ones
        # empty) before new rows are appended under them.
        logger.info("%s: rewriting %d finished row(s) with the current columns", path,
                    len(finished))
        _write_rows(path, list(finished.values()))

    processes, threads = worker_plan(config.workers)
    bar = tqdm(total=len(todo), desc=f"sweep {config.name}", disable=not progress)
    if processes == 1 or len(todo) <= 1:
        _init_worker(threads, config.reference)
        rows = map(run_setting, todo)
        pool = None
    else:
        pool = get_context("spawn").Pool(processes, initializer=_init_worker,
                                         initargs=(threads, config.reference))
        rows = pool.imap_unordered(run_setting, todo)
    try:
        for row in rows:
            with path.open("a", newline="") as handle:
                csv.DictWriter(handle, RESULT_COLUMNS, extrasaction="ignore").writerow(row)
            bar.update()
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    table = pd.read_csv(path)
    summarize(table).to_csv(path.with_name(path.stem + "_summary.csv"), index=False)
    return table


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of every numeric result over seeds."""
    settings = [c for c in ("checkpoint", *SETTING_COLUMNS, "strategy") if c != "seed"
                and c in table.columns]
    numeric = [c for c in table.columns if c not in settings and c not in ("key", "seed")
               and pd.api.types.is_numeric_dtype(table[c])]
    grouped = table.groupby(settings, dropna=False)[numeric]
    summary = grouped.mean().add_suffix("")
    spread = grouped.std(ddof=0).add_suffix("_std")
    counts = grouped.size().rename("seeds")
    return pd.concat([summary, spread, counts], axis=1).reset_index()
