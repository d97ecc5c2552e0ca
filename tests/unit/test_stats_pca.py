"""PCA from moments against scikit-learn (filterdb.stats.pca)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from filterdb.stats.moments import (
    raw_moments,
)
from filterdb.stats.pca import fit_pca, orient_components, project


def test_pca_from_moments_equals_sklearn_up_to_sign_and_sign_convention_holds():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(5000, 9)) @ rng.normal(size=(9, 9)) + 0.3
    basis = fit_pca(raw_moments(x.T.copy()))
    reference = PCA(n_components=9).fit(x)
    signs = np.sign((basis.components * reference.components_).sum(axis=1))
    np.testing.assert_allclose(basis.components, reference.components_ * signs[:, None], atol=1e-9)
    np.testing.assert_allclose(basis.mean, reference.mean_, atol=1e-12)
    np.testing.assert_allclose(basis.explained_variance, reference.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(
        basis.explained_variance_ratio, reference.explained_variance_ratio_, rtol=1e-9
    )
    peak = basis.components[np.arange(9), np.abs(basis.components).argmax(axis=1)]
    assert (peak > 0).all()
    coefficients = project(x.T, basis.mean, basis.components)
    np.testing.assert_allclose(coefficients.T * signs, reference.transform(x), atol=1e-9)
    flipped = orient_components(-basis.components)
    assert np.array_equal(flipped, basis.components)


def test_pca_needs_two_filters():
    with pytest.raises(ValueError, match="at least 2"):
        fit_pca(raw_moments(np.ones((9, 1))))
