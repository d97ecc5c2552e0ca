"""Write one model's extraction outputs: its 3x3 filters, its layer table and a summary.

The filter file follows ``db.filter_file``'s layout; the layer table is the model's rows of
``results/db/layers.parquet`` without ``model``/``filter_start``, which need all models; the JSON
summary is one row of ``models.parquet`` to be. Files are written with explicit schemas and without
pandas metadata so the same checkpoint always gives byte-identical files, which keeps Snakemake
reruns and the assembled database reproducible.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from filterdb.atomic import atomic_path, write_text_atomic
from filterdb.db.filter_file import write_filter_file
from filterdb.db.schema import EXTRACTED_LAYER_SCHEMA
from filterdb.errors import ModelError, describe
from filterdb.extract.conv_layers import (
    ConvLayer,
    ModelConvs,
    conv_depth_ranks,
    filter_share_3x3,
    kernel_counts,
)
from filterdb.extract.memory import MemoryLimit
from filterdb.progress import progress_bar

PathLike = str | os.PathLike[str]


def summarize(convs: ModelConvs) -> dict:
    """The per-model summary (kernel counts of all 2-D convs; needs no weights, only shapes)."""
    counts = kernel_counts(layer.shape for layer in convs.layers)
    return {
        "model": convs.model,
        "format": convs.format,
        "producer": convs.producer,
        "opset": convs.opset,
        "depth_method": convs.depth_method,
        "n_conv_layers": len(convs.layers),
        "shape_counts": {str(kernel): n for kernel, n in counts.items()},
        "n_filters": counts.get((3, 3), 0),
        "3x3_filter_share": filter_share_3x3(counts),
        "skipped_layers": convs.skipped_layers,
        "skipped_reasons": convs.skipped_reasons,
    }


def write_layer_table(records: Sequence[dict], path: PathLike) -> None:
    """One model's layer table (rows as dicts of ``EXTRACTED_LAYER_SCHEMA``'s columns)."""
    table = pa.Table.from_pylist(list(records), schema=EXTRACTED_LAYER_SCHEMA)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def write_summary(summary: dict, path: PathLike) -> None:
    """The model's summary as sorted, indented JSON (byte-stable for equal content)."""
    write_text_atomic(path, json.dumps(summary, sort_keys=True, indent=2) + "\n")


def write_extraction(
    convs: ModelConvs,
    filters_path: PathLike,
    layers_path: PathLike,
    summary_path: PathLike,
    row_group_size: int,
    progress: bool = False,
    limit: MemoryLimit | None = None,
) -> dict:
    """Write the three per-model outputs, decoding the 3x3 layers one row group at a time.

    Every layer's declared size is checked against ``limit`` (default
    :meth:`MemoryLimit.for_job`) before the first one is decoded. Returns the summary written.
    """
    layers_3x3 = convs.layers_3x3
    limit = limit or MemoryLimit.for_job()
    for layer in layers_3x3:
        limit.check_layer(convs.model, convs.path, layer.name, layer.shape)
    ranks = conv_depth_ranks(layer.depth for layer in convs.layers)
    records: list[dict] = []
    bar = progress_bar(len(layers_3x3), convs.model, "layer", enabled=progress)

    def group_columns(lo: int, hi: int) -> np.ndarray:
        blocks = []
        for index in range(lo, hi):
            layer = layers_3x3[index]
            weights = load_weights(convs, layer)
            records.append(
                _layer_record(index, layer, weights, ranks[layer.depth], convs.depth_method)
            )
            blocks.append(weights.reshape(-1, 9))
            bar.update()
        filters = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
        return filters.T

    with bar:
        sizes = [layer.n_kernels for layer in layers_3x3]
        write_filter_file(filters_path, sizes, row_group_size, group_columns)
    write_layer_table(records, layers_path)
    summary = summarize(convs)
    write_summary(summary, summary_path)
    return summary


def load_weights(convs: ModelConvs, layer: ConvLayer) -> np.ndarray:
    """A layer's float32 weights, or the model's ``ModelError`` when they cannot be decoded."""
    try:
        weights = layer.load()
    except Exception as exc:  # e.g. truncated ONNX raw data or an unreadable external file
        raise ModelError(
            convs.model, convs.path, f"cannot read weights of layer {layer.name!r}: {describe(exc)}"
        ) from exc
    if weights.shape != layer.shape:
        raise ModelError(
            convs.model,
            convs.path,
            f"layer {layer.name!r} decoded to shape {weights.shape}, expected {layer.shape}",
        )
    return weights


def _layer_record(
    index: int, layer: ConvLayer, weights: np.ndarray, rank: tuple[int, float], depth_method: str
) -> dict:
    return {
        "layer": index,
        "layer_name": layer.name,
        "depth": layer.depth,
        "conv_depth": rank[0],
        "conv_depth_norm": rank[1],
        "depth_method": depth_method,
        "in_channels": layer.in_channels,
        "out_channels": layer.out_channels,
        "groups": layer.groups,
        "n_filters": layer.n_kernels,
        "n_nan": int(np.isnan(weights).sum()),
        "n_inf": int(np.isinf(weights).sum()),
    }
