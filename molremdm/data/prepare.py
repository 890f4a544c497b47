"""Tokenised QM9 tensors with labels and a seeded split, cached on disk.

The cache entry is keyed by the processed table's content, the RDKit version, the vocabulary,
the sequence length, the label definition and the split; a change in any of them rebuilds it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from molremdm.chem.molecules import RDKIT_VERSION
from molremdm.chem.tokenizer import SmilesTokenizer
from molremdm.data.cache import atomic_write_text, cache_dir, json_key
from molremdm.data.labels import LabelDefinition, make_labels
from molremdm.data.qm9 import QM9_FILE, load_qm9

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DataConfig:
    """Data set of a model and how it is tokenised, labelled and split."""

    dataset: str = "qm9"
    length: int = 24  # ids per sequence: the longest QM9 canonical SMILES is 22 symbols + BOS + EOS
    property: str = "ring_count"
    percentile: float = 90.0
    val_fraction: float = 0.05
    split_seed: int = 0
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.dataset != "qm9":
            raise ValueError(f"unknown dataset {self.dataset!r}; available: ['qm9']")
        if self.length < 3:
            raise ValueError(f"length must be at least 3 (BOS, one symbol, EOS), got {self.length}")
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")


@dataclass
class PreparedData:
    """Tensors ready for training. ``tokens`` is (N, L) int64, ``labels`` (N,) int64 and
    ``values`` (N,) float32, the labelled property itself."""

    tokens: torch.Tensor
    labels: torch.Tensor
    values: torch.Tensor
    train_index: torch.Tensor
    val_index: torch.Tensor
    tokenizer: SmilesTokenizer
    label_definition: LabelDefinition
    smiles: list[str]


def split_indices(num: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split. Returns sorted (train, validation) index arrays."""
    order = np.random.default_rng(seed).permutation(num)
    num_val = max(1, int(round(num * val_fraction)))
    return np.sort(order[num_val:]), np.sort(order[:num_val])


def prepare_data(config: DataConfig, frame: pd.DataFrame | None = None) -> PreparedData:
    """Tokenise, label and split the data set, reusing the on-disk cache when its key matches."""
    if frame is None:
        frame = load_qm9(QM9_FILE, config.cache_dir)
    if config.property not in frame.columns:
        raise ValueError(f"property {config.property!r} is not a column of the data set; "
                         f"choose one of {sorted(c for c in frame.columns if c != 'smiles')}")
    frame = frame[frame[config.property].notna()].reset_index(drop=True)
    smiles = frame["smiles"].tolist()
    tokenizer = SmilesTokenizer.from_smiles(smiles)
    labels, definition = make_labels(frame[config.property].to_numpy(), config.property,
                                     config.percentile)

    content = pd.util.hash_pandas_object(frame[["smiles", config.property]], index=False)
    key = json_key({
        "content": str(int(content.sum()) % (1 << 62)), "rows": len(frame),
        "rdkit": RDKIT_VERSION, "vocab": tokenizer.vocab, "config": asdict(config),
    })
    path = cache_dir(config.cache_dir) / f"tokens-{config.dataset}-{key}.safetensors"
    if path.is_file():
        tensors = load_file(path)
        tokens = tensors["tokens"].long()
    else:
        logger.info("tokenising %d molecules to length %d", len(smiles), config.length)
        tokens = tokenizer.encode_batch(smiles, config.length)
        save_file({"tokens": tokens.to(torch.int16)}, str(path) + ".tmp")
        Path(str(path) + ".tmp").replace(path)
        atomic_write_text(path.with_suffix(".json"), json.dumps(
            {"vocab": tokenizer.vocab, "rdkit_version": RDKIT_VERSION,
             "label_definition": definition.to_dict(), "config": asdict(config)}, indent=2))

    train, val = split_indices(len(smiles), config.val_fraction, config.split_seed)
    values = torch.tensor(frame[config.property].to_numpy(), dtype=torch.float32)
    return PreparedData(tokens=tokens, labels=torch.from_numpy(labels), values=values,
                        train_index=torch.from_numpy(train), val_index=torch.from_numpy(val),
                        tokenizer=tokenizer, label_definition=definition, smiles=smiles)
