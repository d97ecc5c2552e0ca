"""Let glibc reuse freed memory for the chunk-sized numpy temporaries of the passes.

Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` so that freed memory goes back
to the OS. Setting that variable also switches off glibc's dynamic mmap threshold, so every
array above 128 KiB - each (9, 65536) float64 temporary of a chunk - gets fresh pages from
``mmap`` and page-faults them in again; the passes then run about twice as slowly (measured
1.76 vs 0.90 us per filter). Raising both thresholds keeps up to ``TRIM_THRESHOLD`` of freed
heap for reuse, while the big per-partition arrays (above ``MMAP_THRESHOLD``) are still mapped
and returned to the OS when freed, so a worker's memory between tasks stays small.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
TRIM_THRESHOLD = 64 << 20
MMAP_THRESHOLD = 32 << 20

_tuned = False


def tune_malloc() -> None:
    """Raise glibc's trim and mmap thresholds once per process (no-op elsewhere)."""
    global _tuned
    if _tuned or not sys.platform.startswith("linux"):
        return
    _tuned = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return  # not glibc (e.g. musl): nothing to tune
    mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
