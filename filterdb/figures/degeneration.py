"""Filter degeneration by relative depth: sparsity, variance entropy and orthogonality.

Reads the per-layer metrics (``layer_metrics.parquet``). Layers are binned by relative conv depth;
the first conv layer (``conv_depth == 0``) gets its own bin because it sees raw pixels and behaves
unlike any other layer. Each box collects one value per model: the mean of that model's layers in
the bin, so a model with many layers in a bin counts as much as one with a single layer.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from filterdb.figures.style import label_fontsize
from filterdb.stats.grouping import DECILE_LABELS, NO_DECILE, depth_deciles

FIRST_LAYER_BIN = "first layer"
#: The first layer, then the statistics stage's depth deciles (labels as in the depth shift matrix).
DEPTH_BINS = [FIRST_LAYER_BIN, *DECILE_LABELS]
#: Metric column → axis label.
METRICS = {
    "sparsity": "sparsity",
    "variance_entropy": "variance entropy",
    "orthogonality": "orthogonality",
}
COLUMNS = [
    "model",
    "n_finite_filters",
    "conv_depth",
    "conv_depth_norm",
    "randomness_threshold",
    "degenerated",
    *METRICS,
]


def read_layer_metrics(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the columns the depth and randomness-threshold figures need."""
    return pd.read_parquet(path, columns=COLUMNS)


def depth_bin(conv_depth: pd.Series, conv_depth_norm: pd.Series) -> pd.Series:
    """Bin label of each layer: the first layer, else the statistics stage's decile of its depth.

    Layers without a valid relative depth get no bin (NaN) and drop out of the figure.
    """
    decile = depth_deciles(conv_depth_norm.to_numpy())
    labels = np.where(decile == NO_DECILE, None, np.asarray(DECILE_LABELS, dtype=object)[decile])
    labels[conv_depth.to_numpy() == 0] = FIRST_LAYER_BIN
    return pd.Series(pd.Categorical(labels, categories=DEPTH_BINS), index=conv_depth.index)


def with_depth_bin(layers: pd.DataFrame) -> pd.DataFrame:
    """The layer table with a ``depth_bin`` column."""
    return layers.assign(depth_bin=depth_bin(layers["conv_depth"], layers["conv_depth_norm"]))


def per_model_means(binned: pd.DataFrame) -> pd.DataFrame:
    """One row per (depth bin, model): the mean of each metric over the model's layers in the bin.

    NaN metrics (layers without finite filters) are skipped by the mean, not counted as zero.
    """
    return binned.groupby(["depth_bin", "model"], observed=True)[list(METRICS)].mean().reset_index()


def threshold_per_bin(binned: pd.DataFrame) -> pd.Series:
    """Median randomness threshold of the layers in each bin.

    The threshold depends on the number of filters of a layer, and layers grow with depth, so one
    line for all depths would misplace it; the median layer of each bin is representative.
    """
    return binned.groupby("depth_bin", observed=True)["randomness_threshold"].median()


def plot_degeneration_by_depth(layers: pd.DataFrame) -> Figure:
    """Three stacked panels of per-model box plots over the depth bins present in the data."""
    binned = with_depth_bin(layers)
    means = per_model_means(binned)
    bins = [b for b in DEPTH_BINS if (means["depth_bin"] == b).any()]
    counts = means.groupby("depth_bin", observed=True)["model"].nunique()
    labels = [f"{b}\n{counts[b]} models" for b in bins]
    positions = np.arange(len(bins))
    fig = Figure(figsize=(max(8.0, 0.9 * len(bins) + 2), 9.0), layout="constrained")
    axes = fig.subplots(len(METRICS), 1, sharex=True)
    for ax, (column, name) in zip(axes, METRICS.items(), strict=True):
        data = [means.loc[means["depth_bin"] == b, column].dropna().to_numpy() for b in bins]
        ax.boxplot(
            data,
            positions=positions,
            showmeans=True,
            widths=0.6,
            meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"},
            medianprops={"color": "tab:blue"},
            flierprops={"marker": ".", "markersize": 3, "alpha": 0.5},
        )
        ax.set_ylabel(name)
        ax.grid(axis="y", alpha=0.3)
    threshold = threshold_per_bin(binned).reindex(bins)
    axes[1].plot(
        positions,
        threshold.to_numpy(),
        drawstyle="steps-mid",
        color="tab:red",
        ls="--",
        label="randomness threshold TH(n), median over the bin's layers",
    )
    axes[1].legend(loc="best", fontsize=8)
    axes[-1].set_xticks(positions, labels, fontsize=label_fontsize(len(bins)))
    axes[-1].set_xlabel("relative depth of the conv layer")
    fig.suptitle("Degeneration by depth (one value per model and bin; diamond = mean)")
    return fig


def degeneration_table(layers: pd.DataFrame) -> pd.DataFrame:
    """Per bin and metric: models, median, mean and quartiles of the per-model values, and TH."""
    binned = with_depth_bin(layers)
    long = per_model_means(binned).melt(id_vars=["depth_bin", "model"], var_name="metric").dropna()
    grouped = long.groupby(["depth_bin", "metric"], observed=True)["value"]
    table = pd.DataFrame(
        {
            "n_models": grouped.size(),
            "mean": grouped.mean(),
            "q1": grouped.quantile(0.25),
            "median": grouped.median(),
            "q3": grouped.quantile(0.75),
        }
    ).reset_index()
    threshold = threshold_per_bin(binned).rename("median_threshold")
    return table.join(threshold, on="depth_bin")
