"""``filterdb.open_db``: selections equal the Parquet rows, and read no more than they return."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from db_builders import random_models

from filterdb import open_db
from filterdb.db.access import DatabaseError
from filterdb.db.from_arrays import write_database
from filterdb.db.schema import WEIGHT_COLUMNS, filter_path

# Row groups of two 1,024-filter layers: layer selections start and end inside row groups.
ROW_GROUP = 2 * 1024


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    models = random_models(n_models=3, layers_per_model=5, filters_per_layer=1024, seed=3)
    return write_database(tmp_path_factory.mktemp("access") / "db", models, ROW_GROUP)


def file_rows(db, model: str) -> pd.DataFrame:
    return pq.read_table(filter_path(db, model)).to_pandas()


def test_model_and_layer_selections_are_the_files_rows(small_db):
    db = open_db(small_db)
    assert list(db.models["model"]) == ["random_000", "random_001", "random_002"]
    for model in db.models["model"]:
        rows = file_rows(small_db, model)
        weights = rows[list(WEIGHT_COLUMNS)].to_numpy()
        np.testing.assert_array_equal(db.filters(model=model), weights)
        for layer in range(5):
            np.testing.assert_array_equal(
                db.filters(model=model, layer=layer), weights[rows["layer"] == layer]
            )
        picked = db.filters(model=model, layer=[4, 1, 2])
        order = np.concatenate([np.flatnonzero(rows["layer"] == k) for k in (4, 1, 2)])
        np.testing.assert_array_equal(picked, weights[order])
    everything = db.filters()
    assert everything.shape == (3 * 5 * 1024, 9) and everything.dtype == np.float32
    np.testing.assert_array_equal(everything[: 5 * 1024], db.filters(model="random_000"))


def test_batches_and_dask_cover_the_selection(small_db):
    db = open_db(small_db)
    batches = list(db.iter_batches(model="random_001"))
    assert all(len(b.weights) <= ROW_GROUP for b in batches) and len(batches) == 3
    np.testing.assert_array_equal(
        np.concatenate([b.weights for b in batches]), db.filters(model="random_001")
    )
    np.testing.assert_array_equal(
        np.concatenate([b.layer for b in batches]), file_rows(small_db, "random_001")["layer"]
    )
    frame = db.to_dask().compute()
    assert len(frame) == 3 * 5 * 1024
    np.testing.assert_array_equal(frame[list(WEIGHT_COLUMNS)].to_numpy(), db.filters())
    assert list(frame["model"].unique()) == list(db.models["model"])
    means = db.to_dask().groupby("model")["w4"].mean().compute()
    expected = db.filters(model="random_002")[:, 4].astype(np.float64).mean()
    assert means["random_002"] == pytest.approx(expected, rel=1e-3)  # summed in float32 by dask


def test_bad_selections_name_the_problem(small_db, tmp_path):
    db = open_db(small_db)
    with pytest.raises(DatabaseError, match="no model.*'nope'"):
        db.filters(model="nope")
    with pytest.raises(DatabaseError, match="layers 0..4, not \\[5\\]"):
        db.filters(model="random_000", layer=5)
    with pytest.raises(DatabaseError, match="exactly one model"):
        db.filters(layer=0)
    with pytest.raises(DatabaseError, match="models.parquet"):
        open_db(tmp_path)


MEMORY_PROBE = """
import sys
import numpy as np
from filterdb import open_db

def peak_and_current():
    fields = dict(line.split(":", 1) for line in open("/proc/self/status"))
    return (int(fields[k].split()[0]) * 1024 for k in ("VmHWM", "VmRSS"))

db = open_db(sys.argv[1])
db.models, db.layers  # the small tables are not the selection
np.ones(1).sum()
open("/proc/self/clear_refs", "w").write("5")  # reset the peak to the current RSS
_, before = peak_and_current()
selected = db.filters(model=sys.argv[2])
peak, _ = peak_and_current()
print(peak - before, selected.nbytes)
"""


def test_selecting_one_model_allocates_only_that_model(tmp_path):
    """A 4.2 M-filter database (151 MB of weights); one model is 0.52 M filters (19 MB): the
    selection's peak memory is that model's array plus pyarrow's buffers for one column of one
    row group (measured: 30 MB in all, where reading the model's file as a table takes 71 MB)."""
    models = random_models(n_models=8, layers_per_model=8, filters_per_layer=65536, seed=5)
    db = write_database(tmp_path / "db", models, row_group_size=1 << 20)
    proc = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(db), "random_004"],
        capture_output=True,
        text=True,
        check=True,
    )
    growth, selected = map(int, proc.stdout.split())
    assert selected == 8 * 65536 * 9 * 4
    assert growth <= selected + (16 << 20), (growth, selected)
