"""Distribution shift D(P, Q) between groups of filters (Gavrikov & Keuper, eq. 1).

For each PCA coefficient k the groups' densities are 70-bin histograms over one shared range;
empty bins are floored at float32's epsilon (KL is undefined on zeros) and the histogram is
renormalised; the symmetric KL divergences (natural log) are weighted by the components'
explained variance ratios and summed.
"""

from __future__ import annotations

import numpy as np

EMPTY_BIN_FLOOR = float(np.finfo(np.float32).eps)


def histogram_densities(histograms: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``np.histogram(density=True)`` of integer counts ``(..., bins)``; NaN for an empty row."""
    counts = histograms.astype(np.float64)
    totals = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / np.diff(edges) / totals


def bin_probabilities(histograms: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``(G, 9, bins)`` floored, renormalised densities from integer counts of the same shape.

    The density step divides by each bin's width as ``np.histogram(density=True)`` does, so the
    floor applies to the same values the paper's notebook floors.
    """
    density = histogram_densities(histograms, edges)
    density[~(density > 0)] = EMPTY_BIN_FLOOR
    return density / density.sum(axis=-1, keepdims=True)


def shift_matrix(probabilities: np.ndarray, variance_ratio: np.ndarray) -> np.ndarray:
    """``(G, G)`` matrix of D = sum_k EVR_k * KLsym_k between all groups (zero diagonal).

    KLsym(P, Q) = KL(P||Q) + KL(Q||P) = sum((p - q)(log p - log q)); exactly symmetric, because
    both orders multiply the same two (negated) factors.
    """
    groups = probabilities.shape[0]
    matrix = np.zeros((groups, groups))
    logs = np.log(probabilities)
    for a in range(groups):
        matrix[a] = _shift_row(probabilities, logs, a, variance_ratio)
    return matrix


def shift_row(probabilities: np.ndarray, a: int, variance_ratio: np.ndarray) -> np.ndarray:
    """Row ``a`` of ``shift_matrix``, the same numbers, without computing the other rows."""
    return _shift_row(probabilities, np.log(probabilities), a, variance_ratio)


def _shift_row(
    probabilities: np.ndarray, logs: np.ndarray, a: int, variance_ratio: np.ndarray
) -> np.ndarray:
    kl = ((probabilities[a] - probabilities) * (logs[a] - logs)).sum(axis=-1)
    return (kl * variance_ratio).sum(axis=-1)
