"""Time the training-step variants behind molremdm's speed choices on this machine.

Usage:
    python scripts/bench_variants.py [--repeats 8] [--skip-compile] [--sampling-rows 256]

Prints, for the default model size and batch (see molremdm/experiments/bench.py), in bf16 where
the CPU runs it natively and in float32 otherwise:
  * attention forward + backward for one layer's shapes (B = 256, 8 heads, L = 24, d = 32):
    torch's fused scaled_dot_product_attention against molremdm's explicit form;
  * inference in one batch against cache-sized chunks, for the network and the classifier;
  * sampling --sampling-rows sequences at T = 128 with mdlm and remdm-loop, running the network
    on the whole batch at every step against only on the sequences that changed (one run each;
    how many positions change per step is set by the schedule, not by the network's weights);
  * the training step (MDLM loss, backward, clipping, AdamW, EMA): eager, eager with torch's
    fused attention in place of the explicit one, with fused AdamW, with torch.compile of the
    network, and with compile plus fused AdamW.
Medians of --repeats runs after two warm-up runs; the first call of a compiled step includes
compilation and is reported separately.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import molremdm.models.transformer as transformer
from molremdm.experiments.bench import (BATCH, LENGTH, MASK, VOCAB, median_seconds, model_config,
                                        molremdm_step)
from molremdm.models.classifier import ClassifierConfig, NoisyClassifier, target_log_likelihood
from molremdm.models.transformer import INFERENCE_CHUNK_ROWS, DiffusionTransformer, attention
from molremdm.precision import native_bf16
from molremdm.sampling.guidance import LabelDenoiser
from molremdm.sampling.sampler import sample

BF16 = native_bf16("cpu")
DTYPE = torch.bfloat16 if BF16 else torch.float32


def attention_times(repeats: int) -> dict[str, float]:
    config = model_config()
    heads, head_dim = config.heads, config.width // config.heads
    q, k, v = (torch.randn(BATCH, heads, LENGTH, head_dim, dtype=DTYPE,
                           requires_grad=True) for _ in range(3))

    def timed(function):
        def run():
            function(q, k, v).float().sum().backward()
        return median_seconds(run, repeats)

    return {"fused sdpa": timed(F.scaled_dot_product_attention), "explicit": timed(attention)}


def chunk_times(repeats: int) -> dict[str, float]:
    """Time forward passes without gradients: the network on 1,024 and 2,048 rows in one
    batch against 256-row chunks, and the default classifier on 8,192 edited sequences in
    chunks of 512 against 4,096."""
    network = DiffusionTransformer(model_config()).eval()
    classifier = NoisyClassifier(ClassifierConfig(vocab_size=VOCAB, length=LENGTH)).eval()
    log_likelihood = target_log_likelihood(classifier, 1)
    times = {}
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16):
        for rows in (1024, 2048):
            z = torch.full((rows, LENGTH), MASK)
            labels = torch.full((rows,), 2)
            times[f"network, {rows} rows, one batch"] = median_seconds(
                lambda: network._forward(z, None, labels), repeats)
            times[f"network, {rows} rows, {INFERENCE_CHUNK_ROWS}-row chunks"] = median_seconds(
                lambda: network(z, None, labels), repeats)
        edits = torch.nn.functional.one_hot(torch.randint(0, VOCAB, (8192, LENGTH)), VOCAB)
        edits, t = edits.float(), torch.rand(8192)
        for chunk in (4096, 512):
            def score(chunk=chunk):
                for start in range(0, len(edits), chunk):
                    log_likelihood(edits[start:start + chunk], t[start:start + chunk])
            times[f"classifier, 8192 edits, {chunk}-row chunks"] = median_seconds(score, repeats)
    return times


def sampling_times(rows: int, steps: int = 128) -> dict[str, tuple[float, int]]:
    """Return (seconds, NFE per sequence) of one sampling run per strategy and reuse mode."""
    network = DiffusionTransformer(model_config()).eval()
    times = {}
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=BF16):
        for strategy in ("mdlm", "remdm-loop"):
            for reuse in (False, True):
                # a time-conditioned denoiser is never reused, so the flag selects the mode
                denoiser = LabelDenoiser(network, 2, 2, time_conditioned=not reuse)
                run = sample(denoiser, num_samples=rows, length=LENGTH, mask_id=MASK,
                             steps=steps, strategy=strategy,
                             generator=torch.Generator().manual_seed(0))
                mode = "changed sequences only" if reuse else "whole batch every step"
                times[f"{strategy}, {mode}"] = (run.wall_time, run.nfe)
    return times


def sdpa_attention(q, k, v, dropout=0.0, causal=False):
    """Torch's fused kernel with the signature of molremdm's attention."""
    return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=causal)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8, help="timed runs per variant")
    parser.add_argument("--skip-compile", action="store_true", help="leave out torch.compile")
    parser.add_argument("--sampling-rows", type=int, default=256,
                        help="sequences per sampling run (0 leaves sampling out)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{'bf16' if BF16 else 'float32 (no native bf16 on this CPU)'}")
    for name, seconds in attention_times(args.repeats).items():
        print(f"attention fwd+bwd, {name}: {1000 * seconds:.1f} ms")

    for name, seconds in chunk_times(args.repeats).items():
        print(f"{name}: {seconds:.3f} s")

    if args.sampling_rows > 0:
        for name, (seconds, nfe) in sampling_times(args.sampling_rows).items():
            print(f"sampling {args.sampling_rows} sequences at T = 128, {name}: {seconds:.1f} s, "
                  f"NFE {nfe}")

    variants = [("eager", False, False, False), ("eager, fused SDPA attention", False, False, True),
                ("fused AdamW", False, True, False)]
    if not args.skip_compile:
        variants += [("torch.compile", True, False, False),
                     ("torch.compile + fused AdamW", True, True, False)]
    explicit = transformer.attention
    for name, compiled, fused, sdpa in variants:
        torch.manual_seed(0)
        # the transformer looks attention up in its module at call time, so this swaps it in
        transformer.attention = sdpa_attention if sdpa else explicit
        step = molremdm_step(model_config(), bf16=BF16, compiled=compiled, fused_adamw=fused)
        start = time.perf_counter()
        step()
        first = time.perf_counter() - start
        seconds = median_seconds(step, args.repeats)
        transformer.attention = explicit
        print(f"training step, {name}: {seconds:.3f} s ({BATCH * LENGTH / seconds:,.0f} "
              f"tokens/s; first call {first:.1f} s)")


if __name__ == "__main__":
    main()
