"""Histogram bin indices with numpy.histogram's exact semantics (filterdb.stats.binning)."""

from __future__ import annotations

import numpy as np

from filterdb.stats.binning import (
    bin_indices,
    coefficient_histograms,
    joint_histogram,
    uniform_edges,
)


def test_bin_indices_match_numpy_histogram_also_on_edges():
    rng = np.random.default_rng(1)
    for _ in range(50):
        lo, hi = np.sort(rng.normal(size=2) * 3)
        edges = uniform_edges(lo, hi, 70)
        values = np.concatenate(
            [
                rng.uniform(lo, hi, 5000),
                edges,
                np.nextafter(edges, np.inf),
                np.nextafter(edges, -np.inf),
            ]
        )
        values = values[(values >= lo) & (values <= hi)]
        expected = np.histogram(values, bins=70, range=(lo, hi))[0]
        idx = bin_indices(values, edges)
        assert np.array_equal(np.bincount(idx, minlength=70), expected)
        assert np.array_equal(np.histogram(values, bins=70, range=(lo, hi))[1], edges)
        rows = np.stack([values, values[::-1]])
        counts = coefficient_histograms(rows, edges).reshape(2, 70)
        assert np.array_equal(counts[0], expected) and np.array_equal(counts[1], expected)


def test_bin_indices_mark_values_outside_and_zero_width_range_widens_like_numpy():
    edges = uniform_edges(0.0, 1.0, 4)
    assert bin_indices(np.array([-0.1, 0.0, 1.0, 1.1]), edges).tolist() == [-1, 0, 3, -1]
    assert np.array_equal(uniform_edges(2.0, 2.0, 3), np.histogram([2.0], bins=3)[1])


def test_joint_histogram_matches_histogram2d():
    rng = np.random.default_rng(2)
    x, y = rng.normal(scale=2.0, size=(2, 20000))
    edges = np.linspace(-3.3, 3.3, 65)
    x[:4] = [3.3, -3.3, np.nextafter(3.3, 0), 5.0]
    expected = np.histogram2d(x, y, bins=[edges, edges])[0].astype(np.int64).ravel()
    assert np.array_equal(joint_histogram(x, y, edges), expected)
