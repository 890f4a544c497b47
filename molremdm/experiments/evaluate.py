"""Reading sample files and reference sets for evaluation."""

from __future__ import annotations

import csv
from pathlib import Path

from molremdm.chem.metrics import canonicalize_samples


def read_samples(path: str | Path) -> list[str | None]:
    """Read samples from a CSV with a ``smiles`` column or a text file with one SMILES per line.

    A file ending in .csv is read as CSV; an empty field or an empty line is an empty sample
    (invalid), so the sample count stays that of the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"samples file {path} not found")
    text = path.read_text()
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if reader.fieldnames is None or "smiles" not in reader.fieldnames:
            raise ValueError(f"{path} has no 'smiles' column (columns: {reader.fieldnames}); "
                             "write one SMILES per row under a 'smiles' header")
        return [(row["smiles"] or "").strip() for row in reader]
    return [line.strip() for line in text.splitlines()]


def load_reference(spec: str | None, data: dict | None = None) -> set[str] | None:
    """Load the novelty reference as canonical SMILES from the installed RDKit.

    ``spec`` is "data", "qm9", "none" or a file. "data" is the data set of a model, named by
    the data section ``data`` of its config, and "qm9" is all of the bundled QM9. A file is a
    CSV (optionally gzipped) with a ``smiles`` column or a text file with one SMILES per line.
    """
    if spec is None or spec == "none":
        return None
    if spec == "data":
        if data is None:
            raise ValueError("reference 'data' means the training data of a model, and there "
                             "is no model here; pass qm9, none or the training CSV")
        from molremdm.data.prepare import dataset_reference
        return dataset_reference(data)
    if spec == "qm9":
        from molremdm.data.qm9 import reference_smiles
        return reference_smiles()
    if spec.lower().endswith((".csv", ".csv.gz")):
        from molremdm.data.table import load_table
        return set(load_table(spec, workers=1)["smiles"])
    return {c for c in canonicalize_samples(read_samples(spec)) if c is not None}


def best_novel(samples: list[str | None], reference: set[str] | None, property_name: str,
               top: int, lowest: bool = False) -> list[tuple[str, float]]:
    """Rank the distinct novel molecules by an RDKit property (qed or ring_count) and return
    the ``top`` (canonical SMILES, value) pairs, highest first (lowest first with ``lowest``)."""
    from molremdm.chem.properties import compute_property

    canonical = {c for c in canonicalize_samples(samples) if c is not None}
    novel = sorted(canonical - (reference or set()))
    values = compute_property(property_name, novel)
    ranked = sorted(zip(novel, values.tolist()), key=lambda pair: pair[1], reverse=not lowest)
    return ranked[:top]
