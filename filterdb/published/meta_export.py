"""Build the published v1.0.0 meta table from our ``layers`` and ``models`` tables.

The inverse of ``meta_import``: one row per layer, the model's columns repeated on each of its
layers, our names mapped back to the published ones, ``filter_ids`` as ``"start:end"`` (end
inclusive) and the v1.0.0 index ``[model_id, conv_depth, conv_depth_norm, layer_id]``. Columns
the import computes (``layer``, ``n_filters``, ``filter_start``, ``n_nan``, ``n_inf``) are left out:
importing the export recomputes them from ``filter_ids`` and the filter values.
"""

from __future__ import annotations

import pandas as pd

from filterdb.published.errors import PublishedFileError
from filterdb.published.names import (
    COMPUTED_LAYER_COLUMNS,
    COMPUTED_MODEL_COLUMNS,
    LAYER_RENAMES,
    MODEL_RENAMES,
    PRESERVED_PREFIX,
    PUBLISHED_INDEX,
)
from filterdb.published.ranges import format_filter_ids


def _published_names(frame: pd.DataFrame, computed: set[str], renames: dict) -> dict[str, str]:
    """{our column: published name} for one table.

    A ``published_X`` column (a published value the import had to set aside because we compute
    ``X``) goes out as ``X`` in place of ours.
    """
    inverse = {ours: published for published, ours in renames.items()}
    preserved = {
        c: c[len(PRESERVED_PREFIX) :] for c in frame.columns if c.startswith(PRESERVED_PREFIX)
    }
    names = {}
    for column in frame.columns:
        if column in preserved:
            names[column] = preserved[column]
        elif column not in computed and column not in preserved.values():
            names[column] = inverse.get(column, column)
    return names


def to_published_meta(layers: pd.DataFrame, models: pd.DataFrame, where: str) -> pd.DataFrame:
    """Return the meta frame to write with ``to_hdf(..., "meta", format="table")``."""
    row_of_model = pd.Index(models["model"]).get_indexer(layers["model"])
    if (row_of_model < 0).any():
        unknown = layers.loc[row_of_model < 0, "model"].unique().tolist()[:3]
        raise PublishedFileError(
            where, f"layers.parquet has models not in models.parquet: {unknown}"
        )
    layer_names = _published_names(layers, set(COMPUTED_LAYER_COLUMNS), LAYER_RENAMES)
    model_names = _published_names(models, {*COMPUTED_MODEL_COLUMNS, "depth_method"}, MODEL_RENAMES)
    model_part = models.iloc[row_of_model].reset_index(drop=True)
    layer_part = layers.reset_index(drop=True)
    filter_ids = pd.Series(
        format_filter_ids(
            layer_part["filter_start"].to_numpy(), layer_part["n_filters"].to_numpy()
        ),
        name="filter_ids",
        dtype="str",
    )
    meta = pd.concat(
        [
            model_part[list(model_names)].rename(columns=model_names),
            filter_ids,
            layer_part[list(layer_names)].rename(columns=layer_names),
        ],
        axis=1,
    )
    duplicated = meta.columns[meta.columns.duplicated()].unique().tolist()
    if duplicated:
        raise PublishedFileError(where, f"columns {duplicated} are in both layers and models")
    missing = [c for c in PUBLISHED_INDEX if c not in meta.columns]
    if missing:
        raise PublishedFileError(where, f"cannot build the v1.0.0 index: no {missing}")
    rest = [c for c in meta.columns if c not in PUBLISHED_INDEX]
    return _hdf_ready(meta[PUBLISHED_INDEX + rest]).set_index(PUBLISHED_INDEX)


def _hdf_ready(meta: pd.DataFrame) -> pd.DataFrame:
    """Replace nullable extension dtypes, which PyTables cannot store, by numpy ones.

    Integers with gaps become float64 with NaN, as pandas itself would have stored them when the
    published files were written; text stays text.
    """
    meta = meta.copy()
    for column in meta.columns:
        dtype = meta[column].dtype
        if not isinstance(dtype, pd.api.extensions.ExtensionDtype) or isinstance(
            dtype, pd.StringDtype
        ):
            continue
        has_na = bool(meta[column].isna().any())
        if pd.api.types.is_integer_dtype(dtype):
            meta[column] = meta[column].astype("float64" if has_na else "int64")
        elif pd.api.types.is_bool_dtype(dtype) and not has_na:
            meta[column] = meta[column].astype("bool")
        elif pd.api.types.is_float_dtype(dtype):
            meta[column] = meta[column].astype("float64")
        else:
            meta[column] = meta[column].astype(object)
    return meta
