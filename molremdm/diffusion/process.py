"""Building a diffusion process from its stored description."""

from __future__ import annotations

from molremdm.diffusion.masked import MaskedProcess
from molremdm.diffusion.schedules import schedule_from_dict
from molremdm.diffusion.uniform import UniformProcess

Process = MaskedProcess | UniformProcess
PROCESS_NAMES = (MaskedProcess.name, UniformProcess.name)
AUTOREGRESSIVE = "autoregressive"  # process name stored for the causal baseline


def process_from_dict(data: dict) -> Process:
    """Rebuild a process from ``to_dict`` output; raises ValueError for an unknown name."""
    name = data.get("name", MaskedProcess.name)
    schedule = schedule_from_dict(data["schedule"])
    if name == MaskedProcess.name:
        return MaskedProcess(int(data["mask_id"]), schedule)
    if name == UniformProcess.name:
        return UniformProcess(int(data["vocab_size"]), int(data["mask_id"]), schedule)
    raise ValueError(f"unknown diffusion process {name!r}; known: {list(PROCESS_NAMES)}")
