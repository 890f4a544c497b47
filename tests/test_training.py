"""Training runs on a tiny model: exact resume, EMA in checkpoints, export and loading."""

import json
import subprocess
import sys

import lightning as L
import pytest
import torch

from molremdm.models.checkpoint import CheckpointError, load_model
from molremdm.training.run import config_from_dict, train


def tiny_config(tmp_path, name, **run):
    return config_from_dict({
        "network": {"width": 32, "depth": 1, "heads": 2},
        "optim": {"max_steps": 8, "warmup_steps": 2, "ema_decay": 0.9},
        "run": {"batch_size": 32, "val_every_steps": 4, "sample_every_validation": 16,
                "precision": "32-true", "output_dir": str(tmp_path), "name": name, **run},
    })


class SimulatedKill(Exception):
    pass


class RecordBatches(L.Callback):
    def __init__(self, stop_after=None):
        self.seen, self.stop_after = [], stop_after

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if self.stop_after is not None and trainer.global_step == self.stop_after:
            raise SimulatedKill  # a kill right after the step-4 checkpoint
        self.seen.append(batch[0].sum().item())


def weights(module_state, prefix):
    return {k: v for k, v in module_state.items() if k.startswith(prefix)}


@pytest.fixture(scope="module")
def full_run(small_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("full")
    recorder = RecordBatches()
    train(tiny_config(folder, "full"), prepared=small_data, callbacks=[recorder])
    state = torch.load(folder / "full" / "checkpoints" / "last.ckpt", weights_only=True)
    return folder, recorder.seen, state


def test_resume_mid_epoch_is_exact(full_run, small_data, tmp_path):
    _, full_batches, full_state = full_run
    first = RecordBatches(stop_after=4)
    with pytest.raises(SimulatedKill):
        train(tiny_config(tmp_path, "cut"), prepared=small_data, callbacks=[first])
    checkpoint = tmp_path / "cut" / "checkpoints" / "last.ckpt"
    assert torch.load(checkpoint, weights_only=True)["global_step"] == 4

    second = RecordBatches()
    train(tiny_config(tmp_path, "cut"), resume=checkpoint, prepared=small_data,
          callbacks=[second])
    assert first.seen + second.seen == full_batches
    resumed = torch.load(checkpoint, weights_only=True)
    assert resumed["global_step"] == 8
    for key, value in full_state["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][key], value, msg=key)


def test_checkpoint_holds_raw_and_ema_weights(full_run):
    _, _, state = full_run
    raw = weights(state["state_dict"], "model.")
    ema = weights(state["state_dict"], "ema.module.")
    assert len(raw) == len(ema) > 0
    differs = [k for k in raw if not torch.equal(raw[k], ema["ema.module." + k[len("model."):]])]
    assert differs, "EMA weights equal the raw weights: the average was not kept separately"
    assert int(state["state_dict"]["ema.n_averaged"]) == 8


def test_export_loads_without_extra_arguments(full_run, small_data):
    folder, _, state = full_run
    model = load_model(folder / "full" / "model")
    assert model.tokenizer.vocab == small_data.tokenizer.vocab
    assert model.label_definition == small_data.label_definition
    config = json.loads((folder / "full" / "model" / "config.json").read_text())
    assert config["versions"]["rdkit"]
    from_ckpt = load_model(folder / "full" / "checkpoints" / "last.ckpt")
    assert from_ckpt.tokenizer.vocab == model.tokenizer.vocab
    ema = weights(state["state_dict"], "ema.module.")
    for key, value in from_ckpt.network.state_dict().items():
        assert torch.equal(value, ema["ema.module." + key])


def test_corrupt_weights_rejected(full_run, tmp_path):
    folder, _, _ = full_run
    copy = tmp_path / "model"
    copy.mkdir()
    (copy / "config.json").write_text((folder / "full" / "model" / "config.json").read_text())
    (copy / "model.safetensors").write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="corrupt or not safetensors"):
        load_model(copy)


def test_truncated_lightning_checkpoint_rejected(full_run, tmp_path):
    folder, _, _ = full_run
    data = (folder / "full" / "checkpoints" / "last.ckpt").read_bytes()
    broken = tmp_path / "broken.ckpt"
    broken.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot read Lightning checkpoint"):
        load_model(broken)


def test_pickled_code_is_never_run(tmp_path):
    class Payload:
        def __reduce__(self):
            return (print, ("code from the checkpoint ran",))

    path = tmp_path / "evil.ckpt"
    torch.save({"hyper_parameters": Payload()}, path)
    with pytest.raises(CheckpointError, match="cannot read Lightning checkpoint"):
        load_model(path)


def test_foreign_config_rejected(full_run, tmp_path):
    folder, _, _ = full_run
    copy = tmp_path / "model"
    copy.mkdir()
    (copy / "model.safetensors").write_bytes(
        (folder / "full" / "model" / "model.safetensors").read_bytes())
    (copy / "config.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(CheckpointError, match="not a molremdm model config"):
        load_model(copy)


def test_vocabulary_mismatch_rejected(full_run, tmp_path):
    folder, _, _ = full_run
    copy = tmp_path / "model"
    copy.mkdir()
    (copy / "model.safetensors").write_bytes(
        (folder / "full" / "model" / "model.safetensors").read_bytes())
    config = json.loads((folder / "full" / "model" / "config.json").read_text())
    config["vocab"] = config["vocab"] + ["[Si]"]
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="does not match the model's vocab_size"):
        load_model(copy)


def test_missing_checkpoint_named(tmp_path):
    with pytest.raises(CheckpointError, match="nowhere.ckpt not found"):
        load_model(tmp_path / "nowhere.ckpt")


def test_training_without_wandb_does_not_import_it(tmp_path):
    code = (
        "import sys\n"
        "from molremdm.training.run import train, config_from_dict\n"
        "from molremdm.cli import build_parser\n"
        "build_parser()\n"
        "assert 'wandb' not in sys.modules, 'wandb imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
