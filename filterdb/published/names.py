"""Column names of the published meta table and of ``results/db/``, and how they correspond.

One place for the correspondence, used by import and export alike, so the two cannot drift apart.
The README section "Published CNN Filter DB files" summarises the mapping.
"""

from __future__ import annotations

from filterdb.zoo.columns import MANIFEST_COLUMNS

# Published name -> our name, for columns whose meaning is the same but whose name differs.
LAYER_RENAMES = {"layer_id": "layer_name", "graph_depth": "depth"}
MODEL_RENAMES = {"op_set": "opset"}
# v0.1.0 only: it called the visual category "Datatype"; v1.0.0 and we call it "Visual Category".
V0_1_0_RENAMES = {"Datatype": "Visual Category"}

# The v1.0.0 meta index, which the original notebook's code and our export use.
PUBLISHED_INDEX = ["model_id", "conv_depth", "conv_depth_norm", "layer_id"]

# Published columns that describe a layer (kept per row in layers.parquet).
PUBLISHED_LAYER_COLUMNS = (
    "conv_depth",
    "conv_depth_norm",
    "layer_id",
    "graph_depth",
    "in_channels",
    "out_channels",
    "groups",
    "depth_method",
)
# Published columns that describe a whole model: they must be equal on all of its layers.
# "depth" is the published total depth of the model, not our per-layer graph depth.
PUBLISHED_MODEL_COLUMNS = (
    *(c for c in MANIFEST_COLUMNS if c != "model"),
    "format",
    "producer",
    "op_set",
    "depth",
    "n_conv_layers",
    "3x3_filter_share",
    "skipped_layers",
    "skipped_reasons",
)
# Columns the import computes itself (from the ranges and the filter values). A meta column of the
# same name is kept under PRESERVED_PREFIX + name and exported back under its own name; so are the
# published model name and model_id (ours are a safe file name and 0..n-1, as results/db needs).
COMPUTED_LAYER_COLUMNS = ("model", "layer", "n_filters", "filter_start", "n_nan", "n_inf")
COMPUTED_MODEL_COLUMNS = ("n_filters",)
PRESERVED_PREFIX = "published_"

# What the published DB is, for columns it does not carry: filters extracted from ONNX exports.
PUBLISHED_DEPTH_METHOD = "published"
PUBLISHED_FORMAT = "onnx"

# Integer columns that may be unknown, stored as nullable Int64.
NULLABLE_INT_COLUMNS = ("depth", "in_channels", "out_channels", "groups", "n_conv_layers", "opset")
