"""One pass over a model's 3x3 layers: the degeneration metrics and the coefficient counts.

Each layer is decoded once, measured, projected and dropped before the next is decoded, so a
check holds one layer's filters at a time, like the workflow's extraction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from filterdb.extract.conv_layers import ModelConvs, conv_depth_ranks
from filterdb.extract.memory import MemoryLimit
from filterdb.extract.write import load_weights
from filterdb.stats.blas import single_blas_thread
from filterdb.stats.degeneration import degeneration_reasons, layer_quality
from filterdb.stats.kernels import coefficient_counts
from filterdb.stats.passes import NO_FINE
from filterdb.stats.pca import PcaBasis
from filterdb.stats.scaling import LayerFilters
from filterdb.stats.summaries import layer_metrics

#: The per-layer partial results, as the statistics stage's pass 1 names them.
_PARTIALS = ("n_finite", "sparsity", "variance_entropy", "clean_entropy", "orthogonality")


@dataclass(frozen=True)
class Projection:
    """What a model's coefficients are binned on: a database's PCA basis and histogram edges."""

    basis: PcaBasis
    edges: np.ndarray


@dataclass(frozen=True)
class Measures:
    """A model's layer table and, with a projection, its ``(9, bins)`` coefficient counts.

    ``outside`` counts coefficient values beyond the projection's edges (left out of ``counts``,
    as ``np.histogram`` leaves them out).
    """

    layers: pd.DataFrame
    counts: np.ndarray | None
    outside: int


def layer_frame(convs: ModelConvs, values: dict[str, list]) -> pd.DataFrame:
    """``layer_metrics``' table of the model, with the layer's name, shape and reason added."""
    table = pd.DataFrame(
        {
            "model": convs.model,
            "layer": np.arange(len(values["n_filters"]), dtype=np.int32),
            "n_filters": np.asarray(values["n_filters"], dtype=np.int64),
            "conv_depth": np.asarray(values["conv_depth"], dtype=np.int64),
            "conv_depth_norm": np.asarray(values["conv_depth_norm"], dtype=np.float64),
        }
    )
    metrics = layer_metrics(table, {k: np.asarray(values[k]) for k in _PARTIALS})
    metrics.insert(2, "layer_name", values["layer_name"])
    metrics.insert(3, "shape", values["shape"])
    metrics["reason"] = np.where(
        metrics["degenerated"],
        degeneration_reasons(
            metrics["variance_entropy"], metrics["sparsity"], metrics["n_finite_filters"]
        ),
        "",
    )
    return metrics


def measure(
    convs: ModelConvs, projection: Projection | None = None, limit: MemoryLimit | None = None
) -> Measures:
    """Metrics of every 3x3 layer of ``convs`` and, given ``projection``, their coefficients.

    Every layer's declared size is checked against ``limit`` (default
    :meth:`MemoryLimit.for_job`) before the first is decoded. Filters are laid out and chunked
    as the statistics stage lays them out, so the metrics and counts are the ones a workflow
    run gives the same checkpoint, bit for bit.
    """
    limit = limit or MemoryLimit.for_job()
    layers = convs.layers_3x3
    for layer in layers:
        limit.check_layer(convs.model, convs.path, layer.name, layer.shape)
    ranks = conv_depth_ranks(layer.depth for layer in convs.layers)
    columns = ("layer_name", "shape", "n_filters", "conv_depth", "conv_depth_norm", *_PARTIALS)
    values: dict[str, list] = {column: [] for column in columns}
    counts, outside = None, 0
    if projection is not None:
        counts = np.zeros(9 * (len(projection.edges) - 1), dtype=np.int64)
    with single_blas_thread():
        for layer in layers:
            weights = load_weights(convs, layer)
            filters = LayerFilters.of(np.ascontiguousarray(weights.reshape(-1, 9).T))
            quality = layer_quality(filters, layer.out_channels, layer.in_channels // layer.groups)
            rank, norm = ranks[layer.depth]
            row = {
                "layer_name": layer.name,
                "shape": str(layer.shape),
                "n_filters": layer.n_kernels,
                "conv_depth": rank,
                "conv_depth_norm": norm,
                "n_finite": filters.n,
                "sparsity": quality.sparsity,
                "variance_entropy": quality.variance_entropy,
                "clean_entropy": quality.clean_entropy,
                "orthogonality": quality.orthogonality,
            }
            for column, value in row.items():
                values[column].append(value)
            if projection is not None:
                basis = projection.basis
                outside += coefficient_counts(
                    filters.raw,
                    basis.mean,
                    basis.components,
                    projection.edges,
                    counts,
                    NO_FINE,
                )
    if counts is not None:
        counts = counts.reshape(9, -1)
    return Measures(layer_frame(convs, values), counts, outside)
