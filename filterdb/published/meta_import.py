"""Split the published meta table (one row per layer) into our ``layers`` and ``models`` tables.

Every meta column is kept. Known columns go where their meaning says (see ``names.py``); an
unknown column goes to ``models.parquet`` when it is constant within every model (it then
describes the model) and to ``layers.parquet`` otherwise, so nothing is dropped and nothing is
repeated per layer needlessly. The filter id ranges are validated here, before any filter is read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from filterdb.db.schema import LAYER_COLUMNS, MODEL_HEAD_COLUMNS, MODEL_TAIL_COLUMNS, SHAPE_COLUMN
from filterdb.errors import ModelError
from filterdb.published.errors import PublishedFileError
from filterdb.published.names import (
    COMPUTED_LAYER_COLUMNS,
    COMPUTED_MODEL_COLUMNS,
    LAYER_RENAMES,
    MODEL_RENAMES,
    NULLABLE_INT_COLUMNS,
    PRESERVED_PREFIX,
    PUBLISHED_DEPTH_METHOD,
    PUBLISHED_FORMAT,
    PUBLISHED_LAYER_COLUMNS,
    PUBLISHED_MODEL_COLUMNS,
    V0_1_0_RENAMES,
)
from filterdb.published.ranges import check_tiling, parse_filter_ids
from filterdb.zoo.ids import validate_model_id

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("model_id", "model", "filter_ids", "conv_depth", "conv_depth_norm")
_INTERNAL = ("__model_id", "__start", "__stop")  # helper columns added to meta during the split
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def model_slugs(names: Sequence[str], model_ids: Sequence[int]) -> list[str]:
    """Safe, unique file names for published model names (which are not guaranteed to be slugs).

    Runs of other characters become ``_``; a name left empty becomes ``model_<id>``; a repeated
    slug gets ``_1``, ``_2``, ... The import keeps the original name in ``published_model``.
    """
    slugs: list[str] = []
    taken: set[str] = set()
    for name, model_id in zip(names, model_ids, strict=True):
        base = _UNSAFE.sub("_", str(name)).replace("..", "_").lstrip("._-")[:120]
        base = base or f"model_{model_id}"
        slug, k = base, 0
        while slug in taken:
            k += 1
            slug = f"{base}_{k}"
        taken.add(validate_model_id(slug))
        slugs.append(slug)
    return slugs


def _as_int(series: pd.Series, name: str, where: str, nullable: bool) -> pd.Series:
    """Cast to Int64 (refusing fractions), or to int64 when the column must have no gaps."""
    try:
        values = pd.to_numeric(series).astype("Int64")
    except (ValueError, TypeError) as exc:
        raise PublishedFileError(where, f"column {name!r} is not integer: {exc}") from exc
    if nullable:
        return values
    if values.isna().any():
        raise PublishedFileError(where, f"column {name!r} has missing values")
    return values.astype("int64")


def _check_constant(meta: pd.DataFrame, columns: list[str], names: pd.Series, where: str) -> None:
    """Raise naming the first model whose layers disagree on a column that describes the model."""
    if not columns:
        return
    counts = meta.groupby("__model_id", sort=False)[columns].nunique(dropna=False)
    varying = counts.gt(1)
    if not varying.to_numpy().any():
        return
    model_id = varying.any(axis=1).idxmax()
    column = varying.loc[model_id].idxmax()
    rows = meta["__model_id"] == model_id
    values = meta.loc[rows, column].drop_duplicates().tolist()[:3]
    raise ModelError(
        names[rows].iloc[0],
        where,
        f"column {column!r} describes the whole model but differs between its layers {values}",
    )


def _route(meta: pd.DataFrame, names: pd.Series, where: str) -> tuple[dict, dict]:
    """Return {meta column: our name} for the layers table and for the models table."""
    layer_map: dict[str, str] = {}
    # Our model_id is 0..n-1 and our model a file name; the published values are kept beside them.
    model_map = {"model": PRESERVED_PREFIX + "model", "model_id": PRESERVED_PREFIX + "model_id"}
    unknown = []
    for column in meta.columns:
        if column in ("model_id", "model", "filter_ids", *_INTERNAL):
            continue
        if column in PUBLISHED_LAYER_COLUMNS:
            layer_map[column] = LAYER_RENAMES.get(column, column)
        elif column in PUBLISHED_MODEL_COLUMNS or SHAPE_COLUMN.match(column):
            model_map[column] = MODEL_RENAMES.get(column, column)
        else:
            unknown.append(column)
    _check_constant(meta, [c for c in model_map if c not in ("model", "model_id")], names, where)
    if unknown:
        constant = meta.groupby("__model_id", sort=False)[unknown].nunique(dropna=False).le(1).all()
        for column in unknown:
            is_model = bool(constant[column])
            reserved = (
                set(MODEL_HEAD_COLUMNS) | set(MODEL_TAIL_COLUMNS) | set(COMPUTED_MODEL_COLUMNS)
                if is_model
                else set(LAYER_COLUMNS) | set(COMPUTED_LAYER_COLUMNS)
            )
            ours = PRESERVED_PREFIX + column if column in reserved else column
            (model_map if is_model else layer_map)[column] = ours
    return layer_map, model_map


def split_meta(meta: pd.DataFrame, n_rows: int, where: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(layers, models)`` for ``results/db/`` from a published meta table.

    ``n_rows`` is the length of the filters dataset, against which the ranges are validated.
    ``layers`` has ``n_nan`` and ``n_inf`` set to 0: they are counted while the filters stream.
    """
    meta = meta.rename(
        columns={k: v for k, v in V0_1_0_RENAMES.items() if k in meta and v not in meta}
    )
    missing = [c for c in REQUIRED_COLUMNS if c not in meta.columns]
    if missing:
        raise PublishedFileError(where, f"meta lacks column(s) {missing}")
    if meta.empty:
        raise PublishedFileError(where, "meta has no rows")
    names = meta["model"].astype(str)
    start, stop = parse_filter_ids(meta["filter_ids"].tolist(), names.tolist(), where)
    check_tiling(start, stop, names.tolist(), n_rows, where)
    meta = meta.assign(
        **{
            "__model_id": _as_int(meta["model_id"], "model_id", where, nullable=False),
            "__start": start,
            "__stop": stop,
        }
    )
    per_id = meta.groupby("__model_id")["model"].nunique(dropna=False)
    if (per_id > 1).any():
        model_id = int(per_id.idxmax())
        raise PublishedFileError(
            where,
            f"model_id {model_id} is used by several models "
            f"{meta.loc[meta['__model_id'] == model_id, 'model'].unique().tolist()[:3]}",
        )
    meta = meta.sort_values(["__model_id", "__start"], kind="stable").reset_index(drop=True)
    if not np.all(np.diff(meta["__start"].to_numpy()) > 0):
        log.warning(
            "%s: filter ids do not follow model_id order; filter_start keeps the published ids, "
            "so they are not contiguous in model order",
            where,
        )
    names = meta["model"].astype(str)
    layer_map, model_map = _route(meta, names, where)

    first = ~meta["__model_id"].duplicated()
    model_ids = meta.loc[first, "__model_id"].to_numpy()
    slugs = model_slugs(names[first].tolist(), model_ids.tolist())
    slug_of_row = np.repeat(slugs, meta.groupby("__model_id", sort=False).size().to_numpy())
    layers = _layers_table(meta, layer_map, slug_of_row, where)
    models = _models_table(meta[first].reset_index(drop=True), model_map, slugs, layers, where)
    return layers, models


def _layers_table(
    meta: pd.DataFrame, column_map: dict[str, str], slugs: np.ndarray, where: str
) -> pd.DataFrame:
    found = {ours: meta[column] for column, ours in column_map.items()}
    n = len(meta)
    layers = pd.DataFrame(
        {
            "model": pd.Series(slugs, dtype="str"),
            "layer": meta.groupby("__model_id", sort=False).cumcount().astype("int32"),
            "layer_name": found.pop("layer_name").astype("str") if "layer_name" in found else "",
            "depth": found.pop("depth", pd.Series(pd.NA, index=meta.index)),
            "conv_depth": _as_int(found.pop("conv_depth"), "conv_depth", where, nullable=False),
            "conv_depth_norm": pd.to_numeric(found.pop("conv_depth_norm")).astype("float64"),
            "depth_method": found.pop("depth_method").astype("str")
            if "depth_method" in found
            else PUBLISHED_DEPTH_METHOD,
            "in_channels": found.pop("in_channels", pd.Series(pd.NA, index=meta.index)),
            "out_channels": found.pop("out_channels", pd.Series(pd.NA, index=meta.index)),
            "groups": found.pop("groups", pd.Series(pd.NA, index=meta.index)),
            "n_filters": (meta["__stop"] - meta["__start"]).astype("int64"),
            "filter_start": meta["__start"].astype("int64"),
            "n_nan": np.zeros(n, dtype=np.int64),
            "n_inf": np.zeros(n, dtype=np.int64),
        }
    )
    for column in ("depth", "in_channels", "out_channels", "groups"):
        layers[column] = _as_int(layers[column], column, where, nullable=True)
    for ours, values in found.items():
        layers[ours] = values.to_numpy()
    return layers


def _models_table(
    first: pd.DataFrame,
    column_map: dict[str, str],
    slugs: list[str],
    layers: pd.DataFrame,
    where: str,
) -> pd.DataFrame:
    """One row per model from its first layer's meta row, contract columns first."""
    found = {ours: first[column].reset_index(drop=True) for column, ours in column_map.items()}
    by_model = layers.groupby("model", sort=False)
    defaults = {
        "format": PUBLISHED_FORMAT,
        "opset": pd.NA,
        "n_conv_layers": pd.NA,
        "3x3_filter_share": np.nan,
    }
    head: dict[str, object] = {
        "model_id": np.arange(len(first), dtype=np.int64),
        "model": pd.Series(slugs, dtype="str"),
    }
    for column in MODEL_HEAD_COLUMNS[2:]:
        if column == "depth_method":
            head[column] = (
                by_model["depth_method"].agg(lambda s: "|".join(sorted(set(s)))).to_numpy()
            )
        else:
            head[column] = found.pop(column, defaults.get(column, ""))
    shapes = {c: found.pop(c) for c in list(found) if SHAPE_COLUMN.match(c)}
    tail = {
        "n_filters": by_model["n_filters"].sum().to_numpy(),
        "3x3_filter_share": found.pop("3x3_filter_share", defaults["3x3_filter_share"]),
        "skipped_layers": found.pop("skipped_layers", 0),
        "skipped_reasons": found.pop("skipped_reasons", ""),
    }
    models = pd.DataFrame({**head, **shapes, **tail, **found}, index=pd.RangeIndex(len(first)))
    for column in NULLABLE_INT_COLUMNS:
        if column in models.columns:
            models[column] = _as_int(models[column], column, where, nullable=True)
    return models
