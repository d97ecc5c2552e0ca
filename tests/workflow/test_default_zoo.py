"""The default zoo, run as the README's first command runs it: what its database and analyses hold.

The PCA and shift analyses describe trained filters only (``statistics.exclude`` keeps the
untrained baselines out by default), and take the baselines in when the switch is emptied.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from filterdb.stats.files import STATS_FILES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_run(tmp_path_factory, copy_workflow, wheel_cache, snakemake):
    workdir = copy_workflow(tmp_path_factory.mktemp("default"))
    cache = workdir / "wheel_cache.yaml"
    cache.write_text(json.dumps({"download": {"wheel_cache_dir": str(wheel_cache)}}))
    config = ("--configfile", "config/config.yaml", str(cache))
    snakemake(workdir, "--cores", "2", *config, timeout=1800)
    return workdir, config


def trained_mask(models: pd.DataFrame) -> pd.Series:
    return models["Training-Dataset"] != "untrained"


def test_default_database_tells_the_papers_story(default_run):
    workdir, _ = default_run
    models = pd.read_parquet(workdir / "results/db/models.parquet")
    trained = models[trained_mask(models)]
    assert len(trained) >= 24
    assert trained["n_filters"].sum() >= 0.8 * models["n_filters"].sum()
    assert trained["Task"].nunique() >= 8
    assert trained["Visual Category"].replace("", None).nunique() >= 6
    assert {"keras", "tflite", "ncnn", "onnx", "pytorch"} <= set(trained["format"])
    assert (workdir / "results/failures.tsv").read_text() == "model\terror\n"


def test_pca_and_shifts_exclude_the_baselines_unless_the_switch_is_emptied(default_run, snakemake):
    workdir, config = default_run
    models = pd.read_parquet(workdir / "results/db/models.parquet")
    layers = pd.read_parquet(workdir / "results/stats/layer_metrics.parquet")
    finite = layers.groupby("model")["n_finite_filters"].sum().reindex(models["model"]).fillna(0)
    trained = trained_mask(models).to_numpy()
    stats = workdir / "results/stats"
    basis = json.loads((stats / STATS_FILES["pca_basis"]).read_text())
    assert basis["n_filters"] == finite[trained].sum()
    summary = pd.read_csv(stats / STATS_FILES["model_summary"])
    assert list(summary["in_pca"]) == list(trained)
    groups = pd.read_csv(stats / "shift/training_dataset_groups.csv")
    assert "untrained" not in set(groups["group"])
    assert groups["n_filters"].sum() <= finite[trained].sum()

    snakemake(
        workdir,
        "--cores",
        "2",
        *config,
        "--config",
        "statistics={exclude: []}",
        "--",
        f"results/stats/{STATS_FILES['pca_basis']}",
        timeout=900,
    )
    everything = json.loads((stats / STATS_FILES["pca_basis"]).read_text())
    assert everything["n_filters"] == finite.sum()
    assert everything["explained_variance_ratio"][0] < basis["explained_variance_ratio"][0]
    groups = pd.read_csv(stats / "shift/training_dataset_groups.csv")
    assert "untrained" in set(groups["group"])
    assert pd.read_csv(stats / STATS_FILES["model_summary"])["in_pca"].all()
