"""Precision choice: "auto" follows the hardware, explicit choices are kept, bad ones refused."""

import logging
from pathlib import Path

import pytest
import torch

from molremdm import precision
from molremdm.experiments.generate import SamplingSettings
from molremdm.precision import (cpuinfo_lists_bf16, native_bf16, resolve_sampling_precision,
                                resolve_training_precision)


@pytest.fixture
def fake_x86(monkeypatch):
    """An x86 CPU whose bf16 support the test sets; caches are cleared around the test."""
    def make(avx512_bf16: bool, amx: bool):
        monkeypatch.setattr(precision.platform, "machine", lambda: "x86_64")
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
        native_bf16.cache_clear()
    yield make
    native_bf16.cache_clear()
    precision._warn_if_emulated.cache_clear()


@pytest.mark.parametrize("avx512_bf16, amx, expected", [
    (False, False, False), (True, False, True), (False, True, True)])
def test_x86_bf16_follows_cpu_flags(fake_x86, avx512_bf16, amx, expected):
    fake_x86(avx512_bf16, amx)
    assert native_bf16("cpu") is expected
    assert resolve_training_precision("auto", "cpu") == ("bf16-mixed" if expected else "32-true")
    assert resolve_sampling_precision("auto", "cpu") == ("bf16" if expected else "32")


def test_arm_features_line():
    assert cpuinfo_lists_bf16("processor : 0\nFeatures : fp asimd sve bf16 i8mm\n")
    assert not cpuinfo_lists_bf16("processor : 0\nFeatures : fp asimd sve i8mm\n")
    assert not cpuinfo_lists_bf16("processor : 0\n")


def test_explicit_bf16_kept_with_warning_when_emulated(fake_x86, caplog):
    fake_x86(False, False)
    with caplog.at_level(logging.WARNING, logger="molremdm.precision"):
        assert resolve_training_precision("bf16-mixed", "cpu") == "bf16-mixed"
    assert "emulates" in caplog.text
    assert resolve_training_precision("32-true", "cpu") == "32-true"


def test_unknown_precision_names_the_value():
    with pytest.raises(ValueError, match="'fp8'"):
        resolve_training_precision("fp8")
    with pytest.raises(ValueError, match="'16'"):
        SamplingSettings(precision="16")


def test_sampling_settings_store_what_runs():
    """Rows and resume keys of sweeps record the resolved precision, never "auto"."""
    resolved = SamplingSettings(precision="auto").precision
    assert resolved == ("bf16" if native_bf16(precision.default_device_type()) else "32")
    assert SamplingSettings(precision="32").precision == "32"


def test_models_load_on_default_device(monkeypatch):
    """Models and classifiers load on the device that "auto" precision is resolved for."""
    from molremdm.models import checkpoint
    monkeypatch.setattr(checkpoint, "default_device_type", lambda: "meta")
    root = Path(__file__).parents[1] / "checkpoints"
    model = checkpoint.load_model(root / "qm9-mdlm-cfg")
    classifier = checkpoint.load_classifier(root / "qm9-ring-classifier")
    assert next(model.network.parameters()).device.type == "meta"
    assert next(classifier.network.parameters()).device.type == "meta"
    on_cpu = checkpoint.load_model(root / "qm9-mdlm-cfg", device="cpu")
    assert next(on_cpu.network.parameters()).device.type == "cpu"
