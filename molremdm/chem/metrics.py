"""Sample quality metrics as defined by the QM9 guidance benchmark, computed on canonical SMILES.

Definitions (all canonical forms from the same RDKit run; see ``RDKIT_VERSION``):

* validity = valid / all samples, where valid means a non-empty string that RDKit parses with
  sanitisation into at least one atom. Samples that failed to decode count as invalid.
* uniqueness = distinct valid canonical SMILES / valid.
* novelty = distinct valid canonical SMILES absent from the reference set / valid.
* ``mean_<prop>`` averages over valid samples, duplicates included; ``novel_mean_<prop>``
  averages over the set of distinct novel molecules. Means over an empty set are NaN.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from molremdm.chem.molecules import RDKIT_VERSION, canonical_smiles, quiet_rdkit
from molremdm.chem.properties import PROPERTIES

METRIC_PROPERTIES = ("qed", "ring_count")


def canonicalize_samples(samples: Sequence[str | None]) -> list[str | None]:
    """Canonical SMILES per sample, None where the sample is not a valid molecule."""
    with quiet_rdkit():
        return [canonical_smiles(s) if isinstance(s, str) else None for s in samples]


def _mean(values: list[float]) -> float:
    return float(np.mean(values)) if values else math.nan


def evaluate_samples(
    samples: Sequence[str | None],
    reference: Collection[str] | None = None,
    properties: Sequence[str] = METRIC_PROPERTIES,
) -> dict[str, Any]:
    """Score samples; a sample that is None, empty or unparseable counts as invalid, never raises.

    ``reference`` is a set of canonical SMILES (from the same RDKit version) for novelty; without
    it the novelty keys are omitted.
    """
    canonical = canonicalize_samples(samples)
    valid = [c for c in canonical if c is not None]
    distinct = set(valid)
    num = len(samples)

    with quiet_rdkit():
        values = {name: {c: PROPERTIES[name](c) for c in distinct} for name in properties}

    result: dict[str, Any] = {
        "num_samples": num,
        "num_valid": len(valid),
        "validity": len(valid) / num if num else math.nan,
        "num_unique": len(distinct),
        "uniqueness": len(distinct) / len(valid) if valid else math.nan,
    }
    if reference is not None:
        novel = sorted(distinct.difference(reference))
        result["num_novel"] = len(novel)
        result["novelty"] = len(novel) / len(valid) if valid else math.nan
    for name in properties:
        result[f"mean_{name}"] = _mean([values[name][c] for c in valid])
        if reference is not None:
            result[f"novel_mean_{name}"] = _mean([values[name][c] for c in novel])
    result["num_invalid"] = num - len(valid)
    result["rdkit_version"] = RDKIT_VERSION
    return result
