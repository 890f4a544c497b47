"""Sweeps: grid expansion, resume after a kill, seed aggregation, and the pareto command."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from molremdm.cli import main
from molremdm.experiments.generate import SamplingSettings
from molremdm.experiments.sweep import (RESULT_COLUMNS, SweepConfig, cost_rank, load_sweep_config,
                                        read_finished, run_sweep, setting_key)
from molremdm.training.run import config_from_dict, train


@pytest.fixture(scope="module")
def model(small_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep-model")
    return train(config_from_dict({
        "network": {"width": 32, "depth": 1, "heads": 2},
        "optim": {"max_steps": 4, "warmup_steps": 1},
        "run": {"batch_size": 32, "val_every_steps": 4, "sample_every_validation": 0,
                "precision": "32-true", "output_dir": str(folder), "name": "m"}}),
        prepared=small_data)


def sweep_dict(model, results):
    return {"name": "tiny", "checkpoints": [str(model)],
            "samplers": [{"sampler": "mdlm"}, {"sampler": "remdm-cap", "eta": 0.05}],
            "guidance": ["cfg"], "gamma": [1, 2, 3], "steps": [48], "seeds": [0, 1],
            "num_samples": 96, "results": str(results), "workers": 1}


def test_grid_expansion(model, tmp_path):
    config = SweepConfig(**sweep_dict(model, tmp_path / "r.csv"))
    assert len(config.settings()) == 2 * 3 * 2
    unguided = SweepConfig(**{**sweep_dict(model, tmp_path / "r.csv"), "guidance": ["none"]})
    assert len(unguided.settings()) == 2 * 2  # gamma does not multiply unguided runs


def test_cost_rank_puts_exact_guidance_last():
    jobs = [SamplingSettings(steps=128, guidance="cbg", classifier="c", cbg_mode="exact"),
            SamplingSettings(steps=32, guidance="cbg", classifier="c", cbg_mode="exact"),
            SamplingSettings(steps=128, guidance="cfg", gamma=2.0),
            SamplingSettings(steps=32, guidance="cbg", classifier="c", cbg_mode="first-order")]
    ordered = sorted(jobs, key=cost_rank)
    assert [(s.guidance, s.cbg_mode, s.steps) for s in ordered] == [
        ("cbg", "first-order", 32), ("cfg", "exact", 128), ("cbg", "exact", 32),
        ("cbg", "exact", 128)]


def test_killed_sweep_resumes_with_every_row_once(model, tmp_path):
    results = tmp_path / "results.csv"
    config_path = tmp_path / "sweep.yaml"
    config_path.write_text(yaml.safe_dump(sweep_dict(model, results)))
    process = subprocess.Popen([sys.executable, "-m", "molremdm.cli", "sweep", "--config",
                                str(config_path), "--no-progress"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if results.is_file() and len(results.read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = len(read_finished(results))
    assert 3 <= partial < 12, "the kill should land mid-way"

    assert main(["sweep", "--config", str(config_path), "--no-progress"]) == 0
    table = pd.read_csv(results)
    assert len(table) == 12
    assert table["key"].is_unique
    summary = pd.read_csv(tmp_path / "results_summary.csv")
    assert len(summary) == 6
    assert (summary["seeds"] == 2).all()
    assert "validity_std" in summary.columns


def test_sweep_key_ignores_unused_classifier(tmp_path):
    """Unguided and D-CFG rows match whatever classifier a config names, although older rows
    stored one in their key. D-CBG rows match only their own classifier."""
    published = Path(__file__).parents[1] / "docs" / "data" / "qm9_ring_guidance_masked.csv"
    results = tmp_path / "r.csv"
    results.write_bytes(published.read_bytes())
    config = load_sweep_config(Path(__file__).parents[1] / "configs" / "sweep"
                               / "qm9_ring_guidance_masked.yaml",
                               {"precision": "bf16", "results": str(results),
                                "classifier": "elsewhere/classifier"})
    finished = read_finished(results)
    grid = config.settings()
    cfg = [s for _, s in grid if s.guidance == "cfg"]
    assert cfg
    assert all(s.classifier is None for s in cfg)
    for checkpoint, settings in grid:
        found = setting_key(checkpoint, settings) in finished
        assert found == (settings.guidance != "cbg"), settings
    stored = {row["classifier"] for row in finished.values() if row["guidance"] != "none"}
    assert stored == {"runs/qm9-ring-classifier/model"}  # older guided rows name it


def test_old_results_gain_new_columns(model, tmp_path):
    results = tmp_path / "r.csv"
    first = {**sweep_dict(model, results), "seeds": [0], "gamma": [2]}
    run_sweep(SweepConfig(**first), progress=False)
    older = pd.read_csv(results).drop(columns=["classifier_calls"])
    older.to_csv(results, index=False)  # as written before the column existed

    table = run_sweep(SweepConfig(**{**first, "gamma": [2, 3]}), progress=False)
    assert list(table.columns) == list(RESULT_COLUMNS)
    assert len(table) == 4
    resumed = table[table["gamma"] == 2]
    assert resumed["classifier_calls"].isna().all()
    assert resumed["validity"].tolist() == older["validity"].tolist()
    assert (table[table["gamma"] == 3]["classifier_calls"] == 0).all()  # D-CFG: no classifier


def test_incomplete_last_row_dropped(model, tmp_path):
    results = tmp_path / "r.csv"
    run_sweep(SweepConfig(**{**sweep_dict(model, results), "seeds": [0], "gamma": [2]}),
              progress=False)
    text = results.read_text()
    results.write_text(text + text.splitlines()[-1][:20])  # a row cut short by a kill
    assert len(read_finished(results)) == 2
    assert len(results.read_text().splitlines()) == 3


def test_pareto_command_writes_front_plot_and_hypervolume(tmp_path, capsys):
    table = pd.DataFrame({"sampler": ["a", "a", "b"], "gamma": [1, 2, 1], "steps": [32] * 3,
                          "num_novel": [100, 60, 80], "novel_mean_ring_count": [4.0, 4.5, 3.0]})
    results = tmp_path / "results.csv"
    table.to_csv(results, index=False)
    front, plot = tmp_path / "front.csv", tmp_path / "front.png"
    assert main(["pareto", str(results), "--group", "sampler", "--min-x", "50",
                 "--front-csv", str(front), "-o", str(plot)]) == 0
    assert len(pd.read_csv(front)) == 3
    volumes = pd.read_csv(tmp_path / "front_hypervolume.csv")
    assert set(volumes["sampler"]) == {"a", "b"}
    assert plot.is_file()
    assert plot.with_suffix(".svg").is_file()
    assert "hypervolume" in capsys.readouterr().out


def test_unknown_sweep_key_rejected(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "checkpoints": ["m"], "gammas": [1]}))
    assert main(["sweep", "--config", str(path)]) == 2
    assert "unknown key(s) ['gammas']" in capsys.readouterr().err


def test_grid_draws_best_novel_molecules(tmp_path, capsys):
    samples = tmp_path / "s.txt"
    samples.write_text("C1CC2CC12\nCCO\nC1CC1\nC12C3C4C1C5C2C3C45\nnot-a-molecule\n")
    output = tmp_path / "grid.png"
    assert main(["grid", str(samples), "--property", "ring_count", "--top", "2",
                 "--reference", "none", "-o", str(output)]) == 0
    assert output.stat().st_size > 1000
    from molremdm.experiments.evaluate import best_novel
    ranked = best_novel(samples.read_text().splitlines(), None, "ring_count", 2)
    from molremdm.chem.molecules import canonical_smiles
    assert ranked[0] == (canonical_smiles("C12C3C4C1C5C2C3C45"), 6.0)  # cubane
    assert ranked[1][1] == 2.0


REPOSITORY = Path(__file__).parent.parent
SHIPPED_CONFIGS = sorted((REPOSITORY / "configs" / "sweep").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_expand(path):
    """Every shipped config parses into valid settings, and reads its models from checkpoints/
    (which is in the repository) rather than from a local runs/ folder."""
    config = load_sweep_config(path)
    settings = config.settings()
    assert settings
    models = set(config.checkpoints) | ({config.classifier} if config.classifier else set())
    for model_path in models:
        assert Path(model_path).parts[0] == "checkpoints", model_path
    assert Path(config.results).parts[:2] == ("runs", "sweeps")


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED_CONFIGS, ids=lambda p: p.stem)
def test_shipped_config_runs(path, tmp_path, monkeypatch):
    """Each shipped config runs end to end on the models in checkpoints/, cut to one gamma,
    eight molecules and (except for the autoregressive sampler, whose steps are fixed) four
    steps per setting, so that it takes seconds."""
    monkeypatch.chdir(REPOSITORY)
    config = load_sweep_config(path)
    models = [*config.checkpoints, *([config.classifier] if config.classifier else [])]
    missing = [m for m in models if not (Path(m) / "model.safetensors").is_file()]
    if missing:
        pytest.skip(f"not trained yet: {missing}")
    autoregressive = all(entry.get("sampler") == "ar" for entry in config.samplers)
    small = load_sweep_config(path, {
        "gamma": config.gamma[:1], "steps": config.steps[:1] if autoregressive else [4],
        "num_samples": 8, "workers": 1, "results": str(tmp_path / "rows.csv")})

    table = run_sweep(small, progress=False)

    assert len(table) == len(small.settings())
    assert ((table["num_valid"] + table["num_invalid"]) == 8).all()
    assert (table["nfe"] >= 1).all()
