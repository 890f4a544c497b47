"""Training noisy classifiers (or regressors) of the property on corrupted sequences."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from molremdm.data.prepare import DataConfig, PreparedData, prepare_data, stored_data_config
from molremdm.diffusion.masked import MaskedProcess, antithetic_times
from molremdm.diffusion.process import process_from_dict
from molremdm.diffusion.schedules import LogLinearSchedule
from molremdm.diffusion.uniform import UniformProcess
from molremdm.models.checkpoint import export_model
from molremdm.models.classifier import ClassifierConfig, NoisyClassifier
from molremdm.training.datamodule import MoleculeDataModule
from molremdm.training.loggers import finish_logger
from molremdm.training.module import OptimConfig
from molremdm.training.run import RunConfig, _build, make_trainer, start_run

logger = logging.getLogger(__name__)

NOISE_BINS = (0.0, 0.25, 0.5, 0.75, 1.0)  # validation metrics per band of t


@dataclass(frozen=True)
class ClassifierNetwork:
    """Classifier size, task and the noise it is trained on."""

    width: int = 64  # small because exact D-CBG calls it once per candidate edit
    depth: int = 2
    heads: int = 4
    task: str = "classify"  # classify: the binary label; regress: the standardised value
    process: str = "masked"  # masked or uniform: must match the diffusion model it guides

    def __post_init__(self) -> None:
        if self.task not in ("classify", "regress"):
            raise ValueError(f"classifier task {self.task!r} is not 'classify' or 'regress'")
        if self.process not in ("masked", "uniform"):
            raise ValueError(f"classifier process {self.process!r} is not 'masked' or 'uniform'")


@dataclass(frozen=True)
class ClassifierTrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    network: ClassifierNetwork = field(default_factory=ClassifierNetwork)
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(max_steps=3000,
                                                                   label_dropout=0.0))
    run: RunConfig = field(default_factory=lambda: RunConfig(name="qm9-classifier",
                                                             sample_every_validation=0))


def classifier_config_from_dict(data: dict[str, Any]) -> ClassifierTrainConfig:
    sections = {"data": DataConfig, "network": ClassifierNetwork, "optim": OptimConfig,
                "run": RunConfig}
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise ValueError(f"unknown config section(s) {unknown}; known: {sorted(sections)}")
    defaults = ClassifierTrainConfig()
    return ClassifierTrainConfig(**{
        name: _build(cls, {**asdict(getattr(defaults, name)), **(data.get(name) or {})}, name)
        for name, cls in sections.items()})


class NoisyClassifierModule(L.LightningModule):
    """Cross-entropy on the label (or mean squared error on the standardised value) of
    sequences corrupted at random t; validation logs accuracy and AUROC per band of t."""

    def __init__(self, classifier: dict, process: dict, optim: dict, vocab: list[str],
                 task: str, value_mean: float = 0.0, value_std: float = 1.0,
                 label_definition: dict | None = None, data: dict | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.network = NoisyClassifier(ClassifierConfig(**classifier))
        self.process = process_from_dict(process)
        self.optim_config = OptimConfig(**optim)
        self._validation: list[tuple[torch.Tensor, ...]] = []

    def _forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        t = antithetic_times(x.shape[0], self.process.schedule.eps, generator, x.device)
        z_t = self.process.corrupt(x, t, generator)
        return self.network.forward_tokens(z_t, t), t

    def _loss(self, output: torch.Tensor, labels: torch.Tensor, values: torch.Tensor):
        if self.hparams.task == "regress":
            target = (values - self.hparams.value_mean) / self.hparams.value_std
            return torch.nn.functional.mse_loss(output.squeeze(-1).float(), target)
        return torch.nn.functional.cross_entropy(output.float(), labels)

    def training_step(self, batch, batch_idx: int):
        x, labels, values = batch
        output, _ = self._forward(x)
        loss = self._loss(output, labels, values)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx: int):
        x, labels, values = batch
        generator = torch.Generator(device=x.device).manual_seed(batch_idx)
        output, t = self._forward(x, generator)
        self.log("val/loss", self._loss(output, labels, values), prog_bar=True,
                 batch_size=x.shape[0])
        self._validation.append((t.cpu(), output.float().cpu(), labels.cpu(), values.cpu()))

    def on_validation_epoch_end(self) -> None:
        if not self._validation or self.hparams.task != "classify":
            self._validation.clear()
            return
        t, output, labels, _ = (torch.cat(parts) for parts in zip(*self._validation))
        self._validation.clear()
        scores = torch.softmax(output, dim=-1)[:, 1].numpy()
        correct = (output.argmax(-1) == labels).float().numpy()
        bands = zip(NOISE_BINS[:-1], NOISE_BINS[1:])
        for low, high in [(0.0, 1.0), *bands]:
            chosen = ((t >= low) & (t <= high)).numpy()
            suffix = "" if (low, high) == (0.0, 1.0) else f"_t{low:.2f}-{high:.2f}"
            self.log(f"val/accuracy{suffix}", float(correct[chosen].mean()))
            if len(np.unique(labels.numpy()[chosen])) == 2:
                self.log(f"val/auroc{suffix}",
                         float(roc_auc_score(labels.numpy()[chosen], scores[chosen])))

    def configure_optimizers(self):
        return self.optim_config.build([{"params": list(self.network.parameters()),
                                         "weight_decay": self.optim_config.weight_decay}])


def last_validation(trainer: L.Trainer) -> dict[str, float]:
    """Return the metrics of the last validation run (loss, accuracy and AUROC per band of t)
    and its step, for reports that read the exported model only."""
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
    return {"step": int(trainer.global_step), **metrics}


def train_classifier(config: ClassifierTrainConfig, prepared: PreparedData | None = None,
                     resume: str | Path | None = None) -> Path:
    """Train and export to ``<output_dir>/<name>/model`` (weights of the best validation loss)."""
    run = config.run
    run_dir = start_run(run)
    prepared = prepared or prepare_data(config.data)
    tokenizer, net = prepared.tokenizer, config.network
    schedule = LogLinearSchedule(1e-3)
    process = (UniformProcess(len(tokenizer), tokenizer.mask_id, schedule)
               if net.process == "uniform" else MaskedProcess(tokenizer.mask_id, schedule))
    train_values = prepared.values[prepared.train_index]
    classifier = ClassifierConfig(vocab_size=len(tokenizer), length=config.data.length,
                                  width=net.width, depth=net.depth, heads=net.heads,
                                  outputs=1 if net.task == "regress" else 2)
    module = NoisyClassifierModule(
        classifier=classifier.to_dict(), process=process.to_dict(), optim=asdict(config.optim),
        vocab=tokenizer.vocab, task=net.task, value_mean=float(train_values.mean()),
        value_std=float(train_values.std()),
        label_definition=prepared.label_definition.to_dict(),
        data=stored_data_config(config.data, prepared))

    trainer, checkpoints = make_trainer(run, config.optim.max_steps, run_dir, "val/loss",
                                        asdict(config), [])
    datamodule = MoleculeDataModule(config.data, run.batch_size, seed=run.seed, prepared=prepared)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume) if resume else None)
    finally:
        finish_logger(trainer.logger)

    best = checkpoints.best_model_path
    state = (torch.load(best, map_location="cpu", weights_only=True)["state_dict"] if best
             else module.state_dict())
    weights = {k[len("network."):]: v for k, v in state.items() if k.startswith("network.")}
    export_config = {"kind": "classifier", "classifier": classifier.to_dict(),
                     "process": process.to_dict(), "vocab": tokenizer.vocab, "task": net.task,
                     "value_mean": module.hparams.value_mean,
                     "value_std": module.hparams.value_std,
                     "label_definition": prepared.label_definition.to_dict(),
                     "data": stored_data_config(config.data, prepared),
                     "last_validation": last_validation(trainer)}
    return export_model(weights, export_config, run_dir / "model")
