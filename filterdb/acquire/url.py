"""Fetch a ``url:`` checkpoint over HTTPS, with retries for the faults that go away by themselves.

Model files are large and hosts are flaky, so transient faults (5xx, connection resets, timeouts,
a body shorter than its Content-Length) are retried with exponential backoff. Faults that a retry
cannot fix (404 and other 4xx, a sha256 mismatch) fail at once with the cause. The body streams
into a temporary file that only becomes the target once its digest matches the pin.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import time
from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests

from filterdb.acquire.checksum import CHUNK_BYTES, require_sha256
from filterdb.atomic import atomic_path
from filterdb.errors import ModelError, describe
from filterdb.progress import progress_bar

log = logging.getLogger(__name__)

MAX_REDIRECTS = 10
# identity: the pinned digest is of the file itself, so no transfer compression to undo.
_HEADERS = {"User-Agent": "filterdb", "Accept-Encoding": "identity"}
# Resets, refused connections and read stalls (requests reports a stall mid-body as a
# ConnectionError) and bodies cut short (urllib3 enforces Content-Length: ChunkedEncodingError).
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


class _Transient(Exception):
    """A fault worth another attempt; its message is the cause reported if attempts run out."""


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and any loopback IP (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refusal(url: str, allow_loopback_http: bool) -> str | None:
    """Why ``url`` may not be fetched, or ``None`` if it may.

    Plain http can be tampered with on the way and would make the transport, not the pin, the
    weak point; it is allowed only to this machine, and only when the switch says so (tests).
    """
    parsed = urlparse(url)
    if parsed.scheme == "https" and parsed.hostname:
        return None
    if parsed.scheme == "http" and allow_loopback_http and is_loopback_host(parsed.hostname):
        return None
    allowed = "https" + (" (or http to a loopback address)" if allow_loopback_http else "")
    return f"refusing to fetch {url!r}: only {allowed} URLs are allowed"


def fetch_url(
    model: str,
    url: str,
    sha256: str | None,
    target: str | os.PathLike[str],
    *,
    retries: int,
    backoff_seconds: float,
    connect_timeout: float,
    read_timeout: float,
    allow_loopback_http: bool,
) -> None:
    """Download ``url`` to ``target`` atomically; ``target`` exists afterwards only if verified.

    Makes ``retries + 1`` attempts at most, sleeping ``backoff_seconds * 2**i`` after the i-th
    failed one. Raises ``ModelError`` naming the URL and the cause.
    """
    reason = refusal(url, allow_loopback_http)
    if reason:
        raise ModelError(model, url, reason)
    timeouts = (connect_timeout, read_timeout)
    with requests.Session() as session, atomic_path(target) as tmp:
        session.headers.update(_HEADERS)
        for attempt in range(retries + 1):
            try:
                digest = _download_once(session, model, url, tmp, timeouts, allow_loopback_http)
                break
            except _Transient as exc:
                if attempt == retries:
                    raise ModelError(
                        model, url, f"download failed after {retries + 1} attempt(s): {exc}"
                    ) from exc
                delay = backoff_seconds * 2**attempt
                log.warning(
                    "model %r: attempt %d/%d failed (%s); retrying in %.1f s",
                    model,
                    attempt + 1,
                    retries + 1,
                    exc,
                    delay,
                )
                time.sleep(delay)
        require_sha256(model, url, sha256, digest)


def _download_once(
    session: requests.Session,
    model: str,
    url: str,
    tmp: Path,
    timeouts: tuple[float, float],
    allow_loopback_http: bool,
) -> str:
    """One attempt: write the whole body to ``tmp`` and return its sha256."""
    try:
        response = _open(session, model, url, timeouts, allow_loopback_http)
        with response:
            expected_size = response.headers.get("Content-Length")
            total = int(expected_size) if expected_size and expected_size.isdigit() else None
            digest = hashlib.sha256()
            size = 0
            bar = progress_bar(total, model, "B", unit_scale=True, mininterval=2)
            with open(tmp, "wb") as out, bar:
                for chunk in response.iter_content(CHUNK_BYTES):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    bar.update(len(chunk))
    except _TRANSIENT_ERRORS as exc:
        raise _Transient(describe(exc)) from exc
    except requests.RequestException as exc:
        raise ModelError(model, url, describe(exc)) from exc
    if total is not None and size != total:
        raise _Transient(f"truncated body: got {size} of {total} bytes (Content-Length)")
    return digest.hexdigest()


def _open(
    session: requests.Session,
    model: str,
    url: str,
    timeouts: tuple[float, float],
    allow_loopback_http: bool,
) -> requests.Response:
    """GET ``url``, following redirects by hand so every hop obeys the https rule."""
    for _ in range(MAX_REDIRECTS + 1):
        response = session.get(url, stream=True, timeout=timeouts, allow_redirects=False)
        if not response.is_redirect:
            break
        response.close()
        next_url = urljoin(url, response.headers["Location"])
        reason = refusal(next_url, allow_loopback_http)
        if reason:
            raise ModelError(model, url, f"redirected to {next_url!r}; {reason}")
        url = next_url
    else:
        raise ModelError(model, url, f"more than {MAX_REDIRECTS} redirects")
    if response.status_code >= 500:
        response.close()
        raise _Transient(f"HTTP {response.status_code} {response.reason}")
    if response.status_code != 200:
        response.close()
        raise ModelError(model, url, f"HTTP {response.status_code} {response.reason} (not retried)")
    return response
