"""Partitions of whole layers, read back from the filter files (filterdb.stats.partitions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from db_builders import ROW_GROUP_SIZE

from filterdb.db.from_arrays import ArrayLayer, ArrayModel, write_database
from filterdb.db.schema import LAYERS_FILE, filter_path
from filterdb.errors import ModelError
from filterdb.stats.options import StatsOptions
from filterdb.stats.partitions import batch_partitions, plan_partitions, read_partition
from filterdb.stats.runner import TASKS_PER_WORKER, _prepare_tables, task_rows


def _layer(rng, out_channels, in_channels, groups=1):
    weights = rng.normal(size=(out_channels, in_channels // groups, 3, 3)).astype(np.float32)
    return ArrayLayer(weights, out_channels, in_channels, groups)


def _one_model_db(path, layers, row_group_size=ROW_GROUP_SIZE):
    return write_database(path, [ArrayModel("m0", {"Task": "A"}, layers)], row_group_size)


def test_partitions_hold_whole_layers_and_cover_the_file(tmp_path):
    rng = np.random.default_rng(9)
    layers = [_layer(rng, 8, 4), _layer(rng, 16, 8), _layer(rng, 4, 4, 4), _layer(rng, 32, 16)]
    db = _one_model_db(tmp_path / "db", layers, row_group_size=100)
    models, table = _prepare_tables(db, StatsOptions.from_params())
    for partition_rows in (1, 150, 10**6):
        specs = plan_partitions(models, table, db, partition_rows, np.array([-1]))
        assert [layer for s in specs for layer in s.layers] == [0, 1, 2, 3]
        assert all(s.n_rows <= max(partition_rows, 512) for s in specs)
        raw = np.concatenate([read_partition(s) for s in specs], axis=1)
        expected = np.concatenate([layer.weights.reshape(-1, 9) for layer in layers]).T
        assert np.array_equal(raw, expected)


def test_small_partitions_share_a_task_up_to_partition_rows(tmp_path):
    rng = np.random.default_rng(13)
    layers = [_layer(rng, 8, 4), _layer(rng, 16, 8), _layer(rng, 4, 4, 4), _layer(rng, 32, 16)]
    db = _one_model_db(tmp_path / "db", layers, row_group_size=1)  # a row group per layer
    models, table = _prepare_tables(db, StatsOptions.from_params())
    specs = plan_partitions(models, table, db, 1, np.array([-1]))
    assert [s.n_rows for s in specs] == [32, 128, 4, 512]
    assert batch_partitions(specs, 1) == [[0], [1], [2], [3]]
    assert batch_partitions(specs, 200) == [[0, 1, 2], [3]]
    assert batch_partitions(specs, 10**6) == [[0, 1, 2, 3]]


def test_a_pass_gets_enough_tasks_to_keep_every_worker_busy():
    # 20 M filters, 2 workers: 4 M-row tasks would be 5; 1.25 M-row tasks make 16.
    assert task_rows(20_000_000, 4_194_304, 2) == 20_000_000 // (2 * TASKS_PER_WORKER)
    assert task_rows(10**9, 4_194_304, 2) == 4_194_304  # large databases: partition_rows
    assert task_rows(3, 4_194_304, 2) == 1
    assert task_rows(10**9, 4_194_304, 0) == 4_194_304  # no worker started yet


def test_partitions_refuse_a_file_that_splits_a_layer(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from filterdb.db.schema import FILTER_SCHEMA

    rng = np.random.default_rng(10)
    db = _one_model_db(tmp_path / "db", [_layer(rng, 8, 4)])
    path = filter_path(db, "m0")
    table = pq.read_table(path)
    with pq.ParquetWriter(path, FILTER_SCHEMA) as writer:
        writer.write_table(pa.Table.from_batches(table.to_batches()), row_group_size=10)
    models, layers = _prepare_tables(db, StatsOptions.from_params())
    with pytest.raises(ModelError, match="whole layers"):
        plan_partitions(models, layers, db, 10**6, np.array([-1]))


def test_partitions_refuse_a_layer_column_that_disagrees_with_the_layer_table(tmp_path):
    """Row groups of the right sizes whose ``layer`` column splits them differently."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from filterdb.db.schema import FILTER_SCHEMA

    rng = np.random.default_rng(12)
    db = _one_model_db(tmp_path / "db", [_layer(rng, 8, 4), _layer(rng, 16, 8)])
    path = filter_path(db, "m0")
    table = pq.read_table(path)
    layer = table.column("layer").to_numpy().copy()
    layer[30:34] = 1  # layer 0 holds 32 filters; these four now claim layer 1
    table = table.set_column(0, FILTER_SCHEMA.field("layer"), pa.array(layer, pa.int32()))
    pq.write_table(table, path, row_group_size=10**6)
    models, layers = _prepare_tables(db, StatsOptions.from_params())
    (spec,) = plan_partitions(models, layers, db, 10**6, np.array([-1]))
    with pytest.raises(ModelError, match="do not match layers.parquet"):
        read_partition(spec)


def test_missing_filter_file_is_a_model_error_naming_model_and_file(tmp_path):
    rng = np.random.default_rng(11)
    db = _one_model_db(tmp_path / "db", [_layer(rng, 8, 4)])
    filter_path(db, "m0").unlink()
    models, layers = _prepare_tables(db, StatsOptions.from_params())
    with pytest.raises(ModelError, match=r"model 'm0' \(.*m0\.parquet\): cannot read"):
        plan_partitions(models, layers, db, 10**6, np.array([-1]))


def test_unknown_channel_counts_leave_only_orthogonality_undefined(tmp_path):
    from filterdb.stats.partitions import read_layers
    from filterdb.stats.passes import moments_pass

    rng = np.random.default_rng(12)
    db = _one_model_db(tmp_path / "db", [_layer(rng, 8, 4), _layer(rng, 16, 8)])
    table = pd.read_parquet(db / LAYERS_FILE)
    for column in ("in_channels", "out_channels", "groups"):
        table[column] = pd.array([pd.NA] * len(table), dtype="Int64")
    table.to_parquet(db / LAYERS_FILE, index=False)
    models, layers = _prepare_tables(db, StatsOptions.from_params())
    (spec,) = plan_partitions(models, layers, db, 10**6, np.array([-1]))
    result = moments_pass(spec, read_layers(spec))
    assert np.isnan(result["orthogonality"]).all()
    assert (result["variance_entropy"] > 0.5).all() and result["n_finite"].tolist() == [32, 128]
