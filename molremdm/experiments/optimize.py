"""Search sampling settings for the best novel-mean property at a minimum number of novel
molecules, and keep the best molecules found.

QED and ring count are computed with RDKit. Any other QM9 column (for example ``gap``) has
no value for a new molecule, so it is predicted by a surrogate: a noisy regressor trained with
``molremdm train-classifier --task regress --property COLUMN``, applied at t = 0 (clean input).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from molremdm.chem.metrics import canonicalize_samples, evaluate_samples
from molremdm.chem.properties import PROPERTIES, compute_property
from molremdm.chem.tokenizer import TokenizerError, make_tokenizer
from molremdm.data.prepare import dataset_reference
from molremdm.experiments.generate import SamplingSettings, generate
from molremdm.models.checkpoint import LoadedClassifier, load_classifier, load_model

logger = logging.getLogger(__name__)


@dataclass
class Candidate:
    """One evaluated setting: its settings, metrics, and its novel molecules with values."""

    settings: SamplingSettings
    metrics: dict
    novel: list[tuple[str, float]]

    @property
    def novel_mean(self) -> float:
        return float(np.mean([v for _, v in self.novel])) if self.novel else float("nan")


def surrogate_values(regressor: LoadedClassifier, smiles: list[str]) -> np.ndarray:
    """Property values predicted by a noisy regressor on clean sequences; NaN for molecules the
    regressor's vocabulary or length cannot encode."""
    if regressor.task != "regress":
        raise ValueError(f"surrogate {regressor.source} is a classifier; train one with "
                         "--task regress")
    tokenizer = make_tokenizer(regressor.representation, regressor.vocab)
    length = regressor.network.config.length
    values = np.full(len(smiles), np.nan)
    rows, encoded = [], []
    for index, text in enumerate(smiles):
        try:
            encoded.append(tokenizer.encode(text, length))
            rows.append(index)
        except TokenizerError:
            continue
    if rows:
        device = next(regressor.network.parameters()).device
        tokens = torch.tensor(encoded, device=device)
        with torch.no_grad():
            output = regressor.network.forward_tokens(tokens, torch.zeros(len(rows), device=device))
        values[rows] = (output.squeeze(-1).double().cpu().numpy() * regressor.value_std
                        + regressor.value_mean)
    return values


def property_values(name: str, smiles: list[str], surrogate: LoadedClassifier | None
                    ) -> np.ndarray:
    if name in PROPERTIES:
        return compute_property(name, smiles)
    if surrogate is None:
        raise ValueError(f"property {name!r} cannot be computed for new molecules with RDKit; "
                         "pass --surrogate with a regressor trained on it")
    return surrogate_values(surrogate, smiles)


def search(checkpoint: str | Path, grid: list[SamplingSettings], property_name: str,
           min_novel: int, reference: set[str] | None = None,
           surrogate: str | Path | None = None,
           lowest: bool = False) -> tuple[Candidate | None, list[Candidate]]:
    """Evaluate every setting; the best has the highest (or lowest) novel-mean property among
    settings with at least ``min_novel`` novel molecules (None when no setting qualifies).

    Novelty is scored against ``reference``, by default the model's training data set.
    """
    model = load_model(checkpoint)
    if reference is None:
        reference = dataset_reference(model.config.get("data"))
    regressor = load_classifier(surrogate) if surrogate else None
    candidates = []
    for settings in grid:
        _, smiles = generate(model, settings)
        metrics = evaluate_samples(smiles, reference)
        distinct = {c for c in canonicalize_samples(smiles) if c is not None}
        novel = sorted(distinct - reference)
        values = property_values(property_name, novel, regressor)
        pairs = [(s, float(v)) for s, v in zip(novel, values) if not np.isnan(v)]
        candidates.append(Candidate(settings, metrics, pairs))
        logger.info("%s T=%d %s gamma=%g: %d novel, novel mean %s %.4f", settings.sampler,
                    settings.steps, settings.guidance, settings.gamma, len(pairs),
                    property_name, candidates[-1].novel_mean)
    eligible = [c for c in candidates if len(c.novel) >= min_novel]
    if not eligible:
        return None, candidates
    best = (min if lowest else max)(eligible, key=lambda c: c.novel_mean)
    return best, candidates
