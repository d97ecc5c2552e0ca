"""How much memory one extraction job asks for, and the limits that keep it within that request.

A checkpoint's file size says little about what reading it allocates: a zip entry can be
compressed, and a 2 KB checkpoint can hold a stride-0 view that declares 10^11 elements. So the
job's request follows the sizes the container *declares* (not only the bytes on disk), and inside
the job nothing is materialised before its declared size has been checked against a limit derived
from the job's ``mem_mb``. Measured on the writer (2026-12): a process with torch and timm
imported holds about 0.6 GB; loading a checkpoint holds its tensors once; writing one layer needs
about 9 bytes per float32 weight beyond that (float32 copy, pyarrow columns, the NaN count), 11 for
float16. ``BYTES_PER_WEIGHT`` and ``BASE_MB`` round these up.
"""

from __future__ import annotations

import math
import os
import resource
import zipfile
from dataclasses import dataclass
from pathlib import Path

from filterdb.config import section
from filterdb.errors import ModelError

#: Memory of the process before any checkpoint is read (interpreter, torch, timm, pyarrow), MB.
BASE_MB = 1000
#: Peak bytes per weight of the layer being written, its resident copy included.
BYTES_PER_WEIGHT = 12
#: Request = REQUEST_BASE_MB + REQUEST_FACTOR x declared MB, capped by ``extraction.max_mem_mb``.
REQUEST_BASE_MB = 2000
REQUEST_FACTOR = 4
#: An extraction job's allocations fail beyond this multiple of its mem_mb (``RLIMIT_DATA``).
DATA_LIMIT_FACTOR = 2
_GENUINE = (
    "if the file is genuine, give the job more memory "
    "(--set-resources extract_filters:mem_mb=N, or a higher extraction.max_mem_mb)"
)


def declared_bytes(path: str | os.PathLike[str]) -> int:
    """Bytes the checkpoint at ``path`` declares, read from its container's directory only.

    For a zip (torch's format) that is the sum of its entries' uncompressed sizes, from the
    central directory, so nothing is decompressed; for any other file, or a zip whose directory
    cannot be read (the reader will then refuse the file), its size on disk.
    """
    size = os.path.getsize(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return max(size, sum(info.file_size for info in archive.infolist()))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return size


def declared_mb(directory: str | os.PathLike[str]) -> float:
    """Declared MB of every file in a model's checkpoint directory (ONNX external data included)."""
    files = [p for p in Path(directory).rglob("*") if p.is_file()]
    return sum(declared_bytes(p) for p in files) / 1e6


def extraction_mem_mb(declared: float, max_mem_mb: int) -> int:
    """The ``mem_mb`` an extraction job requests for a checkpoint declaring ``declared`` MB.

    Capped at ``max_mem_mb`` so a checkpoint declaring absurd sizes cannot ask a cluster for a
    node that does not exist (its job would wait forever); inside the job, :class:`MemoryLimit`
    then refuses what does not fit the capped request.
    """
    return int(min(max_mem_mb, REQUEST_BASE_MB + REQUEST_FACTOR * declared))


@dataclass(frozen=True)
class MemoryLimit:
    """What one extraction job may materialise, given its ``mem_mb``."""

    mem_mb: int

    @classmethod
    def for_job(cls, mem_mb: int | None = None) -> MemoryLimit:
        """The limit of a job with ``mem_mb``; outside a job, ``extraction.max_mem_mb``."""
        return cls(int(mem_mb) if mem_mb else section("extraction")["max_mem_mb"])

    @property
    def checkpoint_bytes(self) -> int:
        """Largest declared checkpoint the job loads (its tensors stay while layers are written)."""
        return max(0, self.mem_mb - BASE_MB) * 10**6

    @property
    def layer_elements(self) -> int:
        """Largest layer, in weights, the job decodes and writes."""
        return self.checkpoint_bytes // BYTES_PER_WEIGHT

    def check_checkpoint(self, model: str, path: str | os.PathLike[str]) -> None:
        """Refuse, before reading it, a checkpoint declaring more bytes than the job may hold."""
        size = declared_bytes(path)
        if size > self.checkpoint_bytes:
            raise ModelError(
                model,
                str(path),
                f"the checkpoint declares {size / 1e6:.0f} MB of data, more than this job's "
                f"memory allows ({self.checkpoint_bytes / 1e6:.0f} MB with mem_mb={self.mem_mb}); "
                + _GENUINE,
            )

    def check_layer(self, model: str, path: str, name: str, shape: tuple[int, ...]) -> None:
        """Refuse a layer whose declared shape needs more memory than the job has, before decoding.

        The shape, not the stored bytes, is what decoding allocates: a stride-0 view stores one
        element and declares any number.
        """
        elements = math.prod(shape)
        if elements > self.layer_elements:
            raise ModelError(
                model,
                path,
                f"layer {name!r} declares shape {tuple(shape)} = {elements} weights, more than "
                f"this job's limit of {self.layer_elements} (mem_mb={self.mem_mb}); " + _GENUINE,
            )


def limit_process_memory(mem_mb: int) -> None:
    """Make this process's allocations fail beyond ``DATA_LIMIT_FACTOR`` x ``mem_mb``.

    The backstop for what no check can see before it is allocated: torch's legacy (non-zip)
    format allocates each storage at the size its pickle declares, so 450 bytes can ask for 8 GB.
    Under the limit that allocation fails at once, as the model's error, instead of the job being
    killed by the kernel or a cluster's memory accounting with no message. Only the extraction job
    calls this, never a library user's process; a lower limit already in place is kept.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = DATA_LIMIT_FACTOR * int(mem_mb) * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft == resource.RLIM_INFINITY or limit < soft:
        resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
