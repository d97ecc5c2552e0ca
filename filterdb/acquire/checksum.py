"""sha256 pinning of checkpoint bytes.

Every checkpoint that enters the database is pinned by its sha256 in the manifest, so a rebuild
reads exactly the bytes the manifest names, whoever served them. A mismatch is never retried: the
bytes arrived intact and are simply not the pinned ones.
"""

from __future__ import annotations

import hashlib
import os

from filterdb.errors import ModelError

CHUNK_BYTES = 1 << 20


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in chunks so multi-GB checkpoints need no memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def require_sha256(model: str, where: str, expected: str | None, actual: str) -> None:
    """Raise ``ModelError`` stating both digests unless ``actual`` is the pinned ``expected``.

    ``expected=None`` means the manifest pins nothing (allowed for local and timm sources).
    """
    if expected is not None and actual != expected:
        raise ModelError(
            model,
            where,
            f"sha256 mismatch: expected {expected}, got {actual} (the bytes are not the pinned "
            "checkpoint; fix the source or the manifest's sha256)",
        )


def verify_file(model: str, where: str, path: str | os.PathLike[str], expected: str | None) -> None:
    """Check a written file against its pinned digest (no-op when nothing is pinned)."""
    if expected is not None:
        require_sha256(model, where, expected, sha256_file(path))
