"""LightningModule for masked diffusion (MDLM) training with label dropout and EMA weights."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import lightning as L
import torch

from molremdm.diffusion.masked import antithetic_times
from molremdm.diffusion.process import AUTOREGRESSIVE, process_from_dict
from molremdm.models.transformer import DiffusionTransformer, ModelConfig
from molremdm.training.ema import ema_model


@dataclass(frozen=True)
class OptimConfig:
    """Optimiser, schedule and regularisation of a training run; steps are optimiser steps."""

    lr: float = 1e-3
    min_lr: float = 1e-5
    warmup_steps: int = 300
    max_steps: int = 6000
    weight_decay: float = 0.01
    beta1: float = 0.9
    beta2: float = 0.98
    ema_decay: float = 0.999
    label_dropout: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.min_lr <= self.lr:
            raise ValueError(f"need 0 < min_lr <= lr, got min_lr={self.min_lr}, lr={self.lr}")
        if not 0 <= self.warmup_steps < self.max_steps:
            raise ValueError(f"need 0 <= warmup_steps < max_steps, got {self.warmup_steps}, "
                             f"{self.max_steps}")
        if not 0.0 <= self.label_dropout <= 1.0:
            raise ValueError(f"label_dropout must be in [0, 1], got {self.label_dropout}")

    def build(self, parameter_groups: list[dict]) -> dict:
        """AdamW over the parameter groups with the warm-up and cosine schedule, stepped per
        optimiser step, in the form ``configure_optimizers`` returns."""
        optimizer = torch.optim.AdamW(parameter_groups, lr=self.lr,
                                      betas=(self.beta1, self.beta2))
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: self.lr_at(step) / self.lr)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def lr_at(self, step: int) -> float:
        """Linear warm-up to ``lr``, then cosine decay to ``min_lr`` at ``max_steps``."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.max_steps - self.warmup_steps))
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + math.cos(math.pi * progress))


class MaskedDiffusionModule(L.LightningModule):
    """Train a DiffusionTransformer with its process's loss (MDLM for masked diffusion, the
    continuous-time UDLM loss for uniform noise, next-token NLL for the causal baseline);
    validation and sampling use EMA weights.

    Hyperparameters are plain dicts and lists, so checkpoints load with
    ``torch.load(weights_only=True)``.
    """

    def __init__(self, model: dict, process: dict, optim: dict, vocab: list[str],
                 label_definition: dict | None = None, data: dict | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.model_config = ModelConfig.from_dict(model)
        self.optim_config = OptimConfig(**optim)
        # The autoregressive baseline has no diffusion process: its loss is next-token NLL.
        self.process = None if process["name"] == AUTOREGRESSIVE else process_from_dict(process)
        self.model = DiffusionTransformer(self.model_config)
        self.ema = ema_model(self.model, self.optim_config.ema_decay)

    def _labels(self, labels: torch.Tensor, drop: bool) -> torch.Tensor | None:
        if self.model_config.num_classes == 0:
            return None
        if drop and self.optim_config.label_dropout > 0:
            dropped = torch.rand(labels.shape, device=labels.device) < self.optim_config.label_dropout
            labels = labels.masked_fill(dropped, self.model_config.num_classes)
        return labels

    def _loss(self, network: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor | None,
              generator: torch.Generator | None = None) -> torch.Tensor:
        if self.process is None:
            logits = network(x, None, labels)[:, :-1].float()  # position l predicts token l + 1
            return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                                     x[:, 1:].reshape(-1))
        eps = self.process.schedule.eps
        t = antithetic_times(x.shape[0], eps, generator, x.device)
        z_t = self.process.corrupt(x, t, generator)
        logits = network(z_t, t, labels)
        return self.process.loss(logits, x, z_t, t).mean()

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int):
        x, labels = batch[0], batch[1]
        loss = self._loss(self.model, x, self._labels(labels, drop=True))
        if not torch.isfinite(loss):
            # Stop at once: one NaN update spoils the weights and every step after it.
            raise FloatingPointError(
                f"training loss is {float(loss)} at step {self.global_step}. Lower --lr or "
                "use --precision 32-true, and resume from a checkpoint whose val/nll is finite")
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/lr", self.optimizers().param_groups[0]["lr"])
        return loss

    def on_train_batch_end(self, outputs, batch, batch_idx: int) -> None:
        self.ema.update_parameters(self.model)

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int):
        # A fixed noise draw per batch makes validation NLL comparable across checkpoints.
        x, labels = batch[0], batch[1]
        generator = torch.Generator(device=x.device).manual_seed(batch_idx)
        nll = self._loss(self.ema.module, x, self._labels(labels, drop=False), generator)
        self.log("val/nll", nll, prog_bar=True, batch_size=x.shape[0])

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # Noise draws (times, masks, label dropout) use the global torch generator; saving it
        # makes a resumed run draw exactly what the uninterrupted run would have drawn.
        checkpoint["torch_rng_state"] = torch.get_rng_state()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])

    def configure_optimizers(self):
        config = self.optim_config
        decay, no_decay = [], []
        for name, parameter in self.model.named_parameters():
            (decay if parameter.dim() >= 2 and "embedding" not in name else no_decay).append(
                parameter)
        return config.build([{"params": decay, "weight_decay": config.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}])

    def export_config(self) -> dict:
        """Everything besides the weights that sampling needs, as plain data."""
        process = self.hparams.process
        return {"model": self.model_config.to_dict(), "process": process,
                "optim": asdict(self.optim_config), "vocab": list(self.hparams.vocab),
                "label_definition": self.hparams.label_definition, "data": self.hparams.data,
                "global_step": int(self.global_step)}
