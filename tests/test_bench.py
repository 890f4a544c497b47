"""The benchmark's FLOP count matches the model it measures."""

import torch

from molremdm.experiments.bench import model_config, training_flops_per_token
from molremdm.models.transformer import DiffusionTransformer


def test_flops_per_token_counts_model_weights():
    config = model_config(width=64, depth=3)
    model = DiffusionTransformer(config)
    # 6 N: N counts the entries of the weight matrices that every token multiplies, i.e. the
    # linear layers of the blocks and the output head (embeddings are lookups)
    matrix_entries = sum(module.weight.numel() for name, module in model.named_modules()
                         if isinstance(module, torch.nn.Linear) and not name.startswith("time"))
    attention = 12 * config.depth * config.length * config.width  # QK^T and AV, fwd + bwd
    assert training_flops_per_token(config) == 6 * matrix_entries + attention
