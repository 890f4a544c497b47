"""LightningDataModule over in-memory token tensors, with an exactly resumable training order."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import torch

from molremdm.data.prepare import DataConfig, PreparedData, prepare_data


class EpochBatches:
    """Batches of (tokens, labels, values) rows from ``index``, reshuffled each epoch from
    (seed, epoch).

    It is an iterable with ``state_dict`` / ``load_state_dict``, which Lightning saves in its
    checkpoints and restores on resume, so a run stopped mid-epoch continues with the next
    unseen batch of the same permutation. Partial last batches are dropped when shuffling.
    """

    def __init__(self, tensors: tuple[torch.Tensor, ...], index: torch.Tensor,
                 batch_size: int, shuffle: bool, seed: int = 0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if shuffle and len(index) < batch_size:
            raise ValueError(f"batch_size {batch_size} exceeds the {len(index)} training "
                             "molecules; lower the batch size")
        self.tensors, self.index = tensors, index
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.epoch = 0
        self.position = 0  # batches already yielded in the current epoch
        self._resume_position = 0

    def __len__(self) -> int:
        if self.shuffle:
            return len(self.index) // self.batch_size
        return -(-len(self.index) // self.batch_size)

    def _order(self) -> torch.Tensor:
        if not self.shuffle:
            return self.index
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return self.index[torch.randperm(len(self.index), generator=generator)]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        order = self._order()
        start, self._resume_position = self._resume_position, 0
        for self.position in range(start, len(self)):
            rows = order[self.position * self.batch_size:(self.position + 1) * self.batch_size]
            self.position += 1
            yield tuple(tensor[rows] for tensor in self.tensors)
        if self.shuffle:
            self.epoch += 1
            self.position = 0

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.seed = int(state["epoch"]), int(state["seed"])
        self._resume_position = int(state["position"])


class MoleculeDataModule(L.LightningDataModule):
    """Training and validation batches of one prepared data set."""

    def __init__(self, data_config: DataConfig, batch_size: int, val_batch_size: int = 1024,
                 seed: int = 0, prepared: PreparedData | None = None):
        super().__init__()
        self.data_config = data_config
        self.batch_size, self.val_batch_size, self.seed = batch_size, val_batch_size, seed
        self.prepared = prepared
        self._train: EpochBatches | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.prepared is None:
            self.prepared = prepare_data(self.data_config)

    def train_dataloader(self) -> EpochBatches:
        data = self.prepared
        if self._train is None:
            self._train = EpochBatches((data.tokens, data.labels, data.values),
                                       data.train_index, self.batch_size, shuffle=True,
                                       seed=self.seed)
        return self._train

    def val_dataloader(self) -> EpochBatches:
        data = self.prepared
        return EpochBatches((data.tokens, data.labels, data.values), data.val_index,
                            self.val_batch_size, shuffle=False)
