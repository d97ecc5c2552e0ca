"""Pin a zoo after its first online run: ``<zoo>.lock.tsv`` holds every model's checkpoint sha256.

A ``timm:`` row cannot carry a sha256 written by hand: nobody knows the digest before the weights
are fetched, and the online zoo is generated where no hub is reachable. So the first run fetches
unpinned, and ``python -m filterdb.zoo.pin <zoo>`` then records what it fetched: the sha256 of
each materialised checkpoint in ``resources/models/`` and, for ``timm:`` rows, the Hugging Face
commit the weights came from. From then on ``load_manifest`` reads the lock whenever it sits
beside the zoo (``config/zoo_online.tsv`` → ``config/zoo_online.lock.tsv``): each row gets its
pinned sha256, verified exactly as a ``url:`` row's is, and each ``timm:`` row its commit.

A lock is evidence, so it is never overwritten: writing refuses when one exists, and reading
refuses a lock that disagrees with its zoo (another source, another pinned digest, a model the
zoo no longer has) rather than guessing which of the two is right.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pandas as pd

from filterdb.zoo.columns import HF_REVISION
from filterdb.zoo.ids import validate_model_id
from filterdb.zoo.sources import parse_source, validate_sha256

LOCK_COLUMNS = ("model", "source", "sha256", HF_REVISION)
LOCK_SUFFIX = ".lock.tsv"
_REVISION_CHARS = frozenset("0123456789abcdef")


class LockError(ValueError):
    """The lock file is malformed, disagrees with its zoo, or would be overwritten."""


def lock_path(zoo: str | os.PathLike[str]) -> Path:
    """The lock file of a zoo manifest: ``zoo_online.tsv`` → ``zoo_online.lock.tsv``."""
    zoo = Path(zoo)
    return zoo.with_name(zoo.stem + LOCK_SUFFIX)


def read_lock(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The lock's rows, as strings, checked: its columns, ids, sources, digests and commits."""
    path = Path(path)
    try:
        frame = pd.read_csv(
            path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE
        )
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise LockError(f"zoo lock {path}: cannot be read as a TSV: {exc}") from exc
    if tuple(frame.columns) != LOCK_COLUMNS:
        raise LockError(
            f"zoo lock {path}: columns are {list(frame.columns)}, expected {list(LOCK_COLUMNS)}"
        )
    problems = []
    for line, row in enumerate(frame.to_dict(orient="records"), start=2):
        try:
            validate_model_id(row["model"])
            if not validate_sha256(row["sha256"], parse_source(row["source"])):
                raise ValueError("sha256 is empty")
            revision = row[HF_REVISION]
            if revision and (len(revision) != 40 or not set(revision) <= _REVISION_CHARS):
                raise ValueError(f"{HF_REVISION} {revision!r} is not a 40-digit commit hash")
        except ValueError as exc:
            problems.append(f"line {line} (model {row['model']!r}): {exc}")
    repeated = sorted(set(frame["model"][frame["model"].duplicated()]))
    if repeated:
        problems.append(f"models listed more than once: {repeated}")
    if problems:
        raise LockError(
            f"zoo lock {path} has {len(problems)} problem(s):\n  " + "\n  ".join(problems)
        )
    frame["sha256"] = frame["sha256"].str.lower()  # as the manifest's, and as sha256_file writes
    return frame


def apply_lock(
    manifest: pd.DataFrame, lock: pd.DataFrame, path: str | os.PathLike[str]
) -> pd.DataFrame:
    """``manifest`` with each locked model's sha256 and ``hf_revision`` filled in from ``lock``.

    Models the lock does not list stay as the manifest has them (unpinned, if it pins nothing),
    so a zoo can grow after it was locked. Everything that contradicts is refused, all at once.
    """
    rows = {row["model"]: row for row in manifest.to_dict(orient="records")}
    problems = []
    for entry in lock.to_dict(orient="records"):
        model = entry["model"]
        if model not in rows:
            problems.append(f"model {model!r} is locked but not in the zoo")
            continue
        row = rows[model]
        if row["source"] != entry["source"]:
            problems.append(
                f"model {model!r}: the lock pins source {entry['source']!r}, the zoo says "
                f"{row['source']!r}"
            )
        for column in ("sha256", HF_REVISION):
            if row[column] and row[column] != entry[column]:
                problems.append(
                    f"model {model!r}: the zoo's {column} {row[column]} differs from the lock's "
                    f"{entry[column] or '(none)'}"
                )
    if problems:
        raise LockError(
            f"zoo lock {path} contradicts its zoo; fix the zoo or delete the lock and pin again:"
            "\n  " + "\n  ".join(problems)
        )
    locked = lock.set_index("model")
    result = manifest.copy()
    for column in ("sha256", HF_REVISION):
        pinned = result["model"].map(locked[column]).fillna("")
        result[column] = result[column].where(result[column] != "", pinned)
    return result
