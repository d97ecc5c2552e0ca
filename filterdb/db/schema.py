"""The layout of ``results/db/``, defined once: file names, column names and column types.

Every stage that writes or reads the database (extraction, assembly, the published import and
export, statistics, tests, benchmarks) takes its names from here, so they cannot drift apart.
The README section "The filter database" describes each column.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyarrow as pa

from filterdb.zoo.columns import MANIFEST_COLUMNS

FILTERS_DIR = "filters"
LAYERS_FILE = "layers.parquet"
MODELS_FILE = "models.parquet"

#: The nine weights of a 3x3 filter, row-major; one float32 column each in a filter file.
WEIGHT_COLUMNS = tuple(f"w{k}" for k in range(9))
#: Required (non-nullable) columns: a filter always has its nine weights (a missing weight is a
#: NaN value, not a null), and Parquet stores no definition levels for a required column. With
#: them, every read and write of a filter file encoded and decoded one level per value: reads
#: were 2-3.5x and writes about 1.5x slower (``benchmarks/compression_benchmark.py``).
FILTER_SCHEMA = pa.schema(
    [pa.field("layer", pa.int32(), nullable=False)]
    + [pa.field(name, pa.float32(), nullable=False) for name in WEIGHT_COLUMNS]
)

#: Columns of ``layers.parquet``, one row per 3x3 conv layer, in this order.
LAYER_COLUMNS = (
    "model",
    "layer",
    "layer_name",
    "depth",
    "conv_depth",
    "conv_depth_norm",
    "depth_method",
    "in_channels",
    "out_channels",
    "groups",
    "n_filters",
    "filter_start",
    "n_nan",
    "n_inf",
)
#: Layer columns that need every model, so assembly adds them; extraction writes the others.
ASSEMBLED_LAYER_COLUMNS = ("model", "filter_start")
_LAYER_TYPES = {
    "layer": pa.int32(),
    "layer_name": pa.string(),
    "depth": pa.int64(),
    "conv_depth": pa.int64(),
    "conv_depth_norm": pa.float64(),
    "depth_method": pa.string(),
    "in_channels": pa.int64(),
    "out_channels": pa.int64(),
    "groups": pa.int64(),
    "n_filters": pa.int64(),
    "n_nan": pa.int64(),
    "n_inf": pa.int64(),
}
#: One model's layer table as extraction writes it (``results/extract/<model>/layers.parquet``).
EXTRACTED_LAYER_SCHEMA = pa.schema(
    [(c, _LAYER_TYPES[c]) for c in LAYER_COLUMNS if c not in ASSEMBLED_LAYER_COLUMNS]
)

#: What extraction measures of a model, stored in ``models.parquet`` after the manifest columns.
EXTRACTION_COLUMNS = ("format", "producer", "opset", "depth_method", "n_conv_layers")
#: ``models.parquet`` starts with these columns, then one kernel count per shape, then the tail.
MODEL_HEAD_COLUMNS = ("model_id", *MANIFEST_COLUMNS, *EXTRACTION_COLUMNS)
MODEL_TAIL_COLUMNS = ("n_filters", "3x3_filter_share", "skipped_layers", "skipped_reasons")
SHAPE_COLUMN = re.compile(r"^\((\d+), (\d+)\) filters$")


def shape_column(kernel: tuple[int, int] | str) -> str:
    """Column name of a kernel-shape count, as in the original database: ``"(3, 3) filters"``."""
    return f"{kernel} filters"


def shape_columns_in_order(columns: list[str]) -> list[str]:
    """The kernel-shape count columns among ``columns``, smallest kernel first."""
    matches = [SHAPE_COLUMN.match(c) for c in columns]
    return [m.group(0) for m in sorted(filter(None, matches), key=lambda m: (int(m[1]), int(m[2])))]


def filter_path(db_dir: str | os.PathLike[str], model: str) -> Path:
    """``<db_dir>/filters/<model>.parquet``: one model's filters."""
    return Path(db_dir) / FILTERS_DIR / f"{model}.parquet"
