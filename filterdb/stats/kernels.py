"""Compiled per-filter loops of the three statistics passes: scale, project, bin, in one go.

The numpy formulation of a pass re-scaled and re-projected every filter one vectorised operation
at a time, each through a ``(9, n)`` float64 temporary: memory traffic, not arithmetic, set its
speed. These kernels (numba, compiled once per machine and cached) walk a layer in blocks of
``BLOCK`` filters whose float64 intermediates stay in the L1 cache, and fold each block into its
counts or moments before the next is touched.

A layer's filters arrive as ``columns``: nine float32 rows, one per 3x3 position - a ``(9, n)``
array, or a tuple of nine 1-D arrays, which is how a Parquet file's column chunks are read
without a copy. Every kernel indexes ``columns[j]`` and works with either.

What keeps them exact and deterministic:

* a scaled weight is ``float64(x_j) / float64(peak)``, the correctly rounded quotient, as numpy
  computes it;
* a coefficient is ``sum_j c_kj (x_j / peak - mean_j)`` accumulated j = 0..8 with fused
  multiply-adds, the arithmetic a BLAS matrix product does, so an in-memory reference built with
  ``@`` gives the same coefficients;
* a bin index is ``np.histogram``'s (:func:`bin_block`);
* every float sum runs over fixed-offset blocks of a layer in a fixed order, so the bits never
  depend on partitioning or workers. Within a block, the sums of the moments are vectorised
  (``_jit_sum``): their order is fixed by the compiled code, the same on every run of one
  machine (as a BLAS product's is).

Measured on one core (``benchmarks/statistics_benchmark.py`` has the stage figures): a pass-3
filter cost about 27 ns against 50 ns for the previous kernels on an AVX-512 machine, mostly
because a bin is the vectorised arithmetic guess and only values within ``EDGE_MARGIN`` of an
edge are compared with the edges; on an AVX2 machine 40 ns against 52, once the guess was an
int32 and each block's peaks were found in the pass.
"""

from __future__ import annotations

import numba
import numpy as np

#: Filters per block: nine float64 rows of a block fill 18 KiB, half an L1 data cache.
BLOCK = 256
#: Filters per block of the moments: the block, its scaled and its centred copies stay in L1
#: (larger blocks, fewer 9x9 merges, measured slower: 512 by 10 %, 2048 by 30 %).
MOMENT_BLOCK = 256
#: Copies of each coarse histogram filled in turn, so that runs of equal bins do not wait on
#: each other's increments; integer counts sum to the same total in any order. (Not for the fine
#: histograms: four copies of 9 x 2048 counts would no longer fit the L2 cache.)
LANES = 4
#: A value closer than this (in bin widths) to an edge is binned by comparing it with the edges
#: themselves; any other value's bin is the arithmetic guess (see ``_guess_margin``).
EDGE_MARGIN = 2.0**-20

# ``error_model="numpy"``: a division by zero gives inf or NaN as in numpy instead of raising
# (every divisor here is checked first), which leaves the compiler free to vectorise divisions -
# with Python's error model each one is a scalar division behind a zero test.
_jit = numba.njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
# Sums that may be reassociated: the compiler splits them over vector lanes (a sum in strict
# order runs at one addition per latency, about 4x slower). Only the dot products of the moments'
# blocks, whose rounding the tests bound (1e-10 relative) instead of fixing.
_jit_sum = numba.njit(cache=True, nogil=True, fastmath={"contract", "reassoc"})


@_jit
def _guess_margin(lo, hi, bins):
    """How close (in bin widths) a value must come to an edge before its guessed bin is checked.

    The guess ``floor((v - lo) * bins / (hi - lo))`` and the ``linspace`` edges are each within
    a few rounding errors of the exact position, ``2**-52 * bins * (8 + (|lo| + |hi|) /
    (hi - lo))`` bin widths at most; a guess farther than that from a whole number is the bin
    the edge comparisons give. ``EDGE_MARGIN`` is used when it exceeds that bound 16 times over,
    which it does by orders of magnitude for any real range; otherwise every value is checked.
    """
    bound = 2.0**-52 * bins * (8.0 + (abs(lo) + abs(hi)) / (hi - lo))
    return EDGE_MARGIN if 16.0 * bound < EDGE_MARGIN else 1.0


@_jit
def bin_block(row, m, edges, index):
    """``index[:m]`` = the bins ``np.histogram(..., bins=edges)`` puts ``row[:m]`` in; -1 for a
    value outside the edges or NaN.

    Bin i holds ``edges[i] <= v < edges[i+1]``, the last bin also ``edges[-1]``. The arithmetic
    guess (a loop the compiler vectorises) settles every value farther than ``_guess_margin``
    from an edge; the few others - and values outside, which land at a margin too - are compared
    with their neighbouring edges, as ``np.histogram`` compares them. The guess is an int32
    (the config bounds every bin count far below 2**31): AVX2 converts float64 to int32 four at
    a time but has no conversion to int64, and with one this loop ran 2.5x slower.
    """
    bins = edges.size - 1
    lo, hi = edges[0], edges[bins]
    scale = bins / (hi - lo)
    margin = _guess_margin(lo, hi, bins)
    top = bins - 1.0
    near = 0
    for i in range(m):
        t = (row[i] - lo) * scale
        j = np.int32(min(max(t, 0.0), top))
        f = t - j
        index[i] = j
        near += (f < margin) | (f > 1.0 - margin) | (f != f)
    if near == 0:
        return
    for i in range(m):
        value = row[i]
        j = index[i]
        f = (value - lo) * scale - j
        if (f < margin) | (f > 1.0 - margin) | (f != f):
            if lo <= value <= hi:  # the guess of a value inside is a bin: 0 <= j < bins
                j -= value < edges[j]
                j += (value >= edges[j + 1]) & (j < bins - 1)
                index[i] = j
            else:  # outside or NaN, whose guess is no index at all
                index[i] = -1


@_jit
def _fold_peaks(row, m, finite, peaks):
    """Fold one weight row of a block into its filters' finiteness and absolute peaks."""
    for i in range(m):
        value = row[i]
        finite[i] &= value - value == 0  # NaN - NaN and Inf - Inf are NaN
        size = abs(value)
        peaks[i] = size if size > peaks[i] else peaks[i]


@_jit
def _block_peaks(columns, start, m, finite, peaks):
    """``finite[:m]`` and ``peaks[:m]`` of the block of ``m`` filters from ``start``."""
    finite[:m] = True
    peaks[:m] = 0.0
    for j in range(9):
        _fold_peaks(columns[j][start : start + m], m, finite, peaks)


@_jit
def finite_and_peaks(columns):
    """``(n,)`` mask of filters whose nine weights are finite, and ``(n,)`` absolute peaks."""
    n = columns[0].size
    finite = np.empty(n, dtype=np.bool_)
    peaks = np.empty(n, dtype=np.float32)
    for start in range(0, n, BLOCK):  # block by block: the outputs stay in L1 for all 9 rows
        stop = min(start + BLOCK, n)
        _block_peaks(columns, start, stop - start, finite[start:stop], peaks[start:stop])
    return finite, peaks


@_jit
def _divisors(peaks, start, m, out):
    """``out[:m]`` = the block's peaks as float64, zero peaks (all-zero filters) as 1."""
    for q in range(m):
        den = np.float64(peaks[start + q])
        out[q] = den if den != 0.0 else 1.0


@_jit
def _centre_block(columns, start, peaks, mean, m, out):
    """``out[:9, :m]`` = the ``m`` filters from ``start`` divided by their ``peaks[:m]``, minus
    the mean: the operand of the projection, rounded as ``scaled - mean`` rounds it (divisors
    in row 9)."""
    divisors = out[9]
    _divisors(peaks, 0, m, divisors)
    for j in range(9):
        centre, row, target = mean[j], columns[j], out[j]
        for q in range(m):
            target[q] = np.float64(row[start + q]) / divisors[q] - centre


@_jit
def _project_block(centred, m, components, out):
    """``out[:, :m]`` = coefficients of the centred block, each a j-ordered fused sum.

    One filter's nine terms per iteration, held in registers, vectorised over filters: no
    partial sums go through memory."""
    r0, r1, r2, r3, r4 = centred[0], centred[1], centred[2], centred[3], centred[4]
    r5, r6, r7, r8 = centred[5], centred[6], centred[7], centred[8]
    for k in range(9):
        c = components[k]
        c0, c1, c2, c3, c4, c5, c6, c7, c8 = c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
        target = out[k]
        for q in range(m):
            acc = c0 * r0[q]
            acc += c1 * r1[q]
            acc += c2 * r2[q]
            acc += c3 * r3[q]
            acc += c4 * r4[q]
            acc += c5 * r5[q]
            acc += c6 * r6[q]
            acc += c7 * r7[q]
            acc += c8 * r8[q]
            target[q] = acc


@_jit
def _pack_finite(columns, start, size, finite, peaks, packed):
    """Copy the finite filters among the ``size`` from ``start`` to ``packed[:, :m]`` and their
    peaks to ``peaks[:m]``, in order; returns ``m``."""
    m = 0
    for q in range(size):
        if finite[q]:
            for j in range(9):
                packed[j, m] = columns[j][start + q]
            peaks[m] = peaks[q]
            m += 1
    return m


@_jit
def _coefficients(columns, mean, components, start, buffers):
    """Scale, centre and project the finite filters of the block from ``start``: their
    coefficients are ``buffers[1][:, :m]``. Returns ``m``.

    The block's peaks and finiteness are found here, while its rows are in the cache, rather
    than in a sweep of their own over the layer; a filter holding NaN or Inf is left out."""
    centred, coefficients, finite, peaks, packed = buffers
    size = min(BLOCK, columns[0].size - start)
    _block_peaks(columns, start, size, finite, peaks)
    if finite[:size].all():
        m = size
        _centre_block(columns, start, peaks, mean, m, centred)
    else:
        m = _pack_finite(columns, start, size, finite, peaks, packed)
        _centre_block(packed, 0, peaks, mean, m, centred)
    _project_block(centred, m, components, coefficients)
    return m


@_jit
def _block_buffers():
    """The centred block (with its divisors in row 9), its coefficients, and the block's
    finiteness, peaks and finite filters packed (``_coefficients``)."""
    return (
        np.empty((10, BLOCK)),
        np.empty((9, BLOCK)),
        np.empty(BLOCK, dtype=np.bool_),
        np.empty(BLOCK, dtype=np.float32),
        np.empty((9, BLOCK), dtype=np.float32),
    )


@_jit
def _fold_extremes(row, m, lows, highs):
    """``lows[:m]`` and ``highs[:m]`` = element-wise min and max with ``row[:m]``: element-wise,
    so vectorised, where a running scalar extreme is one long chain of comparisons."""
    for i in range(m):
        value = row[i]
        lows[i] = value if value < lows[i] else lows[i]
        highs[i] = value if value > highs[i] else highs[i]


@_jit
def range_and_joint(columns, mean, components, joint_edges, joint):
    """Pass 2 on one layer's raw columns: (min, max) of every coefficient of its finite filters;
    c0/c1 pairs counted into ``joint`` (flat, ``bins * bins``, axis 0 = c0) when both lie inside
    ``joint_edges``."""
    bins = joint_edges.size - 1
    buffers = _block_buffers()
    coefficients = buffers[1]
    x, y = np.empty(BLOCK, dtype=np.int32), np.empty(BLOCK, dtype=np.int32)
    lows, highs = np.full(BLOCK, np.inf), np.full(BLOCK, -np.inf)
    for start in range(0, columns[0].size, BLOCK):
        m = _coefficients(columns, mean, components, start, buffers)
        for k in range(9):
            _fold_extremes(coefficients[k], m, lows, highs)
        bin_block(coefficients[0], m, joint_edges, x)
        bin_block(coefficients[1], m, joint_edges, y)
        for i in range(m):
            if (x[i] >= 0) & (y[i] >= 0):
                joint[x[i] * bins + y[i]] += 1
    return lows.min(), highs.max()


@_jit
def _count_lanes(index, m, offset, lanes):
    """Add one to ``lanes[i % LANES, offset + index[i]]`` for ``i < m``; ``index`` -1 (outside)
    lands in column ``offset - 1``, the spill slot of its segment."""
    i = 0
    while i + LANES <= m:
        lanes[0, offset + index[i]] += 1
        lanes[1, offset + index[i + 1]] += 1
        lanes[2, offset + index[i + 2]] += 1
        lanes[3, offset + index[i + 3]] += 1
        i += LANES
    while i < m:
        lanes[0, offset + index[i]] += 1
        i += 1


@_jit
def coefficient_counts(columns, mean, components, edges, counts, fine):
    """Pass 3 on one layer's raw columns (finite filters only): per-coefficient counts on
    ``edges`` added to ``counts`` (flat,
    ``9 * bins``), and, unless ``fine`` is empty, equal-width counts over the same range added
    to ``fine`` (flat, ``9 * fine_bins``; clipped into the end bins, no edge corrections: they
    only feed a kernel density estimate). Returns how many values fell outside ``edges``."""
    bins = edges.size - 1
    fine_bins = fine.size // 9
    lo = edges[0]
    fine_scale = fine_bins / (edges[bins] - lo)
    fine_top = fine_bins - 1.0
    buffers = _block_buffers()
    coefficients = buffers[1]
    index = np.empty(BLOCK, dtype=np.int32)
    # Segment k of each lane: a spill slot for values outside, then the k-th coefficient's bins.
    lanes = np.zeros((LANES, 9 * (bins + 1)), dtype=np.int64)
    for start in range(0, columns[0].size, BLOCK):
        m = _coefficients(columns, mean, components, start, buffers)
        for k in range(9):
            row = coefficients[k]
            bin_block(row, m, edges, index)
            _count_lanes(index, m, k * (bins + 1) + 1, lanes)
            if fine_bins:
                for i in range(m):
                    index[i] = np.int32(min(max((row[i] - lo) * fine_scale, 0.0), fine_top))
                target = fine[k * fine_bins : (k + 1) * fine_bins]
                for i in range(m):
                    target[index[i]] += 1
    outside = 0
    for lane in range(LANES):
        for k in range(9):
            outside += lanes[lane, k * (bins + 1)]
            counts[k * bins : (k + 1) * bins] += lanes[
                lane, k * (bins + 1) + 1 : (k + 1) * (bins + 1)
            ]
    return outside


@_jit_sum
def _dot(a, b, m):
    """``a[:m] @ b[:m]``, vectorised."""
    total = 0.0
    for q in range(m):
        total += a[q] * b[q]
    return total


#: Layout of a running moments state (one flat float64 array): count, mean (9), M2 (9 x 9).
STATE_SIZE = 1 + 9 + 81


@_jit
def _merge_block(block, weights, m, kept, scratch, state):
    """Merge the moments of ``block[:9, :m]`` (the filters ``weights`` marks 1; ``kept`` of
    them) into ``state``, with Chan et al.'s pairwise update.

    The block is centred on its own mean first (into ``scratch``: ``block`` is left as it is),
    so a large mean never cancels against the spread."""
    if kept == 0.0:
        return
    count = state[0]
    mean = state[1:10]
    m2 = state[10:].reshape(9, 9)
    block_mean = np.empty(9)
    for j in range(9):
        row, centred = block[j], scratch[j]
        block_mean[j] = _dot(row, weights, m) / kept
        centre = block_mean[j]
        for q in range(m):
            centred[q] = (row[q] - centre) * weights[q]
    total = count + kept
    cross = count * kept / total
    for a in range(9):
        delta_a = block_mean[a] - mean[a]
        for b in range(a, 9):
            value = m2[a, b] + _dot(scratch[a], scratch[b], m)
            value += delta_a * (block_mean[b] - mean[b]) * cross
            m2[a, b] = value
            m2[b, a] = value
    for j in range(9):
        mean[j] += (block_mean[j] - mean[j]) * (kept / total)
    state[0] = total


@_jit
def _load_block(columns, start, m, out):
    """``out[:9, :m]`` = the block of filters from ``start`` as float64."""
    for j in range(9):
        row, target = columns[j], out[j]
        for q in range(m):
            target[q] = row[start + q]


@_jit
def _scale_block(block, peaks, start, m, out):
    """``out[:9, :m]`` = ``block[:9, :m]`` divided by the filters' peaks (zero peaks by 1)."""
    divisors = out[9]
    _divisors(peaks, start, m, divisors)
    for j in range(9):
        row, target = block[j], out[j]
        for q in range(m):
            target[q] = row[q] / divisors[q]


@_jit
def _moment_buffers():
    """A block as loaded, a block scaled (divisors in row 9), a centred block, and weights."""
    return (
        np.empty((9, MOMENT_BLOCK)),
        np.empty((10, MOMENT_BLOCK)),
        np.empty((9, MOMENT_BLOCK)),
        np.empty(MOMENT_BLOCK),
    )


@_jit
def _fill_weights(keep, start, m, weights):
    """``weights[:m]`` = ``keep[start:start + m]`` as 0.0 / 1.0; returns how many are 1."""
    kept = 0
    for q in range(m):
        weights[q] = 1.0 if keep[start + q] else 0.0
        kept += keep[start + q]
    return float(kept)


@_jit
def layer_moments(columns, peaks, keep, scaled):
    """Count, mean (9,) and centred cross-products M2 (9, 9) of the filters ``keep`` marks,
    divided by their peaks when ``scaled``, in blocks of ``MOMENT_BLOCK`` from the layer's
    start (``_merge_block``): nothing grows with the layer."""
    state = np.zeros(STATE_SIZE)
    loaded, divided, scratch, weights = _moment_buffers()
    for start in range(0, peaks.size, MOMENT_BLOCK):
        m = min(MOMENT_BLOCK, peaks.size - start)
        kept = _fill_weights(keep, start, m, weights)
        if kept == 0.0:
            continue
        _load_block(columns, start, m, loaded)
        block = loaded
        if scaled:
            _scale_block(loaded, peaks, start, m, divided)
            block = divided[:9]
        _merge_block(block, weights, m, kept, scratch, state)
    return state


@_jit
def pass_one_moments(columns, peaks, sparse):
    """Pass 1's three moment states of one layer in one sweep: the scaled filters (the PCA's),
    the raw filters (the variance entropy's) and the raw filters that are not ``sparse`` (the
    clean entropy's; all zeros when no filter is sparse - the clean entropy is then the
    entropy). Each equals ``layer_moments`` of the same filters."""
    scaled, raw, clean = np.zeros(STATE_SIZE), np.zeros(STATE_SIZE), np.zeros(STATE_SIZE)
    any_sparse = sparse.any()
    loaded, divided, scratch, weights = _moment_buffers()
    ones = np.ones(MOMENT_BLOCK)
    for start in range(0, peaks.size, MOMENT_BLOCK):
        m = min(MOMENT_BLOCK, peaks.size - start)
        _load_block(columns, start, m, loaded)
        _merge_block(loaded, ones, m, float(m), scratch, raw)
        if any_sparse:
            kept = 0.0
            for q in range(m):
                weights[q] = 0.0 if sparse[start + q] else 1.0
                kept += weights[q]
            _merge_block(loaded, weights, m, kept, scratch, clean)
        _scale_block(loaded, peaks, start, m, divided)
        _merge_block(divided[:9], ones, m, float(m), scratch, scaled)
    return scaled, raw, clean


@_jit
def cosine_deviation(gram):
    """``sum |G / (n n^T) - I|`` of a Gram matrix ``G`` with row norms ``n = sqrt(diag G)`` (a
    zero row's norm taken as 1, so it deviates by 1 on the diagonal), summed in float64.

    One pass over the upper triangle (``G`` is symmetric) instead of normalised copies of the
    whole matrix: on a depthwise layer the matrix is as large as the layer squared."""
    c = gram.shape[0]
    norms = np.empty(c)
    total = 0.0
    for a in range(c):
        norm = np.sqrt(np.float64(gram[a, a]))
        norms[a] = norm if norm != 0.0 else 1.0
        total += abs(np.float64(gram[a, a]) / (norms[a] * norms[a]) - 1.0)
    for a in range(c):
        row, scale = gram[a], norms[a]
        upper = 0.0
        for b in range(a + 1, c):
            upper += abs(np.float64(row[b])) / (scale * norms[b])
        total += 2.0 * upper
    return total
