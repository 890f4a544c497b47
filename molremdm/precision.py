"""Choice of the network's floating-point precision from what the hardware runs natively.

bf16 autocast roughly halves a training step on a CPU with bf16 instructions (AVX512-BF16 or
AMX on x86, the BF16 extension on Arm). A CPU without them makes torch emulate bf16 matmuls in
software: on an AVX2-only machine a 1024 x 1024 bf16 matmul ran at 1 GFLOP/s, against 75 in
float32 (docs/benchmarks.md). "auto", the default everywhere, therefore picks bf16 only where
it is native, and an explicit bf16 request on a CPU that would emulate it is honoured with a
warning.
"""

from __future__ import annotations

import logging
import platform
from functools import lru_cache
from pathlib import Path

import torch

logger = logging.getLogger(__name__)

TRAINING_PRECISIONS = ("auto", "bf16-mixed", "32-true")  # Lightning's names
SAMPLING_PRECISIONS = ("auto", "bf16", "32")


def default_device_type() -> str:
    """Return the device type that training (Lightning's accelerator="auto") and sampling use."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def cpuinfo_lists_bf16(cpuinfo: str) -> bool:
    """Tell whether the "Features" line of an Arm /proc/cpuinfo names the BF16 extension."""
    for line in cpuinfo.splitlines():
        if line.lower().startswith("features"):
            return "bf16" in line.split(":", 1)[1].split()
    return False


@lru_cache(maxsize=None)
def native_bf16(device_type: str = "cpu") -> bool:
    """Tell whether ``device_type`` runs bf16 matmuls in hardware rather than by emulation."""
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    if device_type != "cpu":
        return False
    machine = platform.machine().lower()
    if machine in ("x86_64", "amd64"):
        # private helpers of torch.cpu (present in torch 2.13). A torch without them counts as
        # no support.
        checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    cpuinfo = Path("/proc/cpuinfo")
    if machine in ("aarch64", "arm64") and cpuinfo.is_file():
        return cpuinfo_lists_bf16(cpuinfo.read_text())
    return False


@lru_cache(maxsize=None)  # once per process and device
def _warn_if_emulated(device_type: str) -> None:
    if not native_bf16(device_type):
        logger.warning("bf16 was requested, but this %s has no bf16 instructions, so torch "
                       "emulates it and the network runs many times slower than in float32. "
                       "Use precision 'auto' (or 32) on this machine.", device_type.upper())


def _resolve(precision: str, choices: tuple[str, ...], bf16: str, fp32: str,
             device_type: str | None) -> str:
    if precision not in choices:
        raise ValueError(f"invalid precision {precision!r}: use one of {list(choices)}")
    device_type = device_type or default_device_type()
    if precision == "auto":
        return bf16 if native_bf16(device_type) else fp32
    if precision == bf16:
        _warn_if_emulated(device_type)
    return precision


def resolve_training_precision(precision: str, device_type: str | None = None) -> str:
    """Turn "auto" into "bf16-mixed" or "32-true" for Lightning's Trainer."""
    return _resolve(precision, TRAINING_PRECISIONS, "bf16-mixed", "32-true", device_type)


def resolve_sampling_precision(precision: str, device_type: str | None = None) -> str:
    """Turn "auto" into "bf16" or "32" for the sampling network's autocast."""
    return _resolve(precision, SAMPLING_PRECISIONS, "bf16", "32", device_type)
