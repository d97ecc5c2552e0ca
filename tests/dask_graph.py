"""A small Dask graph whose result every cluster kind must reproduce exactly."""

from __future__ import annotations

import dask.array as da
import numpy as np


def deterministic_graph() -> da.Array:
    """A small graph with cross-chunk reductions whose result depends on every task.

    No matmul: BLAS may round differently with another thread count, which would blame the
    cluster for what the maths library does.
    """
    x = da.from_array(np.random.default_rng(7).standard_normal((600, 9)), chunks=(50, 9))
    outer = (x[:, :, None] * x[:, None, :]).sum(axis=0).ravel()
    return da.concatenate([outer, x.sum(axis=0), x.std(axis=0), x.max(axis=0)])


def expected_result() -> np.ndarray:
    """The graph's value computed in this process, the reference every cluster must match."""
    return deterministic_graph().compute(scheduler="sync")
