"""Static workflow checks: lint, formatting, and dry runs of every shipped configuration."""

import subprocess
import sys
from pathlib import Path


def test_lint_is_clean(repo, snakemake):
    proc = snakemake(repo, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


def test_rule_files_are_snakefmt_formatted(repo):
    snakefmt = Path(sys.executable).parent / "snakefmt"
    files = [str(repo / "Snakefile"), *map(str, sorted((repo / "rules").glob("*.smk")))]
    proc = subprocess.run([str(snakefmt), "--check", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dry_run_default_config(tmp_path, copy_workflow, snakemake):
    workdir = copy_workflow(tmp_path)
    proc = snakemake(workdir, "-n", "--cores", "2")
    for rule in ("download_model", "extract_filters", "assemble_database", "statistics"):
        assert rule in proc.stdout
    assert "opennsfw_resnet50" in proc.stdout


def test_dry_run_online_zoo(tmp_path, copy_workflow, snakemake):
    workdir = copy_workflow(tmp_path)
    proc = snakemake(workdir, "-n", "--cores", "2", "--configfile", "config/online.yaml")
    assert "wildcards: model=resnet50.a1_in1k" in proc.stdout + proc.stderr
    n_models = len((workdir / "config/zoo_online.tsv").read_text().splitlines()) - 1
    assert f"download_model          {n_models}" in proc.stdout + proc.stderr


def test_a_misspelt_setting_is_refused_before_any_job(tmp_path, copy_workflow, snakemake):
    workdir = copy_workflow(tmp_path)
    proc = snakemake(workdir, "-n", "--config", "skip_failed_model=true", check=False)
    assert proc.returncode != 0
    assert "'skip_failed_model' was unexpected" in proc.stdout + proc.stderr
    (workdir / "bad.yaml").write_text("statistics:\n  bins: 1\n")
    proc = snakemake(workdir, "-n", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    assert "1 is less than the minimum of 2" in proc.stdout + proc.stderr
