"""Variance entropy of random-normal filter sets: the curve behind the threshold TH(n).

Figure 7 of the paper plots the entropy random filters reach against the set size n together
with the fitted TH(n). Each size draws from its own generator seeded by (seed, n), so the curve
does not depend on which worker computes which size or in what order.
"""

from __future__ import annotations

import numpy as np

from filterdb.stats.blas import single_blas_thread
from filterdb.stats.degeneration import variance_entropy
from filterdb.stats.moments import streamed_moments


def random_entropy(n: int, repeats: int, seed: int) -> tuple[float, float]:
    """Mean and standard deviation (ddof=0) of the variance entropy of ``repeats`` random
    sets of ``n`` standard-normal 3x3 filters."""
    rng = np.random.default_rng([seed, n])
    with single_blas_thread():
        entropies = [
            variance_entropy(
                streamed_moments(
                    n, lambda columns: rng.standard_normal((9, columns.stop - columns.start))
                )
            )
            for _ in range(repeats)
        ]
    return float(np.mean(entropies)), float(np.std(entropies))
