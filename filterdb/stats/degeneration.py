"""Per-layer degeneration metrics on raw weights (Gavrikov & Keuper; torchconvquality 0.3.0).

A layer is "degenerated" when its filters look random (variance entropy close to what random
normal filters of the same count reach) or collapsed (low entropy while many filters are
near-zero). The conventions follow torchconvquality so numbers are comparable with the paper:

* sparsity: fraction of filters whose every |w| is below 1 % of the layer's largest |w| (the
  threshold is compared in float32, as torch does); an all-zero layer is fully sparse (S = 1).
* variance entropy: base-10 entropy of the normalised eigenvalues of the filters' covariance;
  0 when there is no variance (one filter, identical filters), with 0 log 0 = 0.
* orthogonality: 1 - mean |cos| between distinct output channels (rows of the
  ``(c_out, c_in/groups * 9)`` weight matrix, zero rows kept as zero). With fewer than two
  channels there is no pair to compare, so it is NaN (torchconvquality divides 0 by 0 there);
  it is NaN too when the layer's channel counts are unknown (published imports).

Non-finite filters are left out; orthogonality drops every output channel that holds one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filterdb.stats import kernels
from filterdb.stats.moments import Moments
from filterdb.stats.scaling import Columns, LayerFilters

SPARSITY_EPS = 0.01
# Logistic fit of the minimum variance entropy of n random-normal filters (torchconvquality).
_TH_L, _TH_X0, _TH_K, _TH_B = 1.2618047, 2.30436435, 0.88767525, -0.31050834
ENTROPY_MARGIN = 0.02
LOW_ENTROPY = 0.5
HIGH_SPARSITY = 0.14


def randomness_threshold(n: np.ndarray | float) -> np.ndarray | float:
    """TH(n): variance entropy a layer of n filters reaches when its filters are random."""
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return _TH_L / (1 + np.exp(-_TH_K * (np.log2(n) - _TH_X0))) + _TH_B


def degeneration_rules(
    entropy: np.ndarray, sparsity: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The two rules, as masks: random-like (H >= TH(n) - 0.02) and collapsed (H < 0.5 and
    S >= 0.14). NaN satisfies neither. The one definition of both, for the flag and its reason."""
    entropy, sparsity = np.asarray(entropy, float), np.asarray(sparsity, float)
    with np.errstate(invalid="ignore"):
        random_like = entropy >= randomness_threshold(n) - ENTROPY_MARGIN
        collapsed = (entropy < LOW_ENTROPY) & (sparsity >= HIGH_SPARSITY)
    return random_like, collapsed


def is_degenerated(entropy: np.ndarray, sparsity: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Random-like or collapsed (``degeneration_rules``); NaN -> False."""
    random_like, collapsed = degeneration_rules(entropy, sparsity, n)
    return random_like | collapsed


def degeneration_reasons(entropy: np.ndarray, sparsity: np.ndarray, n: np.ndarray) -> list[str]:
    """Why each layer is degenerated (the rule that fired, with the values), or "".

    ``filterdb check`` prints this beside the flag, so a researcher sees which rule fired and by
    how much, not only that one did.
    """
    random_like, collapsed = degeneration_rules(entropy, sparsity, n)
    limit = np.broadcast_to(randomness_threshold(n) - ENTROPY_MARGIN, random_like.shape)
    columns = (entropy, sparsity, limit, random_like, collapsed)
    reasons = []
    for h, s, th, random, collapse in zip(*map(np.ravel, columns), strict=True):
        if random:
            reasons.append(f"random-like: H {h:.3f} >= TH(n) - {ENTROPY_MARGIN} = {th:.3f}")
        elif collapse:
            reasons.append(
                f"collapsed: H {h:.3f} < {LOW_ENTROPY}, sparsity {s:.3f} >= {HIGH_SPARSITY}"
            )
        else:
            reasons.append("")
    return reasons


def sparse_filters(peaks: np.ndarray) -> np.ndarray:
    """``(n,)`` mask of sparse filters, given each filter's float32 absolute peak."""
    if peaks.size == 0:
        return np.zeros(0, dtype=bool)
    threshold = np.float32(SPARSITY_EPS * float(peaks.max()))
    if threshold == 0:
        return np.ones(peaks.shape, dtype=bool)
    return peaks < threshold


def variance_entropy(moments: Moments) -> float:
    """Base-10 entropy of the covariance eigenvalue shares; NaN for an empty set."""
    if moments.count == 0:
        return float("nan")
    eigenvalues = np.clip(np.linalg.eigvalsh(moments.m2), 0.0, None)
    total = eigenvalues.sum()
    if total <= 0:
        return 0.0
    shares = eigenvalues[eigenvalues > 0] / total
    return float(-(shares * np.log10(shares)).sum())


def orthogonality(raw: Columns, finite: np.ndarray, out_channels: int, fan_in: int) -> float:
    """1 - sum |W_n W_n^T - I| / (c (c - 1)) over the c output channels without NaN/Inf.

    ``W`` is the layer as ``(c_out, 9 * fan_in)``, each channel's weights in one row: one copy
    of the layer, then one BLAS product - nine products of the ``(c_out, fan_in)`` weight
    positions took a third longer on large layers and many times longer on depthwise ones.
    Normalising the Gram matrix by its diagonal afterwards is normalising the rows first
    (``kernels.cosine_deviation``). NaN when the channel layout is unknown (``fan_in`` 0, e.g. a
    published import).
    """
    if fan_in == 0:
        return float("nan")
    keep = finite.reshape(out_channels, fan_in).all(axis=1)
    channels = int(keep.sum())
    if channels < 2:
        return float("nan")
    weights = np.stack([row.reshape(out_channels, fan_in) for row in raw], axis=1)
    if channels < out_channels:
        weights = weights[keep]
    weights = weights.reshape(channels, 9 * fan_in)
    return float(1 - kernels.cosine_deviation(weights @ weights.T) / (channels * (channels - 1)))


@dataclass(frozen=True)
class LayerQuality:
    """The raw-weight metrics of one layer (NaN where undefined, e.g. no finite filter)."""

    sparsity: float
    variance_entropy: float
    clean_entropy: float
    orthogonality: float


def layer_statistics(
    filters: LayerFilters, out_channels: int, fan_in: int
) -> tuple[Moments, LayerQuality]:
    """The moments of a layer's peak-scaled filters (pass 1's share of the PCA) and its metrics,
    from one sweep over the filters (``LayerFilters.pass_one_moments``)."""
    if filters.n == 0:
        nan = float("nan")
        return Moments.empty(), LayerQuality(nan, nan, nan, nan)
    sparse = sparse_filters(filters.peaks)
    scaled, raw, clean = filters.pass_one_moments(sparse)
    entropy = variance_entropy(raw)
    return scaled, LayerQuality(
        sparsity=float(sparse.mean()),
        variance_entropy=entropy,
        clean_entropy=variance_entropy(clean) if sparse.any() else entropy,
        orthogonality=orthogonality(filters.raw, filters.finite, out_channels, fan_in),
    )


def layer_quality(filters: LayerFilters, out_channels: int, fan_in: int) -> LayerQuality:
    """Metrics of one layer's filters."""
    return layer_statistics(filters, out_channels, fan_in)[1]
