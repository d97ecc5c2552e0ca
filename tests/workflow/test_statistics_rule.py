"""Rule ``statistics`` of the real workflow, run by the real snakemake CLI on a small database.

The database is written directly (every edge case the statistics handle), the manifest lists its
models, and only the ``statistics`` rule may run: the test exercises the rule's declared outputs,
params, resources (``rules/common.smk``'s real helpers) and the script's wiring, without the
hours of extraction before it.
"""

from __future__ import annotations

import json
import re

import pandas as pd
import yaml
from db_builders import edge_case_models

from filterdb.db.from_arrays import write_database
from filterdb.stats.files import STATS_FILES, all_stats_files, shift_file, shift_groups_file
from filterdb.stats.grouping import axis_slugs
from filterdb.stats.resources import statistics_mem_mb


def test_statistics_rule_writes_every_declared_output(
    tmp_path, copy_workflow, snakemake, write_zoo
):
    workdir = copy_workflow(tmp_path / "wf")
    models = edge_case_models()
    db = write_database(workdir / "results" / "db", models, row_group_size=500)
    write_zoo(
        workdir / "zoo.tsv",
        [{"model": m.name, "source": f"file:unused/{m.name}.pt", **m.labels} for m in models],
    )
    statistics = {
        "partition_rows": 1000,
        "extra_axes": ["Framework"],
        "kde_grid_points": 64,
        "randomness_max_n": 1024,
        "randomness_points": 4,
        "randomness_repeats": 2,
    }
    config = {"zoo": "zoo.tsv", "statistics": statistics}
    (workdir / "stats.yaml").write_text(yaml.safe_dump(config))
    axes = axis_slugs(statistics["extra_axes"])
    targets = [f"results/stats/{name}" for name in all_stats_files(axes)]
    proc = snakemake(
        workdir, *targets, "--cores", "2", "--configfile", "stats.yaml",
        "--allowed-rules", "statistics", timeout=600,
    )  # fmt: skip

    stats = workdir / "results" / "stats"
    for axis in ("task", "visual_category", "conv_depth_decile", "network", "training_dataset",
                 "framework"):  # fmt: skip
        assert (stats / shift_file(axis)).stat().st_size > 0
        assert (stats / shift_groups_file(axis)).stat().st_size > 0
    basis = json.loads((stats / STATS_FILES["pca_basis"]).read_text())
    assert basis["n_nonfinite_filters"] == 9
    assert pd.read_csv(stats / STATS_FILES["randomness"])["n"].iloc[-1] == 1024
    text = (workdir / "logs" / "statistics.log").read_text()
    assert "pass 3/3 histograms" in text and f"wrote {len(targets)} files" in text
    assert (workdir / "results" / "benchmarks" / "statistics.tsv").exists()
    assert not list(stats.rglob(".tmp-*"))

    # The job asked for the memory model's amount, computed by common.smk from its real inputs
    # (the tables and every filter file) and its threads (all cores).
    input_mb = sum(f.stat().st_size for f in db.rglob("*.parquet")) / 1e6
    requested = re.search(r"rule statistics:.*?mem_mb=(\d+)", proc.stdout + proc.stderr, re.S)
    assert requested, proc.stdout[-3000:]
    assert int(requested[1]) == statistics_mem_mb(2, 1000, input_mb)
