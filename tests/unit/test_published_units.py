"""The pure pieces of the published-file import: id ranges, row-group packing, slugs, rounding."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from filterdb.db.filter_file import pack_layers
from filterdb.errors import ModelError
from filterdb.published.meta_import import model_slugs
from filterdb.published.ranges import check_tiling, format_filter_ids, parse_filter_ids
from filterdb.published.reader import FilterReader, round_to_float32


def test_filter_ids_end_is_inclusive_both_ways():
    start, stop = parse_filter_ids(["0:2", " 3 : 3 ", "4:9"], ["a", "a", "b"], "f.h5")
    assert start.tolist() == [0, 3, 4] and stop.tolist() == [3, 4, 10]
    assert format_filter_ids(start, stop - start) == ["0:2", "3:3", "4:9"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("7", "is not 'start:end'"), ("a:b", "is not 'start:end'"), ("5:3", "ends before it starts")],
)
def test_bad_filter_ids_name_model_and_file(text, message):
    with pytest.raises(ModelError, match=rf"model 'b' \(f.h5\): filter_ids '{text}' {message}"):
        parse_filter_ids(["0:2", text], ["a", "b"], "f.h5")


def test_tiling_accepts_any_order():
    check_tiling(np.array([5, 0, 3]), np.array([9, 3, 5]), ["c", "a", "b"], 9, "f.h5")


@pytest.mark.parametrize(
    ("start", "stop", "n_rows", "message"),
    [
        ([0, 3], [3, 12], 10, r"model 'b' \(f.h5\): filter_ids 3:11 reach beyond the 10 filters"),
        (
            [0, 2],
            [3, 10],
            10,
            r"model 'b' \(f.h5\): filter_ids 2:9 overlap filter_ids 0:2 of model 'a'",
        ),
        (
            [0, 1],
            [10, 4],
            10,
            r"model 'b' \(f.h5\): filter_ids 1:3 overlap filter_ids 0:9 of model 'a'",
        ),
        (
            [0, 4],
            [3, 10],
            10,
            r"model 'b' \(f.h5\): filter ids 3:3 between filter_ids 0:2 of model 'a'",
        ),
        ([1, 3], [3, 10], 10, r"model 'a' \(f.h5\): filter ids 0:0 before"),
        (
            [0, 3],
            [3, 8],
            10,
            r"model 'b' \(f.h5\): filter ids 8:9 after this model's filter_ids 3:7",
        ),
    ],
)
def test_tiling_errors(start, stop, n_rows, message):
    with pytest.raises(ModelError, match=message):
        check_tiling(np.array(start), np.array(stop), ["a", "b"], n_rows, "f.h5")


def test_pack_layers_keeps_layers_whole():
    assert pack_layers([6, 12, 30], 40) == [(0, 2), (2, 3)]
    assert pack_layers([4, 50, 7, 3], 40) == [(0, 1), (1, 2), (2, 4)]
    assert pack_layers([40, 40], 40) == [(0, 1), (1, 2)]
    assert pack_layers([], 40) == []


def test_model_slugs_are_safe_and_unique():
    names = ["resnet18_imagenet_11", "U-Net (2D) + CT", "U-Net (2D) + CT", "..", "a..b"]
    assert model_slugs(names, [0, 1, 2, 3, 4]) == [
        "resnet18_imagenet_11",
        "U-Net_2D_CT",
        "U-Net_2D_CT_1",
        "model_3",
        "a_b",
    ]


def test_rounding_counts_only_changed_values():
    raw = np.array([[0.5, np.nan, np.inf, 0.1, 1e300, -2.0, 0.0, 3.0, 1.0]])
    columns, changed = round_to_float32(raw)
    assert columns.shape == (9, 1) and columns.dtype == np.float32
    assert changed == 2  # 0.1 rounds, 1e300 overflows to inf; NaN and inf are unchanged
    assert round_to_float32(np.where(np.abs(raw) > 1e30, 1.0, raw).astype(np.float32))[1] == 0


def test_reader_serves_any_range_across_windows(tmp_path):
    values = np.arange(50 * 9, dtype=np.float64).reshape(50, 3, 3)
    with h5py.File(tmp_path / "f.h5", "w") as h5:
        h5.create_dataset("filters", data=values)
    with h5py.File(tmp_path / "f.h5", "r") as h5:
        reader = FilterReader(h5["filters"], chunk_size=8)
        for start, stop in [(0, 3), (3, 8), (8, 30), (30, 31), (45, 50), (10, 12)]:
            np.testing.assert_array_equal(
                reader.read(start, stop), values[start:stop].reshape(-1, 9).T
            )
