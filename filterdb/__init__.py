"""filterdb: rebuild the CNN Filter DB and its analyses.

The package holds all logic, one sub-package per stage of the workflow's DAG: ``zoo`` (the
manifest) -> ``acquire`` (checkpoints) -> ``extract`` (filters) -> ``db`` (the database) ->
``stats`` (statistics) -> ``figures``; ``published`` reads and writes the published files. The
Snakemake rules and ``workflow_scripts/`` only wire files to it, so every piece can be tested
without running a workflow.

The researcher's entry points are ``open_db`` (the database from Python), ``check_file`` and
``check_module`` (one model measured, optionally against a database), and the ``filterdb``
command (``filterdb.cli``). They are imported on first use: ``python3 -m filterdb.bootstrap``
runs before numpy or torch are installed.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "open_db": "filterdb.db.access",
    "check_file": "filterdb.check.run",
    "check_module": "filterdb.check.run",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'filterdb' has no attribute {name!r}")
