"""The statistics' pure functions against independent numpy/scipy/sklearn computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from sklearn.decomposition import PCA

from benchmarks.synthetic_db import Layer, Model, write_db
from filterdb.errors import ModelError
from filterdb.stats.binning import (
    bin_indices,
    coefficient_histograms,
    joint_histogram,
    uniform_edges,
)
from filterdb.stats.degeneration import (
    is_degenerated,
    orthogonality,
    randomness_threshold,
    sparse_filters,
    variance_entropy,
)
from filterdb.stats.density import binned_kde, coefficient_stds
from filterdb.stats.grouping import (
    DECILE_LABELS,
    axis_slug,
    axis_slugs,
    depth_deciles,
    group_cells,
    model_labels,
)
from filterdb.stats.moments import (
    Moments,
    chunk_moments,
    merge_moments,
    pooled_moments,
    raw_moments,
)
from filterdb.stats.options import StatsOptions
from filterdb.stats.partitions import plan_partitions, read_partition
from filterdb.stats.pca import fit_pca, orient_components, project
from filterdb.stats.runner import _prepare_tables
from filterdb.stats.scaling import LayerFilters, scale_by_peak
from filterdb.stats.shift import EMPTY_BIN_FLOOR, bin_probabilities, shift_matrix


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


def test_pca_from_moments_equals_sklearn_up_to_sign_and_sign_convention_holds():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5000, 9)) @ rng.normal(size=(9, 9)) + 0.3
    basis = fit_pca(raw_moments(x.T.copy()))
    reference = PCA(n_components=9).fit(x)
    signs = np.sign((basis.components * reference.components_).sum(axis=1))
    np.testing.assert_allclose(basis.components, reference.components_ * signs[:, None], atol=1e-9)
    np.testing.assert_allclose(basis.mean, reference.mean_, atol=1e-12)
    np.testing.assert_allclose(basis.explained_variance, reference.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(
        basis.explained_variance_ratio, reference.explained_variance_ratio_, rtol=1e-9
    )
    peak = basis.components[np.arange(9), np.abs(basis.components).argmax(axis=1)]
    assert (peak > 0).all()
    coefficients = project(x.T, basis.mean, basis.components)
    np.testing.assert_allclose(coefficients.T * signs, reference.transform(x), atol=1e-9)
    flipped = orient_components(-basis.components)
    assert np.array_equal(flipped, basis.components)


def test_pca_needs_two_filters():
    with pytest.raises(ValueError, match="at least 2"):
        fit_pca(raw_moments(np.ones((9, 1))))


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


def test_deciles_match_pandas_cut_and_missing_depths_have_none():
    norm = np.array([0.0, 0.05, 0.1, 0.1000001, 0.3, 0.95, 1.0, np.nan, 1.2, -0.1])
    cut = pd.cut(norm, bins=[i / 10 for i in range(11)], include_lowest=True).codes
    deciles = depth_deciles(norm)
    assert deciles[:7].tolist() == cut[:7].tolist()
    assert deciles[7:].tolist() == [-1, -1, -1]
    assert DECILE_LABELS[0] == "[0.0, 0.1]" and DECILE_LABELS[1] == "(0.1, 0.2]"
    assert DECILE_LABELS[-1] == "(0.9, 1.0]"


def test_axis_slugs_labels_and_groups():
    assert axis_slug("Training-Dataset") == "training_dataset"
    assert axis_slugs(["Conv Weight Initializer"])[-1] == "conv_weight_initializer"
    assert axis_slugs()[:3] == ["task", "visual_category", "conv_depth_decile"]
    with pytest.raises(ValueError, match="repeat"):
        axis_slugs(["Task"])
    models = pd.DataFrame(
        {"Task": ["Semantic Segmentation", "Classification", None, " Instance Segmentation "]}
    )
    merged = model_labels(models, "Task", merge_segmentation=True).tolist()
    assert merged == ["Segmentation", "Classification", "", "Segmentation"]
    kept = model_labels(models, "Task", merge_segmentation=False).tolist()
    assert kept[0] == "Semantic Segmentation"
    hists = np.array([[9, 0], [0, 18], [9, 9], [0, 0]]).repeat(9, axis=1)[:, :18]
    groups = group_cells(np.array(["b", "a", "", "a"], dtype=object), np.array([0, 1, 1, 2]), hists)
    assert groups.labels == ["a", "b"]
    assert groups.n_models.tolist() == [1, 1]
    assert groups.histograms.sum(axis=1).tolist() == [hists[1].sum(), hists[0].sum()]


def test_options_reject_unknown_keys_and_bad_values():
    assert StatsOptions.from_params({"extra_axes": ["Framework"]}).extra_axes == ("Framework",)
    with pytest.raises(ValueError, match="unknown"):
        StatsOptions.from_params({"binz": 3})
    with pytest.raises(ValueError, match="bins"):
        StatsOptions.from_params({"bins": 1})
    sizes = StatsOptions(randomness_min_n=2, randomness_max_n=1000, randomness_points=20)
    assert sizes.randomness_sizes()[0] == 2 and sizes.randomness_sizes()[-1] == 1000


def _layer(rng, out_channels, in_channels, groups=1):
    weights = rng.normal(size=(out_channels, in_channels // groups, 3, 3)).astype(np.float32)
    return Layer(weights, out_channels, in_channels, groups)


def test_partitions_hold_whole_layers_and_cover_the_file(tmp_path):
    rng = np.random.default_rng(9)
    layers = [_layer(rng, 8, 4), _layer(rng, 16, 8), _layer(rng, 4, 4, 4), _layer(rng, 32, 16)]
    db = write_db(tmp_path / "db", [Model("m0", {"Task": "A"}, layers)], row_group_size=100)
    models, table = _prepare_tables(db / "models.parquet", db / "layers.parquet", StatsOptions())
    for partition_rows in (1, 150, 10**6):
        specs = plan_partitions(models, table, db / "filters", partition_rows, np.array([-1]))
        assert [layer for s in specs for layer in s.layers] == [0, 1, 2, 3]
        assert all(s.n_rows <= max(partition_rows, 512) for s in specs)
        raw = np.concatenate([read_partition(s) for s in specs], axis=1)
        expected = np.concatenate([layer.weights.reshape(-1, 9) for layer in layers]).T
        assert np.array_equal(raw, expected)


def test_partitions_refuse_a_file_that_splits_a_layer(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from filterdb.filter_file import FILTER_SCHEMA

    rng = np.random.default_rng(10)
    db = write_db(tmp_path / "db", [Model("m0", {}, [_layer(rng, 8, 4)])])
    path = db / "filters" / "m0.parquet"
    table = pq.read_table(path)
    with pq.ParquetWriter(path, FILTER_SCHEMA) as writer:
        writer.write_table(pa.Table.from_batches(table.to_batches()), row_group_size=10)
    models, layers = _prepare_tables(db / "models.parquet", db / "layers.parquet", StatsOptions())
    with pytest.raises(ModelError, match="whole layers"):
        plan_partitions(models, layers, db / "filters", 10**6, np.array([-1]))


def test_missing_filter_file_is_a_model_error_naming_model_and_file(tmp_path):
    rng = np.random.default_rng(11)
    db = write_db(tmp_path / "db", [Model("m0", {}, [_layer(rng, 8, 4)])])
    (db / "filters" / "m0.parquet").unlink()
    models, layers = _prepare_tables(db / "models.parquet", db / "layers.parquet", StatsOptions())
    with pytest.raises(ModelError, match=r"model 'm0' \(.*m0\.parquet\): cannot read"):
        plan_partitions(models, layers, db / "filters", 10**6, np.array([-1]))


def test_unknown_channel_counts_leave_only_orthogonality_undefined(tmp_path):
    from filterdb.stats.passes import moments_pass

    rng = np.random.default_rng(12)
    db = write_db(tmp_path / "db", [Model("m0", {}, [_layer(rng, 8, 4), _layer(rng, 16, 8)])])
    table = pd.read_parquet(db / "layers.parquet")
    for column in ("in_channels", "out_channels", "groups"):
        table[column] = pd.array([pd.NA] * len(table), dtype="Int64")
    table.to_parquet(db / "layers.parquet", index=False)
    models, layers = _prepare_tables(db / "models.parquet", db / "layers.parquet", StatsOptions())
    (spec,) = plan_partitions(models, layers, db / "filters", 10**6, np.array([-1]))
    result = moments_pass(spec)
    assert np.isnan(result["orthogonality"]).all()
    assert (result["variance_entropy"] > 0.5).all() and result["n_finite"].tolist() == [32, 128]
