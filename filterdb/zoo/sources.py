"""Parse and validate the ``source`` column of the zoo manifest.

A source says where a model's weights come from. Parsing happens once, at manifest validation, so
a malformed row is refused before any job starts, with the model named in the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlparse

from filterdb.extract.formats import CHECKPOINT_SUFFIXES, TWO_FILE_SUFFIXES

KINDS = ("timm", "timm-init", "url", "pypi", "file")
_TIMM_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_DIST_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]*$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Source:
    """One parsed source. ``value`` is the text after ``kind:``; the other fields are per kind.

    ``files`` are the locations of the checkpoint's files (wheel members, local paths or URLs),
    the main file first: one for every format but ncnn, whose graph and weights are two files
    (``a.param+a.bin``).
    """

    kind: str
    value: str
    distribution: str | None = None
    version: str | None = None
    files: tuple[str, ...] = ()

    @property
    def member(self) -> str | None:
        """The wheel member of the main file of a ``pypi:`` source."""
        return self.files[0] if self.kind == "pypi" else None

    @property
    def suffixes(self) -> tuple[str, ...]:
        """File suffix of each materialised file in ``resources/models/<model>/``, main first."""
        if self.kind in ("timm", "timm-init"):
            return (".safetensors",)
        names = [urlparse(f).path if self.kind == "url" else f for f in self.files]
        return tuple(PurePosixPath(name).suffix.lower() for name in names)

    @property
    def suffix(self) -> str:
        """File suffix of the materialised main checkpoint file."""
        return self.suffixes[0]

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
        source = Source(kind, value, files=split_files(value))
    elif kind == "pypi":
        spec, sep2, member = value.partition(":")
        dist, sep3, version = spec.partition("==")
        if not (sep2 and sep3 and _DIST_RE.match(dist) and _VERSION_RE.match(version) and member):
            raise ValueError(
                f"source {text!r} must read pypi:<distribution>==<version>:<path inside the wheel>"
            )
        members = split_files(member)
        for part in members:
            problem = member_path_problem(part)
            if problem:
                raise ValueError(f"source {text!r}: wheel member {part!r} {problem}")
        source = Source(kind, value, distribution=dist, version=version, files=members)
    else:
        source = Source(kind, value, files=split_files(value))
    if (len(source.files) == 2) != (source.suffix == TWO_FILE_SUFFIXES[0]):
        raise ValueError(
            f"source {text!r}: a two-file source names a {TWO_FILE_SUFFIXES[0]} and its "
            f"{TWO_FILE_SUFFIXES[1]}, joined by '+'"
        )
    if source.suffix not in CHECKPOINT_SUFFIXES:
        raise ValueError(
            f"source {text!r}: file suffix {source.suffix!r} is not one of "
            + ", ".join(CHECKPOINT_SUFFIXES)
        )
    return source


def split_files(location: str) -> tuple[str, ...]:
    """The file locations of a source's value: ``a.param+a.bin`` is two, anything else one.

    Only a ``+`` between a name ending in ``.param`` and one ending in ``.bin`` separates two
    files, so a ``+`` anywhere else (a file name, a URL's query) stays part of the location.
    """
    first, sep, second = location.rpartition("+")
    suffixes = tuple(PurePosixPath(urlparse(p).path).suffix.lower() for p in (first, second))
    return (first, second) if sep and suffixes == TWO_FILE_SUFFIXES else (location,)


def checkpoint_name(model: str, source: str) -> str:
    """File name of ``model``'s main checkpoint file in ``resources/models/<model>/``."""
    return checkpoint_names(model, source)[0]


def checkpoint_names(model: str, source: str) -> tuple[str, ...]:
    """File names of all of ``model``'s checkpoint files: id plus each file's suffix."""
    return tuple(model + suffix for suffix in parse_source(source).suffixes)


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
    """Return the normalised digest; require it for network sources.

    A two-file source pins each file: ``<sha256 of the .param>+<sha256 of the .bin>``.
    """
    digest = (value or "").strip().lower() or None
    if digest is None:
        if source.needs_sha256:
            raise ValueError(f"a {source.kind}: source needs a sha256")
        return None
    parts = digest.split("+")
    if not all(_SHA256_RE.match(part) for part in parts):
        raise ValueError(f"sha256 {value!r} is not 64 hex digits (or one per file, joined by '+')")
    if len(parts) != len(source.files or (None,)):
        raise ValueError(
            f"sha256 {value!r} pins {len(parts)} file(s) but the source names "
            f"{len(source.files)}; give one digest per file, joined by '+'"
        )
    return digest


def file_digests(digest: str | None, count: int) -> tuple[str | None, ...]:
    """One digest per checkpoint file from a validated ``sha256`` (None each when unpinned)."""
    return tuple(digest.split("+")) if digest else (None,) * count
