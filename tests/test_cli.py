"""The command line as users run it: sample, evaluate, and their errors."""

import json

import pytest

from molremdm.cli import main
from molremdm.training.run import config_from_dict, train

METRIC_KEYS = {"num_samples", "num_valid", "validity", "num_unique", "uniqueness", "num_novel",
               "novelty", "mean_qed", "mean_ring_count", "novel_mean_qed",
               "novel_mean_ring_count", "rdkit_version"}


@pytest.fixture(scope="module")
def exported(small_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    config = config_from_dict({
        "network": {"width": 32, "depth": 1, "heads": 2},
        "optim": {"max_steps": 4, "warmup_steps": 1},
        "run": {"batch_size": 32, "val_every_steps": 4, "sample_every_validation": 0,
                "precision": "32-true", "output_dir": str(folder), "name": "m"},
    })
    return train(config, prepared=small_data)


def test_sample_writes_csv_and_json(exported, tmp_path, capsys):
    out, report = tmp_path / "s.csv", tmp_path / "s.json"
    code = main(["sample", "--checkpoint", str(exported), "-n", "20", "--steps", "8",
                 "--sampler", "remdm-loop", "--eta", "0.05", "--guidance", "cfg", "--gamma", "2",
                 "--seed", "3", "--out", str(out), "--json", str(report), "--no-progress"])
    assert code == 0
    rows = out.read_text().splitlines()
    assert rows[0] == "smiles,valid,canonical_smiles,qed,ring_count"
    assert len(rows) == 21
    record = json.loads(report.read_text())
    assert METRIC_KEYS <= set(record)
    # at most 8 steps of two guidance branches; a sequence unchanged by a step reuses its output
    assert 2 <= record["nfe"] <= 16
    assert record["sampler"] == "remdm-loop"
    assert record["eta"] == 0.05
    assert record["gamma"] == 2.0
    assert record["seed"] == 3
    assert record["wall_time_s"] > 0
    assert "validity" in capsys.readouterr().out


def test_sample_same_seed_same_file(exported, tmp_path):
    paths = [tmp_path / "a.csv", tmp_path / "b.csv"]
    for path in paths:
        assert main(["sample", "--checkpoint", str(exported), "-n", "16", "--steps", "6",
                     "--seed", "11", "--out", str(path), "--no-progress"]) == 0
    assert paths[0].read_text() == paths[1].read_text()


def test_evaluate_csv_and_text(tmp_path):
    csv_file = tmp_path / "samples.csv"
    csv_file.write_text("smiles,other\nCCO,1\nOCC,2\nC1CC1,3\nC1CC,4\n,5\n"
                        "c1ccccc1Cl,6\nClc1ccccc1,7\n")
    text_file = tmp_path / "samples.txt"
    text_file.write_text("CCO\nOCC\nC1CC1\nC1CC\n\nc1ccccc1Cl\nClc1ccccc1\n")
    reference = tmp_path / "reference.txt"
    reference.write_text("OCC\n")
    for path in (csv_file, text_file):
        report = tmp_path / f"{path.stem}.json"
        assert main(["evaluate", str(path), "--reference", str(reference),
                     "--json", str(report)]) == 0
        metrics = json.loads(report.read_text())
        assert METRIC_KEYS <= set(metrics)
        assert metrics["num_samples"] == 7
        assert metrics["num_valid"] == 5
        assert metrics["num_unique"] == 3
        assert metrics["num_novel"] == 2


def test_evaluate_against_qm9(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("CCO\nC1=CC=CC=C1\nCC(C)(C)C(C)(C)C(C)(C)C\n")
    report = tmp_path / "m.json"
    assert main(["evaluate", str(path), "--json", str(report)]) == 0
    metrics = json.loads(report.read_text())
    assert metrics["num_novel"] == 1  # ethanol and benzene are in QM9; the 10-carbon alkane not


@pytest.mark.parametrize("arguments, message", [
    (["sample", "--checkpoint", "missing-model"], "checkpoint missing-model not found"),
    (["sample", "--checkpoint", "{model}", "--sampler", "remdm-cap", "--eta", "2"],
     "eta=2.0 is outside the allowed range"),
    (["sample", "--checkpoint", "{model}", "--sampler", "remdm-loop", "--t-on", "0.01"],
     "0 < t_off < t_on < 1"),
    (["sample", "--checkpoint", "{model}", "--guidance", "cfg", "--target", "2"],
     "target label must be in 0..1"),
    (["sample", "--checkpoint", "{model}", "--guidance", "cfg", "--gamma", "-1"],
     "gamma must be a finite number >= 0"),
    (["sample", "--checkpoint", "{model}", "--steps", "0"], "must be >= 1"),
    (["sample", "--checkpoint", "{model}", "--out", "no/such/folder/s.csv"],
     "output folder no/such/folder"),
    (["evaluate", "no-such-file.csv"], "samples file no-such-file.csv not found"),
    (["train-classifier", "--resume", "no-such.ckpt"],
     "checkpoint to resume from no-such.ckpt not found"),
])
def test_errors_name_the_value(exported, arguments, message, capsys):
    arguments = [a.replace("{model}", str(exported)) for a in arguments]
    assert main(arguments + (["--no-progress", "-n", "4"] if arguments[0] == "sample" else [])) == 2
    assert message in capsys.readouterr().err


def test_failed_run_keeps_existing_output(exported, tmp_path, capsys):
    out = tmp_path / "keep.csv"
    out.write_text("smiles\nCCO\n")
    code = main(["sample", "--checkpoint", str(exported), "--sampler", "remdm-cap",
                 "--eta", "7", "--out", str(out), "--no-progress"])
    assert code == 2
    assert out.read_text() == "smiles\nCCO\n"


def test_csv_without_smiles_column(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("molecule\nCCO\n")
    assert main(["evaluate", str(path), "--reference", "none"]) == 2
    assert "no 'smiles' column" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train", "sample", "evaluate", "demo"])
def test_help_documents_defaults(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "default" in capsys.readouterr().out


@pytest.mark.parametrize("sampler, extra", [
    ("mdlm", []), ("remdm-cap", ["--eta", "0.1"]), ("remdm-rescale", ["--eta", "0.5"]),
    ("remdm-conf", ["--eta", "0.5"]), ("remdm-loop", ["--t-on", "0.6", "--t-off", "0.1",
                                                    "--alpha-on", "0.8", "--eta", "0.1"]),
    ("remdm-switch", ["--t-switch", "0.3", "--eta", "0.05"]), ("forward-backward", []),
    ("dfm", []), ("mdlm", ["--top-p", "0.9"]),
])
def test_every_sampler_from_cli(exported, tmp_path, sampler, extra):
    report = tmp_path / "r.json"
    assert main(["sample", "--checkpoint", str(exported), "-n", "8", "--steps", "6",
                 "--sampler", sampler, *extra, "--out", str(tmp_path / "s.csv"),
                 "--json", str(report), "--no-progress"]) == 0
    record = json.loads(report.read_text())
    assert record["strategy"] == sampler
    for option, value in zip(extra[::2], extra[1::2]):
        assert record[option[2:].replace("-", "_")] == float(value)


def test_sample_help_lists_every_sampler(capsys):
    with pytest.raises(SystemExit):
        main(["sample", "--help"])
    text = capsys.readouterr().out
    for name in ("remdm-conf", "remdm-switch", "forward-backward", "dfm", "--t-switch",
                 "--top-p"):
        assert name in text
