"""Rows of the committed online zoo through real Snakemake runs, served from a pre-filled hub cache.

No hub is reachable here, so ``HF_HOME`` holds a cache laid out as huggingface_hub lays it out
(``hub_cache``), and ``HF_HUB_OFFLINE=1`` makes timm and huggingface_hub read it, as a user with a
copied cache would. Two runs:

* three good rows go through download → extraction → ``python -m filterdb.zoo.pin`` → a rerun
  that verifies every checkpoint against the lock; a second pin is refused; a tampered cached
  checkpoint is then refused by its sha256;
* rows whose cached weights are another architecture's or truncated, and a row whose
  ``expected_3x3_filters`` is off, fail as their own models while a good row completes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import hub_cache
import pandas as pd
import pytest
from safetensors.torch import load_file, save_file

from filterdb.acquire.checksum import sha256_file
from filterdb.zoo.lock import lock_path, read_lock
from filterdb.zoo.manifest import load_manifest

GOOD = ("regnetx_002.pycls_in1k", "mobilenetv3_small_050.lamb_in1k", "resnet10t.c3_in1k")
WRONG_ARCH = "resnet34.a1_in1k"  # its cache holds resnet18's weights
TRUNCATED = "resnet14t.c3_in1k"
MISCOUNTED = "resnet18.a1_in1k"  # its row expects one 3x3 filter more than it has
TARGETS = ("results/db/models.parquet", "results/failures.tsv")
pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def online_rows(repo) -> dict[str, dict[str, str]]:
    """The committed online zoo's rows of every model used here, unchanged."""
    zoo = load_manifest(repo / "config/zoo_online.tsv", use_lock=False)
    rows = zoo.set_index("model", drop=False)
    return {m: rows.loc[m].to_dict() for m in (*GOOD, WRONG_ARCH, TRUNCATED, MISCOUNTED)}


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory) -> Path:
    """A hub cache with made-up weights for every model (wrong or truncated where intended)."""
    home = tmp_path_factory.mktemp("hf")
    for name in (*GOOD, MISCOUNTED):
        hub_cache.fill_hub_cache(home, name)
    hub_cache.fill_hub_cache(home, WRONG_ARCH, weights_of="resnet18")
    hub_cache.fill_hub_cache(home, TRUNCATED)
    weights = hub_cache.weights_file(home, TRUNCATED)
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    return home


def offline_env(hf_home: Path) -> dict[str, str]:
    return {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}


def pin(workdir: Path, zoo: Path, hf_home: Path) -> subprocess.CompletedProcess:
    """``python -m filterdb.zoo.pin zoo`` in ``workdir``, as the README says to run it."""
    return subprocess.run(
        [sys.executable, "-m", "filterdb.zoo.pin", str(zoo)],
        cwd=workdir,
        env={**os.environ, **offline_env(hf_home), "PYTHONPATH": str(workdir)},
        capture_output=True,
        text=True,
        timeout=600,
    )


def filter_digests(workdir: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted((workdir / "results/db/filters").iterdir())}


@pytest.fixture(scope="module")
def locked_run(tmp_path_factory, copy_workflow, write_zoo, snakemake, online_rows, hf_home):
    """Run the good rows, pin them, run again against the lock; return what each step left."""
    workdir = copy_workflow(tmp_path_factory.mktemp("online"))
    zoo = write_zoo(workdir / "online-zoo.tsv", [online_rows[m] for m in GOOD])
    args = (*TARGETS, "--cores", "2", "--config", f"zoo={zoo.name}")
    env = offline_env(hf_home)
    snakemake(workdir, *args, env=env)
    first = filter_digests(workdir)
    pinned = pin(workdir, zoo, hf_home)
    assert pinned.returncode == 0, pinned.stdout + pinned.stderr
    lock_bytes = lock_path(zoo).read_bytes()
    rerun = snakemake(workdir, *args, env=env)
    return workdir, zoo, first, lock_bytes, rerun


def test_a_lock_pins_every_checkpoint_and_its_commit(locked_run):
    workdir, zoo, _, _, _ = locked_run
    lock = read_lock(lock_path(zoo)).set_index("model")
    assert list(lock.index) == list(GOOD)
    for model in GOOD:
        checkpoint = workdir / "resources/models" / model / f"{model}.safetensors"
        assert lock.loc[model, "sha256"] == sha256_file(checkpoint)
        assert lock.loc[model, "hf_revision"] == hub_cache.REVISION
    assert load_manifest(zoo)["sha256"].tolist() == lock["sha256"].tolist()


def test_the_rerun_verifies_against_the_lock_and_rebuilds_the_same_database(locked_run):
    workdir, _, first, _, rerun = locked_run
    # every download ran again, now with the lock's sha256 and commit as its params
    for model in GOOD:
        assert f"wildcards: model={model}" in rerun.stderr
    assert filter_digests(workdir) == first
    models = pd.read_parquet(workdir / "results/db/models.parquet")
    assert (models["sha256"].str.len() == 64).all()
    failures = pd.read_csv(workdir / "results/failures.tsv", sep="\t")
    assert failures.empty


def test_an_existing_lock_is_never_overwritten(locked_run, hf_home):
    workdir, zoo, _, lock_bytes, _ = locked_run
    again = pin(workdir, zoo, hf_home)
    assert again.returncode == 2
    assert "exists and is never overwritten" in again.stderr
    assert lock_path(zoo).read_bytes() == lock_bytes


def test_a_tampered_cached_checkpoint_is_refused(locked_run, snakemake, hf_home):
    workdir, zoo, _, _, _ = locked_run
    model = GOOD[0]
    cached = hub_cache.weights_file(hf_home, model)
    weights = load_file(cached)
    first_key = sorted(weights)[0]
    weights[first_key] = weights[first_key] + 1  # still a valid file of the right shapes
    save_file(weights, str(cached))
    # as on a fresh machine with this lock: the model's files are to be made again
    for directory in ("resources/models", "results/extract"):
        shutil.rmtree(workdir / directory / model)
    for path in (f"results/db/filters/{model}.parquet", *TARGETS):
        (workdir / path).unlink()
    proc = snakemake(
        workdir,
        *TARGETS,
        "--cores",
        "2",
        "--config",
        f"zoo={zoo.name}",
        env=offline_env(hf_home),
        check=False,
    )
    assert proc.returncode != 0
    log = (workdir / "logs/download" / f"{model}.log").read_text()
    assert f"model {model!r} (timm:{model}): sha256 mismatch: expected" in log
    assert not (workdir / "resources/models" / model).exists()
    for other in GOOD[1:]:  # the other models' results survive
        assert (workdir / "results/db/filters" / f"{other}.parquet").exists()
        assert (workdir / "resources/models" / other / f"{other}.safetensors").exists()


@pytest.fixture(scope="module")
def faulty_run(tmp_path_factory, copy_workflow, write_zoo, snakemake, online_rows, hf_home):
    """A good row beside three broken ones, with skip_failed_models on."""
    workdir = copy_workflow(tmp_path_factory.mktemp("online-faults"))
    miscounted = dict(online_rows[MISCOUNTED])
    miscounted["expected_3x3_filters"] = str(int(miscounted["expected_3x3_filters"]) + 1)
    rows = [online_rows[GOOD[0]], online_rows[WRONG_ARCH], online_rows[TRUNCATED], miscounted]
    zoo = write_zoo(workdir / "faulty-zoo.tsv", rows)
    snakemake(
        workdir,
        *TARGETS,
        "--cores",
        "2",
        "--config",
        f"zoo={zoo.name}",
        "skip_failed_models=True",
        env=offline_env(hf_home),
    )
    failures = pd.read_csv(workdir / "results/failures.tsv", sep="\t").set_index("model")
    return workdir, failures, int(online_rows[MISCOUNTED]["expected_3x3_filters"])


@pytest.mark.parametrize(
    ("model", "cause"),
    [
        (WRONG_ARCH, ("another architecture's weights", "Missing key(s)")),
        (TRUNCATED, ("truncated or corrupt", "SafetensorError")),
    ],
    ids=["another-architecture", "truncated"],
)
def test_a_bad_cached_file_fails_its_model_at_download(faulty_run, model, cause):
    _, failures, _ = faulty_run
    message = failures.loc[model, "error"]
    assert message.startswith(f"model {model!r} (")
    assert f"(timm:{model}): timm cannot load the weights of timm/{model}" in message
    assert all(fragment in message for fragment in cause)


def test_an_expected_count_mismatch_fails_its_model_naming_both_counts(faulty_run):
    _, failures, found = faulty_run
    message = failures.loc[MISCOUNTED, "error"]
    assert message.startswith(f"model {MISCOUNTED!r} (")
    assert f"expected {found + 1:,} 3x3 filters" in message
    assert f"the checkpoint has {found:,}" in message


def test_the_good_row_completes_beside_them(faulty_run):
    workdir, failures, _ = faulty_run
    assert sorted(failures.index) == sorted([WRONG_ARCH, TRUNCATED, MISCOUNTED])
    models = pd.read_parquet(workdir / "results/db/models.parquet").set_index("model")
    assert models.loc[GOOD[0], "n_filters"] == int(
        load_manifest(workdir / "faulty-zoo.tsv")
        .set_index("model")
        .loc[GOOD[0], "expected_3x3_filters"]
    )
