"""``url:`` sources against a real, misbehaving HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from http_faults import (
    FaultServer,
    Reply,
    ok,
    redirect,
    reset,
    reset_mid_body,
    stall_before_headers,
    stall_mid_body,
    status,
    truncated,
)

from filterdb.acquire.materialise import materialise
from filterdb.acquire.settings import DownloadSettings
from filterdb.errors import ModelError
from filterdb.zoo.sources import parse_source

DATA = os.urandom(200_000)
DIGEST = hashlib.sha256(DATA).hexdigest()
RETRIES = 2
FAST = DownloadSettings.from_config(
    {
        "retries": RETRIES,
        "backoff_seconds": 0.01,
        "connect_timeout": 2.0,
        "read_timeout": 0.5,
        "allow_loopback_http": True,
    }
)


@pytest.fixture
def server():
    with FaultServer() as srv:
        yield srv


def fetch(url: str, target: Path, sha256: str = DIGEST, settings: DownloadSettings = FAST):
    materialise("m1", parse_source(f"url:{url}"), sha256, target, settings=settings)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_happy_path_writes_the_verified_file(server, tmp_path):
    server.script("/m.pt", ok(DATA))
    target = tmp_path / "models" / "m1.pt"
    fetch(server.url("/m.pt"), target)
    assert target.read_bytes() == DATA
    assert server.hits["/m.pt"] == 1
    assert leftovers(target.parent) == ["m1.pt"]


def test_wrong_content_is_a_hard_error_without_retry(server, tmp_path):
    other = b"not the pinned checkpoint" * 100
    server.script("/m.pt", ok(other))
    target = tmp_path / "m1.pt"
    with pytest.raises(ModelError) as info:
        fetch(server.url("/m.pt"), target)
    message = str(info.value)
    assert "'m1'" in message and server.url("/m.pt") in message
    assert f"expected {DIGEST}" in message
    assert f"got {hashlib.sha256(other).hexdigest()}" in message
    assert server.hits["/m.pt"] == 1
    assert leftovers(tmp_path) == []


def test_404_is_not_retried(server, tmp_path):
    with pytest.raises(ModelError, match="HTTP 404"):
        fetch(server.url("/missing.pt"), tmp_path / "m1.pt")
    assert server.hits["/missing.pt"] == 1
    assert leftovers(tmp_path) == []


def test_403_is_not_retried(server, tmp_path):
    server.script("/m.pt", status(403))
    with pytest.raises(ModelError, match="HTTP 403"):
        fetch(server.url("/m.pt"), tmp_path / "m1.pt")
    assert server.hits["/m.pt"] == 1


def test_500_twice_then_success_is_retried(server, tmp_path):
    server.script("/m.pt", status(500), status(503), ok(DATA))
    fetch(server.url("/m.pt"), tmp_path / "m1.pt")
    assert (tmp_path / "m1.pt").read_bytes() == DATA
    assert server.hits["/m.pt"] == 3


def test_persistent_500_fails_after_all_retries(server, tmp_path):
    server.script("/m.pt", status(500))
    with pytest.raises(ModelError, match=rf"after {RETRIES + 1} attempt\(s\): HTTP 500"):
        fetch(server.url("/m.pt"), tmp_path / "m1.pt")
    assert server.hits["/m.pt"] == RETRIES + 1
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "fault",
    [reset(), reset_mid_body(DATA, 50_000)],
    ids=["reset-before-answer", "reset-mid-body"],
)
def test_connection_reset_is_retried(server, tmp_path, fault):
    server.script("/m.pt", fault, ok(DATA))
    fetch(server.url("/m.pt"), tmp_path / "m1.pt")
    assert (tmp_path / "m1.pt").read_bytes() == DATA
    assert server.hits["/m.pt"] == 2


@pytest.mark.parametrize(
    "fault",
    [stall_before_headers(30), stall_mid_body(DATA, 50_000, 30)],
    ids=["before-headers", "mid-body"],
)
def test_stall_beyond_read_timeout_is_retried(server, tmp_path, fault):
    server.script("/m.pt", fault, ok(DATA))
    fetch(server.url("/m.pt"), tmp_path / "m1.pt")
    assert (tmp_path / "m1.pt").read_bytes() == DATA
    assert server.hits["/m.pt"] == 2


def test_persistent_stall_fails_after_retries_naming_the_timeout(server, tmp_path):
    server.script("/m.pt", stall_before_headers(30))
    with pytest.raises(ModelError, match=r"(?i)timed out") as info:
        fetch(server.url("/m.pt"), tmp_path / "m1.pt")
    assert f"after {RETRIES + 1} attempt(s)" in str(info.value)
    assert server.hits["/m.pt"] == RETRIES + 1
    assert leftovers(tmp_path) == []


def test_truncated_body_is_retried(server, tmp_path):
    server.script("/m.pt", truncated(DATA, 150_000), ok(DATA))
    fetch(server.url("/m.pt"), tmp_path / "m1.pt")
    assert (tmp_path / "m1.pt").read_bytes() == DATA
    assert server.hits["/m.pt"] == 2


def test_always_truncated_body_fails_and_leaves_nothing(server, tmp_path):
    server.script("/m.pt", truncated(DATA, 150_000))
    with pytest.raises(ModelError, match="after 3 attempt"):
        fetch(server.url("/m.pt"), tmp_path / "m1.pt")
    assert server.hits["/m.pt"] == RETRIES + 1
    assert leftovers(tmp_path) == []


def test_content_length_shorter_than_the_file_fails_the_checksum(server, tmp_path):
    """The client trusts Content-Length and stops early; the pin catches the short file."""
    server.script("/m.pt", Reply(body=DATA, content_length=len(DATA) - 10))
    with pytest.raises(ModelError, match="sha256 mismatch"):
        fetch(server.url("/m.pt"), tmp_path / "m1.pt")
    assert server.hits["/m.pt"] == 1
    assert leftovers(tmp_path) == []


def test_plain_http_is_refused_without_the_loopback_switch(server, tmp_path):
    server.script("/m.pt", ok(DATA))
    strict = DownloadSettings.from_config({"retries": 0, "allow_loopback_http": False})
    with pytest.raises(ModelError, match="only https URLs are allowed"):
        fetch(server.url("/m.pt"), tmp_path / "m1.pt", settings=strict)
    assert server.hits["/m.pt"] == 0
    localhost = server.url("/m.pt").replace("127.0.0.1", "localhost")
    fetch(localhost, tmp_path / "m1.pt")  # with the switch: allowed, also by name
    assert (tmp_path / "m1.pt").read_bytes() == DATA


def test_plain_http_to_another_host_is_refused_even_with_the_switch(tmp_path):
    with pytest.raises(ModelError, match="refusing to fetch"):
        fetch("http://example.com/m.pt", tmp_path / "m1.pt")
    assert leftovers(tmp_path) == []


def test_redirect_to_plain_http_elsewhere_is_refused(server, tmp_path):
    server.script("/m.pt", redirect("http://example.com/m.pt"))
    with pytest.raises(ModelError, match="redirected to 'http://example.com/m.pt'"):
        fetch(server.url("/m.pt"), tmp_path / "m1.pt")
    assert leftovers(tmp_path) == []


def test_redirect_within_the_allowed_hosts_is_followed(server, tmp_path):
    server.script("/old.pt", redirect("/new.pt"))
    server.script("/new.pt", ok(DATA))
    fetch(server.url("/old.pt"), tmp_path / "m1.pt")
    assert (tmp_path / "m1.pt").read_bytes() == DATA


def test_missing_sha256_is_refused_for_url_sources(server, tmp_path):
    server.script("/m.pt", ok(DATA))
    with pytest.raises(ModelError, match="needs a sha256"):
        fetch(server.url("/m.pt"), tmp_path / "m1.pt", sha256=None)
    assert server.hits["/m.pt"] == 0


KILLED_CHILD = """
import sys
from filterdb.acquire.materialise import materialise
from filterdb.acquire.settings import DownloadSettings
from filterdb.zoo.sources import parse_source
settings = DownloadSettings.from_config(
    {"retries": 0, "read_timeout": 120, "allow_loopback_http": True}
)
materialise("m1", parse_source("url:" + sys.argv[1]), sys.argv[2], sys.argv[3], settings=settings)
"""


def test_download_killed_mid_transfer_leaves_no_target_and_reruns_cleanly(server, tmp_path, repo):
    big = os.urandom(3 << 20)
    digest = hashlib.sha256(big).hexdigest()
    server.script("/big.pt", stall_mid_body(big, (5 << 20) // 2), ok(big))
    target = tmp_path / "m1.pt"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_CHILD, server.url("/big.pt"), digest, str(target)],
        cwd=repo,
    )
    try:
        assert server.stalling.wait(60), "the child never reached the stalled body"
        deadline = time.monotonic() + 60
        while not any(p.stat().st_size >= 1 << 20 for p in tmp_path.glob(".tmp-m1.pt.*")):
            assert time.monotonic() < deadline, "no partial file was written"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    assert not target.exists()

    fetch(server.url("/big.pt"), target, sha256=digest)
    assert target.read_bytes() == big
    assert leftovers(tmp_path) == ["m1.pt"], "the killed run's partial file was not cleaned up"
