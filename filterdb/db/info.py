"""``filterdb info``: how many models, layers and filters a database holds, per group.

Built from the two small tables only, so it answers at once for a database of any size.
"""

from __future__ import annotations

import pandas as pd

#: The manifest columns ``filterdb info`` breaks the counts down by.
INFO_COLUMNS = ("Task", "Visual Category")


def per_model_counts(models: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """Each model's ``INFO_COLUMNS`` labels and its 3x3 layers and filters (0 if it has none)."""
    per_model = layers.groupby("model", sort=False)["n_filters"].agg(["size", "sum"])
    per_model.columns = ["n_layers", "n_filters"]
    labels = models[["model", *INFO_COLUMNS]]
    counted = labels.merge(per_model, left_on="model", right_index=True, how="left")
    counted[["n_layers", "n_filters"]] = (
        counted[["n_layers", "n_filters"]].fillna(0).astype("int64")
    )
    return counted


def group_counts(counted: pd.DataFrame, column: str) -> pd.DataFrame:
    """Models, layers and filters per value of ``column`` ("(none)" if empty), largest first."""
    labels = counted[column].fillna("").astype(str).str.strip().replace("", "(none)")
    table = counted.groupby(labels, sort=True).agg(
        models=("model", "size"), layers=("n_layers", "sum"), filters=("n_filters", "sum")
    )
    table.index.name = column
    return table.sort_values("filters", ascending=False, kind="stable").reset_index()
