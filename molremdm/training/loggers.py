"""Experiment loggers: CSV by default, W&B on request (offline unless it can really go online).

wandb is imported only when the W&B logger is requested.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from pathlib import Path

from lightning.pytorch.loggers import CSVLogger, Logger

logger = logging.getLogger(__name__)

WANDB_HOST = ("api.wandb.ai", 443)


def _wandb_can_go_online(timeout: float = 2.0) -> bool:
    """Return True when a W&B key is configured and the W&B host accepts a connection within
    ``timeout`` seconds."""
    has_key = bool(os.environ.get("WANDB_API_KEY")) or (Path.home() / ".netrc").is_file()
    if not has_key:
        return False
    try:
        with socket.create_connection(WANDB_HOST, timeout=timeout):
            return True
    except OSError:
        return False


def wandb_mode() -> str:
    """$WANDB_MODE when set, else online only with a key and a reachable host, else offline."""
    mode = os.environ.get("WANDB_MODE") or ("online" if _wandb_can_go_online() else "offline")
    if mode not in ("online", "offline", "disabled"):
        raise ValueError(f"WANDB_MODE={mode!r} is not one of online, offline, disabled")
    return mode


def log_tables_and_images(name: str, save_dir: str | Path, tables: dict, images: dict,
                          config: dict | None = None, project: str = "molremdm") -> str:
    """Log pandas tables and image files as one W&B run (mode from ``wandb_mode``); returns
    the run id. Used for sweep results and Pareto plots."""
    import wandb

    run_id = f"{name}-{uuid.uuid4().hex[:8]}"
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    run = wandb.init(project=project, name=name, id=run_id, dir=str(save_dir),
                     mode=wandb_mode(), config=config or {})
    for key, frame in tables.items():
        run.log({key: wandb.Table(dataframe=frame)})
    for key, path in images.items():
        run.log({key: wandb.Image(str(path))})
    run.finish()
    return run_id


def make_logger(kind: str, save_dir: str | Path, name: str, project: str = "molremdm",
                config: dict | None = None) -> Logger:
    """Build a Lightning logger. ``kind`` is "csv" or "wandb".

    The W&B mode comes from ``wandb_mode``, so a run without a key or network is written
    offline and never waits on the network. Every run gets a fresh id, so two unnamed runs never
    share one (offline runs cannot be resumed by id anyway).
    """
    save_dir = Path(save_dir)
    if kind == "csv":
        return CSVLogger(save_dir=str(save_dir), name=name)
    if kind != "wandb":
        raise ValueError(f"unknown logger {kind!r}; choose 'csv' or 'wandb'")

    from lightning.pytorch.loggers import WandbLogger

    mode = wandb_mode()
    logger.info("W&B logging in %s mode to %s", mode, save_dir)
    run_id = f"{name}-{uuid.uuid4().hex[:8]}"
    # log_model=False: Lightning refuses model artifacts in offline mode, and checkpoints
    # already live in the run folder.
    return WandbLogger(project=project, name=name, id=run_id, save_dir=str(save_dir),
                       mode=mode, log_model=False, config=config)


def finish_logger(experiment_logger: Logger) -> None:
    """Close a W&B run so that its folder contains the final config and summary, or flush
    another logger."""
    if type(experiment_logger).__name__ == "WandbLogger":
        experiment_logger.experiment.finish()
    else:
        experiment_logger.save()
