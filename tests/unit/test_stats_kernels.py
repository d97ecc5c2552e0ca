"""The compiled passes (filterdb.stats.kernels) against numpy references, edge values included."""

from __future__ import annotations

import numpy as np
import pytest

from filterdb.stats import kernels
from filterdb.stats.binning import uniform_edges
from filterdb.stats.moments import CHUNK_FILTERS, merge_moments, raw_moments, streamed_moments
from filterdb.stats.scaling import LayerFilters, scale_by_peak

NO_FINE = np.zeros(0, dtype=np.int64)


def _filters(rng: np.random.Generator, n: int) -> np.ndarray:
    """(9, n) float32 filters over four decades of scale, some all-zero."""
    raw = rng.standard_normal((9, n)) * 10 ** rng.uniform(-4, 0, n)
    raw[:, :3] = 0.0
    return raw.astype(np.float32)


def _basis(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    components, _ = np.linalg.qr(rng.standard_normal((9, 9)))
    return rng.normal(scale=0.05, size=9), components


def _reference_coefficients(raw, peaks, mean, components) -> np.ndarray:
    """(n, 9) coefficients the way an in-memory notebook computes them: one matrix product."""
    return (scale_by_peak(raw, peaks).T - mean) @ components.T


def test_finite_and_peaks_match_numpy():
    raw = _filters(np.random.default_rng(0), 5000)
    raw[3, 10], raw[0, 11], raw[8, 12] = np.nan, np.inf, -np.inf
    finite, peaks = kernels.finite_and_peaks(raw)
    assert np.array_equal(finite, np.isfinite(raw).all(axis=0))
    assert np.array_equal(peaks[finite], np.abs(raw).max(axis=0)[finite])
    filters = LayerFilters.of(raw)
    assert filters.values.shape == (9, 4997) and filters.peaks.dtype == np.float32


def test_fused_counts_equal_np_histogram_on_values_exactly_on_bin_edges():
    """Identity basis: coefficients are the scaled weights, placed on, just below and just above
    every edge (all exact in float32), and outside the edges."""
    edges = uniform_edges(-0.5, 0.5, 32)  # multiples of 1/32: exact in float32 and float64
    on_edges = np.concatenate(
        [edges, np.nextafter(edges.astype(np.float32), np.float32(np.inf)).astype(np.float64)]
    )
    on_edges = np.concatenate(
        [on_edges, np.nextafter(edges.astype(np.float32), -np.float32(np.inf)), [-0.75, 0.9]]
    )
    rng = np.random.default_rng(1)
    raw = rng.choice(on_edges, size=(9, 4000)).astype(np.float32)
    raw[rng.integers(0, 9, 4000), np.arange(4000)] = 1.0  # every peak 1: scaling is exact
    filters = LayerFilters.of(raw)
    counts = np.zeros(9 * 32, dtype=np.int64)
    outside = kernels.coefficient_counts(
        filters.raw, np.zeros(9), np.eye(9), edges, counts, NO_FINE
    )
    values = raw.astype(np.float64)
    expected = np.stack([np.histogram(values[k], bins=edges)[0] for k in range(9)])
    assert np.array_equal(counts.reshape(9, 32), expected)
    assert outside == values.size - expected.sum() > 0


def test_fused_passes_equal_the_in_memory_reference_on_a_random_basis():
    """Range, joint c0/c1 counts, coefficient counts and fine counts of one layer, with the
    range's own min and max lying exactly on the first and last edge."""
    rng = np.random.default_rng(2)
    raw = _filters(rng, 3 * kernels.BLOCK + 17)
    mean, components = _basis(rng)
    filters = LayerFilters.of(raw)
    c = _reference_coefficients(filters.values, filters.peaks, mean, components)

    joint_edges = np.linspace(-1.5, 1.5, 65)
    joint = np.zeros(64 * 64, dtype=np.int64)
    args = (filters.raw, mean, components)
    lo, hi = kernels.range_and_joint(*args, joint_edges, joint)
    assert (lo, hi) == (c.min(), c.max())
    expected_joint = np.histogram2d(c[:, 0], c[:, 1], bins=[joint_edges, joint_edges])[0]
    assert np.array_equal(joint, expected_joint.astype(np.int64).ravel())

    edges = uniform_edges(lo, hi, 70)
    counts, fine = np.zeros(9 * 70, dtype=np.int64), np.zeros(9 * 256, dtype=np.int64)
    assert kernels.coefficient_counts(*args, edges, counts, fine) == 0
    expected = np.stack([np.histogram(c[:, k], bins=edges)[0] for k in range(9)])
    assert np.array_equal(counts.reshape(9, 70), expected)
    guess = np.clip(((c - lo) * (256 / (hi - lo))).astype(np.int64), 0, 255)
    expected_fine = np.stack([np.bincount(guess[:, k], minlength=256) for k in range(9)])
    assert np.array_equal(fine.reshape(9, 256), expected_fine)


@pytest.mark.parametrize("scaled", [False, True])
def test_layer_moments_equal_the_chunked_numpy_moments(scaled):
    rng = np.random.default_rng(3)
    raw = _filters(rng, 2 * CHUNK_FILTERS + 999)
    filters = LayerFilters.of(raw)
    keep = rng.random(raw.shape[1]) < 0.7
    got = filters.moments(scaled, keep)
    x = scale_by_peak(raw, filters.peaks) if scaled else raw.astype(np.float64)
    # The reference merges the same fixed-offset chunks with numpy (pairwise sums, BLAS).
    expected = raw_moments(x[:, :CHUNK_FILTERS][:, keep[:CHUNK_FILTERS]])
    for start in range(CHUNK_FILTERS, raw.shape[1], CHUNK_FILTERS):
        part = x[:, start : start + CHUNK_FILTERS][:, keep[start : start + CHUNK_FILTERS]]
        expected = merge_moments(expected, raw_moments(part))
    assert got.count == expected.count == keep.sum()
    np.testing.assert_allclose(got.mean, expected.mean, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got.m2, expected.m2, rtol=1e-10, atol=1e-15)
    whole = streamed_moments(1, lambda _: x[:, keep])
    np.testing.assert_allclose(got.m2, whole.m2, rtol=1e-9, atol=1e-15)


def test_layer_moments_of_nothing_kept_are_empty():
    raw = _filters(np.random.default_rng(4), 100)
    got = LayerFilters.of(raw).moments(False, np.zeros(100, dtype=bool))
    assert got.count == 0 and not got.mean.any() and not got.m2.any()


def test_one_sweep_gives_the_three_moments_of_pass_one():
    """Scaled, raw and non-sparse raw moments from one sweep equal three separate ones, on
    columns given as nine separate rows (a Parquet read) and as one array."""
    rng = np.random.default_rng(5)
    raw = _filters(rng, 3 * kernels.MOMENT_BLOCK + 77)
    sparse = rng.random(raw.shape[1]) < 0.3
    for columns in (raw, tuple(np.array(row) for row in raw)):
        filters = LayerFilters.of(columns)
        scaled, plain, clean = filters.pass_one_moments(sparse)
        for got, expected in (
            (scaled, filters.moments(True)),
            (plain, filters.moments(False)),
            (clean, filters.moments(False, ~sparse)),
        ):
            assert got.count == expected.count
            np.testing.assert_allclose(got.mean, expected.mean, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(got.m2, expected.m2, rtol=1e-10, atol=1e-15)
    assert filters.pass_one_moments(np.zeros(raw.shape[1], bool))[2].count == 0


def test_binning_falls_back_to_the_edges_when_the_guess_cannot_be_trusted():
    """A range far from zero and narrow against its magnitude: the arithmetic guess may be
    more than a rounding away from the edges, so every value is compared with them."""
    edges = uniform_edges(1e9, 1e9 + 1e-3, 70)
    assert kernels._guess_margin(edges[0], edges[-1], 70) == 1.0
    assert kernels._guess_margin(-2.5, 3.0, 70) == kernels.EDGE_MARGIN
    values = np.random.default_rng(6).uniform(edges[0] - 1e-4, edges[-1] + 1e-4, 20000)
    values[:71] = edges
    index = np.empty(values.size, dtype=np.int64)
    kernels.bin_block(values, values.size, edges, index)
    inside = index >= 0
    assert np.array_equal(np.bincount(index[inside], minlength=70), np.histogram(values, edges)[0])
    assert np.array_equal(inside, (values >= edges[0]) & (values <= edges[-1]))


def test_binning_puts_nan_and_infinities_outside():
    edges = uniform_edges(-2.0, 3.0, 70)
    values = np.array([np.nan, np.inf, -np.inf, -2.0, 3.0, 0.0])
    index = np.empty(values.size, dtype=np.int64)
    kernels.bin_block(values, values.size, edges, index)
    assert index.tolist() == [-1, -1, -1, 0, 69, 28]


def test_cosine_deviation_equals_the_normalised_gram_matrix():
    rng = np.random.default_rng(7)
    weights = rng.standard_normal((40, 27)).astype(np.float32)
    weights[5] = 0.0  # a zero channel deviates by one on the diagonal
    gram = weights @ weights.T
    norms = np.sqrt(np.diagonal(gram).astype(np.float64))
    norms[norms == 0] = 1
    expected = np.abs(gram / np.outer(norms, norms) - np.eye(40)).sum()
    assert kernels.cosine_deviation(gram) == pytest.approx(expected, rel=1e-6)


def test_fused_passes_leave_out_filters_holding_nan_or_inf():
    """Pass 2 and 3 on raw columns with NaN and Inf in some blocks (not in others) give what
    they give on the finite filters alone: non-finite filters are neither counted nor outside."""
    rng = np.random.default_rng(5)
    raw = _filters(rng, 4 * kernels.BLOCK + 33)
    raw[0, 5], raw[4, 300], raw[8, 301], raw[2, -1] = np.nan, np.inf, -np.inf, np.nan
    finite = np.isfinite(raw).all(axis=0)
    mean, components = _basis(rng)
    joint_edges = np.linspace(-1.5, 1.5, 33)
    results = []
    for columns in (raw, np.ascontiguousarray(raw[:, finite])):
        joint = np.zeros(32 * 32, dtype=np.int64)
        lo, hi = kernels.range_and_joint(columns, mean, components, joint_edges, joint)
        edges = uniform_edges(lo, hi, 70)
        counts, fine = np.zeros(9 * 70, dtype=np.int64), np.zeros(9 * 64, dtype=np.int64)
        outside = kernels.coefficient_counts(columns, mean, components, edges, counts, fine)
        results.append((lo, hi, joint, counts, fine, outside))
    (lo, hi, joint, counts, fine, outside), expected = results
    assert (lo, hi, outside) == expected[:2] + (0,) and expected[5] == 0
    for got, want in zip((joint, counts, fine), expected[2:5], strict=True):
        assert np.array_equal(got, want)
    assert counts.sum() == 9 * finite.sum()
