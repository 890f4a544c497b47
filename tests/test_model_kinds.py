"""Uniform-noise models and noisy classifiers trained, exported and used from the command line."""

import csv
import json

import pytest

from molremdm.cli import main
from molremdm.models.checkpoint import CheckpointError, load_classifier, load_model
from molremdm.training.classifier import classifier_config_from_dict, train_classifier
from molremdm.training.run import config_from_dict, train

TINY = {"width": 32, "depth": 1, "heads": 2}


def run_section(folder, name):
    return {"batch_size": 32, "val_every_steps": 4, "sample_every_validation": 8,
            "precision": "32-true", "output_dir": str(folder), "name": name}


@pytest.fixture(scope="module")
def models(small_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("kinds")
    optim = {"max_steps": 8, "warmup_steps": 1}
    masked = train(config_from_dict({"network": TINY, "optim": optim,
                                     "run": run_section(folder, "mdlm")}), prepared=small_data)
    uniform = train(config_from_dict({"network": {**TINY, "kind": "udlm"}, "optim": optim,
                                      "run": run_section(folder, "udlm")}), prepared=small_data)
    classifiers = {}
    for process in ("masked", "uniform"):
        config = classifier_config_from_dict({
            "network": {**TINY, "process": process}, "optim": optim,
            "run": {**run_section(folder, f"clf-{process}"), "sample_every_validation": 0}})
        classifiers[process] = train_classifier(config, prepared=small_data)
    return folder, masked, uniform, classifiers


def test_classifier_logs_auroc_per_noise_band(models):
    folder = models[0]
    header = next(csv.reader(open(next((folder / "clf-masked").rglob("metrics.csv")))))
    assert "val/auroc" in header
    assert "val/accuracy_t0.00-0.25" in header


def test_classifier_export_loads(models, small_data):
    classifier = load_classifier(models[3]["masked"])
    assert classifier.vocab == small_data.tokenizer.vocab
    assert classifier.process.name == "masked"


def test_classifier_is_not_a_diffusion_model(models):
    with pytest.raises(CheckpointError, match="is a noisy classifier"):
        load_model(models[3]["masked"])


def test_diffusion_model_is_not_a_classifier(models):
    with pytest.raises(CheckpointError, match="not a noisy classifier export"):
        load_classifier(models[1])


def sample_args(model, tmp_path, *extra):
    return ["sample", "--checkpoint", str(model), "-n", "6", "--steps", "4", "--no-progress",
            "--out", str(tmp_path / "s.csv"), *extra]


def test_udlm_samples_with_udlm_sampler(models, tmp_path):
    assert main(sample_args(models[2], tmp_path, "--sampler", "udlm")) == 0
    assert main(sample_args(models[2], tmp_path, "--sampler", "udlm", "--guidance", "cfg",
                            "--gamma", "3")) == 0


def classifier_calls(tmp_path) -> float:
    return json.loads((tmp_path / "s.json").read_text())["classifier_calls"]


@pytest.mark.parametrize("approx", [[], ["--cbg-approx"]])
@pytest.mark.parametrize("sampler", ["mdlm", "remdm-cap"])
def test_masked_model_with_classifier_guidance(models, tmp_path, approx, sampler):
    arguments = sample_args(models[1], tmp_path, "--sampler", sampler, "--guidance", "cbg",
                            "--classifier", str(models[3]["masked"]), "--gamma", "2",
                            "--json", str(tmp_path / "s.json"), *approx)
    assert main(arguments) == 0
    model = load_model(models[1])
    length, vocab = model.network.config.length, model.network.config.vocab_size
    if approx:  # one forward and backward per molecule and step
        assert classifier_calls(tmp_path) == 4
    else:  # per step: the sequence itself, then the edits of masked (and remasked) positions
        assert 4 * (1 + 1) <= classifier_calls(tmp_path) <= 4 * (1 + length * (vocab - 1))


def test_udlm_with_classifier_guidance(models, tmp_path):
    arguments = sample_args(models[2], tmp_path, "--sampler", "udlm", "--guidance", "cbg",
                            "--classifier", str(models[3]["uniform"]), "--gamma", "2",
                            "--json", str(tmp_path / "s.json"))
    assert main(arguments) == 0
    model = load_model(models[2])
    length, vocab = model.network.config.length, model.network.config.vocab_size
    # uniform noise: every position is edited to every token at each of the 4 steps
    assert classifier_calls(tmp_path) == 4 * (1 + length * vocab)
    assert main(sample_args(models[2], tmp_path, "--sampler", "udlm",
                            "--json", str(tmp_path / "s.json"))) == 0
    assert classifier_calls(tmp_path) == 0


@pytest.mark.parametrize("case, message", [
    ("remask-udlm", "needs a masked diffusion model"),
    ("udlm-on-mdlm", "needs a uniform-noise model"),
    ("wrong-noise", "trained on uniform noise but the model uses masked noise"),
    ("no-classifier", "needs a classifier"),
])
def test_unsupported_combinations_rejected(models, tmp_path, capsys, case, message):
    _, masked, uniform, classifiers = models
    arguments = {
        "remask-udlm": sample_args(uniform, tmp_path, "--sampler", "remdm-cap"),
        "udlm-on-mdlm": sample_args(masked, tmp_path, "--sampler", "udlm"),
        "wrong-noise": sample_args(masked, tmp_path, "--guidance", "cbg", "--classifier",
                                   str(classifiers["uniform"])),
        "no-classifier": sample_args(masked, tmp_path, "--guidance", "cbg"),
    }[case]
    assert main(arguments) == 2
    assert message in capsys.readouterr().err


@pytest.fixture(scope="module")
def autoregressive(small_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ar")
    return train(config_from_dict({"network": {**TINY, "kind": "ar"},
                                   "optim": {"max_steps": 8, "warmup_steps": 1},
                                   "run": run_section(folder, "ar")}), prepared=small_data)


def test_autoregressive_samples_with_cfg(autoregressive, tmp_path):
    assert main(sample_args(autoregressive, tmp_path, "--sampler", "ar")) == 0
    assert main(sample_args(autoregressive, tmp_path, "--sampler", "ar", "--guidance", "cfg",
                            "--gamma", "2", "--temperature", "0.8", "--top-p", "0.9")) == 0


@pytest.mark.parametrize("case, message", [
    ("remask-ar", "sampler 'ar' and autoregressive models go together"),
    ("ar-on-mdlm", "sampler 'ar' and autoregressive models go together"),
    ("cbg-ar", "classifier guidance is not implemented for the autoregressive baseline"),
])
def test_autoregressive_combinations_rejected(autoregressive, models, tmp_path, capsys, case,
                                              message):
    arguments = {
        "remask-ar": sample_args(autoregressive, tmp_path, "--sampler", "remdm-cap"),
        "ar-on-mdlm": sample_args(models[1], tmp_path, "--sampler", "ar"),
        "cbg-ar": sample_args(autoregressive, tmp_path, "--sampler", "ar", "--guidance", "cbg",
                              "--classifier", str(models[3]["masked"])),
    }[case]
    assert main(arguments) == 2
    assert message in capsys.readouterr().err


def test_optimize_property_with_rdkit_and_surrogate(models, small_data, tmp_path):
    import subprocess
    import sys

    from molremdm.data.prepare import DataConfig, prepare_data
    from molremdm.data.qm9 import load_qm9

    folder, masked = models[0], models[1]
    gap_data = prepare_data(DataConfig(property="gap", cache_dir=str(tmp_path)),
                            load_qm9().iloc[:2000])
    regressor = train_classifier(classifier_config_from_dict({
        "data": {"property": "gap"}, "network": {**TINY, "task": "regress"},
        "optim": {"max_steps": 4, "warmup_steps": 1},
        "run": {**run_section(folder, "gap-regressor"), "sample_every_validation": 0}}),
        prepared=gap_data)
    for prop, extra in (("ring_count", []), ("gap", ["--surrogate", str(regressor)])):
        out = tmp_path / f"{prop}.csv"
        completed = subprocess.run(
            [sys.executable, "scripts/optimize_property.py", "--checkpoint", str(masked),
             "--property", prop, "--samplers", "mdlm", "--steps", "8", "--gammas", "1", "2",
             "--num-samples", "32", "--min-novel", "0", "--top", "5", "--out", str(out),
             *extra], capture_output=True, text=True, timeout=300)
        assert completed.returncode == 0, completed.stderr
        settings = (tmp_path / f"{prop}.settings.csv").read_text().splitlines()
        assert len(settings) == 3
        rows = out.read_text().splitlines()
        values = [float(r.split(",")[-1]) for r in rows[1:]]
        assert values == sorted(values, reverse=True)
