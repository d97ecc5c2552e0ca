"""Exact global PCA of the scaled filters, from pooled moments instead of the data matrix.

With all 9 components kept, PCA is the eigendecomposition of the 9x9 covariance, which the
moments give exactly (float64); no filter ever needs to sit in one array. Eigenvectors are only
defined up to sign, so each component is flipped to make its largest-magnitude entry positive:
figures and shift values then do not flip between runs or library versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from filterdb.stats.moments import Moments


@dataclass(frozen=True)
class PcaBasis:
    """Mean, components (rows, descending variance) and variances of the scaled filters."""

    n_filters: int
    mean: np.ndarray
    components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    covariance: np.ndarray


def orient_components(components: np.ndarray) -> np.ndarray:
    """Flip rows so that the entry with the largest |value| of each row is positive."""
    rows = np.arange(components.shape[0])
    signs = np.where(components[rows, np.abs(components).argmax(axis=1)] < 0, -1.0, 1.0)
    return components * signs[:, None]


def fit_pca(moments: Moments) -> PcaBasis:
    """PCA with all 9 components; equals ``sklearn.decomposition.PCA(n_components=9)``."""
    if moments.count < 2:
        raise ValueError(f"PCA needs at least 2 finite filters, the database has {moments.count}")
    covariance = moments.covariance()
    values, vectors = np.linalg.eigh(covariance)
    values = np.clip(values[::-1], 0.0, None)  # descending; round-off can dip below zero
    components = orient_components(vectors[:, ::-1].T)
    total = values.sum()
    ratio = values / total if total > 0 else np.zeros_like(values)
    return PcaBasis(moments.count, moments.mean, components, values, ratio, covariance)


def project(x: np.ndarray, mean: np.ndarray, components: np.ndarray) -> np.ndarray:
    """Coefficients ``(9, m)`` of scaled filters ``x`` (9, m) on the components."""
    return components @ (x - mean[:, None])
