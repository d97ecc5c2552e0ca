"""Static workflow checks: lint, formatting, and dry runs of every shipped configuration."""

import subprocess
import sys
from pathlib import Path

from conftest import REPO, copy_workflow, snakemake


def test_lint_is_clean():
    proc = snakemake(REPO, "--lint", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Lints for" not in proc.stdout + proc.stderr


def test_rule_files_are_snakefmt_formatted():
    snakefmt = Path(sys.executable).parent / "snakefmt"
    files = [str(REPO / "Snakefile"), *map(str, sorted((REPO / "rules").glob("*.smk")))]
    proc = subprocess.run([str(snakefmt), "--check", *files], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dry_run_default_config(tmp_path):
    workdir = copy_workflow(tmp_path)
    proc = snakemake(workdir, "-n", "--cores", "2")
    for rule in ("download_model", "extract_filters", "assemble_database", "statistics"):
        assert rule in proc.stdout
    assert "opennsfw_resnet50" in proc.stdout


def test_dry_run_online_zoo(tmp_path):
    workdir = copy_workflow(tmp_path)
    proc = snakemake(workdir, "-n", "--cores", "2", "--configfile", "config/online.yaml")
    assert "resnet50_a1_in1k" in proc.stdout


def test_every_online_timm_name_exists_in_timm():
    import timm

    from filterdb.manifest import load_manifest
    from filterdb.sources import parse_source

    frame = load_manifest(REPO / "config/zoo_online.tsv", REPO / "config/schemas/zoo.schema.yaml")
    sources = [parse_source(s) for s in frame["source"]]
    names = [s.value for s in sources if s.kind == "timm"]
    assert len(names) >= 40
    missing = sorted(set(names) - set(timm.list_pretrained()))
    assert not missing, f"not in timm.list_pretrained(): {missing}"
    assert (frame["Task"] != "").all() and (frame["Training-Dataset"] != "").all()
