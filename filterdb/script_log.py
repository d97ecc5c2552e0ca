"""Route a Snakemake script's output into its rule's log file."""

from __future__ import annotations

import os
import sys


def log_to_file(path: str | os.PathLike[str]) -> None:
    """Send stdout, stderr, progress bars and any final traceback to ``path``.

    The stream is left open on purpose: an uncaught exception's traceback is printed after
    ``main()`` returns, and it must still land in the log that Snakemake shows on failure.
    """
    stream = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    sys.stdout = sys.stderr = stream
