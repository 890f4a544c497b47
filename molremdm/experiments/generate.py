"""Sampling from a loaded model with a chosen sampler and guidance, decoding and scoring."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from molremdm.chem.metrics import canonicalize_samples
from molremdm.chem.properties import compute_property
from molremdm.data.cache import atomic_write_text
from molremdm.diffusion.uniform import UniformProcess
from molremdm.models.checkpoint import LoadedModel, load_classifier
from molremdm.models.classifier import target_log_likelihood
from molremdm.precision import resolve_sampling_precision
from molremdm.sampling.classifier_guidance import ClassifierGuidance
from molremdm.sampling.autoregressive import sample_autoregressive
from molremdm.sampling.guidance import ClassifierFreeGuidance, LabelDenoiser
from molremdm.sampling.sampler import SampleResult, sample
from molremdm.sampling.uniform_sampler import sample_uniform
from molremdm.sampling.strategies import make_strategy

GUIDANCE_KINDS = ("none", "cfg", "cbg")
UDLM_SAMPLER = "udlm"  # exact-posterior sampler of uniform-noise models
AR_SAMPLER = "ar"  # token-by-token sampling of the autoregressive baseline


@dataclass(frozen=True)
class SamplingSettings:
    """Everything that decides a sampling run besides the model."""

    num_samples: int = 1024
    steps: int = 64
    sampler: str = "mdlm"
    eta: float | None = None
    t_on: float | None = None
    t_off: float | None = None
    alpha_on: float | None = None
    t_switch: float | None = None
    top_p: float | None = None
    temperature: float = 1.0
    guidance: str = "none"
    gamma: float = 0.0
    target: int = 1
    classifier: str | None = None
    cbg_mode: str = "exact"
    seed: int = 0
    batch_size: int | None = None
    precision: str = "auto"  # resolved to "bf16" or "32" on construction

    def __post_init__(self) -> None:
        if self.guidance not in GUIDANCE_KINDS:
            raise ValueError(f"guidance {self.guidance!r} is not one of {GUIDANCE_KINDS}")
        # frozen dataclass: store the resolved precision so rows and keys name what ran
        object.__setattr__(self, "precision", resolve_sampling_precision(self.precision))
        if self.guidance == "cbg" and self.classifier is None:
            raise ValueError("classifier guidance needs a classifier: pass --classifier PATH")
        if self.cbg_mode not in ("exact", "first-order"):
            raise ValueError(f"cbg_mode {self.cbg_mode!r} is not 'exact' or 'first-order'")
        if self.num_samples < 1 or self.steps < 1:
            raise ValueError(f"num_samples and steps must be >= 1, got {self.num_samples}, "
                             f"{self.steps}")
        self.strategy_options()  # validates the sampler name, its options and their ranges

    def strategy_options(self) -> dict[str, float]:
        options = {"eta": self.eta, "t_on": self.t_on, "t_off": self.t_off,
                   "alpha_on": self.alpha_on, "t_switch": self.t_switch}
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p={self.top_p} is outside the allowed range (0, 1]")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.temperature != 1.0 and self.sampler != AR_SAMPLER:
            raise ValueError("temperature applies to the autoregressive sampler only (--sampler ar)")
        if self.sampler in (UDLM_SAMPLER, AR_SAMPLER):
            given = sorted(k for k, v in options.items() if v is not None)
            if self.sampler == UDLM_SAMPLER and self.top_p is not None:
                given.append("top_p")
            if given:
                raise ValueError(f"sampler {self.sampler!r} does not take option(s) {given}")
            if self.sampler == AR_SAMPLER:
                return {"strategy": AR_SAMPLER, "temperature": self.temperature}
            return {"strategy": UDLM_SAMPLER}
        return make_strategy(self.sampler, **options).describe()


def check_combination(model: LoadedModel, settings: SamplingSettings) -> None:
    """Raise NotImplementedError for a sampler or guidance that does not fit the model."""
    if model.process is None or settings.sampler == AR_SAMPLER:
        if model.process is not None or settings.sampler != AR_SAMPLER:
            raise NotImplementedError(
                f"sampler 'ar' and autoregressive models go together; {model.source} is "
                f"{'an autoregressive' if model.process is None else 'a diffusion'} model and "
                f"the sampler is {settings.sampler!r}")
        if settings.guidance == "cbg":
            raise NotImplementedError(
                "classifier guidance is not implemented for the autoregressive baseline (its "
                "classifier would have to score prefixes); use --guidance cfg")
        return
    uniform = isinstance(model.process, UniformProcess)
    if uniform and settings.sampler != UDLM_SAMPLER:
        raise NotImplementedError(
            f"sampler {settings.sampler!r} remasks tokens, which needs a masked diffusion "
            f"model; {model.source} is a uniform-noise (UDLM) model: use --sampler udlm")
    if not uniform and settings.sampler == UDLM_SAMPLER:
        raise NotImplementedError(
            f"sampler 'udlm' needs a uniform-noise model; {model.source} is a masked "
            "diffusion model: use mdlm or a remdm strategy")


def _classifier_guidance(model: LoadedModel, settings: SamplingSettings, base):
    classifier = load_classifier(settings.classifier, next(model.network.parameters()).device)
    if (classifier.representation, classifier.vocab) != (model.tokenizer.representation,
                                                         model.tokenizer.vocab):
        raise ValueError(f"classifier {settings.classifier} was trained on another vocabulary "
                         f"({classifier.representation}, {len(classifier.vocab)} tokens) than "
                         f"model {model.source} ({model.tokenizer.representation}, "
                         f"{len(model.tokenizer)} tokens); train it on the same data")
    if classifier.network.config.length != model.network.config.length:
        raise ValueError(f"classifier {settings.classifier} reads sequences of "
                         f"{classifier.network.config.length} tokens but model {model.source} "
                         f"writes {model.network.config.length}; train the classifier with the "
                         "model's --length")
    if classifier.process.name != model.process.name:
        raise ValueError(f"classifier {settings.classifier} was trained on "
                         f"{classifier.process.name} noise but the model uses "
                         f"{model.process.name} noise; train a matching classifier")
    log_likelihood = target_log_likelihood(classifier.network, settings.target)
    editable = "all" if isinstance(model.process, UniformProcess) else "masked"
    return ClassifierGuidance(base, log_likelihood, settings.gamma, settings.cbg_mode,
                              model.process.mask_id, editable)


def build_denoiser(model: LoadedModel, settings: SamplingSettings):
    """Build the denoiser for a model and guidance setting.

    Unguided sampling of a conditional model uses the null label (exactly D-CFG at gamma = 0);
    classifier guidance wraps that unguided denoiser.
    """
    network, classes = model.network, model.num_classes
    time_conditioned = network.config.time_conditioning
    if settings.guidance == "cfg":
        return ClassifierFreeGuidance(model, settings.target, settings.gamma, classes,
                                      time_conditioned)
    label = classes if classes else None
    base = LabelDenoiser(model, label, classes, time_conditioned)
    if settings.guidance == "cbg":
        return _classifier_guidance(model, settings, base)
    return base


def generate(model: LoadedModel, settings: SamplingSettings,
             progress: bool = False) -> tuple[SampleResult, list[str | None]]:
    """Sample and decode. Returns the run record and one SMILES per sample (None if invalid)."""
    check_combination(model, settings)
    denoiser = build_denoiser(model, settings)
    options = {k: v for k, v in settings.strategy_options().items() if k != "strategy"}
    device = next(model.network.parameters()).device
    generator = torch.Generator(device=device).manual_seed(settings.seed)
    length = model.network.config.length
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16,
                                         enabled=settings.precision == "bf16"):
        if settings.sampler == AR_SAMPLER:
            null_label = model.num_classes if model.num_classes else None
            guided = settings.guidance == "cfg"
            label = settings.target if guided else null_label
            result = sample_autoregressive(
                model, num_samples=settings.num_samples, length=length,
                bos_id=model.tokenizer.bos_id, pad_id=model.tokenizer.pad_id,
                mask_id=model.tokenizer.mask_id, label=label, null_label=null_label,
                gamma=settings.gamma if guided else None,
                temperature=settings.temperature, top_p=settings.top_p, generator=generator,
                device=device, progress=progress)
        elif settings.sampler == UDLM_SAMPLER:
            result = sample_uniform(denoiser, num_samples=settings.num_samples, length=length,
                                    process=model.process, steps=settings.steps,
                                    generator=generator, batch_size=settings.batch_size,
                                    device=device, progress=progress)
        else:
            result = sample(denoiser, num_samples=settings.num_samples, length=length,
                            mask_id=model.process.mask_id, steps=settings.steps,
                            strategy=settings.sampler, generator=generator,
                            batch_size=settings.batch_size, schedule=model.process.schedule,
                            device=device, progress=progress, top_p=settings.top_p, **options)
    if isinstance(denoiser, ClassifierGuidance):
        result.classifier_calls = denoiser.classifier_evaluations / settings.num_samples
    decoded = model.tokenizer.decode_batch(result.tokens.cpu())
    return result, [d.smiles for d in decoded]


def run_record(settings: SamplingSettings, result: SampleResult, metrics: dict[str, Any],
               checkpoint: str) -> dict[str, Any]:
    """Flatten a run into one results row: sampling parameters, strategy options, NFE,
    classifier calls per molecule, wall time and metrics."""
    record = {"checkpoint": checkpoint, **asdict(settings), **result.strategy,
              "nfe": result.nfe, "classifier_calls": round(result.classifier_calls, 1),
              "wall_time_s": round(result.wall_time, 3), **metrics}
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}


def samples_table(smiles: list[str | None]) -> str:
    """CSV text with one row per sample: smiles (empty when decoding failed), valid,
    canonical_smiles, qed, ring_count (empty when invalid)."""
    canonical = canonicalize_samples(smiles)
    valid = [c for c in canonical if c]
    values = {name: dict(zip(valid, compute_property(name, valid)))
              for name in ("qed", "ring_count")}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["smiles", "valid", "canonical_smiles", "qed", "ring_count"])
    for raw, canon in zip(smiles, canonical):
        if canon is None:
            writer.writerow([raw or "", 0, "", "", ""])
        else:
            writer.writerow([raw, 1, canon, f"{values['qed'][canon]:.6f}",
                             int(values["ring_count"][canon])])
    return buffer.getvalue()


def write_outputs(smiles: list[str | None], record: dict[str, Any], out: Path | None,
                  json_path: Path | None) -> None:
    """Write the samples CSV and the JSON record, each atomically."""
    if out is not None:
        atomic_write_text(out, samples_table(smiles))
    if json_path is not None:
        atomic_write_text(json_path, json.dumps(record, indent=2) + "\n")
