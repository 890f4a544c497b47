"""Shared fixtures: small networks, the bundled QM9 table and a tiny prepared data set."""

from __future__ import annotations

import pandas as pd
import pytest
import torch

from molremdm.data.prepare import DataConfig, PreparedData, prepare_data
from molremdm.data.qm9 import load_qm9
from molremdm.models.transformer import DiffusionTransformer, ModelConfig


@pytest.fixture(scope="session")
def qm9() -> pd.DataFrame:
    """The processed QM9 table (built once per machine, then read from the cache)."""
    return load_qm9()


@pytest.fixture(scope="session")
def small_data(qm9: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> PreparedData:
    """2,000 QM9 molecules, tokenised to length 24 with ring-count labels."""
    cache = tmp_path_factory.mktemp("cache")
    config = DataConfig(cache_dir=str(cache))
    return prepare_data(config, qm9.iloc[:2000].reset_index(drop=True))


@pytest.fixture
def tiny_network() -> DiffusionTransformer:
    """A random two-class conditional network over a 10-token vocabulary, length 6."""
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=10, length=6, width=32, depth=1, heads=2, num_classes=2)
    return DiffusionTransformer(config).eval()
