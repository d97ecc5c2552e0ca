"""A zoo's lock: written from the checkpoints of a run, never overwritten, applied when read.

``file:`` rows stand in for every kind here (a lock pins whatever the download rule left);
``tests/workflow/test_online_zoo.py`` runs the same cycle for ``timm:`` rows through Snakemake.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from filterdb.acquire.checksum import sha256_file
from filterdb.failures import write_failure_note
from filterdb.zoo.columns import META_COLUMNS
from filterdb.zoo.lock import LockError, apply_lock, lock_path, read_lock
from filterdb.zoo.manifest import ManifestError, load_manifest
from filterdb.zoo.pin import main, write_lock

MODELS = ("alpha", "beta")
COMMIT = "f" * 40


@pytest.fixture
def zoo(tmp_path, write_zoo) -> Path:
    """A two-model zoo whose checkpoints lie where the download rule leaves them."""
    for model in MODELS:
        checkpoint = tmp_path / "resources/models" / model / f"{model}.pt"
        checkpoint.parent.mkdir(parents=True)
        checkpoint.write_bytes(model.encode() * 100)
    rows = [{"model": m, "source": f"file:local/{m}.pt"} for m in MODELS]
    return write_zoo(tmp_path / "zoo.tsv", rows)


def digest(zoo: Path, model: str) -> str:
    return sha256_file(zoo.parent / "resources/models" / model / f"{model}.pt")


def test_the_lock_sits_beside_its_zoo():
    assert lock_path("config/zoo_online.tsv") == Path("config/zoo_online.lock.tsv")


def test_a_written_lock_pins_every_checkpoint_and_is_applied_when_the_zoo_is_read(zoo):
    target, missing = write_lock(zoo, zoo.parent / "resources/models")
    assert target == zoo.parent / "zoo.lock.tsv" and missing == []
    lock = read_lock(target)
    assert lock["sha256"].tolist() == [digest(zoo, m) for m in MODELS]
    assert lock["hf_revision"].tolist() == ["", ""]  # only timm: rows have a commit
    assert load_manifest(zoo)["sha256"].tolist() == lock["sha256"].tolist()
    assert (load_manifest(zoo, use_lock=False)["sha256"] == "").all()


def test_a_lock_is_never_overwritten(zoo, capsys):
    target, _ = write_lock(zoo, zoo.parent / "resources/models")
    before = target.read_bytes()
    with pytest.raises(LockError, match="exists and is never overwritten"):
        write_lock(zoo, zoo.parent / "resources/models")
    argv = [str(zoo), "--models-dir", str(zoo.parent / "resources/models")]
    assert main(argv) == 2
    assert "never overwritten" in capsys.readouterr().err
    assert target.read_bytes() == before
    # the same command as `filterdb zoo pin`, installed with the package
    filterdb = str(Path(sys.executable).with_name("filterdb"))
    proc = subprocess.run([filterdb, "zoo", "pin", *argv], capture_output=True, text=True)
    assert proc.returncode == 2 and "never overwritten" in proc.stderr
    assert target.read_bytes() == before
    usage = subprocess.run([filterdb, "zoo", "pin", "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and usage.stdout.startswith("usage: filterdb zoo pin")


def test_models_without_a_checkpoint_are_listed_and_lock_only_when_allowed(zoo):
    write_failure_note(zoo.parent / "resources/models/beta", "download failed")
    models_dir = zoo.parent / "resources/models"
    with pytest.raises(LockError, match=r"1 model\(s\) .* no checkpoint .*\['beta'\]"):
        write_lock(zoo, models_dir)
    assert not lock_path(zoo).exists()
    _, missing = write_lock(zoo, models_dir, allow_missing=True)
    assert missing == ["beta"]
    assert read_lock(lock_path(zoo))["model"].tolist() == ["alpha"]
    assert load_manifest(zoo)["sha256"].tolist() == [digest(zoo, "alpha"), ""]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("file:local/alpha.pt", "file:local/other.pt", "contradicts its zoo.*the lock pins source"),
        ("alpha\t", "gamma\t", "'gamma' is locked but not in the zoo"),
        ("\n", "\textra\n", "columns are"),
        ("alpha\t", "../alpha\t", "invalid model id"),
    ],
    ids=["other-source", "unknown-model", "extra-column", "bad-id"],
)
def test_a_lock_that_is_malformed_or_contradicts_its_zoo_is_refused(zoo, old, new, message):
    write_lock(zoo, zoo.parent / "resources/models")
    path = lock_path(zoo)
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(LockError, match=f"(?s){message}"):
        load_manifest(zoo)


def test_a_zoo_pin_that_differs_from_the_lock_is_refused(zoo, write_zoo):
    write_lock(zoo, zoo.parent / "resources/models")
    rows = [{"model": m, "source": f"file:local/{m}.pt", "sha256": "0" * 64} for m in MODELS]
    write_zoo(zoo, rows)
    with pytest.raises(LockError, match="the zoo's sha256 0{64} differs from the lock's"):
        load_manifest(zoo)


def test_a_lock_without_digests_or_with_a_bad_commit_is_refused(zoo):
    lock = zoo.parent / "zoo.lock.tsv"
    lock.write_text(
        "model\tsource\tsha256\thf_revision\n"
        "alpha\tfile:local/alpha.pt\t\t\n"
        f"beta\tfile:local/beta.pt\t{'a' * 64}\tnot-a-commit\n"
    )
    with pytest.raises(LockError) as err:
        read_lock(lock)
    assert "line 2 (model 'alpha'): sha256 is empty" in str(err.value)
    assert "line 3 (model 'beta'): hf_revision 'not-a-commit'" in str(err.value)


def test_a_commit_fills_in_only_where_the_zoo_names_none(zoo):
    lock = pd.DataFrame(
        [
            {
                "model": "alpha",
                "source": "file:local/alpha.pt",
                "sha256": "a" * 64,
                "hf_revision": COMMIT,
            }
        ]
    )
    applied = apply_lock(load_manifest(zoo), lock, "zoo.lock.tsv")
    assert applied["hf_revision"].tolist() == [COMMIT, ""]
    assert applied["sha256"].tolist() == ["a" * 64, ""]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"expected_3x3_filters": "12.5"}, "expected_3x3_filters"),
        ({"hf_revision": COMMIT}, "only timm: rows have them"),
    ],
)
def test_optional_columns_are_checked(tmp_path, extra, message):
    columns = ["model", "source", "sha256", *sorted(extra)]
    header = [*columns, *META_COLUMNS]
    values = ["m", "file:local/m.pt", "", *(extra[k] for k in sorted(extra))]
    path = tmp_path / "zoo.tsv"
    path.write_text("\t".join(header) + "\n" + "\t".join(values + [""] * len(META_COLUMNS)) + "\n")
    with pytest.raises(ManifestError, match=message):
        load_manifest(path)
