"""The pure pieces of the published-file import: id ranges, row-group packing, slugs, rounding,
and the conversion kernels and worker threads behind it."""

from __future__ import annotations

import hashlib

import h5py
import numpy as np
import pytest
from published_files import published_filters, published_meta, write_v1

from filterdb.db.filter_file import pack_layers
from filterdb.db.schema import filter_path
from filterdb.errors import ModelError
from filterdb.published import import_published
from filterdb.published.meta_import import model_slugs
from filterdb.published.ranges import check_tiling, format_filter_ids, parse_filter_ids
from filterdb.published.reader import FilterReader, round_to_float32
from filterdb.published.rounding import convert_counted, convert_rows


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


def awkward_values(n: int, dtype=np.float64, seed: int = 0) -> np.ndarray:
    """Rows ``(n, 3, 3)`` of ``dtype`` from float64 values mixing float32 values, values that
    round, NaN, ±Inf, values beyond the float32 range, float32 subnormals, values below the
    smallest subnormal, and ±0."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal(n * 9).astype(np.float32).astype(np.float64)
    special = np.array([np.nan, np.inf, -np.inf, 1e300, -1e39, 3.5e38, 1e-40, -3e-45, 1e-50, -0.0])
    pick = rng.random(n * 9)
    values[pick < 0.3] = rng.standard_normal(np.count_nonzero(pick < 0.3))  # not float32 values
    values[pick > 0.8] = rng.choice(special, np.count_nonzero(pick > 0.8))
    values[pick > 0.95] = rng.standard_normal(np.count_nonzero(pick > 0.95)) * 1e-39  # subnormal
    with np.errstate(over="ignore"):  # the values beyond the range of dtype become ±inf
        return values.astype(dtype).reshape(n, 3, 3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_kernel_equals_numpy_conversion_bit_for_bit(dtype):
    raw = awkward_values(5000, dtype)
    flat = raw.reshape(-1, 9)
    with np.errstate(over="ignore"):
        expected = flat.T.astype(np.float32)
    changed = np.count_nonzero((flat != expected.T) & ~np.isnan(flat))
    out = np.full((9, 5010), 7.0, dtype=np.float32)
    assert convert_rows(raw, out, 4) == changed
    np.testing.assert_array_equal(out[:, 4:5004].view(np.uint32), expected.view(np.uint32))
    assert (out[:, :4] == 7).all() and (out[:, 5004:] == 7).all()
    assert (changed > 0) == (dtype == np.float64)


def test_kernel_counts_overflow_and_underflow_not_nan_or_inf():
    raw = np.array([[np.nan, np.inf, -np.inf, -0.0, 1e300, -1e39, 1e-50, 2.0**-149, 0.1]])
    columns, changed = round_to_float32(raw)
    assert changed == 3 + 1  # 1e300, -1e39 -> ±inf, 1e-50 -> 0; 2**-149 is exact; 0.1 rounds
    assert columns[:, 0].tolist()[4:6] == [np.inf, -np.inf] and np.signbit(columns[3, 0])


def test_conversion_counts_nan_and_inf_written():
    raw = awkward_values(3000, np.float64)
    out = np.empty((9, 3000), dtype=np.float32)
    converted = convert_counted(raw, out, 0)
    assert converted.nan == np.isnan(out).sum() > 0 and converted.inf == np.isinf(out).sum() > 0
    assert converted.changed == convert_rows(raw, out, 0)


def test_reader_counts_nan_and_inf_of_what_it_read(tmp_path):
    values = awkward_values(300, np.float64, seed=3)
    with h5py.File(tmp_path / "f.h5", "w") as h5:
        h5.create_dataset("filters", data=values)
    with h5py.File(tmp_path / "f.h5", "r") as h5:
        reader = FilterReader(h5["filters"], chunk_size=64)
        for start, stop in [(0, 1), (1, 120), (120, 120), (120, 300)]:
            nan, inf = reader.n_nan, reader.n_inf
            columns = reader.read(start, stop)
            assert reader.n_nan - nan == np.isnan(columns).sum()
            assert reader.n_inf - inf == np.isinf(columns).sum()
    assert reader.n_nan > 0 and reader.n_inf > 0


def test_reader_refuses_rows_beyond_its_windows(tmp_path):
    with h5py.File(tmp_path / "f.h5", "w") as h5:
        h5.create_dataset("filters", data=np.zeros((20, 3, 3)))
    with h5py.File(tmp_path / "f.h5", "r") as h5:
        reader = FilterReader(h5["filters"], chunk_size=8)
        with pytest.raises(ValueError, match="rows 15:21 are not within the first 20"):
            reader.read(15, 21)
        reader.end_windows_at(12)
        np.testing.assert_array_equal(reader.read(4, 12), np.zeros((9, 8)))
        with pytest.raises(ValueError, match="not within the first 12"):
            reader.read(10, 13)


# Large enough that a 1000-row window splits layers and row groups; small enough for a unit test.
BIG_MODELS = [
    ("resnet_small_imagenet1k_11", "Classification", "natural", [2600, 900, 4100, 30]),
    ("unet (v2) + med", "Segmentation", "medical", [1500, 1500]),
    ("yolo_small_coco_12", "Detection", "natural", [64, 3000, 7, 2999]),
    ("vit_tiny_in1k", "Classification", "natural", [5000]),
]


def db_digests(db) -> dict[str, str]:
    return {
        str(p.relative_to(db)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(db.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def big_v1_file(tmp_path_factory):
    meta = published_meta(BIG_MODELS)
    filters = published_filters(sum(sum(sizes) for *_, sizes in BIG_MODELS))
    filters.reshape(-1)[::997] = 0.1  # values that round, in many windows
    filters[4000, 1, 1] = 1e300
    path = tmp_path_factory.mktemp("big") / "big.h5"
    write_v1(path, filters, meta)
    return path


@pytest.mark.parametrize(("chunk_size", "workers"), [(10**6, 3), (1000, 1), (1000, 2), (7, 3)])
def test_import_bytes_do_not_depend_on_window_or_workers(
    big_v1_file, tmp_path, chunk_size, workers
):
    reference = import_published(
        big_v1_file,
        tmp_path / "ref",
        chunk_size=10**6,
        workers=1,
        row_group_size=4000,
        progress=False,
    )
    report = import_published(
        big_v1_file,
        tmp_path / "db",
        chunk_size=chunk_size,
        workers=workers,
        row_group_size=4000,
        progress=False,
    )
    assert report == reference and report.values_rounded > 1
    assert db_digests(tmp_path / "db") == db_digests(tmp_path / "ref")


def test_worker_error_names_the_model(big_v1_file, tmp_path):
    filter_path(tmp_path / "db", "unet_v2_med").mkdir(parents=True)  # cannot be replaced by a file
    with pytest.raises(IsADirectoryError) as err:
        import_published(big_v1_file, tmp_path / "db", workers=2, progress=False)
    assert "while importing the filters of model 'unet_v2_med'" in err.value.__notes__
