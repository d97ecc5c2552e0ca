"""The whole workflow, end to end, on the small test zoo: real downloads, real Snakemake."""

from __future__ import annotations

import filecmp
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch
from conftest import REPO, copy_workflow, snakemake

DB_TARGETS = ("results/db/models.parquet", "results/db/layers.parquet", "results/failures.tsv")


def db_files(workdir: Path) -> list[Path]:
    return sorted(
        p.relative_to(workdir) for p in (workdir / "results/db").rglob("*") if p.is_file()
    )


@pytest.fixture(scope="module")
def built_zoo(tmp_path_factory, wheel_cache):
    """One complete run of the test zoo: database, statistics, figures and report."""
    workdir = copy_workflow(tmp_path_factory.mktemp("e2e"))
    extra = workdir / "test-cache.yaml"
    extra.write_text(f"download:\n  wheel_cache_dir: {wheel_cache}\n")
    config = ["--configfile", "tests/zoo/config.yaml", str(extra)]
    snakemake(workdir, "--cores", "2", *config, timeout=1800)
    snakemake(workdir, "--cores", "1", *config, "--report", "results/report.html")
    return workdir, config


def test_database_holds_every_model_with_contiguous_ids(built_zoo):
    workdir, _ = built_zoo
    manifest = pd.read_csv(REPO / "tests/zoo/zoo.tsv", sep="\t", dtype=str, keep_default_na=False)
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
    np.testing.assert_array_equal(table[[f"w{i}" for i in range(9)]].to_numpy(), expected)


def test_statistics_figures_and_report_exist(built_zoo):
    workdir, _ = built_zoo
    stats = workdir / "results/stats"
    assert (stats / "pca_basis.json").is_file()
    assert (stats / "layer_metrics.parquet").is_file()
    figures = sorted((workdir / "results/figures").glob("*.png"))
    assert len(figures) >= 12
    report = (workdir / "results/report.html").read_text(errors="replace")
    for figure in figures:
        assert figure.name in report


def test_rerun_is_a_no_op(built_zoo):
    workdir, config = built_zoo
    proc = snakemake(workdir, "-n", "--cores", "2", *config)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_database_is_byte_identical_in_a_second_clean_copy(built_zoo, tmp_path, wheel_cache):
    first, config = built_zoo
    second = copy_workflow(tmp_path / "second")
    (second / "test-cache.yaml").write_text(f"download:\n  wheel_cache_dir: {wheel_cache}\n")
    snakemake(second, "--cores", "2", *DB_TARGETS, *config, timeout=1200)
    files = db_files(first)
    assert files == db_files(second)
    match, mismatch, errors = filecmp.cmpfiles(first, second, files, shallow=False)
    assert not mismatch and not errors
