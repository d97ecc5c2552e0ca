"""Per-model extraction: read one checkpoint, write its 3x3 filters, its layer table and a summary.

Outputs (see notes/contracts.md, "The filter database"): the filters parquet (``layer`` int32,
``w0``..``w8`` float32; row groups hold whole layers), a per-model layers parquet (the rows of
``results/db/layers.parquet`` without ``model``/``filter_start``, which need all models) and a JSON
summary (one row of ``models.parquet`` to be). Files are written with explicit schemas and without
pandas metadata so the same checkpoint always gives byte-identical files, which keeps Snakemake
reruns and the assembled database reproducible.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from filterdb.atomic import atomic_path, write_text_atomic
from filterdb.conv_layers import (
    ConvLayer,
    ModelConvs,
    conv_depth_ranks,
    filter_share_3x3,
    kernel_counts,
)
from filterdb.errors import ModelError
from filterdb.filter_file import (
    DEFAULT_ROW_GROUP_SIZE,
    open_writer,
    pack_layers,
    write_row_group,
)
from filterdb.ids import validate_model_id
from filterdb.read_errors import describe
from filterdb.read_onnx import read_onnx
from filterdb.read_torch import PICKLE_SUFFIXES, read_state_dict, read_timm
from filterdb.sources import parse_source

SUPPORTED_SUFFIXES = (*PICKLE_SUFFIXES, ".safetensors", ".onnx")
TIMM_KINDS = ("timm", "timm-init")

LAYER_SCHEMA = pa.schema(
    [
        ("layer", pa.int32()),
        ("layer_name", pa.string()),
        ("depth", pa.int64()),
        ("conv_depth", pa.int64()),
        ("conv_depth_norm", pa.float64()),
        ("depth_method", pa.string()),
        ("in_channels", pa.int64()),
        ("out_channels", pa.int64()),
        ("groups", pa.int64()),
        ("n_filters", pa.int64()),
        ("n_nan", pa.int64()),
        ("n_inf", pa.int64()),
    ]
)

PathLike = str | os.PathLike[str]


def read_model(model: str, checkpoint: PathLike, source: str | None = None) -> ModelConvs:
    """Read the conv layers of one checkpoint, choosing the reader by source kind and suffix.

    A ``timm:``/``timm-init:`` source names the architecture, so the module is built and traced;
    any other checkpoint is read from the file alone (ONNX graph, or bare state dict).
    """
    validate_model_id(model)
    path = Path(checkpoint)
    if source is not None:
        try:
            parsed = parse_source(source)
        except ValueError as exc:
            raise ModelError(model, source, str(exc)) from exc
        if parsed.kind in TIMM_KINDS:
            return read_timm(model, path, parsed.value)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        return read_onnx(model, path)
    if suffix in SUPPORTED_SUFFIXES:
        return read_state_dict(model, path)
    raise ModelError(
        model,
        str(path),
        f"unsupported file suffix {suffix!r} (expected one of {', '.join(SUPPORTED_SUFFIXES)})",
    )


def summarize(convs: ModelConvs) -> dict:
    """The per-model summary (kernel counts of all 2-D convs; needs no weights, only shapes)."""
    counts = kernel_counts(convs.layers)
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
    }


def write_extraction(
    convs: ModelConvs,
    filters_path: PathLike,
    layers_path: PathLike,
    summary_path: PathLike,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    progress: bool = False,
) -> dict:
    """Write the three per-model outputs, streaming the 3x3 layers one at a time.

    Returns the summary that was written.
    """
    layers_3x3 = convs.layers_3x3
    ranks = conv_depth_ranks(layer.depth for layer in convs.layers)
    records: list[dict] = []
    groups = pack_layers([layer.n_kernels for layer in layers_3x3], row_group_size)
    bar = tqdm(
        total=len(layers_3x3), desc=convs.model, unit="layer", file=sys.stderr, disable=not progress
    )
    with bar, atomic_path(filters_path) as tmp, open_writer(tmp) as writer:
        for lo, hi in groups:
            layer_ids, blocks = [], []
            for index in range(lo, hi):
                layer = layers_3x3[index]
                weights = _load_weights(convs, layer)
                records.append(
                    _layer_record(index, layer, weights, ranks[layer.depth], convs.depth_method)
                )
                layer_ids.append(np.full(layer.n_kernels, index, dtype=np.int32))
                blocks.append(weights.reshape(-1, 9))
                bar.update()
            filters = blocks[0] if len(blocks) == 1 else np.concatenate(blocks)
            write_row_group(writer, np.concatenate(layer_ids), filters.T)
    layer_table = pa.Table.from_pylist(records, schema=LAYER_SCHEMA)
    with atomic_path(layers_path) as tmp:
        pq.write_table(layer_table, tmp, compression="zstd")
    summary = summarize(convs)
    write_text_atomic(summary_path, json.dumps(summary, sort_keys=True, indent=2) + "\n")
    return summary


def extract(
    model: str,
    checkpoint: PathLike,
    filters_path: PathLike,
    layers_path: PathLike,
    summary_path: PathLike,
    source: str | None = None,
    row_group_size: int = DEFAULT_ROW_GROUP_SIZE,
    progress: bool = False,
) -> dict:
    """Read one checkpoint and write its outputs (``read_model`` + ``write_extraction``)."""
    convs = read_model(model, checkpoint, source)
    return write_extraction(
        convs, filters_path, layers_path, summary_path, row_group_size, progress
    )


def _load_weights(convs: ModelConvs, layer: ConvLayer) -> np.ndarray:
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
