"""Materialise a ``file:`` checkpoint: a local file the user already has (private or offline)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from filterdb.acquire.checksum import verify_file
from filterdb.atomic import atomic_path
from filterdb.errors import ModelError


def copy_checkpoint(
    model: str, source: str | os.PathLike[str], sha256: str | None, target: str | os.PathLike[str]
) -> None:
    """Copy ``source`` to ``target`` atomically, verifying the copy's sha256 if one is pinned.

    The copy, not the original, is hashed: that is the file every later stage reads.
    """
    source = Path(source)
    if source.is_dir():
        raise ModelError(model, str(source), "is a directory, not a checkpoint file")
    if not source.is_file():
        raise ModelError(model, str(source), "local checkpoint file not found")
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
        verify_file(model, str(source), tmp, sha256)
