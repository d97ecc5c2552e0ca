"""The rules' conda envs and the hash-locked install, checked statically.

Every rule's env exists, parses, is exactly pinned, agrees with what CI installs and with the
lock, holds every package its rule's scripts import (directly or through ``filterdb``) and nothing
they do not need. ``tests/workflow/test_rule_envs.py`` then runs each rule in its env alone.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import yaml
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from rule_envs import (
    CONDA_TO_PYPI,
    IMPLIED,
    env_pins,
    env_problems,
    import_graph,
    normalise,
    python_pin,
    rule_scripts,
)

from filterdb.bootstrap import LOCK_PYTHON, LOCKS

RULES = rule_scripts()
REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)(?: ; ([^\\\n]+))?")


def lock_entries(lock: Path) -> dict[str, tuple[str, frozenset[str]]]:
    """``{normalised name: (version, hashes)}`` of the entries whose markers hold here."""
    entries = {}
    for block in re.split(r"\n(?=[A-Za-z])", lock.read_text()):
        match = REQUIREMENT.match(block)
        if match and (match[3] is None or Marker(match[3].strip()).evaluate()):
            hashes = frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
            assert normalise(match[1]) not in entries, f"{lock.name}: {match[1]} twice"
            entries[normalise(match[1])] = (match[2], hashes)
    return entries


def test_every_rule_has_a_conda_env_that_exists(repo):
    rule_count = sum(
        len(re.findall(r"^\s*(?:rule|checkpoint) \w+:", smk.read_text(), re.M))
        for smk in (repo / "rules").glob("*.smk")
    )
    assert len(RULES) == rule_count, "a rule lacks a conda: or a script: directive"
    for rule in RULES:
        assert rule.env.is_file(), f"rule {rule.rule}: {rule.env} does not exist"
        assert rule.script.is_file(), f"rule {rule.rule}: {rule.script} does not exist"


def test_env_is_pinned_and_matches_installed(env_file):  # parametrized by conftest
    spec = yaml.safe_load(env_file.read_text())
    assert spec["channels"][0] == "conda-forge"
    pins = env_pins(env_file)  # raises on a package that is not name=version
    assert pins, f"{env_file.name} lists no packages"
    # Any patch release of the series the lock is built for: conda takes the newest.
    assert python_pin(env_file) == LOCK_PYTHON
    assert ".".join(map(str, sys.version_info[:2])) == LOCK_PYTHON
    locked = lock_entries(LOCKS[""])
    for name, version in pins.items():
        installed = importlib.metadata.version(name)
        assert installed == version, f"{env_file.name}: {name} pinned {version}, CI has {installed}"
        assert locked[name][0] == version, f"{env_file.name}: {name} {version}, lock {locked[name]}"


def test_env_holds_what_its_rules_import_and_nothing_else(env_file):  # parametrized by conftest
    rules = [r for r in RULES if r.env == env_file]
    assert env_problems(env_file, rules) == []


def test_a_missing_import_and_an_unused_pin_are_reported(tmp_path):
    """The check can fail: a script reaching pyarrow through filterdb, in an env with torch only."""
    (tmp_path / "filterdb").mkdir()
    (tmp_path / "filterdb" / "__init__.py").write_text("")
    (tmp_path / "filterdb" / "store.py").write_text("def f():\n    import pyarrow.parquet\n")
    script = tmp_path / "script.py"
    script.write_text("from filterdb import store\nimport json\n")
    env = tmp_path / "env.yaml"
    env.write_text("channels: [conda-forge]\ndependencies:\n  - python=3.11\n  - pytorch=2.14.1\n")
    rule = type(RULES[0])("demo", env, script)
    assert import_graph(script, tmp_path) == {
        "filterdb": "script.py",
        "filterdb.store": "script.py",
        "pyarrow": "filterdb/store.py",
    }
    assert env_problems(env, [rule], tmp_path) == [
        "rule demo: filterdb/store.py imports 'pyarrow' (distribution pyarrow), "
        "which env.yaml lacks",
        "env.yaml pins torch, which none of its rules (demo) imports or needs",
    ]


def test_names_map_and_implied_packages_are_real_distributions():
    for name in [*CONDA_TO_PYPI.values(), *IMPLIED]:
        assert importlib.metadata.version(name)


def test_locks_pin_pyproject_and_agree_with_each_other(repo):
    project = tomllib.loads((repo / "pyproject.toml").read_text())["project"]
    run, test = lock_entries(LOCKS[""]), lock_entries(LOCKS["test"])
    direct = project["dependencies"]
    extras = [d for e in project["optional-dependencies"].values() for d in e if "==" in d]
    for requirement in [*direct, *extras]:
        name, version, _ = REQUIREMENT.match(requirement).groups()
        pin = SpecifierSet(f"=={version}")  # admits a local build such as torch 2.14.1+cpu
        assert pin.contains(test[normalise(name)][0]), f"test.lock: {name} is not {version}"
        if requirement in direct:
            assert pin.contains(run[normalise(name)][0]), f"run.lock: {name} is not {version}"
    for name, entry in run.items():
        assert entry == test[name], f"{name}: run.lock and test.lock differ"
    for name, (version, hashes) in test.items():
        assert hashes, f"{name}=={version} has no hash"
        assert importlib.metadata.version(name) == version, f"{name}: installed is not the lock's"
    marker = project["requires-python"]
    assert marker == f">={LOCK_PYTHON},<3.{int(LOCK_PYTHON.split('.')[1]) + 1}"
