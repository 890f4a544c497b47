"""Training callbacks: sample quality during validation and model export at the end."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch

from molremdm.chem.metrics import evaluate_samples
from molremdm.chem.tokenizer import tokenizer_from_config
from molremdm.models.checkpoint import export_model
from molremdm.sampling.guidance import LabelDenoiser
from molremdm.diffusion.uniform import UniformProcess
from molremdm.sampling.autoregressive import sample_autoregressive
from molremdm.sampling.sampler import sample
from molremdm.sampling.uniform_sampler import sample_uniform

logger = logging.getLogger(__name__)


class SampleQuality(L.Callback):
    """After each validation, sample unguided molecules from the EMA weights and log validity
    and uniqueness (``val/validity``, ``val/uniqueness``): MDLM, UDLM or autoregressive
    ancestral sampling with a fixed seed."""

    def __init__(self, num_samples: int = 256, steps: int = 32, seed: int = 0):
        self.num_samples, self.steps, self.seed = num_samples, steps, seed

    @torch.no_grad()
    def on_validation_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or self.num_samples == 0:
            return
        config = module.model_config
        tokenizer = tokenizer_from_config(module.hparams)
        network = module.ema.module
        was_training = network.training
        network.eval()
        label = config.num_classes if config.num_classes else None
        denoiser = LabelDenoiser(network, label, config.num_classes, config.time_conditioning)
        generator = torch.Generator(device=module.device).manual_seed(self.seed)
        with torch.autocast(module.device.type, dtype=torch.bfloat16,
                            enabled=trainer.precision.startswith("bf16")):
            if module.process is None:
                result = sample_autoregressive(
                    network, num_samples=self.num_samples, length=config.length,
                    bos_id=tokenizer.bos_id, pad_id=tokenizer.pad_id,
                    mask_id=tokenizer.mask_id, label=label, generator=generator,
                    device=module.device)
            elif isinstance(module.process, UniformProcess):
                result = sample_uniform(denoiser, num_samples=self.num_samples,
                                        length=config.length, process=module.process,
                                        steps=self.steps, generator=generator,
                                        device=module.device)
            else:
                result = sample(denoiser, num_samples=self.num_samples, length=config.length,
                                mask_id=module.process.mask_id, steps=self.steps,
                                generator=generator, device=module.device)
        network.train(was_training)
        smiles = [d.smiles for d in tokenizer.decode_batch(result.tokens)]
        metrics = evaluate_samples(smiles, properties=())
        module.log("val/validity", metrics["validity"])
        module.log("val/uniqueness", metrics["uniqueness"] if metrics["num_valid"] else 0.0)
        if type(trainer.logger).__name__ == "WandbLogger":
            _log_sample_table(trainer.logger, smiles[:16], trainer.global_step)


class ExportBest(L.Callback):
    """At the end of fitting, export the EMA weights of the best checkpoint (by ``val/nll``)
    or, when there is none, of the current module, to ``folder``."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        best = getattr(trainer.checkpoint_callback, "best_model_path", "")
        config = module.export_config()
        if best:
            checkpoint = torch.load(best, map_location="cpu", weights_only=True)
            prefix = "ema.module."
            weights = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items()
                       if k.startswith(prefix)}
            config["global_step"] = int(checkpoint["global_step"])
            config["selected_by"] = {"val/nll": float(trainer.checkpoint_callback.best_model_score),
                                     "checkpoint": Path(best).name}
        else:
            weights = module.ema.module.state_dict()
        export_model(weights, config, self.folder)
        logger.info("exported EMA model (step %s) to %s", config["global_step"], self.folder)


def _log_sample_table(wandb_logger, smiles: list[str | None], step: int) -> None:
    """Log a W&B table of sampled SMILES with their validity and a drawing of each valid one."""
    import wandb
    from rdkit.Chem import Draw

    from molremdm.chem.molecules import parse_smiles, quiet_rdkit

    rows = []
    with quiet_rdkit():
        for text in smiles:
            mol = parse_smiles(text)
            image = wandb.Image(Draw.MolToImage(mol, size=(200, 200))) if mol else None
            rows.append([text or "", mol is not None, image])
    table = wandb.Table(columns=["smiles", "valid", "molecule"], data=rows)
    wandb_logger.experiment.log({"val/samples": table, "trainer/global_step": step})
