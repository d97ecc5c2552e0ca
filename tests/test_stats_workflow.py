"""The ``statistics`` rule and its script, run by the real snakemake CLI on a small database.

The rule file is included from a minimal Snakefile that provides what ``rules/common.smk``
normally does (directories, ``filter_files()``, ``all_cores()``, the resource functions), so
the test exercises the rule's declared outputs, params and the script's wiring without the rest
of the workflow.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml
from stats_db_builder import edge_case_models

from benchmarks.synthetic_db import write_db

REPO = Path(__file__).resolve().parent.parent

SNAKEFILE = """
import sys
from pathlib import Path

sys.path.insert(0, {repo!r})

configfile: "config.yaml"

DB_DIR = "results/db"
STATS_DIR = "results/stats"
MODELS = {models!r}


def filter_files():
    return expand(f"{{DB_DIR}}/filters/{{{{model}}}}.parquet", model=MODELS)


def input_mb(wildcards, input):
    return sum(Path(f).stat().st_size for f in input) / 1e6


def all_cores():
    return workflow.cores


def statistics_mem_mb(wildcards, input, threads):
    return 1024 + 600 * threads


include: {rules!r}


rule all:
    input:
        STATS_OUTPUTS,
"""


def test_statistics_rule_writes_every_declared_output(tmp_path):
    models = edge_case_models()
    write_db(tmp_path / "results" / "db", models, row_group_size=500)
    config = {
        "statistics": {
            "bins": 70,
            "partition_rows": 1000,
            "extra_axes": ["Framework"],
            "merge_segmentation_tasks": True,
            "density_bins": 512,
            "density_limit": 3.3,
            "kde_grid_points": 64,
            "randomness_max_n": 1024,
            "randomness_points": 4,
            "randomness_repeats": 2,
        },
        "dask": {"scheduler_address": None},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    (tmp_path / "Snakefile").write_text(
        SNAKEFILE.format(
            repo=str(REPO),
            models=[m.name for m in models],
            rules=str(REPO / "rules" / "statistics.smk"),
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "2", "--resources", "mem_mb=6000"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = tmp_path / "logs" / "statistics.log"
    assert proc.returncode == 0, proc.stderr[-4000:] + (log.read_text() if log.exists() else "")
    stats = tmp_path / "results" / "stats"
    for axis in ("task", "visual_category", "conv_depth_decile", "network", "training_dataset",
                 "framework"):  # fmt: skip
        assert (stats / "shift" / f"{axis}.csv").stat().st_size > 0
        assert (stats / "shift" / f"{axis}_groups.csv").stat().st_size > 0
    basis = json.loads((stats / "pca_basis.json").read_text())
    assert basis["n_nonfinite_filters"] == 9
    assert pd.read_csv(stats / "randomness_threshold.csv")["n"].iloc[-1] == 1024
    text = log.read_text()
    assert "pass 3/3 histograms" in text and "wrote 20 files" in text
    assert (tmp_path / "benchmarks" / "out" / "statistics.tsv").exists()
    assert not list(stats.rglob(".tmp-*"))
