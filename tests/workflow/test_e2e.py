"""The whole workflow, end to end, on the small test zoo: real downloads, real Snakemake."""

from __future__ import annotations

import filecmp
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import torch

from filterdb.db.schema import WEIGHT_COLUMNS
from filterdb.figures.catalogue import figure_names
from filterdb.stats.files import STATS_FILES, all_stats_files
from filterdb.stats.grouping import axis_slugs

DB_TARGETS = ("results/db/models.parquet", "results/db/layers.parquet", "results/failures.tsv")


def db_files(workdir: Path) -> list[Path]:
    return sorted(
        p.relative_to(workdir) for p in (workdir / "results/db").rglob("*") if p.is_file()
    )


def test_database_holds_every_model_with_contiguous_ids(built_zoo, repo):
    workdir, _ = built_zoo
    manifest = pd.read_csv(repo / "tests/zoo/zoo.tsv", sep="\t", dtype=str, keep_default_na=False)
    models = pd.read_parquet(workdir / "results/db/models.parquet")
    layers = pd.read_parquet(workdir / "results/db/layers.parquet")
    assert list(models["model"]) == list(manifest["model"])
    assert list(models["model_id"]) == list(range(len(models)))
    assert (models["Task"] == manifest["Task"]).all()
    starts = layers["filter_start"].to_numpy()
    assert starts[0] == 0
    assert (starts[1:] == starts[:-1] + layers["n_filters"].to_numpy()[:-1]).all()
    for row in models.itertuples():
        rows = pq.ParquetFile(workdir / f"results/db/filters/{row.model}.parquet").metadata.num_rows
        assert rows == row.n_filters == layers.loc[layers["model"] == row.model, "n_filters"].sum()
    assert set(models["format"]) == {"pytorch", "onnx", "safetensors"}
    traced = models.set_index("model").loc["regnetx_002_init", "depth_method"]
    assert traced == "fx_trace"


def test_trained_filters_equal_the_checkpoint(built_zoo, wheel_cache):
    """The stored P-Net filters are the wheel's own weights, in output-channel-major order."""
    workdir, _ = built_zoo
    wheel = next(Path(wheel_cache).rglob("facenet_pytorch-2.6.0-*.whl"))
    with zipfile.ZipFile(wheel) as zf, zf.open("facenet_pytorch/data/pnet.pt") as fh:
        state = torch.load(fh, weights_only=True, map_location="cpu")
    expected = [w.numpy() for w in state.values() if w.ndim == 4 and w.shape[-2:] == (3, 3)]
    expected = np.concatenate([w.reshape(-1, 9) for w in expected])
    table = pq.read_table(workdir / "results/db/filters/mtcnn_pnet.parquet").to_pandas()
    assert len(table) == 702
    np.testing.assert_array_equal(table[list(WEIGHT_COLUMNS)].to_numpy(), expected)


def test_statistics_figures_and_report_exist(built_zoo):
    workdir, _ = built_zoo
    stats = workdir / "results/stats"
    written = sorted(str(p.relative_to(stats)) for p in stats.rglob("*") if p.is_file())
    assert written == sorted(all_stats_files(axis_slugs()))
    assert (stats / STATS_FILES["layer_metrics"]).stat().st_size > 0
    expected = sorted(figure_names(axis_slugs()))
    figures = workdir / "results/figures"
    for ext in ("png", "pdf", "csv"):
        assert sorted(p.stem for p in figures.glob(f"*.{ext}")) == expected, ext
    report = (workdir / "results/report.html").read_text(errors="replace")
    for name in expected:
        assert f"{name}.png" in report and f"{name}.csv" in report


def test_rerun_is_a_no_op(built_zoo, snakemake):
    workdir, config = built_zoo
    proc = snakemake(workdir, "-n", "--cores", "2", *config)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_database_is_byte_identical_in_a_second_clean_copy(
    built_zoo, tmp_path, copy_workflow, test_zoo_config, snakemake
):
    first, _ = built_zoo
    second = copy_workflow(tmp_path / "second")
    snakemake(second, "--cores", "2", *DB_TARGETS, *test_zoo_config(second), timeout=1200)
    files = db_files(first)
    assert files == db_files(second)
    match, mismatch, errors = filecmp.cmpfiles(first, second, files, shallow=False)
    assert not mismatch and not errors
