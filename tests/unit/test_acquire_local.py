"""``file:`` sources and the download settings read from the workflow config."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import yaml

from filterdb.acquire.materialise import materialise
from filterdb.acquire.settings import DownloadSettings
from filterdb.config import CONFIG_SCHEMA
from filterdb.errors import ModelError
from filterdb.zoo.sources import parse_source

DATA = b"\x00checkpoint bytes\xff" * 1000
DIGEST = hashlib.sha256(DATA).hexdigest()


def copy(workdir: Path, source: str, sha256: str | None, target: Path) -> None:
    materialise(
        "net",
        parse_source(source),
        sha256,
        target,
        settings=DownloadSettings.from_config({}, base_dir=workdir),
    )


@pytest.fixture
def workdir(tmp_path) -> Path:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "net.pt").write_bytes(DATA)
    return tmp_path


def test_relative_path_resolves_against_the_base_dir(workdir, monkeypatch, tmp_path_factory):
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))  # not the cwd: the base dir
    target = workdir / "models" / "net.pt"
    copy(workdir, "file:local/net.pt", DIGEST, target)
    assert target.read_bytes() == DATA


def test_unpinned_local_file_is_copied(workdir):
    target = workdir / "models" / "net.pt"
    source = parse_source(f"file:{workdir / 'local' / 'net.pt'}")
    materialise("net", source, None, target, settings=DownloadSettings.from_config())
    assert target.read_bytes() == DATA


def test_checksum_mismatch_leaves_no_file(workdir):
    target = workdir / "models" / "net.pt"
    with pytest.raises(ModelError, match=f"expected {'a' * 64}, got {DIGEST}"):
        copy(workdir, "file:local/net.pt", "a" * 64, target)
    assert list(target.parent.iterdir()) == []


def test_missing_file_names_model_and_path(workdir):
    with pytest.raises(ModelError, match=r"model 'net' \(.*local/gone\.pt\): local checkpoint"):
        copy(workdir, "file:local/gone.pt", None, workdir / "net.pt")


def test_a_directory_is_named_as_one(workdir):
    (workdir / "local" / "dir.pt").mkdir()
    with pytest.raises(ModelError, match=r"dir\.pt\): is a directory, not a checkpoint file"):
        copy(workdir, "file:local/dir.pt", None, workdir / "net.pt")


def test_malformed_sha256_is_refused(workdir):
    with pytest.raises(ModelError, match="not 64 hex digits"):
        copy(workdir, "file:local/net.pt", "abc", workdir / "net.pt")


def test_settings_default_to_the_schema(tmp_path):
    schema = yaml.safe_load(CONFIG_SCHEMA.read_text())["properties"]["download"]["properties"]
    settings = DownloadSettings.from_config({}, base_dir=tmp_path)
    assert (
        settings.resolve(settings.wheel_cache_dir)
        == tmp_path / schema["wheel_cache_dir"]["default"]
    )
    assert settings.retries == schema["retries"]["default"]
    assert settings.allow_loopback_http is False


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"retires": 3}, "'retires' was unexpected"),
        ({"retries": -1}, "download.retries: -1 is less than the minimum of 0"),
        ({"read_timeout": 0}, "download.read_timeout: 0 is less than or equal to the minimum"),
    ],
)
def test_bad_settings_are_refused(config, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        DownloadSettings.from_config(config, base_dir=tmp_path)
