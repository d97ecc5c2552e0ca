"""``pypi:`` sources: real ``pip download`` from a local index and from PyPI, safe extraction."""

from __future__ import annotations

import concurrent.futures
import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest
from http_faults import FaultServer, ok

from filterdb.acquire.materialise import materialise
from filterdb.acquire.settings import DownloadSettings
from filterdb.acquire.wheel import copy_wheel_member
from filterdb.errors import ModelError
from filterdb.zoo.sources import Source, parse_source

DIST, VERSION = "fdb-testpkg", "1.0"
WHEEL_NAME = "fdb_testpkg-1.0-py3-none-any.whl"
WEIGHTS = {"fdb_testpkg/data/a.pt": os.urandom(70_000), "fdb_testpkg/data/b.pt": os.urandom(5_000)}
# Pinned inputs: sha256 of the MTCNN nets inside facenet-pytorch 2.6.0's wheel on PyPI.
FACENET_PNET_SHA256 = "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_wheel(path: Path, extra: dict[str, bytes] | None = None, symlinks=()) -> Path:
    """A minimal, valid wheel holding WEIGHTS (+ ``extra`` entries written verbatim)."""
    info = "fdb_testpkg-1.0.dist-info"
    entries = {
        "fdb_testpkg/__init__.py": b"",
        **WEIGHTS,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {DIST}\nVersion: {VERSION}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
        **(extra or {}),
    }
    records = "".join(f"{name},,\n" for name in entries) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, link_target in symlinks:
            entry = zipfile.ZipInfo(name)
            entry.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(entry, link_target)
        archive.writestr(f"{info}/RECORD", records)
    return path


@pytest.fixture
def index(tmp_path):
    """A PEP 503 simple index on 127.0.0.1 serving one test wheel."""
    wheel = build_wheel(tmp_path / WHEEL_NAME).read_bytes()
    with FaultServer() as server:
        link = f'<a href="/files/{WHEEL_NAME}#sha256={sha(wheel)}">{WHEEL_NAME}</a>'
        page = f"<!DOCTYPE html><html><body>{link}</body></html>".encode()
        server.script("/simple/fdb-testpkg/", ok(page, "text/html"))
        server.script(f"/files/{WHEEL_NAME}", ok(wheel))
        yield server


def index_settings(server: FaultServer, tmp_path: Path) -> DownloadSettings:
    return DownloadSettings.from_config(
        {
            "wheel_cache_dir": "wheels",
            "pip_index_url": server.url("/simple/"),
            "pip_args": ["--trusted-host", "127.0.0.1", "--no-cache-dir"],
        },
        base_dir=tmp_path,
    )


def test_wheel_is_downloaded_once_for_several_models(index, tmp_path):
    settings = index_settings(index, tmp_path)
    for model, member in (("net_a", "fdb_testpkg/data/a.pt"), ("net_b", "fdb_testpkg/data/b.pt")):
        source = parse_source(f"pypi:{DIST}=={VERSION}:{member}")
        target = tmp_path / "models" / f"{model}.pt"
        materialise(model, source, sha(WEIGHTS[member]), target, settings=settings)
        assert target.read_bytes() == WEIGHTS[member]
    assert index.hits[f"/files/{WHEEL_NAME}"] == 1
    cached = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "wheels").rglob("*"))
    assert cached == [
        "wheels/.fdb-testpkg-1.0.lock",  # the wheel's download lock, kept for later jobs
        "wheels/fdb-testpkg-1.0",
        f"wheels/fdb-testpkg-1.0/{WHEEL_NAME}",
    ]


def test_concurrent_jobs_download_the_wheel_once(index, tmp_path):
    """Jobs of one distribution started together wait for one download (the wheel's lock)."""
    settings = index_settings(index, tmp_path)
    members = ["fdb_testpkg/data/a.pt", "fdb_testpkg/data/b.pt"] * 2
    with concurrent.futures.ThreadPoolExecutor(len(members)) as pool:
        jobs = [
            pool.submit(
                materialise,
                f"net_{i}",
                parse_source(f"pypi:{DIST}=={VERSION}:{member}"),
                sha(WEIGHTS[member]),
                tmp_path / "models" / f"net_{i}.pt",
                settings=settings,
            )
            for i, member in enumerate(members)
        ]
        for job in jobs:
            job.result()
    assert index.hits[f"/files/{WHEEL_NAME}"] == 1
    for i, member in enumerate(members):
        assert (tmp_path / "models" / f"net_{i}.pt").read_bytes() == WEIGHTS[member]


def test_two_file_source_materialises_both_files_each_verified(index, tmp_path):
    """An ncnn model is a .param and a .bin: both members copied beside each other, each pinned."""
    settings = index_settings(index, tmp_path)
    wheel_dir = tmp_path / "wheels" / "fdb-testpkg-1.0"
    wheel_dir.mkdir(parents=True)
    param, weights = b"7767517\n0 0\n", os.urandom(300)
    build_wheel(wheel_dir / WHEEL_NAME, extra={"m/x.param": param, "m/x.bin": weights})
    source = parse_source(f"pypi:{DIST}=={VERSION}:m/x.param+m/x.bin")
    assert source.files == ("m/x.param", "m/x.bin") and source.suffixes == (".param", ".bin")
    target = tmp_path / "models" / "net.param"
    materialise("net", source, f"{sha(param)}+{sha(weights)}", target, settings=settings)
    assert target.read_bytes() == param
    assert target.with_suffix(".bin").read_bytes() == weights
    with pytest.raises(ModelError, match="sha256 mismatch"):
        materialise(
            "net2", source, f"{sha(param)}+{sha(param)}", tmp_path / "n2.param", settings=settings
        )
    assert not (tmp_path / "n2.bin").exists()
    with pytest.raises(ModelError, match="pins 1 file"):
        materialise("net3", source, sha(param), tmp_path / "n3.param", settings=settings)
    assert index.hits[f"/files/{WHEEL_NAME}"] == 0, "the wheel was already cached"


def test_pip_failure_names_the_model_and_distribution(index, tmp_path):
    source = parse_source(f"pypi:{DIST}==9.9:fdb_testpkg/data/a.pt")
    with pytest.raises(ModelError, match=r"'net_a' \(pypi:fdb-testpkg==9.9\): pip download failed"):
        materialise(
            "net_a", source, "0" * 64, tmp_path / "a.pt", settings=index_settings(index, tmp_path)
        )
    assert not (tmp_path / "a.pt").exists()
    left = [p.name for p in (tmp_path / "wheels").iterdir()]
    assert left == [".fdb-testpkg-9.9.lock"], "a failed download must not look cached"


def test_real_pypi_wheel_member_matches_its_pin(tmp_path):
    """One real download through pip's own configuration (PyPI)."""
    source = parse_source("pypi:facenet-pytorch==2.6.0:facenet_pytorch/data/pnet.pt")
    target = tmp_path / "mtcnn_pnet.pt"
    settings = DownloadSettings.from_config({"wheel_cache_dir": str(tmp_path / "wheels")})
    materialise("mtcnn_pnet", source, FACENET_PNET_SHA256, target, settings=settings)
    assert sha(target.read_bytes()) == FACENET_PNET_SHA256


def test_missing_member_names_model_wheel_and_member(tmp_path):
    wheel = build_wheel(tmp_path / WHEEL_NAME)
    with pytest.raises(ModelError) as info:
        copy_wheel_member("net_a", wheel, "fdb_testpkg/data/c.pt", None, tmp_path / "out" / "c.pt")
    message = str(info.value)
    assert "'net_a'" in message and WHEEL_NAME in message and "fdb_testpkg/data/c.pt" in message
    assert not (tmp_path / "out" / "c.pt").exists()


def test_member_checksum_mismatch_leaves_no_file(tmp_path):
    wheel = build_wheel(tmp_path / WHEEL_NAME)
    target = tmp_path / "out" / "a.pt"
    with pytest.raises(
        ModelError, match=f"expected {'0' * 64}, got {sha(WEIGHTS['fdb_testpkg/data/a.pt'])}"
    ):
        copy_wheel_member("net_a", wheel, "fdb_testpkg/data/a.pt", "0" * 64, target)
    assert list(target.parent.iterdir()) == []


def test_crafted_entries_never_write_outside_the_target(tmp_path):
    """A wheel with '../evil' and absolute entries: extracting a member writes the target only."""
    archive_dir = tmp_path / "deep" / "cache"
    archive_dir.mkdir(parents=True)
    wheel = build_wheel(
        archive_dir / WHEEL_NAME,
        extra={"../evil": b"pwned", "../../evil2": b"pwned", "/tmp/fdb_evil_abs": b"pwned"},
    )
    out = tmp_path / "deep" / "out"
    member = "fdb_testpkg/data/a.pt"
    copy_wheel_member("net_a", wheel, member, sha(WEIGHTS[member]), out / "a.pt")
    assert sorted(p.name for p in out.iterdir()) == ["a.pt"]
    before = {p for p in tmp_path.rglob("*")}
    for bad in (
        "../evil",
        "../../evil2",
        "/tmp/fdb_evil_abs",
        "fdb_testpkg\\..\\..\\evil",
        "./x.pt",
    ):
        with pytest.raises(ModelError, match="wheel member path"):
            copy_wheel_member("net_a", wheel, bad, None, out / "bad.pt")
    assert {p for p in tmp_path.rglob("*")} == before
    assert not Path("/tmp/fdb_evil_abs").exists()


def test_escaping_member_is_refused_through_materialise(tmp_path):
    """A Source built in code (not via parse_source) still cannot name an escaping member."""
    wheel_dir = tmp_path / "wheels" / "fdb-testpkg-1.0"
    wheel_dir.mkdir(parents=True)
    build_wheel(wheel_dir / WHEEL_NAME, extra={"../evil.pt": b"pwned"})
    source = Source("pypi", f"{DIST}=={VERSION}:../evil.pt", DIST, VERSION, ("../evil.pt",))
    settings = DownloadSettings.from_config({"wheel_cache_dir": str(tmp_path / "wheels")})
    with pytest.raises(ModelError, match="must not contain '..'"):
        materialise("net_a", source, "0" * 64, tmp_path / "models" / "net_a.pt", settings=settings)
    assert not (tmp_path / "evil.pt").exists() and not (tmp_path / "models" / "evil.pt").exists()


def test_symlink_member_is_refused(tmp_path):
    wheel = build_wheel(
        tmp_path / WHEEL_NAME, symlinks=[("fdb_testpkg/data/link.pt", "/etc/passwd")]
    )
    with pytest.raises(ModelError, match="not a regular file"):
        copy_wheel_member("net_a", wheel, "fdb_testpkg/data/link.pt", None, tmp_path / "link.pt")
    assert not (tmp_path / "link.pt").exists()


def test_corrupt_cached_wheel_gives_a_clear_error(tmp_path):
    wheel = tmp_path / WHEEL_NAME
    wheel.write_bytes(b"this is not a zip archive")
    with pytest.raises(ModelError, match="corrupt wheel"):
        copy_wheel_member("net_a", wheel, "fdb_testpkg/data/a.pt", None, tmp_path / "a.pt")
