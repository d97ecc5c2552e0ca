"""The published import and export through real Snakemake, and the statistics on an import."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from published_files import (
    ROUNDTRIP_TARGETS,
    notebook_read,
    published_filters,
    published_meta,
    roundtrip_config,
    write_v1,
)

from filterdb.figures.catalogue import figure_names
from filterdb.published import import_published
from filterdb.stats.files import STATS_FILES
from filterdb.stats.grouping import axis_slugs
from filterdb.stats.options import StatsOptions
from filterdb.stats.runner import run_statistics


@pytest.fixture
def published_file(tmp_path):
    meta = published_meta()
    filters = published_filters(130)
    path = tmp_path / "cnn_filter_db.h5"
    write_v1(path, filters, meta)
    return path, filters, meta


def test_rules_import_then_export(tmp_path, published_file, copy_workflow, snakemake):
    path, filters, meta = published_file
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "published.yaml").write_text(roundtrip_config(path))
    snakemake(
        workdir, *ROUNDTRIP_TARGETS, "--cores", "1", "--configfile", "published.yaml", timeout=300
    )
    layers = pd.read_parquet(workdir / "results/db/layers.parquet")
    assert layers["n_filters"].sum() == 130
    assert sorted(p.name for p in (workdir / "results/db/filters").glob("*.parquet")) == [
        "resnet_tiny_imagenet1k_11.parquet",
        "unet_v2_med.parquet",
        "yolo_tiny_coco_12.parquet",
    ]
    got, got_meta = notebook_read(workdir / "results/export/db.h5")
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, filters.astype(np.float32))
    assert got_meta["filter_ids"].tolist() == meta["filter_ids"].tolist()
    log = (workdir / "logs/published/import_published.log").read_text()
    assert "imported v1.0.0: 3 models, 9 layers, 130 filters; 0 values changed" in log
    assert (workdir / "results/benchmarks/import_published.tsv").exists()


def test_statistics_run_on_an_imported_database(tmp_path, published_file, local_client):
    """The statistics stage's public entry point reads an imported database as it is.

    Published meta has no in/out channels: layers.parquet leaves them null, and the statistics
    then report orthogonality as unknown (NaN) for those layers instead of refusing them.
    """
    path, _, _ = published_file
    db = tmp_path / "results/db"
    import_published(path, db, progress=False)
    options = StatsOptions.from_params(
        {
            "randomness_max_n": 64,
            "randomness_points": 3,
            "randomness_repeats": 2,
            "kde_fine_bins": 64,
        }
    )
    result = run_statistics(db, options, local_client)
    assert len(result.layer_metrics) == 9
    assert result.model_summary["n_filters"].sum() == 130


@pytest.mark.slow
def test_readme_command_runs_import_statistics_and_figures(
    tmp_path, published_file, copy_workflow, snakemake
):
    """The README's one command on a published v1.0.0 file: import, statistics, figures."""
    path, filters, _ = published_file
    workdir = copy_workflow(tmp_path / "clone")
    database = f'database={{"source": "published", "published_file": "{path}"}}'
    snakemake(workdir, "--cores", "2", "--config", database, timeout=900)
    basis = json.loads((workdir / "results/stats" / STATS_FILES["pca_basis"]).read_text())
    assert basis["n_filters"] + basis["n_nonfinite_filters"] == len(filters)
    pngs = sorted(p.stem for p in (workdir / "results/figures").glob("*.png"))
    assert pngs == sorted(figure_names(axis_slugs()))
    assert not (workdir / "results/failures.tsv").exists()
