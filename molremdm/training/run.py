"""A complete training run: configuration, data, Trainer with checkpoints, export."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint

from molremdm.data.prepare import DataConfig, PreparedData, prepare_data, stored_data_config
from molremdm.diffusion.masked import MaskedProcess
from molremdm.diffusion.process import AUTOREGRESSIVE
from molremdm.diffusion.uniform import UniformProcess
from molremdm.diffusion.schedules import LogLinearSchedule
from molremdm.precision import TRAINING_PRECISIONS, resolve_training_precision
from molremdm.training.callbacks import ExportBest, SampleQuality
from molremdm.training.datamodule import MoleculeDataModule
from molremdm.training.loggers import finish_logger, make_logger
from molremdm.training.module import MaskedDiffusionModule, OptimConfig

logger = logging.getLogger(__name__)

MODEL_KINDS = ("mdlm", "udlm", "ar")


@dataclass(frozen=True)
class NetworkConfig:
    """Network size; vocabulary size, length and classes come from the data."""

    width: int = 256
    depth: int = 4
    heads: int = 8
    mlp_ratio: int = 4
    dropout: float = 0.0
    conditional: bool = True  # label embedding with a null label, for classifier-free guidance
    # mdlm: masked diffusion; udlm: uniform-noise diffusion (time-conditioned); ar: causal
    # transformer baseline on the same tokens
    kind: str = "mdlm"

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"model kind {self.kind!r} is not one of {MODEL_KINDS}")


@dataclass(frozen=True)
class RunConfig:
    """Trainer settings: batch, precision, validation and checkpoint cadence, output folder."""

    batch_size: int = 256
    precision: str = "auto"  # bf16-mixed where the hardware runs bf16 natively, else 32-true
    gradient_clip: float = 1.0
    val_every_steps: int = 500
    sample_every_validation: int = 256  # molecules sampled after each validation (0 = none)
    seed: int = 0
    threads: int | None = None  # torch CPU threads; None keeps torch's default
    output_dir: str = "runs"
    name: str = "qm9-mdlm"
    logger: str = "csv"

    def __post_init__(self) -> None:
        if self.precision not in TRAINING_PRECISIONS:
            raise ValueError(f"precision {self.precision!r} is not one of {TRAINING_PRECISIONS}")
        if self.batch_size < 1 or self.val_every_steps < 1:
            raise ValueError("batch_size and val_every_steps must be >= 1")


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict:
        return asdict(self)


def _build(cls: type, values: dict[str, Any], section: str):
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in config section {section!r}; "
                         f"known keys: {sorted(known)}")
    return cls(**values)


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Validate a nested dict (as read from YAML) into a TrainConfig."""
    sections = {"data": DataConfig, "network": NetworkConfig, "optim": OptimConfig,
                "run": RunConfig}
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; known: {sorted(sections)}")
    return TrainConfig(**{name: _build(cls, data.get(name) or {}, name)
                          for name, cls in sections.items()})


def load_config(path: str | Path | None, overrides: dict[str, dict[str, Any]] | None = None
                ) -> TrainConfig:
    """Read a YAML config (or start from the defaults) and apply per-section overrides."""
    return config_from_dict(read_sections(path, overrides))


def read_sections(path: str | Path | None, overrides: dict[str, dict[str, Any]] | None = None
                  ) -> dict[str, Any]:
    """Read a YAML file of config sections and apply the overrides that are not None."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} not found")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ValueError(f"config file {path} must hold a mapping of sections")
    for section, values in (overrides or {}).items():
        data.setdefault(section, {}).update({k: v for k, v in values.items() if v is not None})
    return data


def start_run(run: RunConfig) -> Path:
    """Apply thread count and seed; returns the run folder ``<output_dir>/<name>``."""
    if run.threads:
        torch.set_num_threads(run.threads)
    L.seed_everything(run.seed, workers=True)
    return Path(run.output_dir) / run.name


def make_trainer(run: RunConfig, max_steps: int, run_dir: Path, monitor: str,
                 config: dict, callbacks: list[L.Callback]) -> tuple[L.Trainer, ModelCheckpoint]:
    """Build a step-based Trainer validating every ``val_every_steps`` steps, keeping the last and
    the best checkpoint by ``monitor`` (saved after each validation, so it is current)."""
    checkpoints = ModelCheckpoint(
        dirpath=run_dir / "checkpoints", filename=f"step{{step:06d}}-{monitor.split('/')[-1]}"
        f"{{{monitor}:.4f}}", auto_insert_metric_name=False, monitor=monitor, mode="min",
        save_top_k=1, save_last=True)
    precision = resolve_training_precision(run.precision)
    logger.info("training precision: %s (config: %s)", precision, run.precision)
    trainer = L.Trainer(
        accelerator="auto", devices=1, precision=precision, max_steps=max_steps,
        max_epochs=-1, gradient_clip_val=run.gradient_clip, val_check_interval=run.val_every_steps,
        check_val_every_n_epoch=None, log_every_n_steps=25, num_sanity_val_steps=0,
        default_root_dir=str(run_dir), enable_model_summary=True,
        logger=make_logger(run.logger, run_dir, run.name, config=config),
        callbacks=[checkpoints, *callbacks])
    return trainer, checkpoints


def train(config: TrainConfig, resume: str | Path | None = None,
          prepared: PreparedData | None = None,
          callbacks: list[L.Callback] | None = None) -> Path:
    """Train and export; returns the exported model folder ``<output_dir>/<name>/model``.

    ``resume`` continues a run from a Lightning checkpoint: raw and EMA weights, optimiser,
    scheduler, step counters, the torch random state and the position in the epoch's data
    order are restored. ``prepared`` replaces the data set named in ``config.data``.
    """
    run = config.run
    run_dir = start_run(run)
    prepared = prepared or prepare_data(config.data)
    tokenizer, labels = prepared.tokenizer, prepared.label_definition
    net = config.network
    model = {"vocab_size": len(tokenizer), "length": config.data.length, "width": net.width,
             "depth": net.depth, "heads": net.heads, "mlp_ratio": net.mlp_ratio,
             "dropout": net.dropout, "num_classes": labels.num_classes if net.conditional else 0,
             "time_conditioning": net.kind == "udlm", "causal": net.kind == "ar"}
    if net.kind == "ar":
        process_config = {"name": AUTOREGRESSIVE}
    elif net.kind == "udlm":
        process_config = UniformProcess(len(tokenizer), tokenizer.mask_id,
                                        LogLinearSchedule(1e-3)).to_dict()
    else:
        process_config = MaskedProcess(tokenizer.mask_id, LogLinearSchedule(1e-3)).to_dict()
    module = MaskedDiffusionModule(
        model=model, process=process_config, optim=asdict(config.optim),
        vocab=tokenizer.vocab, label_definition=labels.to_dict() if net.conditional else None,
        data=stored_data_config(config.data, prepared))
    datamodule = MoleculeDataModule(config.data, run.batch_size, seed=run.seed, prepared=prepared)

    trainer, _ = make_trainer(
        run, config.optim.max_steps, run_dir, "val/nll", config.to_dict(),
        [SampleQuality(run.sample_every_validation, seed=run.seed),
         ExportBest(run_dir / "model"), *(callbacks or [])])
    logger.info("training %s: %s", run.name, labels.describe())
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    finally:
        finish_logger(trainer.logger)
    return run_dir / "model"
