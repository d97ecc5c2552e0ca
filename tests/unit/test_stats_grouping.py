"""Shift axes, depth deciles and label grouping (filterdb.stats.grouping)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from filterdb.stats.grouping import (
    DECILE_LABELS,
    axis_slug,
    axis_slugs,
    depth_deciles,
    group_cells,
    model_labels,
)


def test_deciles_match_pandas_cut_and_missing_depths_have_none():
    norm = np.array([0.0, 0.05, 0.1, 0.1000001, 0.3, 0.95, 1.0, np.nan, 1.2, -0.1])
    cut = pd.cut(norm, bins=[i / 10 for i in range(11)], include_lowest=True).codes
    deciles = depth_deciles(norm)
    assert deciles[:7].tolist() == cut[:7].tolist()
    assert deciles[7:].tolist() == [-1, -1, -1]
    assert DECILE_LABELS[0] == "[0.0, 0.1]" and DECILE_LABELS[1] == "(0.1, 0.2]"
    assert DECILE_LABELS[-1] == "(0.9, 1.0]"


def test_axis_slugs_labels_and_groups():
    assert axis_slug("Training-Dataset") == "training_dataset"
    assert axis_slugs(["Conv Weight Initializer"])[-1] == "conv_weight_initializer"
    assert axis_slugs()[:3] == ["task", "visual_category", "conv_depth_decile"]
    with pytest.raises(ValueError, match="repeat"):
        axis_slugs(["Task"])
    models = pd.DataFrame(
        {"Task": ["Semantic Segmentation", "Classification", None, " Instance Segmentation "]}
    )
    merged = model_labels(models, "Task", merge_segmentation=True).tolist()
    assert merged == ["Segmentation", "Classification", "", "Segmentation"]
    kept = model_labels(models, "Task", merge_segmentation=False).tolist()
    assert kept[0] == "Semantic Segmentation"
    hists = np.array([[9, 0], [0, 18], [9, 9], [0, 0]]).repeat(9, axis=1)[:, :18]
    groups = group_cells(np.array(["b", "a", "", "a"], dtype=object), np.array([0, 1, 1, 2]), hists)
    assert groups.labels == ["a", "b"]
    assert groups.n_models.tolist() == [1, 1]
    assert groups.histograms.sum(axis=1).tolist() == [hists[1].sum(), hists[0].sum()]
