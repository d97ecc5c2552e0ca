"""The statistics options and their schema defaults and bounds (filterdb.stats.options)."""

from __future__ import annotations

import pytest
import yaml

from filterdb.config import CONFIG_SCHEMA
from filterdb.stats.options import StatsOptions, parse_condition


def test_options_reject_unknown_keys_and_bad_values():
    assert StatsOptions.from_params({"extra_axes": ["Framework"]}).extra_axes == ("Framework",)
    with pytest.raises(ValueError, match="'binz' was unexpected"):
        StatsOptions.from_params({"binz": 3})
    with pytest.raises(ValueError, match=r"statistics\.bins: 1 is less than the minimum of 2"):
        StatsOptions.from_params({"bins": 1})
    with pytest.raises(ValueError, match="randomness_max_n must be >= randomness_min_n"):
        StatsOptions.from_params({"randomness_min_n": 8, "randomness_max_n": 4})
    sizes = StatsOptions.from_params(
        {"randomness_min_n": 2, "randomness_max_n": 1000, "randomness_points": 20}
    )
    assert sizes.randomness_sizes()[0] == 2 and sizes.randomness_sizes()[-1] == 1000


def test_defaults_are_the_schemas():
    """Nothing in Python restates a default: each option is the schema's ``default``."""
    schema = yaml.safe_load(CONFIG_SCHEMA.read_text())["properties"]["statistics"]["properties"]
    options = StatsOptions.from_params()
    for name, spec in schema.items():
        value = getattr(options, name)
        if name == "exclude":  # parsed from "column=value" strings
            value = tuple(f"{column}={label}" for column, label in value)
        assert (list(value) if isinstance(value, tuple) else value) == spec["default"], name


@pytest.mark.parametrize("text", ["Training-Dataset", "=untrained", " = x"])
def test_exclude_condition_needs_a_column_and_an_equals_sign(text):
    with pytest.raises(ValueError, match="not a column=value condition"):
        parse_condition(text)


def test_exclude_condition_splits_at_the_first_equals_sign():
    assert parse_condition(" Task = a=b ") == ("Task", "a=b")
