"""Small but valid statistics outputs (``results/stats/``), written as the contract describes.

The figure tests and the report test need the statistics stage's files without running it. The
values are synthetic yet consistent with each other (group sizes match the models, the ranking
matches the layer metrics, the PCA basis is a real eigen-decomposition), so a figure that reads
the wrong column or the wrong order shows up as a failed assertion, not as a pretty picture.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from filterdb.figures.catalogue import figure_names
from filterdb.stats.degeneration import is_degenerated, randomness_threshold
from filterdb.stats.files import STATS_FILES, shift_file, shift_groups_file
from filterdb.stats.grouping import DECILE_LABELS, axis_slugs, depth_deciles

SHIFT_AXES = tuple(axis_slugs())
TASKS = ["Classification", "Detection", "Segmentation", "Generative", "Pose Estimation"]
CATEGORIES = ["Natural", "Medical CT", "Faces", "Artworks", "Satellite", "Text", "Seismic"]
NETWORKS = ["ResNet-18", "ResNet-50", "VGG-16", "MobileNet v2", "DenseNet-121", "U-Net"]
DATASETS = ["ImageNet1k", "CIFAR-10", "COCO", "MNIST"]
KDE_POINTS = 128
HIST_BINS = 512
HIST_RANGE = 3.3


@dataclass(frozen=True)
class StatsFixture:
    """Where the files are and which models and groups they describe."""

    stats_dir: Path
    models: pd.DataFrame  # model, task, visual_category, network, training_dataset
    layers: pd.DataFrame  # the layer_metrics table


def _names(base: list[str], n: int, stem: str) -> list[str]:
    """``n`` group names: realistic ones first, then long synthetic ones (label-overlap tests)."""
    extra = [f"{stem} with a rather long name {i:03d}" for i in range(n - len(base))]
    return (base + extra)[:n]


def _models(n_models: int, n_groups: dict[str, int], rng: np.random.Generator) -> pd.DataFrame:
    """Models assigned round-robin to groups, so every group has at least one model."""
    pools = {
        "task": _names(TASKS, n_groups.get("task", 3), "Task"),
        "visual_category": _names(CATEGORIES, n_groups.get("visual_category", 4), "Category"),
        "network": _names(NETWORKS, n_groups.get("network", 5), "Network"),
        "training_dataset": _names(DATASETS, n_groups.get("training_dataset", 3), "Dataset"),
    }
    if n_models < max(len(p) for p in pools.values()):
        raise ValueError("need at least as many models as groups per axis")
    table = {"model": [f"model_{i:04d}" for i in range(n_models)]}
    for column, pool in pools.items():
        order = rng.permutation(n_models)
        table[column] = [pool[k % len(pool)] for k in order]
    return pd.DataFrame(table)


def _layers(models: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Per-layer metrics; every fourth model is made degenerate (random-like or collapsed layers).

    TH(n) and the degeneration rule are the statistics stage's own, so the flags are consistent.
    """
    rows = []
    for m, model in enumerate(models["model"]):
        n_layers = int(rng.integers(4, 24))
        broken = m % 4 == 0
        for layer in range(n_layers):
            n_filters = int(2 ** rng.integers(5, 15))
            th = float(randomness_threshold(n_filters))
            if broken and layer % 3 == 1:
                entropy, sparsity = 0.3 * rng.random(), 0.2 + 0.5 * rng.random()  # collapsed
            elif broken and layer % 3 == 2:
                entropy, sparsity = th + 0.01 * rng.random(), 0.05 * rng.random()  # random-like
            else:
                entropy, sparsity = th - 0.05 - 0.3 * rng.random(), 0.15 * rng.random()
            rows.append(
                {
                    "model": model,
                    "layer": layer,
                    "n_filters": n_filters,
                    "n_finite_filters": n_filters,
                    "conv_depth": layer,
                    "conv_depth_norm": layer / (n_layers - 1),
                    "sparsity": sparsity,
                    "variance_entropy": entropy,
                    "clean_entropy": entropy,
                    "randomness_threshold": th,
                    "normalised_entropy": entropy / th,
                    "orthogonality": float(rng.beta(6, 3)),
                    "degenerated": bool(is_degenerated(entropy, sparsity, n_filters)),
                }
            )
    layers = pd.DataFrame(rows)
    return layers.astype({"layer": "int32", "n_filters": "int64", "n_finite_filters": "int64"})


def _write_shift(
    stats: Path, axis: str, sizes: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """Write ``<axis>.csv`` (all ordered pairs, D = |x_a - x_b| + a small asymmetry) and groups.

    The groups file is written in shuffled order: figures must not rely on the file's order.
    """
    sizes = sizes.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)
    position = rng.random(len(sizes)) * 2
    names = sizes["group"].to_numpy()
    i, j = np.divmod(np.arange(len(names) ** 2), len(names))
    d = np.where(i == j, 0.0, np.abs(position[i] - position[j]) + 0.01 * i)
    tidy = pd.DataFrame({"group_a": names[i], "group_b": names[j], "D": d})
    tidy.to_csv(stats / shift_file(axis), index=False)
    sizes.to_csv(stats / shift_groups_file(axis), index=False)
    upper = tidy[i < j]
    return upper.assign(axis=axis)[["axis", "group_a", "group_b", "D"]]


def _pca_basis(rng: np.random.Generator) -> dict:
    """A real PCA of correlated random 3x3 filters, with the contract's sign convention."""
    mixing = rng.normal(size=(9, 9)) * np.linspace(1.0, 0.1, 9)
    filters = rng.normal(size=(4000, 9)) @ mixing.T
    covariance = np.cov(filters, rowvar=False)
    values, vectors = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    values, components = values[order], vectors[:, order].T
    signs = np.sign(components[np.arange(9), np.abs(components).argmax(axis=1)])
    components = components * signs[:, None]
    coefficients = (filters - filters.mean(axis=0)) @ components.T
    return {
        "n_filters": len(filters),
        "mean": filters.mean(axis=0).tolist(),
        "components": components.tolist(),
        "explained_variance": values.tolist(),
        "explained_variance_ratio": (values / values.sum()).tolist(),
        "covariance": covariance.tolist(),
        "coef_min": float(coefficients.min()),
        "coef_max": float(coefficients.max()),
    }


def _summary(layers: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """model_summary rows, derived from the layer metrics as the contract defines them."""
    weighted = layers.assign(deg_filters=layers["n_filters"] * layers["degenerated"])
    grouped = weighted.groupby("model")
    summary = pd.DataFrame(
        {
            "n_layers": grouped.size(),
            "n_filters": grouped["n_filters"].sum(),
            "n_degenerated_layers": grouped["degenerated"].sum(),
            "degenerated_share": grouped["deg_filters"].sum() / grouped["n_filters"].sum(),
            "mean_sparsity": grouped["sparsity"].mean(),
            "mean_variance_entropy": grouped["variance_entropy"].mean(),
            "mean_orthogonality": grouped["orthogonality"].mean(),
        }
    ).reset_index()
    meta = models.rename(
        columns={"task": "Task", "visual_category": "Visual Category", "network": "Network"}
    )[["model", "Task", "Visual Category", "Network"]]
    return summary.merge(meta, on="model")


def write_stats_fixture(
    root: Path, n_models: int = 12, n_groups: dict[str, int] | None = None, seed: int = 0
) -> StatsFixture:
    """Write every file of ``<root>/results/stats/`` for ``n_models`` synthetic models.

    ``n_groups`` sets how many groups the task, visual_category, network and training_dataset axes
    have (the depth axis always has its ten deciles).
    """
    rng = np.random.default_rng(seed)
    stats = Path(root) / "results" / "stats"
    files = {name: stats / file for name, file in STATS_FILES.items()}
    files["upper_triangle"].parent.mkdir(parents=True, exist_ok=True)

    n = 2 ** np.arange(1, 17)
    threshold = randomness_threshold(n)
    curve = pd.DataFrame(
        {
            "n": n,
            "threshold": threshold,
            "entropy_mean": threshold + 0.03,
            "entropy_std": 0.01 + 0.1 / np.sqrt(n),
        }
    )
    curve.to_csv(files["randomness"], index=False)

    models = _models(n_models, n_groups or {}, rng)
    layers = _layers(models, rng)
    layers.to_parquet(files["layer_metrics"], index=False)

    uppers = []
    for axis in SHIFT_AXES:
        if axis == "conv_depth_decile":
            decile = depth_deciles(layers["conv_depth_norm"].to_numpy())
            binned = layers.assign(group=np.asarray(DECILE_LABELS)[decile])
        else:
            binned = layers.merge(models[["model", axis]], on="model").rename(
                columns={axis: "group"}
            )
        sizes = binned.groupby("group").agg(
            n_models=("model", "nunique"), n_filters=("n_filters", "sum")
        )
        uppers.append(_write_shift(stats, axis, sizes.reset_index(), rng))
    pd.concat(uppers).to_csv(files["upper_triangle"], index=False)

    basis = _pca_basis(rng)
    files["pca_basis"].write_text(json.dumps(basis))

    summary = _summary(layers, models)
    summary.sort_values("model").to_csv(files["model_summary"], index=False)
    ranked = summary.sort_values(["degenerated_share", "model"], ascending=[False, True])
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    ranked.to_csv(files["degenerated_models"], index=False)

    edges = np.linspace(-HIST_RANGE, HIST_RANGE, HIST_BINS + 1)
    c0, c1 = rng.normal(0, [1.0, 0.5], size=(200_000, 2)).T
    counts, _, _ = np.histogram2d(c0, c1, bins=[edges, edges])
    np.savez(files["density"], counts=counts.astype(np.int64), edges=edges)

    grid = np.linspace(basis["coef_min"], basis["coef_max"], KDE_POINTS)
    kde = []
    for category in sorted(models["visual_category"].unique()):
        for coefficient in range(9):
            mu, sigma = rng.normal(0, 0.3), 0.2 + rng.random() / (coefficient + 1)
            density = np.exp(-0.5 * ((grid - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))
            kde.append(
                pd.DataFrame(
                    {
                        "visual_category": category,
                        "coefficient": coefficient,
                        "x": grid,
                        "density": density,
                    }
                )
            )
    pd.concat(kde).to_csv(files["kde"], index=False)
    return StatsFixture(stats_dir=stats, models=models, layers=layers)


# Every figure the workflow writes (as .png, .pdf and .csv), from the catalogue the rules use.
FIGURES = figure_names(SHIFT_AXES)
