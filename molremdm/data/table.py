"""Molecule tables: canonical SMILES and RDKit properties for QM9 or a user's CSV file.

A user table is a CSV (optionally gzipped) with a SMILES column and any number of numeric
property columns. Each SMILES is parsed and canonicalised with the installed RDKit; rows that
fail are dropped and counted, and duplicates after canonicalisation keep their first row. QED
and ring count are computed for every molecule. The processed table is cached, keyed by the
file's SHA-256, the SMILES column, the RDKit version and the processing version.
"""

from __future__ import annotations

import io
import json
import logging
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from molremdm.chem.molecules import RDKIT_VERSION, canonical_smiles, quiet_rdkit
from molremdm.chem.properties import PROPERTIES
from molremdm.data.cache import atomic_write_bytes, atomic_write_text, cache_dir, file_sha256

logger = logging.getLogger(__name__)

COMPUTED = ("qed", "ring_count")  # properties computed with RDKit for every molecule
# Bump when the processing below changes, so old caches are rebuilt.
PROCESSING_VERSION = 1


def _canonical_and_properties(smiles: list[str]) -> list[tuple[str | None, float, float]]:
    rows = []
    with quiet_rdkit():
        for raw in smiles:
            canonical = canonical_smiles(raw) if isinstance(raw, str) else None
            if canonical is None:
                rows.append((None, np.nan, np.nan))
                continue
            rows.append(
                (canonical, PROPERTIES["qed"](canonical), PROPERTIES["ring_count"](canonical))
            )
    return rows


def canonical_with_properties(smiles: list[str], workers: int = 2
                              ) -> list[tuple[str | None, float, float]]:
    """Return (canonical SMILES, QED, ring count) per input, (None, NaN, NaN) where RDKit fails.

    With ``workers`` > 1 the molecules are split over spawned processes, in input order.
    """
    workers = max(1, min(workers, len(smiles)))
    chunks = [smiles[i::workers] for i in range(workers)]
    if workers > 1:
        with get_context("spawn").Pool(workers) as pool:
            parts = pool.map(_canonical_and_properties, chunks)
    else:
        parts = [_canonical_and_properties(chunks[0])]
    rows: list = [None] * len(smiles)
    for offset, part in enumerate(parts):
        rows[offset::workers] = part
    return rows


def _process(raw: pd.DataFrame, smiles_column: str, source: str, workers: int) -> pd.DataFrame:
    if smiles_column not in raw.columns:
        raise ValueError(f"{source} has no column {smiles_column!r} (columns: "
                         f"{list(raw.columns)}); name the SMILES column with smiles_column "
                         "in the data config or --smiles-column")
    numeric = [c for c in raw.columns
               if c != smiles_column and pd.api.types.is_numeric_dtype(raw[c])]
    skipped = [c for c in raw.columns if c != smiles_column and c not in numeric]
    if skipped:
        logger.info("%s: non-numeric columns %s are not properties and were left out",
                    source, skipped)
    frame = raw[numeric].copy()
    clashes = [c for c in numeric if c in COMPUTED or c in ("smiles", "input_smiles")]
    if clashes:
        frame = frame.rename(columns={c: f"{c}_input" for c in clashes})
        logger.warning("%s: columns %s are computed here; the file's values are kept as %s",
                       source, clashes, [f"{c}_input" for c in clashes])

    rows = canonical_with_properties(raw[smiles_column].tolist(), workers)
    frame.insert(0, "input_smiles", raw[smiles_column].to_numpy())
    frame.insert(0, "smiles", [r[0] for r in rows])
    frame["qed"] = [r[1] for r in rows]
    frame["ring_count"] = [r[2] for r in rows]

    failed = frame["smiles"].isna()
    if failed.any():
        # line numbers of the file: the header is line 1
        examples = [f"line {i + 2}: {raw[smiles_column].iloc[i]!r}"
                    for i in np.flatnonzero(failed.to_numpy())[:3]]
        logger.warning("%s: %d of %d SMILES are not valid molecules for RDKit %s and were "
                       "dropped (%s)", source, int(failed.sum()), len(frame), RDKIT_VERSION,
                       "; ".join(examples))
    frame = frame[~failed]
    before = len(frame)
    frame = frame.drop_duplicates(subset="smiles", keep="first").reset_index(drop=True)
    if before > len(frame):
        logger.info("%s: %d duplicates after canonicalisation removed", source,
                    before - len(frame))
    if frame.empty:
        raise ValueError(f"{source} contains no valid molecule in column {smiles_column!r}; "
                         "check that the column contains SMILES")
    return frame


def load_table(path: str | Path, smiles_column: str = "smiles",
               cache: str | Path | None = None, workers: int = 2) -> pd.DataFrame:
    """Load a user CSV of molecules with canonical ``smiles``, ``input_smiles``, ``qed``,
    ``ring_count`` and the file's numeric columns, from the cache when it is current."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"molecule table {path} not found; pass a CSV file with a "
                                f"{smiles_column!r} column")
    digest = file_sha256(path)
    key = (f"table-{digest[:16]}-{smiles_column}-rdkit{RDKIT_VERSION}-v{PROCESSING_VERSION}")
    table_path = cache_dir(cache) / f"{key}.csv"
    meta_path = table_path.with_suffix(".json")
    if table_path.is_file() and meta_path.is_file():
        return pd.read_csv(table_path, keep_default_na=False, na_values=[""])

    logger.info("%s: canonicalising with RDKit %s (runs once, then cached)", path, RDKIT_VERSION)
    try:
        raw = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read {path} as CSV: {error}") from None
    frame = _process(raw, smiles_column, str(path), workers)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    atomic_write_bytes(table_path, buffer.getvalue().encode())
    atomic_write_text(meta_path, json.dumps({
        "source": str(path), "sha256": digest, "smiles_column": smiles_column,
        "rdkit_version": RDKIT_VERSION, "processing_version": PROCESSING_VERSION,
        "num_molecules": len(frame), "num_rows": len(raw),
    }, indent=2))
    return frame
