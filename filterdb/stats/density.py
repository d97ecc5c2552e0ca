"""Kernel density curves of the PCA coefficients, from fixed-grid histograms.

A Gaussian KDE over billions of points is out of reach, but a binned KDE is not: each group's
coefficients are counted on a fine fixed grid, and the curve is the histogram convolved with the
Gaussian kernel (each bin's count placed at its centre). The bandwidth is Scott's rule,
``h = sigma * n ** (-1/5)`` with the group's own sample standard deviation - the same as
``scipy.stats.gaussian_kde`` - and sigma comes exactly from the group's moments:
``var(c_k) = v_k^T Cov v_k``. The binning error is below a fine bin's width; a group without
spread (sigma = 0) gets one fine bin as bandwidth.
"""

from __future__ import annotations

import numpy as np

from filterdb.stats.moments import Moments


def coefficient_stds(moments: Moments, components: np.ndarray) -> np.ndarray:
    """Sample standard deviation (ddof=1) of each coefficient within a group of filters."""
    if moments.count < 2:
        return np.zeros(components.shape[0])
    variances = np.einsum("ki,ij,kj->k", components, moments.covariance(), components)
    return np.sqrt(np.clip(variances, 0.0, None))


def binned_kde(
    counts: np.ndarray, lo: float, hi: float, stds: np.ndarray, grid: np.ndarray
) -> np.ndarray:
    """``(9, len(grid))`` densities from ``(9, fine_bins)`` counts on ``[lo, hi]``."""
    fine_bins = counts.shape[1]
    width = (hi - lo) / fine_bins if hi > lo else 1.0
    centres = lo + (np.arange(fine_bins) + 0.5) * width
    curves = np.zeros((counts.shape[0], len(grid)))
    for k, row in enumerate(counts):
        n = row.sum()
        if n == 0:
            continue
        h = stds[k] * n**-0.2
        if not h > 0:
            h = width
        used = np.flatnonzero(row)
        z = (grid[:, None] - centres[None, used]) / h
        kernel = np.exp(-0.5 * z * z) / (np.sqrt(2 * np.pi) * h)
        curves[k] = kernel @ row[used].astype(np.float64) / n
    return curves
