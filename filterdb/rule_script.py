"""Run a Snakemake rule's script: its output into the rule's log, then its ``main``.

Every script in ``workflow_scripts/`` ends by handing its ``main`` and the ``snakemake`` object
to :func:`run`, so logging is set up the same way in every job.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import Any


def log_to_file(path: str | os.PathLike[str]) -> None:
    """Send stdout, stderr, progress bars, log records and any final traceback to ``path``.

    The stream is left open on purpose: an uncaught exception's traceback is printed after
    ``main()`` returns, and it must still land in the log that Snakemake shows on failure.
    """
    stream = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    sys.stdout = sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, format="%(levelname)s %(message)s", force=True
    )


def run(main: Callable[[Any], None], smk: Any) -> None:
    """Call ``main(smk)`` with its output in the rule's (first) log file."""
    log_to_file(smk.log[0])
    main(smk)
