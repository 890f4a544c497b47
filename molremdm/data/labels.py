"""Binary property labels: class 1 iff the property is strictly above a percentile of the data."""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass

import numpy as np

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelDefinition:
    """How labels were made: class 1 iff ``property > threshold`` (the ``percentile`` of the data).

    ``num_classes`` is 2; the null label used by classifier-free guidance is ``num_classes``.
    """

    property: str
    percentile: float
    threshold: float
    class_sizes: tuple[int, int]
    num_classes: int = 2

    @property
    def null_label(self) -> int:
        return self.num_classes

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LabelDefinition:
        return cls(property=str(data["property"]), percentile=float(data["percentile"]),
                   threshold=float(data["threshold"]),
                   class_sizes=tuple(int(v) for v in data["class_sizes"]),
                   num_classes=int(data.get("num_classes", 2)))

    def describe(self) -> str:
        return (f"class 1 = {self.property} > {self.threshold:g} "
                f"({self.percentile:g}th percentile); class sizes {list(self.class_sizes)}")


def make_labels(values: np.ndarray, property_name: str,
                percentile: float = 90.0) -> tuple[np.ndarray, LabelDefinition]:
    """Label each value 1 if above the percentile, else 0. Returns int64 labels (N,) and the definition.

    For integer properties the percentile often equals a common value, so class 1 can be much
    smaller than the intended share (QM9 ring count: threshold 3, class 1 is about 7.8 %).
    Class sizes are logged, and a warning is issued when a class is empty or when class 1 is under
    half or over twice its intended share.
    """
    if not 0.0 < percentile < 100.0:
        raise ValueError(f"percentile must be in (0, 100), got {percentile}")
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.isnan(values).any():
        raise ValueError(
            f"cannot label {property_name!r}: {int(np.isnan(values).sum())} missing values "
            f"among {values.size}; drop molecules without the property first"
        )
    threshold = float(np.percentile(values, percentile))
    labels = (values > threshold).astype(np.int64)
    sizes = (int((labels == 0).sum()), int((labels == 1).sum()))
    definition = LabelDefinition(property_name, percentile, threshold, sizes)
    logger.info("labels: %s", definition.describe())

    intended = 1.0 - percentile / 100.0
    share = sizes[1] / len(labels)
    if min(sizes) == 0:
        warnings.warn(f"labels for {property_name!r}: a class is empty ({definition.describe()}); "
                      "guidance toward it cannot be learned", stacklevel=2)
    elif share < 0.5 * intended or share > 2.0 * intended:
        warnings.warn(f"labels for {property_name!r}: class 1 holds {share:.1%} of molecules, "
                      f"intended {intended:.0%}, because of ties at the threshold "
                      f"({definition.describe()})", stacklevel=2)
    return labels, definition
