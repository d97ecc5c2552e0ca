"""Distribution shift D against scipy's KL divergence (filterdb.stats.shift)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from filterdb.stats.binning import (
    uniform_edges,
)
from filterdb.stats.shift import EMPTY_BIN_FLOOR, bin_probabilities, shift_matrix


def test_floored_densities_and_symmetric_kl_match_scipy():
    rng = np.random.default_rng(7)
    edges = uniform_edges(-2, 3, 70)
    hists = rng.integers(0, 5, size=(3, 9, 70))
    hists[0, :, :10] = 0
    probabilities = bin_probabilities(hists, edges)
    matrix = shift_matrix(probabilities, np.linspace(0.3, 0.01, 9))
    for a in range(3):
        for b in range(3):
            expected = 0.0
            for k in range(9):
                density = [
                    np.histogram(
                        np.repeat((edges[:-1] + edges[1:]) / 2, hists[g, k]),
                        bins=70,
                        range=(-2, 3),
                        density=True,
                    )[0]
                    for g in (a, b)
                ]
                p, q = (np.where(d == 0, np.finfo(np.float32).eps, d) for d in density)
                kl = scipy.stats.entropy(p, q) + scipy.stats.entropy(q, p)
                expected += np.linspace(0.3, 0.01, 9)[k] * kl
            assert matrix[a, b] == pytest.approx(expected, rel=1e-10, abs=1e-13)
    assert np.array_equal(matrix, matrix.T) and not matrix.diagonal().any()
    assert probabilities[0, 0, 0] == pytest.approx(
        EMPTY_BIN_FLOOR / (1 / np.diff(edges)[0] + 10 * EMPTY_BIN_FLOOR), rel=1e-6
    )
