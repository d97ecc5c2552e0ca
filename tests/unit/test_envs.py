"""Every rule's conda env exists, parses, is exactly pinned, and agrees with what CI installs.

Conda channels are unreachable where this project is built, so the envs cannot be created here;
this static check is what keeps them honest.
"""

import importlib.metadata
import re
import sys
from pathlib import Path

import yaml

# conda-forge names a few packages differently from PyPI.
CONDA_TO_PYPI = {"pytorch": "torch", "pytables": "tables", "pyyaml": "PyYAML"}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)=([0-9][A-Za-z0-9.+_\-]*)$")


def rule_env_references(repo: Path) -> list[tuple[Path, str]]:
    refs = []
    for smk in sorted((repo / "rules").glob("*.smk")):
        refs += [(smk, m) for m in re.findall(r'conda:\s*\n\s*"([^"]+)"', smk.read_text())]
    return refs


def test_every_rule_has_a_conda_env_that_exists(repo):
    rule_count = sum(
        len(re.findall(r"^\s*(?:rule|checkpoint) \w+:", smk.read_text(), re.M))
        for smk in (repo / "rules").glob("*.smk")
    )
    refs = rule_env_references(repo)
    assert len(refs) == rule_count, "a rule lacks a conda: directive"
    for smk, ref in refs:
        assert (smk.parent / ref).resolve().is_file(), f"{smk.name}: {ref} does not exist"


def test_env_is_pinned_and_matches_installed(env_file):  # parametrized by conftest
    spec = yaml.safe_load(env_file.read_text())
    assert spec["channels"][0] == "conda-forge"
    deps = spec["dependencies"]
    assert deps, f"{env_file.name} lists no packages"
    for dep in deps:
        match = PIN.match(dep)
        assert match, f"{env_file.name}: {dep!r} is not pinned as name=version"
        name, version = match.groups()
        if name == "python":
            assert version == ".".join(map(str, sys.version_info[:3]))
            continue
        installed = importlib.metadata.version(CONDA_TO_PYPI.get(name, name))
        assert installed == version, f"{env_file.name}: {name} pinned {version}, CI has {installed}"
