import math

import pytest
from rdkit import Chem
from rdkit.Chem import QED

from molremdm.chem.metrics import evaluate_samples
from molremdm.chem.molecules import RDKIT_VERSION, canonical_smiles, parse_smiles
from molremdm.chem.properties import qed, ring_count

CUBANE = "C12C3C4C1C5C2C3C45"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"


def test_empty_string_is_not_a_molecule():
    assert Chem.MolFromSmiles("") is not None  # RDKit's 0-atom molecule
    assert parse_smiles("") is None
    assert canonical_smiles("") is None


@pytest.mark.parametrize("bad", ["c1cccc1", "CC(=O)(=O)C", "C1CC", "", None, "[Xx]"])
def test_bad_samples_are_counted_not_raised(bad):
    metrics = evaluate_samples([bad, "CCO"], reference=set())
    assert metrics["num_valid"] == 1
    assert metrics["num_invalid"] == 1


def test_aspirin_qed_matches_rdkit_default():
    expected = QED.qed(Chem.MolFromSmiles(ASPIRIN))
    assert qed(ASPIRIN) == pytest.approx(expected, abs=1e-12)
    if RDKIT_VERSION == "2026.09.1":
        assert round(qed(ASPIRIN), 4) == 0.5501


def test_ring_count_is_symmetrised_sssr():
    assert ring_count(CUBANE) == 6
    assert len(Chem.GetSSSR(Chem.MolFromSmiles(CUBANE))) == 5
    assert ring_count("c1ccccc1") == 1
    assert ring_count("CCO") == 0


def test_uniqueness_and_novelty_on_canonical_forms():
    samples = ["CCO", "OCC", "C1CC1", "C1CC", "", "c1ccccc1Cl", "Clc1ccccc1"]
    reference = {canonical_smiles("OCC")}
    metrics = evaluate_samples(samples, reference)
    assert metrics["num_samples"] == 7
    assert metrics["validity"] == pytest.approx(5 / 7)
    assert metrics["uniqueness"] == pytest.approx(3 / 5)
    assert metrics["novelty"] == pytest.approx(2 / 5)
    assert metrics["num_novel"] == 2


def test_property_means_over_valid_and_novel():
    samples = ["CCO", "CCO", "c1ccccc1", "xx"]
    metrics = evaluate_samples(samples, {"CCO"})
    assert metrics["mean_ring_count"] == pytest.approx(1 / 3)
    assert metrics["novel_mean_ring_count"] == pytest.approx(1.0)
    assert metrics["novel_mean_qed"] == pytest.approx(qed("c1ccccc1"))
    assert metrics["rdkit_version"] == RDKIT_VERSION


def test_no_valid_sample_gives_nan_means():
    metrics = evaluate_samples(["", "C1CC"], set())
    assert metrics["validity"] == 0.0
    assert math.isnan(metrics["mean_qed"])
    assert math.isnan(metrics["uniqueness"])
