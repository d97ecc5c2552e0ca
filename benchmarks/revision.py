"""The ``filterdb`` package as an older git revision had it, for old-vs-new benchmark runs.

A benchmark prints the old and the new implementation side by side, measured in the same run on
the same data; the old one is exported from git into a scratch directory and imported from there
by a child process, so the two never share a module.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def export_package(ref: str, into: Path) -> Path:
    """Extract the ``filterdb`` package as it is at git ``ref`` into ``into``; return ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref, "filterdb"], check=True, stdout=subprocess.PIPE
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into
