"""Molecule parsing and canonical form with RDKit, quiet during bulk work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import rdkit
from rdkit import Chem, RDLogger

RDKIT_VERSION: str = rdkit.__version__


@contextlib.contextmanager
def quiet_rdkit() -> Iterator[None]:
    """Silence RDKit's per-molecule error and warning log inside the block, then restore it."""
    RDLogger.DisableLog("rdApp.*")
    try:
        yield
    finally:
        RDLogger.EnableLog("rdApp.*")


def parse_smiles(smiles: str | None) -> Chem.Mol | None:
    """Parse with sanitisation. Returns None for None, empty or atom-less strings and RDKit failures.

    RDKit parses "" to a molecule with zero atoms; that is not a molecule here.
    """
    if not smiles:
        return None
    try:
        mol = Chem.MolFromSmiles(smiles)
    except Exception:  # RDKit raises for some malformed input instead of returning None
        return None
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    return mol


def canonical_smiles(smiles: str | None) -> str | None:
    """RDKit canonical isomeric SMILES, or None when the input is not a valid molecule."""
    mol = parse_smiles(smiles)
    if mol is None:
        return None
    return Chem.MolToSmiles(mol)
