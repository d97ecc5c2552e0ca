"""Write a database in the ``results/db/`` layout straight from in-memory filter arrays.

The workflow builds its database from checkpoints; benchmarks need databases of any size, tests
need hand-picked edge cases (NaN filters, all-zero layers, layers without a relative depth), and a
researcher may hold filters from elsewhere. All of them write through the same filter-file
writer and column definitions as the workflow, so the statistics read them exactly as they read
a rebuilt database.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from filterdb.db.filter_file import write_filter_file
from filterdb.db.frame_file import write_frame
from filterdb.db.schema import (
    LAYER_COLUMNS,
    LAYERS_FILE,
    MODELS_FILE,
    filter_path,
    shape_column,
)
from filterdb.zoo.columns import MANIFEST_COLUMNS


@dataclass
class ArrayLayer:
    """One 3x3 conv layer: ``weights`` (c_out, c_in/groups, 3, 3) or (c_out * c_in/groups, 9).

    ``conv_depth_norm`` defaults to the layer's position among its model's layers; NaN gives a
    layer without a relative depth (as published imports can have).
    """

    weights: np.ndarray
    out_channels: int
    in_channels: int
    groups: int = 1
    conv_depth_norm: float | None = None

    @property
    def n_filters(self) -> int:
        return self.out_channels * (self.in_channels // self.groups)


@dataclass
class ArrayModel:
    """A model: its id, manifest labels (missing ones are empty) and 3x3 layers."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    layers: Iterable[ArrayLayer] = ()


def write_model_filters(
    db_dir: str | os.PathLike[str], model: ArrayModel, row_group_size: int
) -> list[dict]:
    """Write ``model``'s filter file; return its rows of the layer table (without model id)."""
    layers = list(model.layers)
    flats = [
        np.ascontiguousarray(layer.weights, dtype=np.float32).reshape(-1, 9) for layer in layers
    ]
    for layer, flat in zip(layers, flats, strict=True):
        if len(flat) != layer.n_filters:
            raise ValueError(f"model {model.name!r}: layer weights do not match its channel counts")

    def group_columns(lo: int, hi: int) -> np.ndarray:
        return np.concatenate(flats[lo:hi]).T

    sizes = [len(flat) for flat in flats]
    write_filter_file(filter_path(db_dir, model.name), sizes, row_group_size, group_columns)
    count = len(layers)
    return [
        {
            "layer": index,
            "conv_depth_norm": (
                layer.conv_depth_norm
                if layer.conv_depth_norm is not None
                else (index / (count - 1) if count > 1 else 0.0)
            ),
            "in_channels": layer.in_channels,
            "out_channels": layer.out_channels,
            "groups": layer.groups,
            "n_filters": len(flat),
            "n_nan": int(np.isnan(flat).sum()),
            "n_inf": int(np.isinf(flat).sum()),
        }
        for index, (layer, flat) in enumerate(zip(layers, flats, strict=True))
    ]


def write_tables(
    db_dir: str | os.PathLike[str],
    models: Sequence[ArrayModel],
    layer_rows: Sequence[list[dict]],
) -> None:
    """Write ``layers.parquet`` and ``models.parquet`` for models whose filter files exist."""
    layers, model_rows, start = [], [], 0
    for model_id, (model, rows) in enumerate(zip(models, layer_rows, strict=True)):
        for row in rows:
            layers.append(
                {
                    **row,
                    "model": model.name,
                    "layer_name": f"conv{row['layer']}",
                    "depth": row["layer"],
                    "conv_depth": row["layer"],
                    "depth_method": "state_dict_order",
                    "filter_start": start,
                }
            )
            start += row["n_filters"]
        model_rows.append(_model_row(model_id, model, rows))
    int_columns = ["depth", "conv_depth", "in_channels", "out_channels", "groups", "n_filters"]
    int_columns += ["filter_start", "n_nan", "n_inf"]
    layer_frame = pd.DataFrame(layers, columns=list(LAYER_COLUMNS))
    layer_frame = layer_frame.astype({"layer": "int32", **dict.fromkeys(int_columns, "int64")})
    layer_frame["conv_depth_norm"] = layer_frame["conv_depth_norm"].astype("float64")
    model_frame = pd.DataFrame(model_rows)
    model_frame["opset"] = model_frame["opset"].astype("Int64")
    write_frame(layer_frame, Path(db_dir) / LAYERS_FILE)
    write_frame(model_frame, Path(db_dir) / MODELS_FILE)


def write_database(
    db_dir: str | os.PathLike[str], models: Sequence[ArrayModel], row_group_size: int
) -> Path:
    """Write a complete database of ``models`` under ``db_dir``; return ``db_dir``."""
    db_dir = Path(db_dir)
    rows = [write_model_filters(db_dir, model, row_group_size) for model in models]
    write_tables(db_dir, models, rows)
    return db_dir


def _model_row(model_id: int, model: ArrayModel, layer_rows: list[dict]) -> dict:
    n_filters = sum(r["n_filters"] for r in layer_rows)
    return {
        "model_id": model_id,
        **{c: model.labels.get(c, "") for c in MANIFEST_COLUMNS},
        "model": model.name,
        "format": "safetensors",
        "producer": "",
        "opset": None,
        "depth_method": "state_dict_order",
        "n_conv_layers": len(layer_rows),
        shape_column((3, 3)): n_filters,
        "n_filters": n_filters,
        "3x3_filter_share": 1.0 if n_filters else 0.0,
        "skipped_layers": 0,
        "skipped_reasons": "",
    }
