"""Tokenised tensors of QM9 or a user's molecule table, with labels and a seeded split, cached
on disk.

The cache entry is keyed by the processed table's content, the RDKit and SELFIES versions and
the data configuration (representation, sequence length, label definition, split); a change in
any of them rebuilds it. The entry stores the tokens, the vocabulary and the rows dropped
because their representation could not be built.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from molremdm.chem.molecules import RDKIT_VERSION
from molremdm.chem.tokenizer import (
    REPRESENTATIONS, SELFIES_VERSION, Tokenizer, TokenizerError, make_tokenizer, tokenizer_class,
)
from molremdm.data.cache import atomic_write_text, cache_dir, file_sha256, json_key
from molremdm.data.labels import LabelDefinition, make_labels
from molremdm.data.qm9 import QM9_FILE, load_qm9, reference_smiles
from molremdm.data.table import load_table

logger = logging.getLogger(__name__)

# Bump when tokenisation changes (a tokenizer's symbols, the dropping rule), so that cached
# token tensors are rebuilt.
TOKENS_VERSION = 2


@dataclass(frozen=True)
class DataConfig:
    """Data set of a model and how it is tokenised, labelled and split."""

    # "qm9" (bundled) or the path of a CSV file of molecules (.csv or .csv.gz)
    dataset: str = "qm9"
    smiles_column: str = "smiles"  # column of a user CSV that contains the SMILES
    # "smiles" (regex symbols of canonical SMILES) or "selfies" (SELFIES symbols)
    representation: str = "smiles"
    # ids per sequence: the longest QM9 canonical SMILES is 22 symbols + BOS + EOS, the
    # longest SELFIES string 21 symbols
    length: int = 24
    property: str = "ring_count"
    percentile: float = 90.0
    val_fraction: float = 0.05
    split_seed: int = 0
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        if self.dataset != "qm9" and not self.dataset.lower().endswith((".csv", ".csv.gz")):
            raise ValueError(f"invalid dataset {self.dataset!r}: use 'qm9' or the path of a "
                             "CSV file (.csv or .csv.gz) with a SMILES column")
        if self.representation not in REPRESENTATIONS:
            raise ValueError(f"unknown representation {self.representation!r}; available: "
                             f"{list(REPRESENTATIONS)}")
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
    tokenizer: Tokenizer
    label_definition: LabelDefinition
    smiles: list[str]


def stored_data_config(config: DataConfig, prepared: PreparedData) -> dict:
    """Return the data section written into checkpoints. A user table is stored by absolute
    path and SHA-256, so novelty can be scored against it from any folder later and a changed
    file is noticed."""
    if prepared.tokenizer.representation != config.representation:
        raise ValueError(f"the data passed in is tokenised as {prepared.tokenizer.representation}"
                         f" but the data config asks for {config.representation}; make them "
                         "agree")
    stored = asdict(config)
    if config.dataset != "qm9":
        stored["dataset"] = str(Path(config.dataset).resolve())
        stored["sha256"] = file_sha256(config.dataset)
    return stored


def load_molecules(config: DataConfig) -> pd.DataFrame:
    """Load the molecule table a data config names: bundled QM9 or a user CSV."""
    if config.dataset == "qm9":
        return load_qm9(QM9_FILE, config.cache_dir)
    return load_table(config.dataset, config.smiles_column, config.cache_dir)


def dataset_reference(data: dict | None) -> set[str]:
    """Return the canonical SMILES of the data set a stored model was trained on, the default
    reference for novelty. ``data`` is the data section of the model's config; without one the
    model was trained on QM9."""
    data = data or {}
    dataset = data.get("dataset", "qm9")
    if dataset == "qm9":
        return reference_smiles(cache=data.get("cache_dir"))
    if not Path(dataset).is_file():
        raise FileNotFoundError(
            f"the model was trained on {dataset}, which is not found here, so novelty cannot "
            "be scored against it; pass --reference (in a sweep config: reference) with a CSV "
            "that has a 'smiles' column, a file of SMILES lines, or none")
    if data.get("sha256") and file_sha256(dataset) != data["sha256"]:
        logger.warning("%s changed since the model was trained on it; novelty is scored "
                       "against its current contents", dataset)
    # one worker: this may run inside a sweep worker, which cannot start processes
    return set(load_table(dataset, data.get("smiles_column", "smiles"), data.get("cache_dir"),
                          workers=1)["smiles"])


def split_indices(num: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split. Returns sorted (train, validation) index arrays."""
    order = np.random.default_rng(seed).permutation(num)
    num_val = max(1, int(round(num * val_fraction)))
    return np.sort(order[num_val:]), np.sort(order[:num_val])


def _tokenize_all(smiles: list[str], representation: str, length: int
                  ) -> tuple[Tokenizer, torch.Tensor, list[int]]:
    """Build the vocabulary and encode every molecule.

    Molecules the representation cannot express are dropped and returned by row index: the
    SELFIES encoder rejects some that RDKit accepts. If any molecule is longer than ``length``,
    TokenizerError names the longest and the length it needs."""
    kind = tokenizer_class(representation)
    symbols, encodable, dropped = [], [], []
    for row, item in enumerate(smiles):
        try:
            symbols.append(kind.split(item))
            encodable.append(item)
        except TokenizerError as error:
            dropped.append(row)
            logger.debug("dropped row %d: %s", row, error)
    if dropped:
        logger.warning("%s: %d of %d molecules cannot be written in this representation and "
                       "were dropped (first: %r)", representation, len(dropped), len(smiles),
                       smiles[dropped[0]])
    if not symbols:
        raise TokenizerError(f"none of the {len(smiles)} molecules can be written as "
                             f"{representation}")
    longest = max(range(len(symbols)), key=lambda i: len(symbols[i]))
    if len(symbols[longest]) + 2 > length:
        too_long = sum(len(item) + 2 > length for item in symbols)
        raise TokenizerError(
            f"{too_long} molecules need more than the sequence length {length}; the longest, "
            f"{encodable[longest]!r}, needs {len(symbols[longest]) + 2} {representation} tokens "
            f"with BOS and EOS: set the length (--length) to at least that")
    tokenizer = kind(sorted({s for item in symbols for s in item}))
    tokens = torch.tensor([tokenizer.encode_symbols(item, length, source)
                           for item, source in zip(symbols, encodable)], dtype=torch.long)
    return tokenizer, tokens, dropped


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Return the sorted names of the columns that can be labelled properties."""
    return sorted(c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
                  and not pd.api.types.is_bool_dtype(frame[c]))


def prepare_data(config: DataConfig, frame: pd.DataFrame | None = None) -> PreparedData:
    """Tokenise, label and split the data set, reusing the on-disk cache when its key matches."""
    if frame is None:
        frame = load_molecules(config)
    properties = numeric_columns(frame)
    if config.property not in properties:
        raise ValueError(f"property {config.property!r} is not a numeric column of the data "
                         f"set; choose one of {properties}")
    missing = frame[config.property].isna()
    if missing.any():
        logger.warning("%d of %d molecules have no %s value and were left out", int(missing.sum()),
                       len(frame), config.property)
        frame = frame[~missing].reset_index(drop=True)
    if frame.empty:
        raise ValueError(f"no molecule of the data set has a {config.property!r} value")

    # row hashes in order, so a reordered table is a different entry
    content = pd.util.hash_pandas_object(frame[["smiles", config.property]], index=False)
    key = json_key({
        "content": hashlib.sha256(content.to_numpy().tobytes()).hexdigest(), "rows": len(frame),
        "tokens_version": TOKENS_VERSION, "rdkit": RDKIT_VERSION, "config": asdict(config),
        **({"selfies": SELFIES_VERSION} if config.representation == "selfies" else {}),
    })
    tag = "qm9" if config.dataset == "qm9" else "table"
    path = cache_dir(config.cache_dir) / f"tokens-{tag}-{key}.safetensors"
    meta_path = path.with_suffix(".json")
    if path.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        tokenizer = make_tokenizer(config.representation, meta["vocab"])
        dropped = meta.get("dropped_rows", [])
        tokens = load_file(path)["tokens"].long()
    else:
        logger.info("tokenising %d molecules as %s, length %d", len(frame),
                    config.representation, config.length)
        tokenizer, tokens, dropped = _tokenize_all(frame["smiles"].tolist(),
                                                   config.representation, config.length)
        save_file({"tokens": tokens.to(torch.int16)}, str(path) + ".tmp")
        Path(str(path) + ".tmp").replace(path)
        atomic_write_text(meta_path, json.dumps(
            {"vocab": tokenizer.vocab, "dropped_rows": dropped, "rdkit_version": RDKIT_VERSION,
             "selfies_version": SELFIES_VERSION, "config": asdict(config)}, indent=2))

    frame = frame.drop(index=dropped).reset_index(drop=True)
    smiles = frame["smiles"].tolist()
    labels, definition = make_labels(frame[config.property].to_numpy(), config.property,
                                     config.percentile)
    train, val = split_indices(len(smiles), config.val_fraction, config.split_seed)
    values = torch.tensor(frame[config.property].to_numpy(), dtype=torch.float32)
    return PreparedData(tokens=tokens, labels=torch.from_numpy(labels), values=values,
                        train_index=torch.from_numpy(train), val_index=torch.from_numpy(val),
                        tokenizer=tokenizer, label_definition=definition, smiles=smiles)
