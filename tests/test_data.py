import warnings

import numpy as np
import pytest

from molremdm.chem.molecules import RDKIT_VERSION
from molremdm.data.labels import make_labels
from molremdm.data.prepare import DataConfig, prepare_data, split_indices


def test_qm9_size_after_deduplication(qm9):
    assert len(qm9) == 133_798
    assert qm9["smiles"].is_unique


def test_qm9_keeps_charged_molecules(qm9):
    charged = qm9["smiles"].str.contains(r"\+\]|-\]", regex=True)
    assert charged.sum() >= 1_700


def test_ring_count_labels_follow_ties(qm9):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 7.8 % is close enough to the intended 10 %
        labels, definition = make_labels(qm9["ring_count"].to_numpy(), "ring_count", 90)
    assert definition.threshold == 3.0
    assert definition.class_sizes[1] == int((qm9["ring_count"] >= 4).sum())
    assert 0.07 < labels.mean() < 0.085
    assert definition.null_label == 2


def test_labels_warn_when_ties_empty_a_class():
    with pytest.warns(UserWarning, match="a class is empty"):
        labels, definition = make_labels(np.array([1.0, 1.0, 1.0, 1.0]), "ring_count")
    assert definition.class_sizes == (4, 0)


def test_labels_warn_when_class_far_from_share():
    values = np.array([0.0] * 97 + [1.0] * 3)
    with pytest.warns(UserWarning, match="intended 10%"):
        make_labels(values, "ring_count", 90)


def test_labels_reject_missing_values():
    with pytest.raises(ValueError, match="1 missing values"):
        make_labels(np.array([1.0, np.nan]), "gap")


def test_split_is_seeded_and_disjoint():
    train, val = split_indices(1000, 0.05, seed=3)
    again_train, again_val = split_indices(1000, 0.05, seed=3)
    assert np.array_equal(val, again_val)
    assert len(val) == 50
    assert len(set(train) | set(val)) == 1000
    assert not set(train) & set(val)


def test_prepared_cache_reused_and_rebuilt(qm9, tmp_path):
    frame = qm9.iloc[:500].reset_index(drop=True)
    config = DataConfig(cache_dir=str(tmp_path))
    first = prepare_data(config, frame)
    files = sorted(p.name for p in tmp_path.glob("tokens-*.safetensors"))
    assert len(files) == 1
    second = prepare_data(config, frame)
    assert (second.tokens == first.tokens).all()
    assert sorted(p.name for p in tmp_path.glob("tokens-*.safetensors")) == files

    prepare_data(DataConfig(cache_dir=str(tmp_path), length=30), frame)
    prepare_data(config, qm9.iloc[500:1000].reset_index(drop=True))
    assert len(list(tmp_path.glob("tokens-*.safetensors"))) == 3


def test_prepared_metadata_records_rdkit_and_vocab(qm9, tmp_path):
    import json
    prepared = prepare_data(DataConfig(cache_dir=str(tmp_path)), qm9.iloc[:300])
    meta = json.loads(next(tmp_path.glob("tokens-*.json")).read_text())
    assert meta["rdkit_version"] == RDKIT_VERSION
    assert meta["vocab"] == prepared.tokenizer.vocab


def test_unknown_property_is_rejected(qm9, tmp_path):
    with pytest.raises(ValueError, match="'logp' is not a numeric column"):
        prepare_data(DataConfig(cache_dir=str(tmp_path), property="logp"), qm9.iloc[:100])
    with pytest.raises(ValueError, match=r"'mol_id' is not a numeric column.*'gap'"):
        prepare_data(DataConfig(cache_dir=str(tmp_path), property="mol_id"), qm9.iloc[:100])


def test_reordered_rows_are_a_new_cache_entry(qm9, tmp_path):
    frame = qm9.iloc[:300].reset_index(drop=True)
    config = DataConfig(cache_dir=str(tmp_path))
    prepare_data(config, frame)
    reordered = prepare_data(config, frame.iloc[::-1].reset_index(drop=True))
    decoded = [d.smiles for d in reordered.tokenizer.decode_batch(reordered.tokens)]
    assert decoded == reordered.smiles
    assert reordered.smiles[0] == frame["smiles"].iloc[-1]
