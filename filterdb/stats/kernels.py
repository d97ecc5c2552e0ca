"""Compiled per-filter loops of the three statistics passes: scale, project, bin, in one go.

The numpy formulation of a pass re-scaled and re-projected every filter one vectorised operation
at a time, each through a ``(9, n)`` float64 temporary: memory traffic, not arithmetic, set its
speed. These kernels (numba, compiled once per machine and cached) walk a layer in blocks of
``BLOCK`` filters whose float64 intermediates stay in the L1 cache, and fold each block into its
counts before the next is touched. The moments of pass 1 only gather a chunk here: numpy and
BLAS sum its 9x9 cross-products faster than a compiled loop does.

What keeps them exact and deterministic:

* every sum runs in a fixed order - over the nine weights in index order, over filters in
  fixed-offset chunks of a layer - so the bits never depend on partitioning or workers;
* a coefficient is ``sum_j c_kj (x_j / peak - mean_j)`` accumulated j = 0..8 with fused
  multiply-adds, the arithmetic a BLAS matrix product does, so an in-memory reference built with
  ``@`` gives the same coefficients;
* a bin index is ``np.histogram``'s: the arithmetic guess, then one comparison against each
  neighbouring edge (:func:`bin_block`).
"""

from __future__ import annotations

import numba
import numpy as np

#: Filters per block: nine float64 rows of a block fill 18 KiB, half an L1 data cache.
BLOCK = 256
#: Copies of each coarse histogram filled in turn, so that runs of equal bins do not wait on
#: each other's increments; integer counts sum to the same total in any order. (Not for the fine
#: histograms: four copies of 9 x 2048 counts would no longer fit the L2 cache.)
LANES = 4

# ``error_model="numpy"``: a division by zero gives inf or NaN as in numpy instead of raising
# (every divisor here is checked first), which leaves the compiler free to vectorise divisions -
# with Python's error model each one is a scalar division behind a zero test.
_jit = numba.njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")


@_jit
def bin_block(row, m, edges, index):
    """``index[:m]`` = the bins ``np.histogram(..., bins=edges)`` puts ``row[:m]`` in; -1 for a
    value outside the edges or NaN.

    Bin i holds ``edges[i] <= v < edges[i+1]``, the last bin also ``edges[-1]``. The arithmetic
    guess (a loop the compiler vectorises) is within one bin of the truth; one comparison
    against each neighbouring edge settles it, as numpy settles it.
    """
    bins = edges.size - 1
    lo, hi = edges[0], edges[bins]
    scale = bins / (hi - lo)
    for i in range(m):
        index[i] = int(min(max((row[i] - lo) * scale, 0.0), bins - 1.0))
    for i in range(m):
        value = row[i]
        j = index[i]
        j -= value < edges[j]
        j += (value >= edges[j + 1]) & (j < bins - 1)
        index[i] = j if lo <= value <= hi else -1


@_jit
def finite_and_peaks(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n,)`` mask of filters whose nine weights are finite, and ``(n,)`` absolute peaks."""
    n = raw.shape[1]
    finite = np.ones(n, dtype=np.bool_)
    peaks = np.zeros(n, dtype=raw.dtype)
    for j in range(9):
        row = raw[j]
        for i in range(n):
            value = row[i]
            finite[i] &= np.isfinite(value)
            peaks[i] = max(peaks[i], abs(value))
    return finite, peaks


@_jit
def _centre_block(values, peaks, mean, start, stop, out):
    """``out[:, :m]`` = the block's filters divided by their peaks (zero peaks divide by 1),
    minus the mean: the operand of the projection, rounded as ``scaled - mean`` rounds it.

    Loops over one contiguous row at a time (1-D views), the form the compiler vectorises."""
    divisors = out[9]
    for q in range(stop - start):
        den = np.float64(peaks[start + q])
        divisors[q] = den if den != 0.0 else 1.0
    for j in range(9):
        centre, row, target = mean[j], values[j, start:stop], out[j]
        for q in range(stop - start):
            target[q] = np.float64(row[q]) / divisors[q] - centre


@_jit
def _project_block(centred, m, components, out):
    """``out[:, :m]`` = coefficients of the centred block, each a j-ordered fused sum."""
    for k in range(9):
        target = out[k]
        for q in range(m):
            target[q] = 0.0
        for j in range(9):
            weight, row = components[k, j], centred[j]
            for q in range(m):
                target[q] += weight * row[q]


@_jit
def _coefficients(values, peaks, mean, components, start, buffers):
    """Scale, centre and project the block of filters from ``start``: their coefficients are
    ``buffers[1][:, :m]``. Returns ``m``."""
    stop = min(start + BLOCK, values.shape[1])
    centred, coefficients = buffers
    _centre_block(values, peaks, mean, start, stop, centred)
    _project_block(centred, stop - start, components, coefficients)
    return stop - start


@_jit
def _block_buffers():
    """The centred block (with its divisors in row 9) and its coefficients."""
    return np.empty((10, BLOCK)), np.empty((9, BLOCK))


@_jit
def _row_range(row, m):
    """(min, max) of ``row[:m]`` in four interleaved running extremes: exact in any order, and
    four independent chains instead of one that waits on every comparison."""
    lo = np.full(4, np.inf)
    hi = np.full(4, -np.inf)
    for i in range(m):
        lane = i % 4
        lo[lane] = min(lo[lane], row[i])
        hi[lane] = max(hi[lane], row[i])
    return lo.min(), hi.max()


@_jit
def range_and_joint(values, peaks, mean, components, joint_edges, joint):
    """Pass 2 on one layer: (min, max) of every coefficient; c0/c1 pairs counted into ``joint``
    (flat, ``bins * bins``, axis 0 = c0) when both lie inside ``joint_edges``."""
    bins = joint_edges.size - 1
    buffers = _block_buffers()
    coefficients = buffers[1]
    x, y = np.empty(BLOCK, dtype=np.int64), np.empty(BLOCK, dtype=np.int64)
    lo, hi = np.inf, -np.inf
    for start in range(0, values.shape[1], BLOCK):
        m = _coefficients(values, peaks, mean, components, start, buffers)
        for k in range(9):
            block_lo, block_hi = _row_range(coefficients[k], m)
            lo, hi = min(lo, block_lo), max(hi, block_hi)
        bin_block(coefficients[0], m, joint_edges, x)
        bin_block(coefficients[1], m, joint_edges, y)
        for i in range(m):
            if x[i] >= 0 and y[i] >= 0:
                joint[x[i] * bins + y[i]] += 1
    return lo, hi


@_jit
def coefficient_counts(values, peaks, mean, components, edges, counts, fine):
    """Pass 3 on one layer: per-coefficient counts on ``edges`` added to ``counts`` (flat,
    ``9 * bins``), and, unless ``fine`` is empty, equal-width counts over the same range added
    to ``fine`` (flat, ``9 * fine_bins``; clipped into the end bins, no edge corrections: they
    only feed a kernel density estimate). Returns how many values fell outside ``edges``."""
    bins = edges.size - 1
    fine_bins = fine.size // 9
    lo = edges[0]
    fine_scale = fine_bins / (edges[bins] - lo)
    buffers = _block_buffers()
    coefficients = buffers[1]
    index = np.empty(BLOCK, dtype=np.int64)
    lanes = np.zeros((LANES, counts.size), dtype=np.int64)
    outside = 0
    for start in range(0, values.shape[1], BLOCK):
        m = _coefficients(values, peaks, mean, components, start, buffers)
        for k in range(9):
            row = coefficients[k]
            bin_block(row, m, edges, index)
            for i in range(m):
                if index[i] < 0:
                    outside += 1
                else:
                    lanes[i % LANES, k * bins + index[i]] += 1
            if fine_bins:
                for i in range(m):
                    guess = min(max((row[i] - lo) * fine_scale, 0.0), fine_bins - 1.0)
                    fine[k * fine_bins + int(guess)] += 1
    for lane in range(LANES):
        counts += lanes[lane]
    return outside


@_jit
def gather_chunk(values, peaks, keep, start, stop, scaled, out):
    """Copy the kept filters of ``[start, stop)`` into ``out[:, :m]`` as float64 (divided by
    their peaks when ``scaled``, zero peaks by 1) and return ``m``.

    The one per-filter step of the moments; their sums and 9x9 cross-products are left to numpy
    and BLAS (``moments.chunk_moments``), which run them at full vector speed on the chunk. Each
    weight is one loop over a contiguous row, which the compiler vectorises; a loop over filters
    with the nine weights inside ran three times slower.
    """
    if keep[start:stop].all():
        m = stop - start
        for j in range(9):
            row, target = values[j, start:stop], out[j]
            for q in range(m):
                target[q] = row[q]
        chosen = peaks[start:stop]
    else:
        columns = np.flatnonzero(keep[start:stop]) + start
        m = columns.size
        for j in range(9):
            row, target = values[j], out[j]
            for q in range(m):
                target[q] = row[columns[q]]
        chosen = peaks[columns]
    if scaled:
        divisors = np.where(chosen == 0, 1.0, chosen.astype(np.float64))
        for j in range(9):
            target = out[j]
            for q in range(m):
                target[q] /= divisors[q]
    return m
