"""Import and export of the published CNN Filter DB layouts, on small real HDF5 files.

The files are built the way the published ones were: v1.0.0 with h5py (filters) plus
``DataFrame.to_hdf(format="table")`` with the 4-level index (meta); v0.1.0 with h5py only, the
meta stored as UTF-8 CSV bytes. Everything is read back with the original notebook's code.
"""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from published_files import (
    INDEX,
    notebook_read,
    published_filters,
    published_meta,
    read_db,
    write_v010,
    write_v1,
)

from filterdb.db.schema import WEIGHT_COLUMNS
from filterdb.errors import ModelError
from filterdb.published import (
    PublishedFileError,
    export_published,
    import_published,
)


@pytest.fixture
def v1_file(tmp_path):
    meta = published_meta()
    filters = published_filters(int(meta["filter_ids"].str.split(":").str[1].astype(int).max()) + 1)
    path = tmp_path / "cnn_filter_db_v1.h5"
    write_v1(path, filters, meta)
    return path, filters, meta


# Where each published column lands in results/db (published name -> our name).
OUR_NAME = {
    "op_set": "opset",
    "layer_id": "layer_name",
    "model": "published_model",
    "model_id": "published_model_id",
}


def assert_meta_kept(meta: pd.DataFrame, layers: pd.DataFrame, models: pd.DataFrame) -> None:
    """Every published column is in layers or models with the published values, row for row."""
    meta = meta.sort_values(["model_id", "conv_depth"]).reset_index(drop=True)
    per_row_model = models.set_index("published_model_id", drop=False).loc[meta["model_id"]]
    for column in meta.columns:
        if column == "filter_ids":
            ranges = (
                layers["filter_start"].astype(str)
                + ":"
                + (layers["filter_start"] + layers["n_filters"] - 1).astype(str)
            )
            assert ranges.tolist() == meta["filter_ids"].tolist()
            continue
        ours = OUR_NAME.get(column, column)
        table = per_row_model if ours in per_row_model.columns else layers
        assert ours in table.columns, column
        pd.testing.assert_series_equal(
            table[ours].reset_index(drop=True),
            meta[column],
            check_dtype=False,
            check_names=False,
        )


def assert_filters_kept(filters: np.ndarray, layers: pd.DataFrame, db_filters: dict) -> None:
    """Each layer's rows are the published rows of its filter_ids, rounded to float32."""
    expected = filters.reshape(-1, 9).astype(np.float32)
    for model, frame in db_filters.items():
        own = layers[layers["model"] == model]
        starts, counts = own["filter_start"], own["n_filters"]
        ids = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, counts, strict=True)])
        got = frame[list(WEIGHT_COLUMNS)].to_numpy()
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, expected[ids])
        np.testing.assert_array_equal(frame["layer"], np.repeat(own["layer"], own["n_filters"]))


def test_import_v1_keeps_every_filter_and_meta_column(v1_file, tmp_path):
    path, filters, meta = v1_file
    db = tmp_path / "db"
    report = import_published(path, db, row_group_size=40, chunk_size=16, progress=False)
    assert (report.version, report.n_models, report.n_layers) == ("1.0.0", 3, 9)
    assert report.n_filters == len(filters) and report.values_rounded == 0
    layers, models, db_filters = read_db(db)
    assert_meta_kept(meta, layers, models)
    assert_filters_kept(filters, layers, db_filters)
    assert models["model"].tolist() == [
        "resnet_tiny_imagenet1k_11",
        "unet_v2_med",
        "yolo_tiny_coco_12",
    ]
    assert models["n_filters"].tolist() == [48, 18, 64]
    assert models["model_id"].tolist() == [0, 1, 2]
    assert (layers["depth_method"] == "published").all()
    assert (models["depth_method"] == "published").all()
    assert layers["in_channels"].isna().all() and layers["depth"].isna().all()
    assert models["Framework"].eq("").all() and models["format"].eq("onnx").all()
    # unknown columns: per-layer ones in layers, per-model ones in models
    assert "layer_weight_norm" in layers.columns and "Dataset URL" in models.columns
    assert "Relu" in models.columns and "Relu" not in layers.columns
    nan_layer = layers[
        (layers["filter_start"] <= 3) & (layers["filter_start"] + layers["n_filters"] > 3)
    ]
    assert nan_layer["n_nan"].tolist() == [1] and layers["n_nan"].sum() == 1
    assert layers["n_inf"].sum() == 1


def test_filter_files_hold_whole_layers_per_row_group(v1_file, tmp_path):
    path, _, _ = v1_file
    db = tmp_path / "db"
    import_published(path, db, row_group_size=40, chunk_size=16, progress=False)
    groups = []
    for name in ("resnet_tiny_imagenet1k_11", "yolo_tiny_coco_12"):
        parquet = pq.ParquetFile(db / "filters" / f"{name}.parquet")
        assert parquet.schema_arrow.field("layer").type == "int32"
        assert parquet.metadata.row_group(0).column(1).compression == "UNCOMPRESSED"
        groups.append(
            [
                sorted(set(parquet.read_row_group(i, columns=["layer"])["layer"].to_pylist()))
                for i in range(parquet.num_row_groups)
            ]
        )
    # sizes [6, 12, 30] -> [6+12], [30]; sizes [4, 50, 7, 3] -> [4], [50] (alone, > 40), [7+3]
    assert groups == [[[0, 1], [2]], [[0], [1], [2, 3]]]


def test_import_v010_csv_meta_and_datatype_column(tmp_path):
    meta = published_meta()
    filters = published_filters(130)
    path = tmp_path / "kaggle.h5"
    write_v010(path, filters, meta)
    db = tmp_path / "db"
    report = import_published(path, db, progress=False)
    assert report.version == "0.1.0"
    layers, models, db_filters = read_db(db)
    assert "Datatype" not in models.columns
    assert_meta_kept(meta, layers, models)
    assert_filters_kept(filters, layers, db_filters)


def test_export_reads_with_notebook_code_and_reimports_losslessly(v1_file, tmp_path):
    path, filters, meta = v1_file
    first = tmp_path / "first"
    import_published(path, first, chunk_size=32, progress=False)
    exported = tmp_path / "export" / "cnn_filter_db.h5"
    assert export_published(first, exported, progress=False) == len(filters)

    got_filters, got_meta = notebook_read(exported)
    assert got_filters.dtype == np.float64 and got_filters.shape == filters.shape
    np.testing.assert_array_equal(got_filters, filters)
    assert list(got_meta.index.names) == INDEX
    flat = got_meta.reset_index()
    for column in meta.columns:  # every published column, same values, same rows
        pd.testing.assert_series_equal(flat[column], meta[column], check_dtype=False)
    ids = flat["filter_ids"].apply(
        lambda s: np.arange(int(s.split(":")[0]), 1 + int(s.split(":")[1]))
    )
    assert np.array_equal(np.concatenate(ids.to_list()), np.arange(len(filters)))

    second = tmp_path / "second"
    import_published(exported, second, progress=False)
    layers1, models1, filters1 = read_db(first)
    layers2, models2, filters2 = read_db(second)
    pd.testing.assert_frame_equal(layers2, layers1)
    pd.testing.assert_frame_equal(models2, models1)
    for model in filters1:
        pd.testing.assert_frame_equal(filters2[model], filters1[model])


def test_export_dtype_option(v1_file, tmp_path):
    path, filters, _ = v1_file
    import_published(path, tmp_path / "db", progress=False)
    out = tmp_path / "f32.h5"
    export_published(tmp_path / "db", out, dtype="float32", progress=False)
    got, _ = notebook_read(out)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, filters.astype(np.float32))
    with pytest.raises(ValueError, match="float16, float32 or float64"):
        export_published(tmp_path / "db", tmp_path / "bad.h5", dtype="int8")


def test_float64_values_that_float32_cannot_hold_are_counted(tmp_path, caplog):
    meta = published_meta()
    filters = published_filters(130)
    filters[0, 0, 0] = 0.1  # not a float32 value
    filters[5, 2, 2] = 1e300  # beyond float32: becomes inf
    path = tmp_path / "f64.h5"
    write_v1(path, filters, meta)
    with caplog.at_level(logging.WARNING):
        report = import_published(path, tmp_path / "db", chunk_size=10, progress=False)
    assert report.values_rounded == 2
    assert "2 of 1170 filter values changed when rounded to float32" in caplog.text


# --- corrupt files -------------------------------------------------------------------------


def test_truncated_filters_dataset(tmp_path):
    meta = published_meta()
    path = tmp_path / "truncated.h5"
    write_v1(path, published_filters(120), meta)  # meta claims 130
    with pytest.raises(
        ModelError, match=r"yolo_tiny_coco_12.*127:129 reach beyond the 120 filters"
    ) as err:
        import_published(path, tmp_path / "db", progress=False)
    assert str(path) in str(err.value)


def test_missing_meta(tmp_path):
    path = tmp_path / "no_meta.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("filters", data=np.zeros((4, 3, 3)))
    with pytest.raises(
        PublishedFileError, match=r"no_meta.h5: no 'meta' entry \(found \['filters'\]\)"
    ):
        import_published(path, tmp_path / "db", progress=False)


def test_missing_filters(tmp_path):
    path = tmp_path / "no_filters.h5"
    published_meta().set_index(INDEX).to_hdf(path, key="meta", format="table", mode="w")
    with pytest.raises(PublishedFileError, match="no 'filters' dataset"):
        import_published(path, tmp_path / "db", progress=False)


def test_not_hdf5(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("hello")
    with pytest.raises(PublishedFileError, match="cannot be opened as HDF5"):
        import_published(path, tmp_path / "db", progress=False)


def test_overlapping_ranges(tmp_path):
    meta = published_meta()
    meta.loc[3, "filter_ids"] = (
        "45:53"  # unet's first layer (48:56) now starts inside resnet's 18:47
    )
    path = tmp_path / "overlap.h5"
    write_v1(path, published_filters(130), meta)
    with pytest.raises(
        ModelError,
        match=r"model 'unet \(v2\) \+ med' \(.*overlap.h5\): filter_ids 45:53 overlap "
        "filter_ids 18:47 of model 'resnet_tiny_imagenet1k_11'",
    ):
        import_published(path, tmp_path / "db", progress=False)


def test_gap_between_ranges(tmp_path):
    meta = published_meta()
    meta.loc[3, "filter_ids"] = "50:56"  # 48:49 now belongs to no layer
    path = tmp_path / "gap.h5"
    write_v1(path, published_filters(130), meta)
    with pytest.raises(ModelError, match=r"unet.*gap.h5.*filter ids 48:49 between .*\(gap\)"):
        import_published(path, tmp_path / "db", progress=False)


def test_model_column_that_varies_inside_a_model(tmp_path):
    meta = published_meta()
    meta.loc[1, "Task"] = "Detection"
    path = tmp_path / "task.h5"
    write_v1(path, published_filters(130), meta)
    with pytest.raises(
        ModelError, match=r"resnet_tiny_imagenet1k_11.*'Task' describes the whole model"
    ):
        import_published(path, tmp_path / "db", progress=False)


def test_bad_filter_ids_text(tmp_path):
    meta = published_meta()
    meta.loc[0, "filter_ids"] = "0-5"
    path = tmp_path / "text_ids.h5"
    write_v1(path, published_filters(130), meta)
    with pytest.raises(ModelError, match=r"filter_ids '0-5' is not 'start:end'"):
        import_published(path, tmp_path / "db", progress=False)


def test_model_id_shared_by_two_models(tmp_path):
    meta = published_meta()
    meta.loc[meta["model_id"] == 15, "model_id"] = 10
    path = tmp_path / "shared_id.h5"
    write_v1(path, published_filters(130), meta)
    with pytest.raises(PublishedFileError, match=r"shared_id.h5: model_id 10 is used by several"):
        import_published(path, tmp_path / "db", progress=False)
