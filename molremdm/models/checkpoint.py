"""Exported models: safetensors weights plus a JSON config, and weights-only loading.

An exported model is a folder with ``model.safetensors`` and ``config.json``. The config contains
the model size, the vocabulary, the diffusion process, the label definition and the versions
that made it, so the folder alone is enough to sample. Lightning checkpoints (``.ckpt``) are
read with ``torch.load(weights_only=True)``; neither path runs code stored in a file.
"""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from molremdm.chem.molecules import RDKIT_VERSION
from molremdm.chem.tokenizer import (
    SELFIES_VERSION, Tokenizer, TokenizerError, tokenizer_from_config,
)
from molremdm.data.cache import atomic_write_text
from molremdm.data.labels import LabelDefinition
from molremdm.diffusion.process import AUTOREGRESSIVE, Process, process_from_dict
from molremdm.models.classifier import ClassifierConfig, NoisyClassifier
from molremdm.models.transformer import DiffusionTransformer, ModelConfig
from molremdm.precision import default_device_type

FORMAT = "molremdm-model"
# Version 2 added the data section's representation. Exports of SMILES models still write 1,
# so older molremdm versions keep reading them, and SELFIES models write 2, which older
# versions reject instead of reading SELFIES symbols as SMILES.
FORMAT_VERSION = 2
WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, of another format or inconsistent."""


@dataclass
class LoadedModel:
    """A network ready for sampling with everything needed to read its output."""

    network: DiffusionTransformer
    tokenizer: Tokenizer
    process: Process | None  # None for the autoregressive baseline
    label_definition: LabelDefinition | None
    config: dict
    source: Path

    @property
    def num_classes(self) -> int:
        return self.network.config.num_classes

    def __call__(self, z_t: torch.Tensor, t: torch.Tensor,
                 labels: torch.Tensor | None) -> torch.Tensor:
        return self.network(z_t, t, labels)


def versions() -> dict:
    import lightning

    from molremdm import __version__
    return {"molremdm": __version__, "torch": torch.__version__, "lightning": lightning.__version__,
            "rdkit": RDKIT_VERSION, "selfies": SELFIES_VERSION,
            "python": platform.python_version()}


def export_model(state_dict: dict[str, torch.Tensor], config: dict, folder: str | Path) -> Path:
    """Write weights and config into ``folder``; each file appears complete or not at all."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    temporary = folder / (WEIGHTS_FILE + ".tmp")
    save_file(tensors, str(temporary))
    temporary.replace(folder / WEIGHTS_FILE)
    representation = (config.get("data") or {}).get("representation", "smiles")
    version = 1 if representation == "smiles" else FORMAT_VERSION
    full = {"format": FORMAT, "format_version": version, **config, "versions": versions()}
    atomic_write_text(folder / CONFIG_FILE, json.dumps(full, indent=2))
    return folder


def _ema_weights_from_lightning(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # pickle errors, truncated zip files, foreign objects
        raise CheckpointError(
            f"cannot read Lightning checkpoint {path}: {error}. It is corrupt or contains "
            "objects other than tensors and plain data; use a checkpoint written by "
            "`molremdm train` or an exported model folder") from None
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not hparams or "model" not in hparams or "vocab" not in hparams:
        raise CheckpointError(f"{path} is not a molremdm training checkpoint "
                              "(no model config or vocabulary in its hyperparameters)")
    prefix = "ema.module."
    weights = {k[len(prefix):]: v for k, v in checkpoint["state_dict"].items()
               if k.startswith(prefix)}
    config = {"model": hparams["model"], "process": hparams["process"],
              "vocab": hparams["vocab"], "label_definition": hparams.get("label_definition"),
              "data": hparams.get("data"), "global_step": checkpoint.get("global_step")}
    return weights, config


def _read_export(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    folder = path if path.is_dir() else path.parent
    config_path, weights_path = folder / CONFIG_FILE, folder / WEIGHTS_FILE
    for required in (config_path, weights_path):
        if not required.is_file():
            raise CheckpointError(f"{required} not found; an exported model folder contains "
                                  f"{WEIGHTS_FILE} and {CONFIG_FILE}")
    try:
        config = json.loads(config_path.read_text())
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{config_path} is not valid JSON: {error}") from None
    if config.get("format") != FORMAT:
        raise CheckpointError(f"{config_path} is not a molremdm model config "
                              f"(format {config.get('format')!r}, expected {FORMAT!r})")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{config_path} has format version {config['format_version']}; "
                              f"this molremdm reads up to {FORMAT_VERSION}: upgrade molremdm")
    try:
        weights = load_file(weights_path)
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"cannot read weights {weights_path}: {error}; the file is "
                              "corrupt or not safetensors") from None
    return weights, config


def load_model(path: str | Path, device: str | torch.device | None = None) -> LoadedModel:
    """Load an exported model folder (or its ``model.safetensors``) or a Lightning ``.ckpt``.

    Lightning checkpoints give their EMA weights. ``device`` defaults to the GPU when there is
    one, the device that "auto" sampling precision is resolved for. Raises CheckpointError
    naming the file and the problem for anything missing, corrupt or inconsistent.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} not found")
    if path.is_file() and path.suffix == ".ckpt":
        weights, config = _ema_weights_from_lightning(path)
    else:
        weights, config = _read_export(path)
    if config.get("kind") == "classifier":
        raise CheckpointError(f"{path} is a noisy classifier, not a diffusion model; pass it "
                              "with --classifier for classifier guidance")

    missing = [k for k in ("model", "process", "vocab") if k not in config]
    if missing:
        raise CheckpointError(f"checkpoint {path} config lacks {missing}")
    try:
        model_config = ModelConfig.from_dict(config["model"])
        tokenizer = tokenizer_from_config(config)
        process = (None if config["process"].get("name") == AUTOREGRESSIVE
                   else process_from_dict(config["process"]))
    except (ValueError, KeyError, TypeError, TokenizerError) as error:
        raise CheckpointError(f"checkpoint {path} has an invalid config: {error}") from None
    mask_id = tokenizer.mask_id if process is None else process.mask_id
    if len(tokenizer) != model_config.vocab_size or mask_id != tokenizer.mask_id:
        raise CheckpointError(
            f"checkpoint {path}: vocabulary of {len(tokenizer)} tokens (mask id "
            f"{tokenizer.mask_id}) does not match the model's vocab_size "
            f"{model_config.vocab_size} (mask id {mask_id})")

    network = DiffusionTransformer(model_config)
    try:
        network.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise CheckpointError(f"weights in {path} do not fit the model config: "
                              f"{str(error).splitlines()[0]}") from None
    # NOTE: the tests run on CPU only, so sampling on a CUDA device has not been run.
    network.to(device or default_device_type()).eval()
    labels = config.get("label_definition")
    return LoadedModel(network=network, tokenizer=tokenizer, process=process,
                       label_definition=LabelDefinition.from_dict(labels) if labels else None,
                       config=config, source=path)


@dataclass
class LoadedClassifier:
    """A noisy classifier (or regressor) with its process, vocabulary and value scaling."""

    network: NoisyClassifier
    process: Process
    vocab: list[str]
    representation: str  # "smiles" or "selfies", as in the data section of its config
    task: str
    value_mean: float
    value_std: float
    label_definition: LabelDefinition | None
    source: Path


def load_classifier(path: str | Path, device: str | torch.device | None = None
                    ) -> LoadedClassifier:
    """Load an exported classifier folder written by ``molremdm train-classifier``.

    ``device`` defaults to the GPU when there is one, as in ``load_model``.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"classifier {path} not found")
    weights, config = _read_export(path)
    if config.get("kind") != "classifier":
        raise CheckpointError(f"{path} is not a noisy classifier export (kind "
                              f"{config.get('kind')!r}); train one with "
                              "`molremdm train-classifier`")
    try:
        network = NoisyClassifier(ClassifierConfig(**config["classifier"]))
        tokenizer = tokenizer_from_config(config)
        process = process_from_dict(config["process"])
        network.load_state_dict(weights, strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError, TokenizerError) as error:
        raise CheckpointError(f"classifier {path} is inconsistent: "
                              f"{str(error).splitlines()[0]}") from None
    labels = config.get("label_definition")
    return LoadedClassifier(network=network.to(device or default_device_type()).eval(),
                            process=process,
                            vocab=tokenizer.vocab, representation=tokenizer.representation,
                            task=config["task"],
                            value_mean=float(config["value_mean"]),
                            value_std=float(config["value_std"]),
                            label_definition=LabelDefinition.from_dict(labels) if labels else None,
                            source=path)
