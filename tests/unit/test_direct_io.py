"""Reads and writes past the page cache (``filterdb.direct_io``) and the import's use of them: the
same bytes as ordinary I/O, whatever the alignment of a range or the size of a write, and any
HDF5 layout they cannot read left to h5py."""

from __future__ import annotations

import errno
import io
import os

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from filterdb.db.filter_file import write_filter_file
from filterdb.direct_io import ALIGN, DirectReader, DirectWriter
from filterdb.published.reader import FilterReader


def direct_supported(folder) -> bool:
    """Whether this file system takes ``O_DIRECT`` (tmpfs before Linux 6.6 does not)."""
    probe = folder / "probe"
    probe.write_bytes(b"")
    try:
        os.close(os.open(probe, os.O_RDONLY | getattr(os, "O_DIRECT", 0)))
        return hasattr(os, "O_DIRECT")
    except OSError as error:
        assert error.errno == errno.EINVAL
        return False
    finally:
        probe.unlink()


# Sizes that start and end on and off block boundaries, and one spanning several blocks.
CHUNKS = [1, ALIGN - 1, 2, ALIGN, 3 * ALIGN + 5, 70_000, 0, 17, 2 * ALIGN]


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("block_size", [ALIGN, 4 * ALIGN, 8 << 20])
def test_writer_writes_exactly_the_bytes(tmp_path, direct, block_size):
    rng = np.random.default_rng(block_size)
    chunks = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in CHUNKS]
    path = tmp_path / "out.bin"
    with DirectWriter(path, block_size=block_size, direct=direct) as writer:
        for i, chunk in enumerate(chunks):
            assert writer.write(memoryview(chunk) if i % 2 else chunk) == len(chunk)
        assert writer.tell() == sum(map(len, chunks))
        assert writer.direct == (direct and direct_supported(tmp_path))
    assert path.read_bytes() == b"".join(chunks)


def test_writer_of_nothing_leaves_an_empty_file(tmp_path):
    with DirectWriter(tmp_path / "empty.bin"):
        pass
    assert (tmp_path / "empty.bin").read_bytes() == b""


@pytest.mark.parametrize("direct", [True, False])
def test_reader_reads_any_range(tmp_path, direct):
    data = np.random.default_rng(1).integers(0, 256, 5 * ALIGN + 123, dtype=np.uint8).tobytes()
    path = tmp_path / "in.bin"
    path.write_bytes(data)
    with DirectReader(path, direct=direct) as reader:
        assert reader.direct == (direct and direct_supported(tmp_path))
        ranges = [(0, 1), (1, ALIGN), (ALIGN - 3, 7), (ALIGN, ALIGN), (4 * ALIGN + 9, ALIGN + 114)]
        for offset, n in [*ranges, (0, len(data)), (len(data) - 5, 5), (17, 0)]:
            assert reader.read_at(offset, n).to_pybytes() == data[offset : offset + n]
        with pytest.raises(EOFError, match=rf"in.bin holds no bytes {len(data) - 10}\.\."):
            reader.read_at(len(data) - 10, 11)


@pytest.mark.parametrize("direct", [True, False])
def test_reader_is_a_file_pyarrow_reads(tmp_path, direct):
    table = pa.table({"x": np.arange(100_000, dtype=np.int64), "y": np.linspace(0, 1, 100_000)})
    path = tmp_path / "t.parquet"
    pq.write_table(table, path, row_group_size=30_000)
    with DirectReader(path, direct=direct) as source:
        read = pq.ParquetFile(source).read_row_groups([1, 3])
        assert read.equals(pa.concat_tables([table.slice(30_000, 30_000), table.slice(90_000)]))
        assert source.seek(-4, io.SEEK_END) == path.stat().st_size - 4
        assert source.read(10).to_pybytes() == b"PAR1"  # what is left, not more
        assert source.read().size == 0


def write_h5(path, values, userblock: int = 0, **dataset_options) -> None:
    with h5py.File(path, "w", userblock_size=userblock) as h5:
        h5.create_dataset("before", data=np.arange(7.0))  # the filters do not start the file
        h5.create_dataset("filters", data=values, **dataset_options)


@pytest.mark.parametrize("userblock", [0, 512])
def test_reader_takes_contiguous_rows_from_the_file_itself(tmp_path, userblock):
    values = np.random.default_rng(2).standard_normal((1000, 3, 3))
    write_h5(tmp_path / "f.h5", values, userblock)
    with h5py.File(tmp_path / "f.h5", "r") as h5:
        reader = FilterReader(h5["filters"], chunk_size=97)
        assert reader.direct == direct_supported(tmp_path)
        for start, stop in [(0, 50), (50, 400), (400, 401), (401, 1000)]:
            np.testing.assert_array_equal(
                reader.read(start, stop), values[start:stop].reshape(-1, 9).T.astype(np.float32)
            )
        reader.close()


@pytest.mark.parametrize(
    "options", [{"chunks": (64, 3, 3)}, {"chunks": (64, 3, 3), "compression": "gzip"}]
)
def test_reader_leaves_other_layouts_to_h5py(tmp_path, options):
    values = np.random.default_rng(3).standard_normal((300, 3, 3))
    write_h5(tmp_path / "f.h5", values, **options)
    with h5py.File(tmp_path / "f.h5", "r") as h5:
        reader = FilterReader(h5["filters"], chunk_size=50)
        assert not reader.direct
        np.testing.assert_array_equal(
            reader.read(0, 300), values.reshape(-1, 9).T.astype(np.float32)
        )


def test_reader_reads_an_unwritten_dataset_as_h5py_does(tmp_path):
    """With a user block, HDF5 gives an unwritten dataset an offset all the same (its
    "undefined" address plus the block): the reader must not read bytes from there."""
    with h5py.File(tmp_path / "f.h5", "w", userblock_size=512) as h5:
        h5.create_dataset("filters", shape=(40, 3, 3), dtype="f8", fillvalue=2.5)
    with h5py.File(tmp_path / "f.h5", "r") as h5:
        assert h5["filters"].id.get_offset() is not None
        reader = FilterReader(h5["filters"], chunk_size=16)
        assert not reader.direct
        np.testing.assert_array_equal(reader.read(0, 40), np.full((9, 40), 2.5, np.float32))


def test_filter_file_direct_is_byte_identical(tmp_path):
    rng = np.random.default_rng(4)
    sizes = [3000, 5, 70_000, 12]
    weights = rng.standard_normal((9, sum(sizes))).astype(np.float32)
    offsets = np.r_[0, np.cumsum(sizes)]

    def group_columns(lo: int, hi: int) -> np.ndarray:
        return weights[:, offsets[lo] : offsets[hi]]

    for direct in (False, True):
        write_filter_file(tmp_path / f"{direct}.parquet", sizes, 4000, group_columns, direct)
    assert (tmp_path / "True.parquet").read_bytes() == (tmp_path / "False.parquet").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["False.parquet", "True.parquet"]
