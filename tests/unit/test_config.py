"""The config schema as the single definition of every setting (filterdb.config)."""

from __future__ import annotations

import pytest
import yaml

from filterdb.config import CONFIG_SCHEMA, section


def _schema() -> dict:
    return yaml.safe_load(CONFIG_SCHEMA.read_text())


def test_a_section_gets_every_default_also_nested():
    dask = section("dask")
    assert dask["cluster"] == "local"
    assert dask["slurm"]["workers"] == 4 and dask["slurm"]["startup_timeout"] == 600
    assert section("dask", {"slurm": {"workers": 2}})["slurm"]["memory"] == "4GB"


def test_given_values_win_and_are_not_mutated():
    given = {"retries": 0}
    filled = section("download", given)
    assert filled["retries"] == 0 and filled["read_timeout"] == 120
    assert given == {"retries": 0}


@pytest.mark.parametrize(
    ("name", "values", "message"),
    [
        ("statistics", {"partition_row": 10}, r"statistics: .*'partition_row' was unexpected"),
        ("statistics", {"kde_grid_points": 4}, r"statistics\.kde_grid_points: 4 is less than"),
        ("export", {"dtype": "int8"}, r"export\.dtype: 'int8' is not one of"),
        ("dask", {"slurm": {"cores": 0}}, r"dask\.slurm\.cores: 0 is less than"),
    ],
)
def test_bad_values_are_refused_naming_the_key(name, values, message):
    with pytest.raises(ValueError, match=message):
        section(name, values)


def test_every_setting_but_the_zoo_has_its_default_in_the_schema():
    def missing(properties: dict, prefix: str) -> list[str]:
        found = []
        for key, spec in properties.items():
            if spec.get("type") == "object" and "properties" in spec:
                found += missing(spec["properties"], f"{prefix}{key}.")
            elif "default" not in spec:
                found.append(prefix + key)
        return found

    assert missing(_schema()["properties"], "") == ["zoo"]


def test_the_shipped_config_restates_no_default(repo):
    """config/config.yaml names the zoo; every other value comes from the schema alone."""
    for path in ("config/config.yaml", "config/online.yaml"):
        assert set(yaml.safe_load((repo / path).read_text())) == {"zoo"}, path
