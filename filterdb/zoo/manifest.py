"""Read and validate the zoo manifest (a TSV, one row per model).

Every row is checked before any job starts, against ``filterdb/schemas/zoo.schema.yaml`` and for the
things a schema cannot say (sources parse, sha256 present where bytes come from the network, ids
unique). One message lists every bad row with its line and model, so a researcher fixes the
manifest in one go instead of one failed run at a time.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from filterdb.config import ZOO_SCHEMA
from filterdb.zoo.columns import MANIFEST_COLUMNS
from filterdb.zoo.ids import validate_model_id
from filterdb.zoo.sources import parse_source, validate_sha256


class ManifestError(ValueError):
    """The manifest has bad rows; the message names the file, each line and each model."""


def load_manifest(path: str | Path) -> pd.DataFrame:
    """Return the validated manifest as strings (empty string for unknown values), in file order.

    All columns are read as text so that nothing is coerced or invented: an empty cell stays "".
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ManifestError(f"zoo manifest {path}: cannot be read as a TSV: {exc}") from exc
    missing = [c for c in MANIFEST_COLUMNS if c not in frame.columns]
    if missing:
        raise ManifestError(f"zoo manifest {path}: missing columns {missing}")
    frame = frame.apply(lambda col: col.str.strip())
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
    return frame


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
    return problems
