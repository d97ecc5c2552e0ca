"""Mergeable filter moments against numpy (filterdb.stats.moments)."""

from __future__ import annotations

import numpy as np

from filterdb.stats.moments import (
    Moments,
    chunk_moments,
    merge_moments,
    pooled_moments,
)


def test_moments_merge_equal_numpy_covariance_in_any_split():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(9, 1000)) * np.arange(1, 10)[:, None] + 5
    whole = chunk_moments(x)
    merged = merge_moments(chunk_moments(x[:, :317]), chunk_moments(x[:, 317:]))
    pooled = pooled_moments(
        np.array([100, 0, 900]),
        np.stack([x[:, :100].mean(1), np.zeros(9), x[:, 100:].mean(1)]),
        np.stack([chunk_moments(x[:, :100]).m2, np.zeros((9, 9)), chunk_moments(x[:, 100:]).m2]),
    )
    for m in (whole, merged, pooled):
        assert m.count == 1000
        np.testing.assert_allclose(m.mean, x.mean(1), rtol=1e-12)
        np.testing.assert_allclose(m.covariance(), np.cov(x), rtol=1e-10)
    assert merge_moments(Moments.empty(), whole) is whole
