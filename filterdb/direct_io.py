"""Stream big files past the page cache (``O_DIRECT``), where the file system allows it.

The published import reads a file of about 100 GB once and writes about 50 GB once, and the
statistics read a database of about 50 GB three times, more than memory holds: no byte is read
again from the cache, so caching the pages buys nothing, and filling the page cache was most of
what the import cost. Measured on the project's 2-core VM (2026-12-07): 14.4 GB read cold took
8.2 s and 7.7 s of CPU through the page cache, 3.2-4.1 s and 0.6-0.8 s of CPU with
``O_DIRECT``; 7.2 GB written and fsync'd took 9.7-18.2 s and 8.4-16.7 s of CPU, against 3.9 s
and 0.2-0.6 s. The CPU the page cache took is CPU the conversion, the Parquet encoding and the
statistics' arithmetic need.

``O_DIRECT`` moves whole aligned blocks between the disk and an aligned buffer, so both classes
here transfer ``ALIGN``-byte blocks at ``ALIGN``-aligned addresses. Where the system refuses it
- no ``O_DIRECT`` (macOS), or a file system without it - they fall back to ordinary reads and
writes of the same bytes: the results never depend on which path was taken.
"""

from __future__ import annotations

import errno
import io
import mmap
import os
from pathlib import Path

import pyarrow as pa

#: Block size and address alignment of every direct transfer: the page size, a multiple of the
#: logical block size of the disks and file systems this runs on.
ALIGN = 4096


def _round_up(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def _aligned_buffer(n_bytes: int) -> memoryview:
    """A writable buffer of at least ``n_bytes`` at a page-aligned address (an anonymous map)."""
    return memoryview(mmap.mmap(-1, max(ALIGN, _round_up(n_bytes))))


def _open_direct(path: str | os.PathLike[str], flags: int) -> int | None:
    """``os.open(path, flags | O_DIRECT)``, or None where the OS or file system has no
    ``O_DIRECT`` (the caller then opens the file without it)."""
    direct = getattr(os, "O_DIRECT", 0)
    if not direct:
        return None
    try:
        return os.open(path, flags | direct)
    except OSError as error:
        if error.errno == errno.EINVAL:
            return None
        raise


def _reopen(fd: int, path: Path, flags: int) -> int:
    """Close ``fd`` and open ``path`` again without ``O_DIRECT``: for a file system that
    accepted the flag at ``open`` but refuses a transfer (EINVAL)."""
    os.close(fd)
    return os.open(path, flags)


class DirectReader(io.RawIOBase):
    """A file read past the page cache (``O_DIRECT`` when possible), by ranges or as a file.

    ``read_at`` returns each range in an Arrow buffer of its own, from Arrow's memory pool (which
    reuses freed memory, where fresh pages for every read would be faulted in again); the
    file-object methods (``read``, ``seek``, ``tell``) make it a source for pyarrow's readers,
    which keep the buffers they are given without copying them.
    """

    def __init__(self, path: str | os.PathLike[str], direct: bool = True) -> None:
        super().__init__()
        self.path = Path(path)
        fd = _open_direct(path, os.O_RDONLY) if direct else None
        self.direct = fd is not None
        self._fd = fd if fd is not None else os.open(path, os.O_RDONLY)
        self._size = os.fstat(self._fd).st_size
        self._position = 0

    def read_at(self, offset: int, n_bytes: int) -> pa.Buffer:
        """The ``n_bytes`` from ``offset``; ``EOFError`` when the file ends before them."""
        if offset < 0 or n_bytes < 0 or offset + n_bytes > self._size:
            raise EOFError(
                f"{self.path} holds no bytes {offset}..{offset + n_bytes} (it has {self._size})"
            )
        if not self.direct:
            return self._fill(offset, n_bytes, 0)
        lo = offset - offset % ALIGN
        try:
            return self._fill(lo, _round_up(offset + n_bytes) - lo, ALIGN).slice(
                offset - lo, n_bytes
            )
        except OSError as error:
            if error.errno != errno.EINVAL:  # EINVAL: e.g. a logical block above ALIGN
                raise
            self._fd, self.direct = _reopen(self._fd, self.path, os.O_RDONLY), False
            return self.read_at(offset, n_bytes)

    def _fill(self, offset: int, n_bytes: int, align: int) -> pa.Buffer:
        """A buffer whose start is aligned to ``align`` holding what the file has of the
        ``n_bytes`` at ``offset`` (it may end before them, within the last block)."""
        memory = pa.allocate_buffer(n_bytes + align)
        skew = -memory.address % align if align else 0
        view = memoryview(memory)[skew : skew + n_bytes]
        got = 0
        while got < n_bytes:
            n = os.preadv(self._fd, [view[got:]], offset + got)
            if n == 0:
                break
            got += n
        return memory.slice(skew, got)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = base + offset
        return self._position

    def read(self, size: int = -1) -> pa.Buffer:
        """Up to ``size`` bytes (all that are left when negative) from the position."""
        left = max(0, self._size - self._position)
        n_bytes = left if size < 0 else min(size, left)
        data = self.read_at(self._position, n_bytes)
        self._position += n_bytes
        return data

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


class DirectWriter(io.RawIOBase):
    """A new file written sequentially, for pyarrow's writers: ``O_DIRECT`` when possible.

    Writes gather in an aligned buffer of ``block_size`` bytes, which goes to the disk whole;
    ``close`` writes the last, partial block padded to ``ALIGN`` and truncates the file to the
    bytes written. Closing does not fsync: ``atomic.atomic_path`` does, before the rename.
    """

    def __init__(
        self, path: str | os.PathLike[str], block_size: int = 8 << 20, direct: bool = True
    ) -> None:
        super().__init__()
        self.path = Path(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        fd = _open_direct(path, flags) if direct else None
        self.direct = fd is not None
        self._fd = fd if fd is not None else os.open(path, flags, 0o666)
        self._buffer = _aligned_buffer(block_size)
        self._used = 0  # bytes in the buffer
        self._flushed = 0  # bytes in the file

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._flushed + self._used

    def write(self, data) -> int:  # noqa: ANN001 - any object with the buffer protocol
        view = memoryview(data).cast("B")
        at = 0
        while at < len(view):
            take = min(len(view) - at, len(self._buffer) - self._used)
            self._buffer[self._used : self._used + take] = view[at : at + take]
            self._used += take
            at += take
            if self._used == len(self._buffer):
                self._write_buffer(self._used)
        return len(view)

    def _write_buffer(self, n_bytes: int) -> None:
        """Write the buffer's first ``n_bytes`` (a multiple of ``ALIGN`` when direct)."""
        done = 0
        while done < n_bytes:
            try:
                done += os.pwrite(self._fd, self._buffer[done:n_bytes], self._flushed + done)
            except OSError as error:
                if not (self.direct and error.errno == errno.EINVAL):
                    raise
                self._fd, self.direct = _reopen(self._fd, self.path, os.O_WRONLY), False
                n_bytes = self._used
        self._flushed += self._used
        self._used = 0

    def close(self) -> None:
        if self.closed:
            return
        try:
            size = self.tell()
            if self._used:
                self._write_buffer(_round_up(self._used) if self.direct else self._used)
            if self.direct:
                os.ftruncate(self._fd, size)
        finally:
            os.close(self._fd)
            super().close()
