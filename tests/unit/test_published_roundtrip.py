"""Export of a database we built ourselves (zoo layout), ids out of model order, bad tables."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from published_files import published_filters, published_meta, read_db, write_v1

from filterdb.db.frame_file import write_frame
from filterdb.db.schema import FILTER_SCHEMA, WEIGHT_COLUMNS
from filterdb.errors import ModelError
from filterdb.published import export_published, import_published


def write_zoo_db(db, seed: int = 1) -> dict[str, np.ndarray]:
    """A results/db/ as extract + assemble write it: two models with 3x3 layers, one without."""
    rng = np.random.default_rng(seed)
    shapes = {"vgg_tiny": [(3, 4, 1), (4, 8, 1), (8, 8, 2)], "mobile_tiny": [(6, 6, 6)], "mlp": []}
    layer_rows, model_rows, values, start = [], [], {}, 0
    (db / "filters").mkdir(parents=True)
    for model_id, (model, convs) in enumerate(shapes.items()):
        sizes = [c_out * c_in // g for c_in, c_out, g in convs]
        weights = rng.standard_normal((sum(sizes), 9)).astype(np.float32)
        values[model] = weights
        layer = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
        table = pa.table(
            {"layer": layer, **{name: weights[:, k] for k, name in enumerate(WEIGHT_COLUMNS)}},
            schema=FILTER_SCHEMA,
        )
        pq.write_table(table, db / "filters" / f"{model}.parquet", compression="zstd")
        for i, ((c_in, c_out, g), n) in enumerate(zip(convs, sizes, strict=True)):
            layer_rows.append(
                {
                    "model": model,
                    "layer": i,
                    "layer_name": f"features.{i}",
                    "depth": 2 * i + 1,
                    "conv_depth": i,
                    "conv_depth_norm": i / max(len(convs) - 1, 1),
                    "depth_method": "fx_trace",
                    "in_channels": c_in,
                    "out_channels": c_out,
                    "groups": g,
                    "n_filters": n,
                    "filter_start": start,
                    "n_nan": 0,
                    "n_inf": 0,
                }
            )
            start += n
        model_rows.append(
            {
                "model_id": model_id,
                "model": model,
                "source": f"timm:{model}",
                "sha256": "",
                "Name": model.upper(),
                "Task": "Classification",
                "Visual Category": "Natural",
                "Training-Dataset": "CIFAR-10",
                "Pretraining-Dataset": "",
                "Network": model.split("_")[0],
                "Backbone": "",
                "Framework": "PyTorch",
                "Precision": "float32",
                "Conv Weight Initializer": "",
                "Optimizer": "SGD",
                "Paper": "",
                "License": "MIT",
                "Accessible": "",
                "format": "safetensors",
                "producer": "",
                "opset": pd.NA,
                "depth_method": "fx_trace",
                "n_conv_layers": len(convs) + 1,
                "(1, 1) filters": 16,
                "(3, 3) filters": sum(sizes),
                "n_filters": sum(sizes),
                "3x3_filter_share": 1.0 if sizes else 0.0,
                "skipped_layers": 0,
            }
        )
    models = pd.DataFrame(model_rows)
    models["opset"] = models["opset"].astype("Int64")
    write_frame(pd.DataFrame(layer_rows), db / "layers.parquet")
    write_frame(models, db / "models.parquet")
    return values


def test_our_database_survives_export_and_import(tmp_path, caplog):
    ours = tmp_path / "zoo_db"
    values = write_zoo_db(ours)
    exported = tmp_path / "zoo.h5"
    with caplog.at_level(logging.WARNING):
        assert export_published(ours, exported, progress=False) == 3 * 4 + 4 * 8 + 8 * 4 + 6
    assert "not in the published layout: ['mlp']" in caplog.text

    back = tmp_path / "back"
    import_published(exported, back, progress=False)
    layers0, models0, _ = read_db(ours)
    layers1, models1, filters1 = read_db(back)
    pd.testing.assert_frame_equal(layers1[layers0.columns], layers0, check_dtype=False)
    kept = models0[models0["model"] != "mlp"].reset_index(drop=True)
    pd.testing.assert_frame_equal(models1[kept.columns], kept, check_dtype=False)
    assert models1["published_model"].tolist() == kept["model"].tolist()
    for model, frame in filters1.items():
        np.testing.assert_array_equal(frame[list(WEIGHT_COLUMNS)].to_numpy(), values[model])


def test_ids_out_of_model_order_are_kept(tmp_path, caplog):
    """Published ids need not follow model_id order; import keeps them and export restores them."""
    meta = published_meta()
    meta["model_id"] = meta["model_id"].map({10: 30, 15: 20, 20: 10})  # reverse the model order
    filters = published_filters(130)
    path = tmp_path / "reordered.h5"
    write_v1(path, filters, meta)
    with caplog.at_level(logging.WARNING):
        import_published(path, tmp_path / "db", progress=False)
    assert "filter ids do not follow model_id order" in caplog.text
    layers, models, _ = read_db(tmp_path / "db")
    assert models["published_model_id"].tolist() == [10, 20, 30]
    assert layers["filter_start"].tolist()[:4] == [66, 70, 120, 127]  # yolo (ids 66:129) is first
    out = tmp_path / "out.h5"
    export_published(tmp_path / "db", out, progress=False)
    back = (
        pd.read_hdf(out, "meta")
        .reset_index()
        .sort_values("filter_ids", key=lambda s: s.str.split(":").str[0].astype(int))
    )
    assert back["filter_ids"].tolist() == meta["filter_ids"].tolist()
    with h5py.File(out) as h5:
        np.testing.assert_array_equal(h5["filters"][...], filters)


def test_export_refuses_filter_file_out_of_step(tmp_path):
    db = tmp_path / "db"
    write_zoo_db(db)
    layers = pd.read_parquet(db / "layers.parquet")
    layers.loc[0, "n_filters"] += 1  # now overlaps the next layer
    write_frame(layers, db / "layers.parquet")
    with pytest.raises(ModelError, match=r"vgg_tiny.*overlap"):
        export_published(db, tmp_path / "x.h5", progress=False)
    layers.loc[1, "filter_start"] += 1
    layers.loc[2, "filter_start"] += 1
    layers.loc[3, "filter_start"] += 1
    write_frame(layers, db / "layers.parquet")
    with pytest.raises(ModelError, match=r"vgg_tiny.*has 76 filters but layers.parquet gives 77"):
        export_published(db, tmp_path / "x.h5", progress=False)
    assert not (tmp_path / "x.h5").exists()
