"""Distribution shift D(P, Q) between groups of filters (Gavrikov & Keuper, eq. 1).

For each PCA coefficient k the groups' densities are 70-bin histograms over one shared range;
empty bins are floored at float32's epsilon (KL is undefined on zeros) and the histogram is
renormalised; the symmetric KL divergences (natural log) are weighted by the components'
explained variance ratios and summed.
"""

from __future__ import annotations

import numpy as np

EMPTY_BIN_FLOOR = float(np.finfo(np.float32).eps)


def bin_probabilities(histograms: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``(G, 9, bins)`` floored, renormalised densities from integer counts of the same shape.

    The density step divides by each bin's width as ``np.histogram(density=True)`` does, so the
    floor applies to the same values the paper's notebook floors.
    """
    counts = histograms.astype(np.float64)
    totals = counts.sum(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        density = counts / np.diff(edges) / totals
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
        kl = ((probabilities[a] - probabilities) * (logs[a] - logs)).sum(axis=-1)
        matrix[a] = (kl * variance_ratio).sum(axis=-1)
    return matrix
