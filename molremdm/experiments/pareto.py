"""Pareto fronts of results tables, their hypervolume, and front plots."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_X = "num_novel"  # "novel molecules out of 1,024" in the guidance papers
DEFAULT_Y = "novel_mean_ring_count"


def pareto_mask(x: np.ndarray, y: np.ndarray, minimize_x: bool = False,
                minimize_y: bool = False) -> np.ndarray:
    """Boolean mask (N,) of the non-dominated points.

    A point is dominated when another is at least as good on both axes and better on one.
    Identical non-dominated points are all kept; NaN points are never on the front.
    """
    x = -np.asarray(x, dtype=float) if minimize_x else np.asarray(x, dtype=float)
    y = -np.asarray(y, dtype=float) if minimize_y else np.asarray(y, dtype=float)
    valid = ~(np.isnan(x) | np.isnan(y))
    keep = np.zeros(len(x), dtype=bool)
    for i in np.flatnonzero(valid):
        better_or_equal = (x[valid] >= x[i]) & (y[valid] >= y[i])
        strictly = (x[valid] > x[i]) | (y[valid] > y[i])
        keep[i] = not np.any(better_or_equal & strictly)
    return keep


def hypervolume(x: np.ndarray, y: np.ndarray, reference: tuple[float, float],
                minimize_x: bool = False, minimize_y: bool = False) -> float:
    """Area dominated by the points and bounded by ``reference`` (in the axes' own units).

    Axes are flipped for minimisation first; points not better than the reference on both
    axes add nothing.
    """
    sign_x, sign_y = (-1.0 if minimize_x else 1.0), (-1.0 if minimize_y else 1.0)
    points = [(sign_x * a, sign_y * b) for a, b in zip(x, y)
              if not (math.isnan(a) or math.isnan(b))]
    ref_x, ref_y = sign_x * reference[0], sign_y * reference[1]
    points = sorted((a, b) for a, b in points if a > ref_x and b > ref_y)
    area, best_y = 0.0, ref_y
    for a, b in reversed(points):  # sweep from the largest x down
        if b > best_y:
            area += (a - ref_x) * (b - best_y)
            best_y = b
    return area


def pareto_front(table: pd.DataFrame, x: str = DEFAULT_X, y: str = DEFAULT_Y,
                 groups: Sequence[str] = (), min_x: float | None = None,
                 minimize_x: bool = False, minimize_y: bool = False) -> pd.DataFrame:
    """Rows of ``table`` on the front of their group (all columns kept), after dropping rows
    with x below ``min_x``. Raises ValueError naming a missing column."""
    for column in (x, y, *groups):
        if column not in table.columns:
            raise ValueError(f"column {column!r} is not in the results table; columns: "
                             f"{list(table.columns)}")
    if min_x is not None:
        table = table[table[x] >= min_x]
    parts = [table] if not groups else [part for _, part in table.groupby(list(groups),
                                                                         dropna=False)]
    fronts = [part[pareto_mask(part[x].to_numpy(), part[y].to_numpy(), minimize_x, minimize_y)]
              for part in parts]
    if not fronts:
        return table.iloc[0:0]
    return pd.concat(fronts).sort_values([*groups, x]) if groups else \
        pd.concat(fronts).sort_values(x)


def group_hypervolumes(front: pd.DataFrame, x: str, y: str, groups: Sequence[str],
                       reference: tuple[float, float], minimize_x: bool = False,
                       minimize_y: bool = False) -> pd.DataFrame:
    """Hypervolume of each group's front against a shared reference point."""
    rows = []
    parts = [((), front)] if not groups else front.groupby(list(groups), dropna=False)
    for key, part in parts:
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(groups, key)),
                     "hypervolume": hypervolume(part[x].to_numpy(), part[y].to_numpy(),
                                                reference, minimize_x, minimize_y),
                     "front_points": len(part)})
    return pd.DataFrame(rows)


def _group_label(key, groups: Sequence[str]) -> str:
    key = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{g}={k}" for g, k in zip(groups, key)) or "all"


def plot_front(table: pd.DataFrame, front: pd.DataFrame, x: str, y: str,
               groups: Sequence[str], path: Path, title: str | None = None) -> None:
    """Scatter every row, draw each group's front as a line, label front points with gamma and
    T where those columns exist; write PNG and SVG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    parts = [((), table)] if not groups else list(table.groupby(list(groups), dropna=False))
    for index, (key, part) in enumerate(parts):
        color = colors[index % len(colors)]
        label = _group_label(key, groups)
        axis.scatter(part[x], part[y], color=color, alpha=0.35, s=18)
        members = front.loc[front.index.intersection(part.index)].sort_values(x)
        axis.plot(members[x], members[y], "-o", color=color, label=label, ms=5)
        for _, row in members.iterrows():
            tags = [f"γ={row['gamma']:g}" if "gamma" in row and pd.notna(row["gamma"]) else "",
                    f"T={int(row['steps'])}" if "steps" in row and pd.notna(row["steps"]) else ""]
            axis.annotate(" ".join(t for t in tags if t), (row[x], row[y]), fontsize=7,
                          xytext=(3, 3), textcoords="offset points", color=color)
    axis.set_xlabel(x.replace("_", " "))
    axis.set_ylabel(y.replace("_", " "))
    if title:
        axis.set_title(title)
    axis.legend(fontsize=8, frameon=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=130)
    figure.savefig(path.with_suffix(".svg"))
    plt.close(figure)
