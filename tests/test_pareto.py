"""Pareto fronts and hypervolumes on hand-built tables."""

import numpy as np
import pandas as pd
import pytest

from molremdm.experiments.pareto import (group_hypervolumes, hypervolume, pareto_front,
                                         pareto_mask, plot_front)


def test_front_of_hand_built_points():
    x = np.array([1, 2, 3, 2, 1, 3])
    y = np.array([5, 4, 1, 2, 5, 1])
    # (1, 5) twice and (3, 1) twice tie on the front; (2, 2) is dominated by (2, 4)
    assert pareto_mask(x, y).tolist() == [True, True, True, False, True, True]


def test_dominated_duplicates_are_dropped():
    x = np.array([1, 1, 2])
    y = np.array([1, 1, 2])
    assert pareto_mask(x, y).tolist() == [False, False, True]


def test_single_point_is_its_own_front():
    assert pareto_mask(np.array([3.0]), np.array([-1.0])).tolist() == [True]


def test_minimised_axes():
    x = np.array([1, 2, 3])
    y = np.array([3, 2, 1])
    assert pareto_mask(x, y, minimize_x=True).tolist() == [True, False, False]
    assert pareto_mask(x, y, minimize_y=True).tolist() == [False, False, True]
    assert pareto_mask(x, y, minimize_x=True, minimize_y=True).tolist() == [True, True, True]


def test_nan_points_never_on_front():
    assert pareto_mask(np.array([1.0, np.nan]), np.array([np.nan, 9.0])).tolist() == [False,
                                                                                   False]


def test_hypervolume_of_staircase():
    # points (3, 1), (2, 2), (1, 3) above reference (0, 0): area 3 + 2 + 1 = 6
    assert hypervolume(np.array([3, 2, 1]), np.array([1, 2, 3]), (0, 0)) == pytest.approx(6)
    # a dominated point adds nothing
    assert hypervolume(np.array([3, 2, 1, 1]), np.array([1, 2, 3, 1]), (0, 0)) == pytest.approx(6)
    # minimising x against reference x = 4: widths 3, 2, 1 at heights 1, 2, 3, area 6
    assert hypervolume(np.array([1, 2, 3]), np.array([1, 2, 3]), (4, 0),
                       minimize_x=True) == pytest.approx(6)


def table():
    return pd.DataFrame({
        "sampler": ["mdlm", "mdlm", "mdlm", "loop", "loop", "loop"],
        "gamma": [1, 2, 3, 1, 2, 3],
        "steps": [64] * 6,
        "num_novel": [300, 200, 40, 350, 150, 260],
        "novel_mean_ring_count": [4.5, 4.8, 5.5, 4.6, 4.7, 5.0],
    })


def test_front_by_group_with_min_x():
    front = pareto_front(table(), groups=["sampler"], min_x=50)
    assert sorted(zip(front["sampler"], front["gamma"])) == [
        ("loop", 1), ("loop", 3), ("mdlm", 1), ("mdlm", 2)]


def test_missing_column_named():
    with pytest.raises(ValueError, match="column 'qed' is not in the results table"):
        pareto_front(table(), y="qed")


def test_group_hypervolumes_and_plot(tmp_path):
    data = table()
    front = pareto_front(data, groups=["sampler"])
    volumes = group_hypervolumes(front, "num_novel", "novel_mean_ring_count", ["sampler"],
                                 (0, 4.0))
    assert set(volumes["sampler"]) == {"mdlm", "loop"}
    mdlm = float(volumes.loc[volumes["sampler"] == "mdlm", "hypervolume"].iloc[0])
    # mdlm front (300, 4.5), (200, 4.8), (40, 5.5) above (0, 4.0), summed from the largest x
    assert mdlm == pytest.approx(300 * 0.5 + 200 * 0.3 + 40 * 0.7)
    plot_front(data, front, "num_novel", "novel_mean_ring_count", ["sampler"],
               tmp_path / "front.png")
    assert (tmp_path / "front.png").stat().st_size > 0
    assert (tmp_path / "front.svg").is_file()
