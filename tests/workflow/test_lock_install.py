"""The hash-locked install: what the README's two commands run, and how it fails.

``bootstrap.install_locked`` is the function both commands install with. A lock whose hashes do
not match the files on the index must stop the install before anything is installed, and say
which package failed.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import venv

import pytest

from filterdb import bootstrap


def test_a_tampered_hash_stops_the_install(tmp_path, capfd):
    lock = bootstrap.LOCKS[""].read_text()
    forged = hashlib.sha256(b"not the tqdm wheel").hexdigest()
    entry = re.search(r"\ntqdm==.*?(?=\n    #)", lock, re.S)
    assert entry and "--hash=sha256:" in entry[0]
    tampered = re.sub(r"sha256:[0-9a-f]{64}", f"sha256:{forged}", entry[0])
    lock_file = tmp_path / "run.lock"
    lock_file.write_text(lock.replace(entry[0], tampered))
    venv.EnvBuilder(with_pip=True).create(tmp_path / "venv")
    python = tmp_path / "venv" / "bin" / "python"
    with pytest.raises(subprocess.CalledProcessError):
        bootstrap.install_locked(python, lock_file)
    err = capfd.readouterr().err
    assert "THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE" in err
    assert re.search(r"tqdm==4\.70\.1.*\n\s+Expected sha256 " + forged, err)
    site = next((tmp_path / "venv" / "lib").glob("python3.*/site-packages"))
    assert not list(site.glob("tqdm*")) and not list(site.glob("torch*")), "it installed"


def test_the_stamp_follows_the_lock(tmp_path, monkeypatch):
    lock = tmp_path / "run.lock"
    lock.write_text(bootstrap.LOCKS[""].read_text())
    monkeypatch.setitem(bootstrap.LOCKS, "", lock)
    before = bootstrap.stamp_file("")
    assert before == bootstrap.stamp_file("")
    lock.write_text(lock.read_text().replace("tqdm==4.70.1", "tqdm==4.70.0"))
    assert bootstrap.stamp_file("") != before
    assert bootstrap.stamp_file("test") != before
