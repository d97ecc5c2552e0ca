"""The workflow configuration's defaults and bounds, read from its JSON schema and nowhere else.

``schemas/config.schema.yaml`` is the single definition of every setting. The workflow fills and
checks its config with Snakemake's ``validate(..., set_default=True)``; library entry points that
take a config section (statistics options, download settings, the Dask cluster) fill and check it
here against the same schema, so a notebook or the command line gets the workflow's defaults and
the same clear error for a value out of bounds or a misspelt key.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
CONFIG_SCHEMA = SCHEMA_DIR / "config.schema.yaml"
ZOO_SCHEMA = SCHEMA_DIR / "zoo.schema.yaml"


@functools.cache
def _schema() -> dict[str, Any]:
    return yaml.safe_load(CONFIG_SCHEMA.read_text())


def _with_defaults(validator_class: type[jsonschema.Validator]) -> type[jsonschema.Validator]:
    """A validator that fills each missing property's ``default`` before checking it.

    The same extension Snakemake's ``validate(set_default=True)`` uses, so both fill alike.
    """
    check_properties = validator_class.VALIDATORS["properties"]

    def fill_then_check(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": fill_then_check})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def section(name: str, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Config section ``name`` with ``values`` over the schema's defaults, checked.

    Raises ``ValueError`` naming the section, each offending key and what is wrong with it.
    """
    schema = _schema()["properties"][name]
    filled = copy.deepcopy(dict(values or {}))
    errors = sorted(_Validator(schema).iter_errors(filled), key=lambda e: list(e.path))
    if errors:
        listing = "; ".join(f"{'.'.join([name, *map(str, e.path)])}: {e.message}" for e in errors)
        raise ValueError(f"invalid configuration: {listing}")
    return filled
