"""The bundled QM9 data set: canonical SMILES recomputed with the installed RDKit, deduplicated,
with QED and ring count computed once and cached together with the RDKit version."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pandas as pd

from molremdm.chem.molecules import RDKIT_VERSION
from molremdm.data.cache import atomic_write_bytes, atomic_write_text, cache_dir, file_sha256
from molremdm.data.table import canonical_with_properties

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
QM9_FILE = DATA_DIR / "qm9_gdb17_full.csv.gz"
QM9_PROPERTY_COLUMNS = (
    "A", "B", "C", "mu", "alpha", "homo", "lumo", "gap", "r2",
    "zpve", "u0", "u298", "h298", "g298", "cv",
)
# Bump when the processing below changes, so old caches are rebuilt.
PROCESSING_VERSION = 1


def _process(raw: pd.DataFrame, workers: int) -> pd.DataFrame:
    rows = canonical_with_properties(raw["smiles"].tolist(), workers)

    frame = raw[["mol_id", "smiles", "uncharacterized", *QM9_PROPERTY_COLUMNS]].copy()
    frame = frame.rename(columns={"smiles": "gdb_smiles"})
    frame.insert(1, "smiles", [r[0] for r in rows])
    frame["qed"] = [r[1] for r in rows]
    frame["ring_count"] = [r[2] for r in rows]

    unparsed = frame["smiles"].isna()
    if unparsed.any():
        logger.warning("QM9: %d molecules failed to parse with RDKit and were dropped",
                       int(unparsed.sum()))
    frame = frame[~unparsed]
    before = len(frame)
    frame = frame.drop_duplicates(subset="smiles", keep="first").reset_index(drop=True)
    logger.info("QM9: %d molecules, %d duplicates after canonicalisation removed",
                len(frame), before - len(frame))
    return frame


def load_qm9(path: str | Path = QM9_FILE, cache: str | Path | None = None,
             workers: int = 2) -> pd.DataFrame:
    """Load QM9 with canonical ``smiles``, ``qed``, ``ring_count`` and the 15 QM9 properties.

    The processed table is cached under the cache folder, keyed by the data file's SHA-256,
    the RDKit version and the processing version; any change rebuilds it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"QM9 data file {path} not found; it ships in the repository's data/ folder"
        )
    digest = file_sha256(path)
    key = f"qm9-{digest[:16]}-rdkit{RDKIT_VERSION}-v{PROCESSING_VERSION}"
    table_path = cache_dir(cache) / f"{key}.csv"
    meta_path = table_path.with_suffix(".json")
    if table_path.is_file() and meta_path.is_file():
        return pd.read_csv(table_path, keep_default_na=False, na_values=[""])

    logger.info("QM9: canonicalising %s with RDKit %s (runs once, then cached)", path, RDKIT_VERSION)
    raw = pd.read_csv(path)
    frame = _process(raw, workers)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    atomic_write_bytes(table_path, buffer.getvalue().encode())
    atomic_write_text(meta_path, json.dumps({
        "source": str(path.name), "sha256": digest, "rdkit_version": RDKIT_VERSION,
        "processing_version": PROCESSING_VERSION, "num_molecules": len(frame),
    }, indent=2))
    return frame


def reference_smiles(path: str | Path = QM9_FILE, cache: str | Path | None = None) -> set[str]:
    """Return all canonical QM9 SMILES, the reference set for novelty."""
    return set(load_qm9(path, cache)["smiles"])
