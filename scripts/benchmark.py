"""Measure training-step and sampling speed of the default model size, fp32 against bf16.

Usage: python scripts/benchmark.py [--steps 10] [--json OUT]

Training: the loss and optimiser step of the default recipe (width 256, depth 4, batch 256,
length 24) on random tokens, timed after warm-up steps. Sampling: one denoiser forward pass
on 1,024 sequences, and a full 1,024-molecule MDLM run at T = 64.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from molremdm.diffusion.masked import MaskedProcess, antithetic_times
from molremdm.models.transformer import DiffusionTransformer, ModelConfig
from molremdm.sampling.guidance import ClassifierFreeGuidance, LabelDenoiser
from molremdm.sampling.sampler import sample

VOCAB, LENGTH, MASK = 34, 24, 3


def train_step_seconds(bf16: bool, steps: int, batch: int) -> float:
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=VOCAB, length=LENGTH, num_classes=2)
    model, process = DiffusionTransformer(config), MaskedProcess(MASK)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(4, VOCAB, (batch, LENGTH))
    labels = torch.randint(0, 3, (batch,))
    warmup = 3
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        t = antithetic_times(batch, 1e-3)
        z = process.corrupt(x, t)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(z, t, labels)
        loss = process.loss(logits, x, z, t).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return (time.perf_counter() - start) / steps


@torch.no_grad()
def sampling_seconds(bf16: bool, num_samples: int, steps: int) -> dict:
    torch.manual_seed(0)
    model = DiffusionTransformer(ModelConfig(vocab_size=VOCAB, length=LENGTH, num_classes=2))
    model.eval()
    plain = LabelDenoiser(model, 2, 2, time_conditioned=False)
    guided = ClassifierFreeGuidance(model, 1, 2.0, 2, time_conditioned=False)
    z = torch.full((num_samples, LENGTH), MASK)
    t = torch.full((num_samples,), 0.5)
    results = {}
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for name, denoiser in (("forward_s", plain), ("cfg_forward_s", guided)):
            denoiser(z, t)
            start = time.perf_counter()
            for _ in range(3):
                denoiser(z, t)
            results[name] = (time.perf_counter() - start) / 3
        run = sample(plain, num_samples=num_samples, length=LENGTH, mask_id=MASK, steps=steps,
                     generator=torch.Generator().manual_seed(0))
    results["mdlm_run_s"] = run.wall_time
    results["mdlm_run_nfe"] = run.nfe
    results["sampler_overhead"] = run.wall_time / (run.nfe * results["forward_s"])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10, help="timed training steps per dtype")
    parser.add_argument("--batch", type=int, default=256, help="training batch size")
    parser.add_argument("--samples", type=int, default=1024, help="molecules for sampling")
    parser.add_argument("--sampling-steps", type=int, default=64, help="sampling steps T")
    parser.add_argument("--json", help="write the results to this JSON file")
    args = parser.parse_args()

    report = {"torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(),
              "date": time.strftime("%Y-%m-%d")}
    for bf16 in (False, True):
        name = "bf16" if bf16 else "fp32"
        seconds = train_step_seconds(bf16, args.steps, args.batch)
        report[f"train_step_s_{name}"] = seconds
        report[f"train_tokens_per_s_{name}"] = args.batch * LENGTH / seconds
        for key, value in sampling_seconds(bf16, args.samples, args.sampling_steps).items():
            report[f"{key}_{name}"] = value
    report["bf16_train_speedup"] = report["train_step_s_fp32"] / report["train_step_s_bf16"]
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()
