"""Molecular properties used as guidance targets, each with one fixed definition.

* ``qed``: ``rdkit.Chem.QED.qed`` with RDKit's default (mean) weights. Values depend on the
  RDKit version, so results record ``RDKIT_VERSION``.
* ``ring_count``: ``len(Chem.GetSymmSSSR(mol))``, the symmetrised smallest set of smallest rings,
  on a molecule parsed freshly from SMILES. ``GetSSSR`` and ``CalcNumRings`` differ on cages
  (cubane: 6 symmetrised, 5 strict) and ``CalcNumRings`` depends on earlier ring perception.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem import QED

from molremdm.chem.molecules import parse_smiles, quiet_rdkit


def qed(smiles: str) -> float:
    """QED of a SMILES string; NaN when it does not parse."""
    mol = parse_smiles(smiles)
    return float("nan") if mol is None else float(QED.qed(mol))


def ring_count(smiles: str) -> float:
    """Symmetrised SSSR ring count of a SMILES string; NaN when it does not parse."""
    mol = parse_smiles(smiles)
    return float("nan") if mol is None else float(len(Chem.GetSymmSSSR(mol)))


PROPERTIES: dict[str, Callable[[str], float]] = {"qed": qed, "ring_count": ring_count}


def property_function(name: str) -> Callable[[str], float]:
    try:
        return PROPERTIES[name]
    except KeyError:
        raise ValueError(
            f"unknown property {name!r}; computed properties are {sorted(PROPERTIES)}"
        ) from None


def compute_property(name: str, smiles: Sequence[str]) -> np.ndarray:
    """Compute one property for many SMILES. Returns float64 array (N,), NaN where invalid."""
    function = property_function(name)
    with quiet_rdkit():
        return np.array([function(s) for s in smiles], dtype=np.float64)
