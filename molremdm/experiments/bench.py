"""Speed of training and sampling on this machine, against its measured matmul peak.

All timings are wall-clock medians of repeated runs, after warm-up, on random tokens with the
default model size (width 256, depth 4, 8 heads, length 24, vocabulary 34, batch 256).
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from molremdm.diffusion.masked import MaskedProcess, antithetic_times
from molremdm.models.classifier import ClassifierConfig, NoisyClassifier, target_log_likelihood
from molremdm.models.transformer import DiffusionTransformer, ModelConfig
from molremdm.precision import native_bf16
from molremdm.sampling.classifier_guidance import ClassifierGuidance
from molremdm.sampling.guidance import ClassifierFreeGuidance, LabelDenoiser
from molremdm.sampling.sampler import sample
from molremdm.training.ema import ema_model

VOCAB, LENGTH, MASK, BATCH = 34, 24, 3, 256


def median_seconds(function: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def best_seconds(function: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """Return the fastest of ``repeats`` timed runs. A peak is the best the machine reaches,
    and the median of a few runs of a millisecond-scale kernel moved by 30 % between runs."""
    for _ in range(warmup):
        function()
    fastest = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def matmul_peak_gflops(dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    """Return the square-matrix matmul throughput of ``dtype`` in GFLOP/s."""
    a = torch.randn(size, size, dtype=dtype)
    b = torch.randn(size, size, dtype=dtype)
    seconds = best_seconds(lambda: a @ b, repeats)
    return 2 * size ** 3 / seconds / 1e9


def model_shape_peak_gflops(config: ModelConfig, dtype: torch.dtype, repeats: int = 20
                            ) -> float:
    """Return the matmul throughput at the shapes of one training batch, (B L, D) x (D, 4 D),
    the largest product of the MLP. Small inner dimensions can run below the square-matrix
    peak, so this is the ceiling for a step of this model size."""
    rows, D = BATCH * config.length, config.width
    a = torch.randn(rows, D, dtype=dtype)
    b = torch.randn(D, config.mlp_ratio * D, dtype=dtype)
    seconds = best_seconds(lambda: a @ b, repeats)
    return 2 * rows * D * config.mlp_ratio * D / seconds / 1e9


def model_config(width: int = 256, depth: int = 4) -> ModelConfig:
    return ModelConfig(vocab_size=VOCAB, length=LENGTH, width=width, depth=depth, heads=8,
                       num_classes=2)


def training_flops_per_token(config: ModelConfig) -> float:
    """6 N (weights, forward and backward) + 12 layers L D (attention scores), N without
    embeddings: the usual transformer estimate (Chowdhery et al. 2022, appendix B)."""
    D, F = config.width, config.mlp_ratio * config.width
    weights = config.depth * (4 * D * D + 2 * D * F) + D * config.vocab_size
    return 6 * weights + 12 * config.depth * config.length * D


def molremdm_step(config: ModelConfig, bf16: bool, compiled: bool = False,
                  fused_adamw: bool = False) -> Callable[[], None]:
    """Build one training step as molremdm runs it: MDLM loss, backward, clipping, AdamW, EMA.
    ``compiled`` wraps the network in torch.compile and ``fused_adamw`` uses the fused AdamW
    kernel, for measuring those variants."""
    model, process = DiffusionTransformer(config), MaskedProcess(MASK)
    average = ema_model(model, 0.999)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused_adamw or None)
    network = torch.compile(model) if compiled else model
    x = torch.randint(4, VOCAB, (BATCH, LENGTH))
    labels = torch.randint(0, 3, (BATCH,))

    def step() -> None:
        t = antithetic_times(BATCH, 1e-3)
        z = process.corrupt(x, t)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = network(z, t, labels)
        loss = process.loss(logits, x, z, t).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        average.update_parameters(model)
    return step


def baseline_step(config: ModelConfig) -> Callable[[], None]:
    """Build the baseline step: a plain fp32 ``nn.TransformerEncoder`` of the same size and
    batch in a plain loop."""
    D = config.width
    layer = nn.TransformerEncoderLayer(D, config.heads, config.mlp_ratio * D, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True)
    encoder = nn.TransformerEncoder(layer, config.depth, enable_nested_tensor=False)
    embedding, head = nn.Embedding(VOCAB, D), nn.Linear(D, VOCAB)
    parameters = [*encoder.parameters(), *embedding.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=1e-3)
    x = torch.randint(4, VOCAB, (BATCH, LENGTH))

    def step() -> None:
        logits = head(encoder(embedding(x)))
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), x.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return step


def sampling_report(config: ModelConfig, num_samples: int, steps: int, repeats: int,
                    bf16: bool, guided_rows: int) -> dict[str, float]:
    network = DiffusionTransformer(config).eval()
    plain = LabelDenoiser(network, 2, 2, time_conditioned=False)
    guided = ClassifierFreeGuidance(network, 1, 2.0, 2, time_conditioned=False)
    classifier = NoisyClassifier(ClassifierConfig(vocab_size=VOCAB, length=LENGTH)).eval()
    log_likelihood = target_log_likelihood(classifier, 1)
    z = torch.full((num_samples, LENGTH), MASK)
    t = torch.full((num_samples,), 0.5)
    report: dict[str, float] = {}

    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        forward = median_seconds(lambda: plain(z, t), repeats)
        report["seconds_per_nfe"] = forward
        report["cfg_step_ratio"] = median_seconds(lambda: guided(z, t), repeats) / forward
        # every step runs the whole batch (no reuse of unchanged rows), so the ratio measures
        # the loop's own cost per network evaluation
        every_step = LabelDenoiser(network, 2, 2, time_conditioned=True)
        run = sample(every_step, num_samples=num_samples, length=LENGTH, mask_id=MASK,
                     steps=steps, strategy="remdm-loop", generator=torch.Generator().manual_seed(0))
        report["sampler_overhead"] = run.wall_time / (run.nfe * forward)
        report["molecules_per_s"] = num_samples / run.wall_time

    # classifier guidance: cost per step for guided_rows sequences at falling masked fractions
    small = z[:guided_rows].clone()
    for masked in (LENGTH, LENGTH // 2, LENGTH // 4):
        current = small.clone()
        current[:, masked:] = 5
        for mode in ("exact", "first-order"):
            wrapper = ClassifierGuidance(plain, log_likelihood, 2.0, mode, MASK)
            seconds = median_seconds(lambda w=wrapper, c=current: w.transition_log_weights(
                c, t[:guided_rows], VOCAB, remasking=False), max(1, repeats // 2), warmup=1)
            key = f"cbg_{mode.replace('-', '_')}_step_s_per_sequence_masked{masked}"
            report[key] = seconds / guided_rows
    return report


def run_bench(quick: bool = False) -> dict:
    """Measure everything; ``quick`` uses fewer repeats and a smaller sampling run."""
    repeats = 3 if quick else 10
    config = model_config()
    bf16 = native_bf16("cpu")  # emulated bf16 would measure the emulation, not the model
    report = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
              "processor": platform.processor(), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "quick": quick,
              "bf16_native": bf16, "train_dtype": "bf16" if bf16 else "fp32"}
    report["matmul_peak_gflops_fp32"] = matmul_peak_gflops(torch.float32)
    report["matmul_peak_gflops"] = (matmul_peak_gflops(torch.bfloat16) if bf16
                                    else report["matmul_peak_gflops_fp32"])
    report["matmul_model_shape_gflops"] = model_shape_peak_gflops(
        config, torch.bfloat16 if bf16 else torch.float32)

    tokens = BATCH * LENGTH
    ours = median_seconds(molremdm_step(config, bf16), repeats)
    baseline = median_seconds(baseline_step(config), repeats)
    report["train_tokens_per_s"] = tokens / ours
    report["baseline_train_tokens_per_s"] = tokens / baseline
    report["train_speedup_over_baseline"] = baseline / ours
    report["train_tokens_per_s_fp32"] = tokens / median_seconds(molremdm_step(config, False),
                                                                repeats)
    flops = training_flops_per_token(config) * report["train_tokens_per_s"]
    report["train_model_gflops"] = flops / 1e9
    report["train_mfu"] = flops / 1e9 / report["matmul_peak_gflops"]
    report["train_mfu_model_shape"] = flops / 1e9 / report["matmul_model_shape_gflops"]

    sampling = sampling_report(config, 256 if quick else 1024, 32 if quick else 128,
                               repeats, bf16=False, guided_rows=4 if quick else 32)
    report.update(sampling)
    return report
