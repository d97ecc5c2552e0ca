"""Per-layer degeneration metrics against independent computations (filterdb.stats.degeneration)."""

from __future__ import annotations

import numpy as np
import pytest

from filterdb.stats.degeneration import (
    is_degenerated,
    orthogonality,
    randomness_threshold,
    sparse_filters,
    variance_entropy,
)
from filterdb.stats.moments import (
    raw_moments,
)


def _reference_entropy(w: np.ndarray) -> float:
    s = np.linalg.svd(w - w.mean(axis=0), compute_uv=False) ** 2
    p = s / s.sum()
    p = p[p > 0]
    return float(-(p * np.log10(p)).sum())


def test_variance_entropy_equals_svd_entropy_and_is_zero_without_spread():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(300, 9)) * np.linspace(1, 0.1, 9)
    assert variance_entropy(raw_moments(w.T)) == pytest.approx(_reference_entropy(w), abs=1e-12)
    assert variance_entropy(raw_moments(np.ones((9, 5)))) == 0.0
    assert variance_entropy(raw_moments(rng.normal(size=(9, 1)))) == 0.0
    assert np.isnan(variance_entropy(raw_moments(np.zeros((9, 0)))))
    isotropic = variance_entropy(raw_moments(rng.normal(size=(9, 200000))))
    assert isotropic == pytest.approx(np.log10(9), abs=1e-3)


def test_randomness_threshold_formula():
    n = np.array([2.0, 9.0, 1000.0])
    expected = 1.2618047 / (1 + np.exp(-0.88767525 * (np.log2(n) - 2.30436435))) - 0.31050834
    np.testing.assert_allclose(randomness_threshold(n), expected, rtol=1e-15)


def test_sparsity_threshold_and_all_zero_layer():
    peaks = np.array([1.0, 0.0099, 0.01, 0.5], dtype=np.float32)
    assert sparse_filters(peaks).tolist() == [False, True, False, False]
    assert sparse_filters(np.zeros(4, np.float32)).all()


def test_orthogonality_matches_cosine_definition_and_is_nan_for_one_channel():
    rng = np.random.default_rng(6)
    out_channels, fan_in = 7, 3
    w = rng.normal(size=(out_channels, fan_in, 9)).astype(np.float32)
    w[2] = 0  # a zero channel counts |0 - 1| on the diagonal, as torchconvquality does
    raw = w.reshape(-1, 9).T.copy()
    finite = np.ones(out_channels * fan_in, dtype=bool)
    rows = w.reshape(out_channels, -1).astype(np.float64)
    norms = np.linalg.norm(rows, axis=1)
    norms[norms == 0] = 1
    unit = rows / norms[:, None]
    expected = 1 - np.abs(unit @ unit.T - np.eye(out_channels)).sum() / (7 * 6)
    assert orthogonality(raw, finite, out_channels, fan_in) == pytest.approx(expected, abs=1e-6)
    finite[4] = False  # channel 1 holds a NaN filter: it is dropped
    keep = [0, 2, 3, 4, 5, 6]
    sub = unit[keep]
    expected = 1 - np.abs(sub @ sub.T - np.eye(6)).sum() / (6 * 5)
    assert orthogonality(raw, finite, out_channels, fan_in) == pytest.approx(expected, abs=1e-6)
    assert np.isnan(orthogonality(raw[:, :3], np.ones(3, bool), 1, 3))


def test_degeneration_rule():
    n = np.array([64, 64, 64, 64])
    th = randomness_threshold(64)
    entropy = np.array([th - 0.019, 0.4, 0.4, np.nan])
    sparsity = np.array([0.0, 0.14, 0.13, 0.5])
    assert is_degenerated(entropy, sparsity, n).tolist() == [True, True, False, False]
