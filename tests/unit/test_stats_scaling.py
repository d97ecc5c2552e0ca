"""Peak scaling of filters (filterdb.stats.scaling)."""

from __future__ import annotations

import numpy as np

from filterdb.stats.scaling import LayerFilters, scale_by_peak


def test_scaling_divides_by_absolute_peak_and_keeps_zero_filters():
    raw = np.zeros((9, 3), dtype=np.float32)
    raw[:, 1] = np.linspace(-2.0, 1.0, 9)
    raw[:, 2] = np.linspace(0.0, 0.5, 9)
    filters = LayerFilters.of(raw)
    assert filters.peaks.tolist() == [0.0, 2.0, 0.5]
    scaled = scale_by_peak(raw, filters.peaks)
    assert np.array_equal(scaled[:, 0], np.zeros(9))
    np.testing.assert_array_equal(scaled[:, 1], raw[:, 1].astype(np.float64) / 2.0)
    assert np.abs(scaled[:, 1:]).max(axis=0).tolist() == [1.0, 1.0]
    raw[4, 2] = np.nan
    assert LayerFilters.of(raw).values.shape == (9, 2)
