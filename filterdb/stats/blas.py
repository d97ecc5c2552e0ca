"""One BLAS thread inside every computation whose float result must not depend on the machine.

A multi-threaded matrix product splits its sums differently with the thread count, which would
change the last bits of moments and projections between workers. Discovering the loaded BLAS
libraries costs about 3 ms, so it happens once per process, not once per task.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager

from threadpoolctl import ThreadpoolController


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def single_blas_thread() -> AbstractContextManager:
    """Context in which BLAS/OpenMP libraries use one thread."""
    return _controller().limit(limits=1)
