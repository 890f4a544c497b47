"""Molecule grid images with RDKit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rdkit.Chem import Draw

from molremdm.chem.molecules import parse_smiles, quiet_rdkit


def molecule_grid(smiles: Sequence[str], legends: Sequence[str], columns: int = 5,
                  size: int = 220):
    """Draw the molecules in a grid, each with its legend, as a PIL image. Unparseable
    entries are skipped."""
    with quiet_rdkit():
        pairs = [(parse_smiles(s), text) for s, text in zip(smiles, legends)]
    pairs = [(mol, text) for mol, text in pairs if mol is not None]
    if not pairs:
        raise ValueError("no valid molecule to draw")
    mols, texts = zip(*pairs)
    return Draw.MolsToGridImage(list(mols), molsPerRow=columns, subImgSize=(size, size),
                                legends=list(texts))


def save_molecule_grid(smiles: Sequence[str], legends: Sequence[str], path: str | Path,
                       columns: int = 5) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    molecule_grid(smiles, legends, columns).save(path)
    return path
