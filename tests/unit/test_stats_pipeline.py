"""The statistics stage on a real Dask cluster against an in-memory reference.

One small database holds ordinary layers and every edge case (all-zero layer, one-filter layer,
NaN/Inf filters, an all-NaN layer, a depthwise layer, a model without 3x3 layers, empty labels,
a group with a single model, a layer without relative depth). The reference loads it whole and
computes everything with numpy, scikit-learn and scipy; the stage's files must agree.
A second database holds real network weights to compare the degeneration metrics with
torchconvquality.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import scipy.stats
import torch
from db_builders import ROW_GROUP_SIZE, edge_case_models
from sklearn.decomposition import PCA

from filterdb.db.from_arrays import ArrayLayer, ArrayModel, write_database
from filterdb.db.schema import LAYERS_FILE, MODELS_FILE, WEIGHT_COLUMNS, filter_path
from filterdb.stats.files import (
    STATS_FILES,
    group_counts_key,
    group_labels_key,
    shift_file,
    shift_groups_file,
)
from filterdb.stats.grouping import DECILE_LABELS
from filterdb.stats.options import StatsOptions
from filterdb.stats.outputs import write_outputs
from filterdb.stats.runner import run_statistics

WEIGHTS = list(WEIGHT_COLUMNS)
PARAMS = {
    "partition_rows": 900,
    "randomness_max_n": 2048,
    "randomness_points": 5,
    "randomness_repeats": 3,
    "kde_grid_points": 128,
}
OPTIONS = StatsOptions.from_params(PARAMS)
EPS32 = float(np.finfo(np.float32).eps)


@pytest.fixture(scope="module")
def edge_run(local_client, tmp_path_factory):
    root = tmp_path_factory.mktemp("edge")
    db = write_database(root / "db", edge_case_models(), row_group_size=700)
    options = StatsOptions.from_params({**PARAMS, "extra_axes": ["Framework"]})
    result = run_statistics(db, options, local_client)
    write_outputs(result, root / "stats")
    return db, root / "stats"


# ---------------------------------------------------------------------------------------------
# The in-memory reference.


def _load(db):
    """All filters (float32, rows) with their model_id and layer, plus both tables."""
    models = pd.read_parquet(db / MODELS_FILE).sort_values("model_id")
    layers = pd.read_parquet(db / LAYERS_FILE)
    frames = []
    for model_id, model in zip(models["model_id"], models["model"], strict=True):
        table = pq.read_table(filter_path(db, model)).to_pandas()
        frames.append(table.assign(model_id=model_id))
    filters = pd.concat(frames, ignore_index=True)
    return models, layers, filters


def _ref_entropy(w: np.ndarray) -> float:
    if len(w) == 0:
        return float("nan")
    s = np.linalg.svd(w - w.mean(axis=0), compute_uv=False) ** 2
    if s.sum() == 0:
        return 0.0
    p = s / s.sum()
    p = p[p > 0]
    return float(-(p * np.log10(p)).sum())


def _ref_layer(w: np.ndarray, out_channels: int) -> dict:
    """Degeneration metrics of one layer's float32 filters (rows), NaN/Inf filters dropped."""
    finite = np.isfinite(w).all(axis=1)
    fw = w[finite].astype(np.float64)
    if len(fw) == 0:
        return dict.fromkeys(("sparsity", "entropy", "clean", "orth"), np.nan) | {"n": 0}
    peak = np.abs(w[finite]).max(axis=1)
    t = np.float32(0.01 * float(peak.max()))
    sparse = peak < t if t > 0 else np.ones(len(fw), bool)
    channels = w.reshape(out_channels, -1)
    channels = channels[np.isfinite(channels).all(axis=1)].astype(np.float64)
    if len(channels) >= 2:
        norms = np.linalg.norm(channels, axis=1)
        unit = channels / np.where(norms == 0, 1, norms)[:, None]
        c = len(channels)
        orth = 1 - np.abs(unit @ unit.T - np.eye(c)).sum() / (c * (c - 1))
    else:
        orth = np.nan
    return {
        "n": len(fw),
        "sparsity": sparse.mean(),
        "entropy": _ref_entropy(fw),
        "clean": _ref_entropy(fw[~sparse]) if (~sparse).any() else np.nan,
        "orth": orth,
    }


def _threshold(n):
    return 1.2618047 / (1 + np.exp(-0.88767525 * (np.log2(n) - 2.30436435))) - 0.31050834


def _ref_shift(p_counts: np.ndarray, q_counts: np.ndarray, edges, ratio) -> float:
    """D(P, Q) with scipy: density histograms, empty bins floored, KL in both directions."""
    total = 0.0
    for k in range(9):
        p, q = (c[k] / c[k].sum() / np.diff(edges) for c in (p_counts, q_counts))
        p, q = np.where(p == 0, EPS32, p), np.where(q == 0, EPS32, q)
        total += ratio[k] * (scipy.stats.entropy(p, q) + scipy.stats.entropy(q, p))
    return total


@pytest.fixture(scope="module")
def reference(edge_run):
    db, stats = edge_run
    models, layers, filters = _load(db)
    w = filters[WEIGHTS].to_numpy()
    finite = np.isfinite(w).all(axis=1)
    x = w[finite].astype(np.float64)
    peak = np.abs(x).max(axis=1)
    scaled = x / np.where(peak == 0, 1, peak)[:, None]
    basis = json.loads((stats / STATS_FILES["pca_basis"]).read_text())
    coefficients = (scaled - np.array(basis["mean"])) @ np.array(basis["components"]).T
    return {
        "models": models,
        "layers": layers,
        "filters": filters[finite].reset_index(drop=True),
        "all_filters": filters,
        "scaled": scaled,
        "coefficients": coefficients,
        "basis": basis,
        "stats": stats,
    }


# ---------------------------------------------------------------------------------------------


def test_pca_equals_sklearn_on_finite_scaled_filters(reference):
    basis, scaled = reference["basis"], reference["scaled"]
    pca = PCA(n_components=9).fit(scaled)
    components = np.array(basis["components"])
    signs = np.sign((components * pca.components_).sum(axis=1))
    np.testing.assert_allclose(components, pca.components_ * signs[:, None], atol=1e-6)
    np.testing.assert_allclose(basis["mean"], pca.mean_, atol=1e-6)
    np.testing.assert_allclose(basis["explained_variance"], pca.explained_variance_, atol=1e-6)
    np.testing.assert_allclose(
        basis["explained_variance_ratio"], pca.explained_variance_ratio_, atol=1e-6
    )
    np.testing.assert_allclose(basis["covariance"], np.cov(scaled.T), atol=1e-9)
    rows = np.arange(9)
    assert (components[rows, np.abs(components).argmax(axis=1)] > 0).all()
    assert basis["n_filters"] == len(scaled)
    n_bad = int((~np.isfinite(reference["all_filters"][WEIGHTS].to_numpy()).all(axis=1)).sum())
    assert basis["n_nonfinite_filters"] == n_bad == 3 + 2 + 4


def test_coefficient_range_and_c0_c1_density(reference):
    basis, c = reference["basis"], reference["coefficients"]
    assert basis["coef_min"] == pytest.approx(c.min(), abs=1e-12)
    assert basis["coef_max"] == pytest.approx(c.max(), abs=1e-12)
    density = np.load(reference["stats"] / STATS_FILES["density"])
    expected, edges, _ = np.histogram2d(c[:, 0], c[:, 1], bins=512, range=[[-3.3, 3.3]] * 2)
    assert density["counts"].dtype == np.int64
    assert np.array_equal(density["counts"], expected.astype(np.int64))
    assert np.array_equal(density["edges"], edges)


def _filter_labels(reference, axis: str) -> np.ndarray:
    """Each finite filter's group on ``axis`` ("" = excluded), computed independently."""
    filters, models, layers = reference["filters"], reference["models"], reference["layers"]
    if axis == "conv_depth_decile":
        norm = filters.merge(
            layers[["model", "layer", "conv_depth_norm"]].assign(
                model_id=layers["model"].map(
                    dict(zip(models["model"], models["model_id"], strict=True))
                )
            ),
            on=["model_id", "layer"],
            how="left",
        )["conv_depth_norm"]
        codes = pd.cut(norm, bins=[i / 10 for i in range(11)], include_lowest=True).cat.codes
        return np.array([DECILE_LABELS[k] if k >= 0 else "" for k in codes], dtype=object)
    column = {
        "task": "Task",
        "visual_category": "Visual Category",
        "network": "Network",
        "training_dataset": "Training-Dataset",
        "framework": "Framework",
    }[axis]
    labels = models[column].fillna("").to_numpy(dtype=object)
    if column == "Task":
        labels = np.array(["Segmentation" if "Segmentation" in s else s for s in labels], object)
    return labels[filters["model_id"].to_numpy()]


@pytest.mark.parametrize(
    "axis",
    ["task", "visual_category", "conv_depth_decile", "network", "training_dataset", "framework"],
)
def test_shift_matrices_and_group_sizes(reference, axis):
    basis, c = reference["basis"], reference["coefficients"]
    edges = np.histogram([], bins=70, range=(basis["coef_min"], basis["coef_max"]))[1]
    labels = _filter_labels(reference, axis)
    names = sorted(set(labels) - {""})
    if axis == "conv_depth_decile":
        names = [d for d in DECILE_LABELS if d in names]
    counts = {
        g: np.stack([np.histogram(c[labels == g, k], bins=edges)[0] for k in range(9)])
        for g in names
    }
    groups = pd.read_csv(reference["stats"] / shift_groups_file(axis))
    assert groups["group"].tolist() == names
    model_of = reference["filters"]["model_id"].to_numpy()
    assert groups["n_filters"].tolist() == [int((labels == g).sum()) for g in names]
    assert groups["n_models"].tolist() == [len(set(model_of[labels == g])) for g in names]
    tidy = pd.read_csv(reference["stats"] / shift_file(axis), keep_default_na=False)
    assert len(tidy) == len(names) ** 2
    ratio = basis["explained_variance_ratio"]
    for row in tidy.itertuples():
        expected = _ref_shift(counts[row.group_a], counts[row.group_b], edges, ratio)
        assert pytest.approx(expected, rel=1e-9, abs=1e-12) == row.D
    upper = pd.read_csv(reference["stats"] / STATS_FILES["upper_triangle"])
    upper = upper[upper["axis"] == axis]
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    assert list(zip(upper["group_a"], upper["group_b"], strict=True)) == pairs
    with np.load(reference["stats"] / STATS_FILES["group_histograms"]) as stored:
        assert stored[group_labels_key(axis)].tolist() == names
        expected_counts = np.stack([counts[g] for g in names])
        np.testing.assert_array_equal(stored[group_counts_key(axis)], expected_counts)


def test_group_histograms_hold_the_edges_and_every_filter(reference):
    """``filterdb check`` bins a model on these: np.histogram's edges and all finite filters."""
    basis, c = reference["basis"], reference["coefficients"]
    edges = np.histogram([], bins=70, range=(basis["coef_min"], basis["coef_max"]))[1]
    with np.load(reference["stats"] / STATS_FILES["group_histograms"]) as stored:
        np.testing.assert_array_equal(stored["edges"], edges)
        expected = np.stack([np.histogram(c[:, k], bins=edges)[0] for k in range(9)])
        np.testing.assert_array_equal(stored["all"], expected)


def test_segmentation_tasks_merged_and_empty_labels_excluded(reference):
    stats = reference["stats"]
    tasks = pd.read_csv(stats / shift_groups_file("task"))
    assert tasks["group"].tolist() == ["Classification", "Detection", "Segmentation"]
    assert tasks.set_index("group").loc["Segmentation", "n_models"] == 2
    categories = pd.read_csv(stats / shift_groups_file("visual_category"))
    assert "" not in categories["group"].fillna("").tolist()
    solo = pd.read_csv(stats / shift_groups_file("network")).set_index("group").loc["Solo"]
    assert solo["n_models"] == 1


def test_layer_metrics_match_reference_and_edge_cases(reference):
    metrics = pd.read_parquet(reference["stats"] / STATS_FILES["layer_metrics"])
    layers = reference["layers"]
    assert list(metrics.columns) == [
        "model", "layer", "n_filters", "n_finite_filters", "conv_depth", "conv_depth_norm",
        "sparsity", "variance_entropy", "clean_entropy", "randomness_threshold",
        "normalised_entropy", "orthogonality", "degenerated",
    ]  # fmt: skip
    assert metrics[["model", "layer"]].equals(layers[["model", "layer"]])
    all_filters = reference["all_filters"]
    ids = dict(zip(reference["models"]["model"], reference["models"]["model_id"], strict=True))
    for row in metrics.itertuples():
        in_layer = (all_filters["model_id"] == ids[row.model]) & (all_filters["layer"] == row.layer)
        w = all_filters.loc[in_layer, WEIGHTS].to_numpy()
        out_channels = int(layers.loc[row.Index, "out_channels"])
        ref = _ref_layer(w, out_channels)
        assert row.n_filters == len(w) and row.n_finite_filters == ref["n"]
        for got, expected, tol in [
            (row.sparsity, ref["sparsity"], 0),
            (row.variance_entropy, ref["entropy"], 1e-9),
            (row.clean_entropy, ref["clean"], 1e-9),
            (row.orthogonality, ref["orth"], 1e-5),
        ]:
            assert got == pytest.approx(expected, abs=tol, nan_ok=True), (row.model, row.layer)
        if ref["n"]:
            th = _threshold(ref["n"])
            assert row.randomness_threshold == pytest.approx(th, rel=1e-12)
            assert row.normalised_entropy == pytest.approx(ref["entropy"] / th, rel=1e-9)
            degenerated = ref["entropy"] >= th - 0.02 or (
                ref["entropy"] < 0.5 and ref["sparsity"] >= 0.14
            )
            assert row.degenerated == degenerated
    by_layer = metrics.set_index(["model", "layer"])
    zero = by_layer.loc[("gamma", 1)]
    assert (zero.sparsity, zero.variance_entropy, zero.degenerated) == (1.0, 0.0, True)
    single = by_layer.loc[("gamma", 2)]
    assert single.variance_entropy == 0.0 and np.isnan(single.orthogonality)
    all_nan = by_layer.loc[("beta", 3)]
    assert all_nan.n_finite_filters == 0 and np.isnan(all_nan.variance_entropy)
    assert not all_nan.degenerated
    assert by_layer.loc[("beta", 1)].n_finite_filters == 128 - 5
    assert by_layer.loc[("alpha", 2)].sparsity > 0.3


def test_model_summary_and_ranking(reference):
    metrics = pd.read_parquet(reference["stats"] / STATS_FILES["layer_metrics"])
    summary = pd.read_csv(reference["stats"] / STATS_FILES["model_summary"], keep_default_na=False,
                          na_values=["nan"])  # fmt: skip
    assert summary["model"].tolist() == reference["models"]["model"].tolist()
    for row in summary.itertuples():
        mine = metrics[metrics["model"] == row.model]
        assert row.n_layers == len(mine)
        assert row.n_filters == mine["n_filters"].sum()
        assert row.n_degenerated_layers == mine["degenerated"].sum()
        if len(mine):
            share = (mine["n_filters"] * mine["degenerated"]).sum() / mine["n_filters"].sum()
            assert row.degenerated_share == pytest.approx(share, rel=1e-12)
            assert row.mean_sparsity == pytest.approx(mine["sparsity"].mean(), rel=1e-12)
            assert row.mean_orthogonality == pytest.approx(mine["orthogonality"].mean(), rel=1e-12)
        else:
            assert np.isnan(row.degenerated_share)
    assert summary.set_index("model").loc["beta", "Task"] == "Semantic Segmentation"
    ranked = pd.read_csv(reference["stats"] / STATS_FILES["degenerated_models"])
    assert ranked["rank"].tolist() == list(range(1, len(summary) + 1))
    shares = ranked["degenerated_share"].to_numpy()
    assert (np.diff(shares[~np.isnan(shares)]) <= 0).all()
    assert ranked["model"].iloc[-1] == "empty"


def test_kde_curves_approach_gaussian_kde_per_visual_category(reference):
    kde = pd.read_csv(reference["stats"] / STATS_FILES["kde"])
    labels = _filter_labels({**reference}, "visual_category")
    c = reference["coefficients"]
    assert sorted(kde["visual_category"].unique()) == ["faces", "medical", "natural"]
    for (category, k), curve in kde.groupby(["visual_category", "coefficient"]):
        values = c[labels == category, k]
        expected = scipy.stats.gaussian_kde(values)(curve["x"].to_numpy())
        assert np.abs(curve["density"].to_numpy() - expected).max() < 0.02 * expected.max()
    x = kde["x"].unique()
    basis = reference["basis"]
    assert x[0] == basis["coef_min"] and x[-1] == basis["coef_max"] and len(x) == 128


def test_randomness_curve(reference):
    curve = pd.read_csv(reference["stats"] / STATS_FILES["randomness"])
    assert list(curve.columns) == ["n", "threshold", "entropy_mean", "entropy_std"]
    assert curve["n"].tolist() == sorted(set(curve["n"])) and curve["n"].iloc[-1] == 2048
    np.testing.assert_allclose(curve["threshold"], _threshold(curve["n"].to_numpy()), rtol=1e-12)
    big = curve[curve["n"] >= 64]
    assert ((big["entropy_mean"] - big["threshold"]).abs() < 0.1).all()
    assert (curve["entropy_std"] >= 0).all()


# ---------------------------------------------------------------------------------------------
# Real network weights against torchconvquality.


def _real_network_models() -> tuple[list[ArrayModel], list[torch.nn.Conv2d]]:
    """Seeded timm resnet18 3x3 convs up to layer3, two made sparse, plus a depthwise conv."""
    import timm

    torch.manual_seed(0)
    net = timm.create_model("resnet18", pretrained=False)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)]
    convs = convs[:12]  # layer1..layer3 (300k filters): layer4 would only add run time
    depthwise = torch.nn.Conv2d(32, 32, 3, groups=32, bias=False)
    convs.append(depthwise)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for conv, fraction in ((convs[3], 0.5), (convs[8], 0.9)):
            w = conv.weight
            mask = torch.rand(w.shape[:2], generator=generator) < fraction
            w[mask] *= 1e-4
    layers = [
        ArrayLayer(c.weight.detach().numpy().copy(), c.out_channels, c.in_channels, c.groups)
        for c in convs
    ]
    return [ArrayModel("resnet18_seeded", {"Task": "Classification"}, layers)], convs


def test_degeneration_matches_torchconvquality_on_real_layers(local_client, tmp_path):
    from torchconvquality import measure_layer_quality

    models, convs = _real_network_models()
    db = write_database(tmp_path / "db", models, ROW_GROUP_SIZE)
    result = run_statistics(db, OPTIONS, local_client)
    metrics = result.layer_metrics
    assert len(metrics) == len(convs)
    assert metrics["sparsity"].iloc[3] > 0.4 and metrics["sparsity"].iloc[8] > 0.8
    for row, conv in zip(metrics.itertuples(), convs, strict=True):
        quality = measure_layer_quality(conv)
        assert row.sparsity == pytest.approx(quality["sparsity"], abs=1e-5)
        assert row.variance_entropy == pytest.approx(quality["variance_entropy"], abs=1e-5)
        assert row.normalised_entropy == pytest.approx(quality["variance_entropy_norm"], abs=1e-5)
        assert row.clean_entropy == pytest.approx(quality["variance_entropy_clean"], abs=1e-5)
        assert row.orthogonality == pytest.approx(quality["orthogonality"], abs=1e-5)


# ---------------------------------------------------------------------------------------------
# statistics.exclude: excluded models leave the PCA and shift analyses, not the degeneration.

PCA_AND_SHIFT_FILES = (
    STATS_FILES["pca_basis"],
    STATS_FILES["upper_triangle"],
    STATS_FILES["group_histograms"],
    STATS_FILES["density"],
    STATS_FILES["kde"],
    *(shift_file(axis) for axis in ("task", "visual_category", "conv_depth_decile")),
    *(shift_groups_file(axis) for axis in ("task", "visual_category", "network")),
)


def test_excluded_model_leaves_pca_and_shifts_but_not_degeneration(local_client, tmp_path):
    """Excluding ``beta`` gives the PCA and shift files of a database that never held it."""
    models = edge_case_models()
    with_beta = write_database(tmp_path / "all", models, row_group_size=700)
    without = write_database(
        tmp_path / "without", [m for m in edge_case_models() if m.name != "beta"], 700
    )
    excluding = StatsOptions.from_params({**PARAMS, "exclude": ["Training-Dataset=MedSet"]})
    everything = StatsOptions.from_params({**PARAMS, "exclude": []})
    for db, options, out in (
        (with_beta, excluding, "excluded"),
        (without, everything, "absent"),
        (with_beta, everything, "included"),
    ):
        write_outputs(run_statistics(db, options, local_client), tmp_path / out)
    for name in PCA_AND_SHIFT_FILES:
        excluded = (tmp_path / "excluded" / name).read_bytes()
        assert excluded == (tmp_path / "absent" / name).read_bytes(), name
    assert (tmp_path / "excluded" / STATS_FILES["pca_basis"]).read_bytes() != (
        tmp_path / "included" / STATS_FILES["pca_basis"]
    ).read_bytes()
    summary = pd.read_csv(tmp_path / "excluded" / STATS_FILES["model_summary"])
    assert dict(zip(summary["model"], summary["in_pca"], strict=True)) == {
        m.name: m.name != "beta" for m in models
    }
    metrics = pd.read_parquet(tmp_path / "excluded" / STATS_FILES["layer_metrics"])
    included = pd.read_parquet(tmp_path / "included" / STATS_FILES["layer_metrics"])
    pd.testing.assert_frame_equal(metrics, included)
    assert (metrics["model"] == "beta").sum() == 5


def test_exclude_naming_an_unknown_column_is_refused(local_client, tmp_path):
    db = write_database(tmp_path / "db", edge_case_models()[:2], row_group_size=700)
    options = StatsOptions.from_params({**PARAMS, "exclude": ["Trainig-Dataset=untrained"]})
    with pytest.raises(ValueError, match="'Trainig-Dataset', which the database"):
        run_statistics(db, options, local_client)
