"""``pca_basis.json``: the PCA basis written by the statistics stage and read back by its users.

Figures draw from it, and a model checked against a built database is projected onto it, so
reading checks the shapes every user relies on.
"""

from __future__ import annotations

import json
import os

import numpy as np

from filterdb.stats.pca import PcaBasis


def basis_json(basis: PcaBasis, n_nonfinite_filters: int, coef_min: float, coef_max: float) -> str:
    """The file's text: the basis, the filters it left out, and the coefficients' global range."""
    document = {
        "n_filters": int(basis.n_filters),
        "n_nonfinite_filters": int(n_nonfinite_filters),
        "mean": basis.mean.tolist(),
        "components": basis.components.tolist(),
        "explained_variance": basis.explained_variance.tolist(),
        "explained_variance_ratio": basis.explained_variance_ratio.tolist(),
        "covariance": basis.covariance.tolist(),
        "coef_min": coef_min,
        "coef_max": coef_max,
    }
    return json.dumps(document, indent=2) + "\n"


def read_basis(path: str | os.PathLike[str]) -> PcaBasis:
    """The basis stored at ``path``; raises ``ValueError`` naming the file if a shape is wrong."""
    with open(path, encoding="utf-8") as fh:
        raw = json.load(fh)
    basis = PcaBasis(
        n_filters=int(raw["n_filters"]),
        mean=np.asarray(raw["mean"], dtype=float),
        components=np.asarray(raw["components"], dtype=float),
        explained_variance=np.asarray(raw["explained_variance"], dtype=float),
        explained_variance_ratio=np.asarray(raw["explained_variance_ratio"], dtype=float),
        covariance=np.asarray(raw["covariance"], dtype=float),
    )
    expected = {
        "mean": (9,),
        "components": (9, 9),
        "explained_variance": (9,),
        "explained_variance_ratio": (9,),
        "covariance": (9, 9),
    }
    for name, shape in expected.items():
        if getattr(basis, name).shape != shape:
            raise ValueError(f"{path}: {name} has shape {getattr(basis, name).shape}, not {shape}")
    return basis
