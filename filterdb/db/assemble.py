"""Join per-model extraction outputs into the database's two tables.

The filters themselves are written once, by extraction, straight into ``results/db/filters``;
assembling only touches the small per-layer and per-model tables, so it stays cheap however
large the database grows. Global filter ids are assigned here: contiguous, model-then-layer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from filterdb.atomic import atomic_path
from filterdb.db.frame_file import write_frame
from filterdb.db.schema import (
    EXTRACTION_COLUMNS,
    LAYER_COLUMNS,
    MODEL_HEAD_COLUMNS,
    MODEL_TAIL_COLUMNS,
    shape_column,
    shape_columns_in_order,
)
from filterdb.zoo.columns import MANIFEST_COLUMNS

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class ModelParts:
    """Where one model's extraction outputs are."""

    model: str
    layers: Path
    summary: Path
    filters: Path


@dataclass(frozen=True)
class Database:
    """The assembled tables, plus the models left out because they failed."""

    layers: pd.DataFrame
    models: pd.DataFrame
    failures: pd.DataFrame


def assemble(manifest: Sequence[dict[str, str]], parts: Sequence[ModelParts]) -> Database:
    """Build the database tables from the manifest rows and each model's extraction outputs.

    ``manifest`` and ``parts`` are in manifest order, which fixes model ids. A model whose
    summary records an error (``skip_failed_models``) is left out and listed in ``failures``.
    Raises ``ValueError`` when a filter file's row count disagrees with its layer table, because
    then every later filter id would be wrong.
    """
    rows_by_model = {row["model"]: row for row in manifest}
    layer_frames, model_rows, failures = [], [], []
    next_filter = 0
    for part in parts:
        summary = json.loads(part.summary.read_text())
        if summary.get("error"):
            failures.append({"model": part.model, "error": summary["error"]})
            continue
        layers = pd.read_parquet(part.layers)
        n_rows = pq.ParquetFile(part.filters).metadata.num_rows
        if int(layers["n_filters"].sum()) != n_rows or n_rows != summary["n_filters"]:
            raise ValueError(
                f"model {part.model!r}: {part.filters} holds {n_rows} filters but its layer table "
                f"counts {int(layers['n_filters'].sum())}; re-run its extraction"
            )
        layers.insert(0, "model", part.model)
        starts = layers["n_filters"].cumsum() - layers["n_filters"] + next_filter
        layers["filter_start"] = starts.astype("int64")
        next_filter += n_rows
        layer_frames.append(layers[list(LAYER_COLUMNS)])
        model_rows.append(_model_row(len(model_rows), rows_by_model[part.model], summary))
    models = pd.DataFrame(model_rows)
    if not models.empty:
        shape_cols = shape_columns_in_order(list(models.columns))
        models[shape_cols] = models[shape_cols].fillna(0).astype("int64")
        models = models[[*MODEL_HEAD_COLUMNS, *shape_cols, *MODEL_TAIL_COLUMNS]]
        models["opset"] = models["opset"].astype("Int64")
    layers = (
        pd.concat(layer_frames, ignore_index=True)
        if layer_frames
        else pd.DataFrame(columns=list(LAYER_COLUMNS))
    )
    return Database(layers, models, pd.DataFrame(failures, columns=["model", "error"]))


def assemble_database(
    manifest: Sequence[dict[str, str]],
    parts: Sequence[ModelParts],
    layers_path: PathLike,
    models_path: PathLike,
    failures_path: PathLike,
) -> Database:
    """The ``assemble_database`` job: :func:`assemble`, then write the tables and failures.tsv."""
    database = assemble(manifest, parts)
    write_frame(database.layers, layers_path)
    write_frame(database.models, models_path)
    with atomic_path(failures_path) as tmp:
        database.failures.to_csv(tmp, sep="\t", index=False)
    n_filters = int(database.layers["n_filters"].sum()) if len(database.layers) else 0
    print(
        f"assembled {len(database.models)} models, {len(database.layers)} 3x3 layers, "
        f"{n_filters} filters; {len(database.failures)} failed model(s) left out"
    )
    return database


def _model_row(model_id: int, manifest_row: dict[str, str], summary: dict) -> dict:
    """One models.parquet row: id, manifest columns, then what extraction measured."""
    row = {"model_id": model_id, **{c: manifest_row[c] for c in MANIFEST_COLUMNS}}
    row.update({c: summary.get(c) for c in EXTRACTION_COLUMNS})
    row["producer"] = row["producer"] or ""
    row.update({shape_column(k): v for k, v in summary["shape_counts"].items()})
    row["n_filters"] = summary["n_filters"]
    row["3x3_filter_share"] = float(summary["3x3_filter_share"])
    row["skipped_layers"] = summary.get("skipped_layers", 0)
    row["skipped_reasons"] = summary.get("skipped_reasons", "")
    return row
