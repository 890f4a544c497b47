"""W&B runs offline without a key or network, and each run gets its own id."""

import pytest

from molremdm.training.loggers import make_logger
from molremdm.training.run import config_from_dict, train


@pytest.fixture
def no_wandb_credentials(monkeypatch, tmp_path):
    for variable in ("WANDB_API_KEY", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.netrc
    monkeypatch.setenv("WANDB_SILENT", "true")


def record_log(run_dir):
    """The bytes of an offline run's run-*.wandb record log, which wandb 0.31 writes for
    `wandb sync` and where logged keys appear as plain strings.

    The wandb service process may still hold part of the log in a buffer after
    ``run.finish()`` returns; ``wandb.teardown()`` waits until the service has written it.
    """
    import wandb

    wandb.teardown()
    logs = list(run_dir.glob("run-*.wandb"))
    assert len(logs) == 1
    return logs[0].read_bytes()


def test_unknown_logger_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown logger 'tensorboard'"):
        make_logger("tensorboard", tmp_path, "run")


def test_wandb_offline_run_holds_config_and_metrics(no_wandb_credentials, small_data, tmp_path):
    config = config_from_dict({
        "network": {"width": 32, "depth": 1, "heads": 2},
        "optim": {"max_steps": 4, "warmup_steps": 1},
        "run": {"batch_size": 32, "val_every_steps": 2, "sample_every_validation": 8,
                "precision": "32-true", "output_dir": str(tmp_path), "name": "wb",
                "logger": "wandb"},
    })
    train(config, prepared=small_data)

    runs = list((tmp_path / "wb" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    records = record_log(runs[0])
    for key in (b"label_dropout", b"batch_size", b"val/nll", b"train/loss", b"val/validity"):
        assert key in records, key


def test_two_unnamed_wandb_loggers_get_distinct_ids(no_wandb_credentials, tmp_path):
    first = make_logger("wandb", tmp_path, "same-name")
    second = make_logger("wandb", tmp_path, "same-name")
    assert first._wandb_init["id"] != second._wandb_init["id"]
    assert first._wandb_init["mode"] == "offline"


def test_wandb_sample_table_logged(no_wandb_credentials, small_data, tmp_path):
    config = config_from_dict({
        "network": {"width": 32, "depth": 1, "heads": 2},
        "optim": {"max_steps": 2, "warmup_steps": 1},
        "run": {"batch_size": 32, "val_every_steps": 2, "sample_every_validation": 8,
                "precision": "32-true", "output_dir": str(tmp_path), "name": "tables",
                "logger": "wandb"},
    })
    train(config, prepared=small_data)
    run = next((tmp_path / "tables" / "wandb").glob("offline-run-*"))
    assert b"val/samples" in record_log(run)
    assert list((run / "files" / "media" / "table" / "val").glob("samples_*.table.json"))


def test_pareto_logs_front_and_plot_offline(no_wandb_credentials, tmp_path):
    import pandas as pd

    from molremdm.cli import main
    results = tmp_path / "results.csv"
    pd.DataFrame({"gamma": [1, 2], "steps": [32, 32], "num_novel": [100, 60],
                  "novel_mean_ring_count": [4.0, 4.5]}).to_csv(results, index=False)
    assert main(["pareto", str(results), "--front-csv", str(tmp_path / "f.csv"), "-o",
                 str(tmp_path / "plots" / "f.png"), "--logger", "wandb"]) == 0
    run = next((tmp_path / "plots" / "wandb").glob("offline-run-*"))
    media = run / "files" / "media"
    assert list((media / "table" / "pareto").glob("front_*.table.json"))
    assert list((media / "images" / "pareto").glob("plot_*.png"))
