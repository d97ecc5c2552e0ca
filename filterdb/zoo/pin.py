"""Write a zoo's lock after a run: the checkpoints in ``resources/models/`` pinned by sha256.

``python -m filterdb.zoo.pin config/zoo_online.tsv`` writes ``config/zoo_online.lock.tsv``
(the file format and how runs use it: ``filterdb.zoo.lock``). It hashes the files the download
rule left, so what is pinned is exactly what the database was built from.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from filterdb.acquire.checksum import sha256_file
from filterdb.atomic import create_text_atomic
from filterdb.failures import failure_note
from filterdb.zoo.columns import HF_REVISION
from filterdb.zoo.ids import validate_model_id
from filterdb.zoo.lock import LOCK_COLUMNS, LockError, lock_path
from filterdb.zoo.manifest import load_manifest
from filterdb.zoo.sources import checkpoint_names, parse_source

MODELS_DIR = Path("resources/models")


def lock_entries(
    manifest: pd.DataFrame, models_dir: str | os.PathLike[str]
) -> tuple[list[dict[str, str]], list[str]]:
    """The lock rows of every materialised checkpoint, and the models that have none.

    A model has none when its download failed (a failure note) or never ran.
    """
    entries, missing = [], []
    for row in manifest.to_dict(orient="records"):
        model, source = validate_model_id(row["model"]), row["source"]
        paths = [Path(models_dir) / model / name for name in checkpoint_names(model, source)]
        if failure_note(paths[0].parent) or not all(path.is_file() for path in paths):
            missing.append(model)
            continue
        revision, parsed = row[HF_REVISION], parse_source(source)
        if not revision and parsed.kind == "timm":
            from filterdb.acquire.timm import cached_revision  # torch and timm: only when needed

            revision = cached_revision(parsed.value)
        entries.append(
            {
                "model": model,
                "source": source,
                "sha256": "+".join(map(sha256_file, paths)),
                HF_REVISION: revision,
            }
        )
    return entries, missing


def write_lock(
    zoo: str | os.PathLike[str],
    models_dir: str | os.PathLike[str] = MODELS_DIR,
    *,
    allow_missing: bool = False,
) -> tuple[Path, list[str]]:
    """Write ``<zoo>.lock.tsv`` from the checkpoints in ``models_dir``; never overwrite one.

    Returns the lock's path and the models left out. Without ``allow_missing`` a model without a
    checkpoint is an error listing them all, so a lock pins the whole zoo unless asked otherwise.
    """
    target = lock_path(zoo)
    if target.exists():
        raise LockError(
            f"zoo lock {target} exists and is never overwritten; delete it first to pin again"
        )
    manifest = load_manifest(zoo, use_lock=False)
    entries, missing = lock_entries(manifest, models_dir)
    if missing and not allow_missing:
        raise LockError(
            f"{len(missing)} model(s) of {zoo} have no checkpoint in {models_dir} (run the "
            f"workflow first, or pass --allow-missing to lock the others): {missing}"
        )
    frame = pd.DataFrame(entries, columns=list(LOCK_COLUMNS))
    text = frame.to_csv(sep="\t", index=False, quoting=csv.QUOTE_NONE, lineterminator="\n")
    try:
        create_text_atomic(target, text)
    except FileExistsError as exc:
        raise LockError(f"zoo lock {target} appeared while writing; left it as it is") from exc
    return target, missing


def main(argv: Sequence[str] | None = None, prog: str = "python -m filterdb.zoo.pin") -> int:
    """``python -m filterdb.zoo.pin ZOO``: pin ZOO's checkpoints after a run."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write <zoo>.lock.tsv: the sha256 of every model's checkpoint in "
        "resources/models/ (and the Hugging Face commit of timm: rows). Later runs verify "
        "against it. An existing lock is never overwritten.",
    )
    parser.add_argument("zoo", type=Path, help="the zoo manifest, e.g. config/zoo_online.tsv")
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    parser.add_argument(
        "--allow-missing", action="store_true", help="lock the models that have a checkpoint"
    )
    args = parser.parse_args(argv)
    try:
        target, missing = write_lock(args.zoo, args.models_dir, allow_missing=args.allow_missing)
    except (LockError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {target}" + (f"; not locked (no checkpoint): {missing}" if missing else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
