"""Parse and validate the ``source`` column of the zoo manifest.

A source says where a model's weights come from. Parsing happens once, at manifest validation, so
a malformed row is refused before any job starts, with the model named in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlparse

from filterdb.extract.formats import CHECKPOINT_SUFFIXES

KINDS = ("timm", "timm-init", "url", "pypi", "file")
_TIMM_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_DIST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Source:
    """One parsed source. ``value`` is the text after ``kind:``; the other fields are per kind."""

    kind: str
    value: str
    distribution: str | None = None
    version: str | None = None
    member: str | None = None

    @property
    def suffix(self) -> str:
        """File suffix of the materialised checkpoint in ``resources/models/``."""
        if self.kind in ("timm", "timm-init"):
            return ".safetensors"
        name = self.member if self.kind == "pypi" else self.value
        if self.kind == "url":
            name = urlparse(self.value).path
        return PurePosixPath(name).suffix.lower()

    @property
    def needs_sha256(self) -> bool:
        """``url:`` and ``pypi:`` bytes come from the network and must be pinned."""
        return self.kind in ("url", "pypi")


def parse_source(text: str) -> Source:
    """Parse ``kind:value``; raise ``ValueError`` saying what is wrong with the text."""
    kind, sep, value = str(text).partition(":")
    if not sep or kind not in KINDS:
        raise ValueError(
            f"source {text!r} must start with one of {', '.join(k + ':' for k in KINDS)}"
        )
    if not value:
        raise ValueError(f"source {text!r} has nothing after '{kind}:'")
    if kind in ("timm", "timm-init"):
        if not _TIMM_NAME_RE.match(value):
            raise ValueError(f"source {text!r}: {value!r} is not a timm model name")
        return Source(kind, value)
    if kind == "url":
        parsed = urlparse(value)
        if parsed.scheme not in ("https", "http") or not parsed.hostname:
            raise ValueError(f"source {text!r}: not an http(s) URL")
        source = Source(kind, value)
    elif kind == "pypi":
        spec, sep2, member = value.partition(":")
        dist, sep3, version = spec.partition("==")
        if not (sep2 and sep3 and _DIST_RE.match(dist) and _VERSION_RE.match(version) and member):
            raise ValueError(
                f"source {text!r} must read pypi:<distribution>==<version>:<path inside the wheel>"
            )
        problem = member_path_problem(member)
        if problem:
            raise ValueError(f"source {text!r}: wheel member {member!r} {problem}")
        source = Source(kind, value, distribution=dist, version=version, member=member)
    else:
        source = Source(kind, value)
    if source.suffix not in CHECKPOINT_SUFFIXES:
        raise ValueError(
            f"source {text!r}: file suffix {source.suffix!r} is not one of "
            + ", ".join(CHECKPOINT_SUFFIXES)
        )
    return source


def checkpoint_name(model: str, source: str) -> str:
    """File name of ``model``'s checkpoint in ``resources/models/<model>/``: id plus suffix."""
    return model + parse_source(source).suffix


def member_path_problem(member: str) -> str | None:
    """Why ``member`` is not a plain relative path inside an archive, or ``None`` if it is.

    Checked when the manifest is read and again when the wheel is opened, so a crafted entry
    (``../evil``, an absolute path, a drive) can never name a file outside the archive's tree.
    """
    if not member or member.startswith("/") or "\\" in member or ":" in member:
        return "must be a relative POSIX path (no leading '/', no '\\', no drive)"
    if any(part in ("", ".", "..") for part in member.split("/")):
        return "must not contain '..', '.' or empty path segments"
    return None


def validate_sha256(value: str | None, source: Source) -> str | None:
    """Return the normalised digest; require it for network sources."""
    digest = (value or "").strip().lower() or None
    if digest is not None and not _SHA256_RE.match(digest):
        raise ValueError(f"sha256 {value!r} is not 64 hex digits")
    if digest is None and source.needs_sha256:
        raise ValueError(f"a {source.kind}: source needs a sha256")
    return digest
