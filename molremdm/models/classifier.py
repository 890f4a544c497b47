"""Noisy property classifier (or regressor) on corrupted sequences, for classifier guidance.

Shapes: B batch, L sequence length, V vocabulary, D width, C outputs. The input is one-hot
rows (B, L, V) float, so the same network scores token ids and, for first-order guidance,
takes gradients with respect to its input.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from molremdm.models.transformer import Block, ModelConfig, timestep_features


@dataclass(frozen=True)
class ClassifierConfig:
    """Size of a noisy classifier. ``outputs`` is the number of classes, or 1 for regression."""

    vocab_size: int
    length: int
    width: int = 64
    depth: int = 2
    heads: int = 4
    mlp_ratio: int = 4
    outputs: int = 2

    def __post_init__(self) -> None:
        if self.outputs < 1:
            raise ValueError(f"classifier outputs must be >= 1, got {self.outputs}")
        ModelConfig(vocab_size=self.vocab_size, length=self.length, width=self.width,
                    depth=self.depth, heads=self.heads, mlp_ratio=self.mlp_ratio)  # validates

    def to_dict(self) -> dict:
        return asdict(self)


class NoisyClassifier(nn.Module):
    """Bidirectional transformer with time conditioning and mean pooling over positions."""

    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        D = config.width
        self.token_projection = nn.Linear(config.vocab_size, D, bias=False)
        self.position_embedding = nn.Parameter(torch.randn(config.length, D) * 0.02)
        self.time_mlp = nn.Sequential(nn.Linear(D, D), nn.SiLU(), nn.Linear(D, D))
        block_config = ModelConfig(vocab_size=config.vocab_size, length=config.length, width=D,
                                   depth=config.depth, heads=config.heads,
                                   mlp_ratio=config.mlp_ratio)
        self.blocks = nn.ModuleList(Block(block_config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(D)
        self.head = nn.Linear(D, config.outputs)

    def forward(self, one_hot: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """one_hot: (B, L, V) float; t: (B,). Returns logits (B, C)."""
        h = self.token_projection(one_hot) + self.position_embedding  # (B, L, D)
        h = h + self.time_mlp(timestep_features(t, self.config.width)).unsqueeze(1)
        for block in self.blocks:
            h = block(h)
        return self.head(self.norm(h).mean(dim=1))

    def forward_tokens(self, tokens: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Logits (B, C) for token ids (B, L)."""
        one_hot = nn.functional.one_hot(tokens, self.config.vocab_size).float()
        return self(one_hot, t)


def target_log_likelihood(classifier: NoisyClassifier, target: int | float,
                          value_scale: float = 1.0):
    """The guidance callable ``(one_hot, t) -> log p(target | z_t)`` of shape (B,).

    A classifier gives the log-softmax of its logits at class ``target``; a regressor
    (one output) gives the Gaussian log-likelihood -(f(z) - target)^2 / (2 value_scale^2) of a
    target value in its (standardised) output units.
    """
    if classifier.config.outputs == 1:
        def log_likelihood(one_hot: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            prediction = classifier(one_hot, t).squeeze(-1).float()
            return -0.5 * ((prediction - target) / value_scale) ** 2
    else:
        if not 0 <= int(target) < classifier.config.outputs:
            raise ValueError(f"target class must be in 0..{classifier.config.outputs - 1}, "
                             f"got {target}")

        def log_likelihood(one_hot: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            logits = classifier(one_hot, t).float()
            return torch.log_softmax(logits, dim=-1)[:, int(target)]
    return log_likelihood
