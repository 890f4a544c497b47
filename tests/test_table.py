"""User molecule tables: reading and cleaning a CSV, training on it from the command line and
scoring novelty against it."""

import json
import logging

import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import QED

from molremdm.cli import main
from molremdm.data.prepare import DataConfig, dataset_reference
from molremdm.data.table import load_table
from molremdm.experiments.evaluate import load_reference

ROWS = """name,smiles,logp,qed,series
aspirin,CC(=O)Oc1ccccc1C(=O)O,1.31,0.9,A
aspirin kekule,CC(=O)OC1=CC=CC=C1C(=O)O,1.31,0.9,A
five-ring aromatic,c1cccc1,0.0,0.1,B
missing,,0.0,0.1,B
ethanol,CCO,-0.0014,0.4,C
benzene,c1ccccc1,1.69,0.44,C
"""


@pytest.fixture
def table_file(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(ROWS)
    return path


def test_table_cleaned_and_scored(table_file, tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        table = load_table(table_file, cache=tmp_path / "cache")
    assert table["smiles"].tolist() == ["CC(=O)Oc1ccccc1C(=O)O", "CCO", "c1ccccc1"]
    assert table["input_smiles"].tolist()[1] == "CCO"
    assert "2 of 6 SMILES are not valid" in caplog.text
    assert "line 4: 'c1cccc1'" in caplog.text
    assert "1 duplicates after canonicalisation" in caplog.text


def test_table_properties_from_rdkit(table_file, tmp_path):
    table = load_table(table_file, cache=tmp_path / "cache").set_index("smiles")
    aspirin = "CC(=O)Oc1ccccc1C(=O)O"
    assert table.loc[aspirin, "qed"] == QED.qed(Chem.MolFromSmiles(aspirin))
    assert table.loc[aspirin, "ring_count"] == 1
    assert table.loc["CCO", "ring_count"] == 0
    # the file's own qed column is kept beside the computed one; text columns are left out
    assert table.loc[aspirin, "qed_input"] == 0.9
    assert table.loc["CCO", "logp"] == -0.0014
    assert "series" not in table.columns
    assert "name" not in table.columns


def test_table_cache_follows_file(table_file, tmp_path):
    cache = tmp_path / "cache"
    first = load_table(table_file, cache=cache)
    assert load_table(table_file, cache=cache).equals(first)
    table_file.write_text(ROWS + "propane,CCC,1.8,0.4,C\n")
    assert len(load_table(table_file, cache=cache)) == len(first) + 1


def test_gzipped_table_and_reference(table_file, tmp_path):
    import gzip

    packed = tmp_path / "mine.csv.gz"
    packed.write_bytes(gzip.compress(table_file.read_bytes()))
    table = load_table(packed, cache=tmp_path / "cache")
    assert table["smiles"].tolist() == ["CC(=O)Oc1ccccc1C(=O)O", "CCO", "c1ccccc1"]
    assert load_reference(str(packed)) == set(table["smiles"])


def test_table_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.csv not found"):
        load_table(tmp_path / "absent.csv", cache=tmp_path)
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("mol,value\nCCO,1\n")
    with pytest.raises(ValueError, match=r"no column 'smiles' \(columns: \['mol', 'value'\]\)"):
        load_table(wrong, cache=tmp_path)
    assert load_table(wrong, smiles_column="mol", cache=tmp_path)["smiles"].tolist() == ["CCO"]
    invalid = tmp_path / "invalid.csv"
    invalid.write_text("smiles\nC1CC\nXx\n")
    with pytest.raises(ValueError, match="no valid molecule"):
        load_table(invalid, cache=tmp_path)
    with pytest.raises(ValueError, match="invalid dataset 'zinc'"):
        DataConfig(dataset="zinc")


@pytest.fixture(scope="module")
def trained_on_table(qm9, tmp_path_factory):
    folder = tmp_path_factory.mktemp("table")
    data = folder / "subset.csv"
    qm9.iloc[:600][["smiles", "gap"]].to_csv(data, index=False)
    config = folder / "tiny.yaml"
    config.write_text("network: {width: 32, depth: 1, heads: 2}\n"
                      "optim: {max_steps: 4, warmup_steps: 1}\n"
                      "run: {batch_size: 32, val_every_steps: 2, sample_every_validation: 8}\n")
    arguments = ["train", "--config", str(config), "--dataset", str(data), "--property", "gap",
                 "--precision", "32-true", "--output-dir", str(folder), "--name", "mine"]
    assert main(arguments) == 0
    return folder / "mine" / "model", data


def test_model_records_its_data_set(trained_on_table):
    model, data = trained_on_table
    config = json.loads((model / "config.json").read_text())
    assert config["data"]["dataset"] == str(data.resolve())
    assert config["label_definition"]["property"] == "gap"
    reference = dataset_reference(config["data"])
    assert reference == load_reference(str(data))
    assert len(reference) == 600


def test_novelty_defaults_to_training_data(trained_on_table, tmp_path):
    model, data = trained_on_table
    common = ["sample", "--checkpoint", str(model), "-n", "64", "--steps", "8",
              "--no-progress", "--out", str(tmp_path / "s.csv")]
    metrics = {}
    for reference in ("data", str(data), "qm9"):
        out = tmp_path / "s.json"
        assert main([*common, "--json", str(out), "--reference", reference]) == 0
        metrics[reference] = json.loads(out.read_text())
    assert metrics["data"]["reference_molecules"] == 600
    assert metrics[str(data)]["reference_molecules"] == 600
    assert metrics["qm9"]["reference_molecules"] == 133_798
    assert metrics["data"]["num_novel"] == metrics[str(data)]["num_novel"]
    # QM9 contains the 600 training molecules and more, so at most as many samples are novel
    assert metrics["qm9"]["num_novel"] <= metrics["data"]["num_novel"]


def test_sweep_scores_against_training_data(trained_on_table, tmp_path):
    model, data = trained_on_table
    config = tmp_path / "sweep.yaml"
    results = tmp_path / "rows.csv"
    config.write_text(f"name: mine\ncheckpoints: [{model}]\nsteps: [8]\nnum_samples: 64\n"
                      f"results: {results}\n")
    assert main(["sweep", "--config", str(config), "--no-progress"]) == 0
    row = pd.read_csv(results).iloc[0]
    out = tmp_path / "s.json"
    assert main(["sample", "--checkpoint", str(model), "-n", "64", "--steps", "8",
                 "--no-progress", "--out", str(tmp_path / "s.csv"), "--json", str(out)]) == 0
    single = json.loads(out.read_text())
    assert row["num_valid"] == single["num_valid"]
    assert row["num_novel"] == single["num_novel"]


def test_evaluate_has_no_training_data(tmp_path, capsys):
    samples = tmp_path / "s.txt"
    samples.write_text("CCO\n")
    assert main(["evaluate", str(samples), "--reference", "data"]) == 2
    assert "there is no model here" in capsys.readouterr().err


def test_classifier_run_named_after_table_and_length_checked(trained_on_table, tmp_path,
                                                            capsys):
    model, data = trained_on_table
    config = tmp_path / "tiny.yaml"
    config.write_text("network: {width: 32, depth: 1, heads: 2}\n"
                      "optim: {max_steps: 2, warmup_steps: 1}\n"
                      "run: {batch_size: 32, val_every_steps: 2}\n")
    assert main(["train-classifier", "--config", str(config), "--dataset", str(data),
                 "--property", "gap", "--length", "30", "--output-dir", str(tmp_path)]) == 0
    classifier = tmp_path / "subset-classifier-masked" / "model"
    assert (classifier / "config.json").is_file()
    arguments = ["sample", "--checkpoint", str(model), "-n", "4", "--steps", "4",
                 "--no-progress", "--out", str(tmp_path / "s.csv"), "--guidance", "cbg",
                 "--classifier", str(classifier), "--gamma", "2"]
    assert main(arguments) == 2
    assert "reads sequences of 30 tokens" in capsys.readouterr().err


def test_moved_training_data_asks_for_reference(trained_on_table, tmp_path, capsys):
    model, data = trained_on_table
    moved = tmp_path / "model"
    moved.mkdir()
    config = json.loads((model / "config.json").read_text())
    config["data"]["dataset"] = str(tmp_path / "gone.csv")
    (moved / "config.json").write_text(json.dumps(config))
    (moved / "model.safetensors").write_bytes((model / "model.safetensors").read_bytes())
    arguments = ["sample", "--checkpoint", str(moved), "-n", "4", "--steps", "4",
                 "--no-progress", "--out", str(tmp_path / "s.csv")]
    assert main(arguments) == 2
    assert "pass --reference" in capsys.readouterr().err
    assert main([*arguments, "--reference", str(data)]) == 0
    assert pd.read_csv(tmp_path / "s.csv").shape[0] == 4
