"""Binned KDE against scipy's gaussian_kde (filterdb.stats.density)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from filterdb.stats.density import binned_kde, coefficient_stds
from filterdb.stats.moments import (
    raw_moments,
)


def test_binned_kde_approaches_scipy_gaussian_kde():
    rng = np.random.default_rng(8)
    values = np.stack([rng.normal(0.3, 0.5, 40000), rng.standard_t(4, 40000) * 0.2])
    values = np.concatenate([values, np.zeros((7, 40000))])
    lo, hi = float(values.min()), float(values.max())
    counts = np.stack([np.histogram(v, bins=4096, range=(lo, hi))[0] for v in values])
    moments = raw_moments(values)
    stds = coefficient_stds(moments, np.eye(9))
    grid = np.linspace(lo, hi, 300)
    curves = binned_kde(counts, lo, hi, stds, grid)
    for k in range(2):
        expected = scipy.stats.gaussian_kde(values[k])(grid)
        assert np.abs(curves[k] - expected).max() < 1e-3 * expected.max()
    for k in range(2):
        assert np.trapezoid(curves[k], grid) == pytest.approx(1.0, rel=1e-3)
    # no spread (sigma = 0): one fine bin as bandwidth, a finite spike at 0
    assert np.isfinite(curves[5]).all() and curves[5].argmax() == np.abs(grid).argmin()
