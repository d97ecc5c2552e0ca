"""The per-model error boundary: with ``skip_failed_models`` a failed model is recorded, not fatal.

With the switch on, a model that cannot be downloaded or read still yields its job's outputs, but
they say so: the download leaves a ``FAILED`` note in ``resources/models/<model>/`` and extraction
writes empty tables plus a summary holding the error. Assembly then leaves the model out of the
database and lists it in ``results/failures.tsv``. With the switch off the job fails, and
Snakemake keeps every other model's finished outputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from filterdb.atomic import write_text_atomic
from filterdb.errors import ModelError, describe

FAILED_NOTE = "FAILED"

PathLike = str | os.PathLike[str]


def per_model(
    model: str,
    where: str,
    step: Callable[[], None],
    skip_failed: bool,
    record: Callable[[str], None],
) -> bool:
    """Run one model's ``step``; if it fails, re-raise as a ``ModelError`` or ``record`` it.

    *Any* exception is the model's failure, not only a ``ModelError``: a crafted file can make a
    library raise ``MemoryError``, ``IndexError`` or ``RecursionError``, and with the switch on
    that must cost this model alone. Such an exception becomes ``model 'X' (where): Type: message``,
    the same message with the switch off or on. ``KeyboardInterrupt`` and ``SystemExit`` are not
    ``Exception``s and pass through: they stop the run, as the user asked.

    Returns whether the step succeeded. Re-raised, the traceback ending in the cause goes to the
    job's log, which Snakemake shows; recorded, the message is printed to the log as well.
    """
    try:
        step()
    except Exception as exc:  # the per-model boundary: see the docstring
        error = exc if isinstance(exc, ModelError) else ModelError(model, where, describe(exc))
        if not skip_failed:
            if error is exc:
                raise
            raise error from exc
        record(str(error))
        print(f"skip_failed_models: recorded as failed: {error}")
        return False
    return True


def write_failure_note(directory: PathLike, message: str) -> None:
    """Leave the error in place of a checkpoint; a later rerun with the switch off refetches."""
    write_text_atomic(Path(directory) / FAILED_NOTE, message + "\n")


def failure_note(directory: PathLike) -> str | None:
    """The error recorded by :func:`write_failure_note`, or None if the download worked."""
    note = Path(directory) / FAILED_NOTE
    return note.read_text().strip() if note.exists() else None
