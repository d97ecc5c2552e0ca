"""Per-layer metric table and per-model degeneration summaries (O(layers), built on the client)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from filterdb.stats.degeneration import is_degenerated, randomness_threshold

SUMMARY_LABELS = ("Task", "Visual Category", "Network")


def layer_metrics(layers: pd.DataFrame, partials: dict[str, np.ndarray]) -> pd.DataFrame:
    """The layer_metrics table: ``layers`` rows (sorted by model_id, layer) with their metrics.

    ``normalised_entropy`` and ``randomness_threshold`` use the number of finite filters, the
    set the entropy was computed on.
    """
    n_finite = partials["n_finite"]
    entropy = partials["variance_entropy"]
    sparsity = partials["sparsity"]
    with np.errstate(divide="ignore", invalid="ignore"):
        threshold = np.where(n_finite > 0, randomness_threshold(np.maximum(n_finite, 1)), np.nan)
        normalised = entropy / threshold
    return pd.DataFrame(
        {
            "model": layers["model"].astype(str).to_numpy(),
            "layer": layers["layer"].to_numpy(dtype=np.int32),
            "n_filters": layers["n_filters"].to_numpy(dtype=np.int64),
            "n_finite_filters": n_finite.astype(np.int64),
            "conv_depth": layers["conv_depth"].to_numpy(),  # as stored (nullable on imports)
            "conv_depth_norm": layers["conv_depth_norm"].to_numpy(dtype=np.float64),
            "sparsity": sparsity,
            "variance_entropy": entropy,
            "clean_entropy": partials["clean_entropy"],
            "randomness_threshold": threshold,
            "normalised_entropy": normalised,
            "orthogonality": partials["orthogonality"],
            "degenerated": is_degenerated(entropy, sparsity, n_finite),
        }
    )


def model_summary(
    models: pd.DataFrame, metrics: pd.DataFrame, analysed: np.ndarray
) -> pd.DataFrame:
    """One row per model (model_id order), including models without any 3x3 layer.

    ``in_pca`` says whether the model's filters entered the PCA and shift analyses
    (``statistics.exclude``), so every table says which models those figures describe.
    ``degenerated_share`` weights each layer by its filter count (NaN without filters); the
    ``mean_*`` columns are unweighted means over the model's layers, skipping NaN.
    """
    weighted = metrics.assign(
        degenerated_filters=metrics["n_filters"] * metrics["degenerated"].astype(np.int64)
    )
    grouped = weighted.groupby("model", sort=False)
    per_model = pd.DataFrame(
        {
            "n_layers": grouped.size(),
            "n_filters": grouped["n_filters"].sum(),
            "n_degenerated_layers": grouped["degenerated"].sum(),
            "degenerated_filters": grouped["degenerated_filters"].sum(),
            "mean_sparsity": grouped["sparsity"].mean(),
            "mean_variance_entropy": grouped["variance_entropy"].mean(),
            "mean_orthogonality": grouped["orthogonality"].mean(),
        }
    )
    summary = models[["model", *SUMMARY_LABELS]].merge(
        per_model, left_on="model", right_index=True, how="left"
    )
    for column in ("n_layers", "n_filters", "n_degenerated_layers", "degenerated_filters"):
        summary[column] = summary[column].fillna(0).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = summary["degenerated_filters"] / summary["n_filters"].where(
            summary["n_filters"] > 0
        )
    summary["degenerated_share"] = share.astype(np.float64)
    summary["in_pca"] = np.asarray(analysed, dtype=bool)
    columns = [
        "model",
        "n_layers",
        "n_filters",
        "n_degenerated_layers",
        "degenerated_share",
        "mean_sparsity",
        "mean_variance_entropy",
        "mean_orthogonality",
        "in_pca",
        *SUMMARY_LABELS,
    ]
    return summary[columns].reset_index(drop=True)


def rank_degenerated(summary: pd.DataFrame) -> pd.DataFrame:
    """Models by degenerated_share, highest first (ties by model name, NaN last), with rank."""
    ranked = summary.sort_values(
        ["degenerated_share", "model"], ascending=[False, True], na_position="last", kind="stable"
    ).reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1, dtype=np.int64))
    return ranked
