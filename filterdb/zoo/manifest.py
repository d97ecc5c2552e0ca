"""Read and validate the zoo manifest (a TSV, one row per model).

Every row is checked before any job starts, against ``filterdb/schemas/zoo.schema.yaml`` and for the
things a schema cannot say (sources parse, sha256 present where bytes come from the network, ids
unique). One message lists every bad row with its line and model, so a researcher fixes the
manifest in one go instead of one failed run at a time.

The file is a TSV written by people, so it is read with quoting off: a ``"`` is a character like
any other. With CSV quoting, an unbalanced quote in one cell silently swallows the rows after it,
and a cell that starts with a quote loses it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from filterdb.config import ZOO_SCHEMA
from filterdb.zoo.columns import HF_REVISION, MANIFEST_COLUMNS, OPTIONAL_COLUMNS
from filterdb.zoo.ids import validate_model_id
from filterdb.zoo.lock import apply_lock, lock_path, read_lock
from filterdb.zoo.sources import parse_source, validate_sha256


class ManifestError(ValueError):
    """The manifest has bad rows; the message names the file, each line and each model."""


def load_manifest(path: str | Path, *, use_lock: bool = True) -> pd.DataFrame:
    """Return the validated manifest as strings (empty string for unknown values), in file order.

    All columns are read as text so that nothing is coerced or invented: an empty cell stays "".
    The optional columns (``OPTIONAL_COLUMNS``) are added, empty, where the file has none. With
    ``use_lock`` a lock file beside the zoo (``filterdb.zoo.lock``) fills in its pins.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
        frame = pd.read_csv(
            io.StringIO(text),
            sep="\t",
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_NONE,
        )
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ManifestError(f"zoo manifest {path}: cannot be read as a TSV: {exc}") from exc
    _check_layout(path, text, frame)
    frame = frame.apply(lambda col: col.str.strip())
    for column in OPTIONAL_COLUMNS:
        if column not in frame:
            frame[column] = ""
    schema = yaml.safe_load(ZOO_SCHEMA.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    seen: dict[str, int] = {}
    for index, row in enumerate(frame.to_dict(orient="records")):
        line = index + 2  # header is line 1
        model = row.get("model", "")
        row_problems = _row_problems(row, validator)
        if model in seen:
            row_problems.append(f"duplicate model id (first on line {seen[model]})")
        seen.setdefault(model, line)
        problems.extend(f"line {line} (model {model!r}): {p}" for p in row_problems)
    if problems:
        listing = "\n  ".join(problems)
        raise ManifestError(f"zoo manifest {path} has {len(problems)} problem(s):\n  {listing}")
    if frame.empty:
        raise ManifestError(f"zoo manifest {path} lists no models")
    frame["sha256"] = frame["sha256"].str.lower()
    lock = lock_path(path)
    if use_lock and lock.exists():
        frame = apply_lock(frame, read_lock(lock), lock)
    return frame


def _check_layout(path: Path, text: str, frame: pd.DataFrame) -> None:
    """Refuse what pandas would bend: repeated column names, rows that did not come out one each.

    pandas renames a repeated header (``source``, ``source.1``) and would read the wrong one; and
    each non-blank line after the header must be exactly one row, or something was merged.
    """
    header = [name.strip() for name in text.split("\n", 1)[0].rstrip("\r").split("\t")]
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ManifestError(f"zoo manifest {path}: repeated column(s) {repeated}")
    missing = [c for c in MANIFEST_COLUMNS if c not in header]
    if missing:
        raise ManifestError(f"zoo manifest {path}: missing columns {missing}")
    lines = sum(bool(line.strip(" \r")) for line in text.split("\n")[1:])
    if lines != len(frame):
        raise ManifestError(
            f"zoo manifest {path}: {lines} non-empty line(s) after the header, but {len(frame)} "
            "row(s) were read"
        )


def _row_problems(row: dict[str, str], validator: jsonschema.Validator) -> list[str]:
    """Everything wrong with one row, as short sentences."""
    problems = [
        f"column {'/'.join(map(str, err.path)) or '(row)'}: {err.message}"
        for err in sorted(validator.iter_errors(row), key=lambda e: list(e.path))
    ]
    try:
        validate_model_id(row.get("model", ""))
    except ValueError as exc:
        problems.append(str(exc))
    try:
        source = parse_source(row.get("source", ""))
        validate_sha256(row.get("sha256", ""), source)
    except ValueError as exc:
        problems.append(str(exc))
    else:
        if row.get(HF_REVISION) and source.kind != "timm":
            problems.append(f"{HF_REVISION} pins Hugging Face weights; only timm: rows have them")
    return problems
