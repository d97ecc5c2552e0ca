"""The rules' conda environments, read, reasoned about and rebuilt as isolated virtualenvs.

Conda channels are unreachable where this project is built, so an ``envs/*.yaml`` cannot be
created with conda here. This module gives the tests the next best thing:

* what each env pins, as PyPI requirements (``CONDA_TO_PYPI`` is the one place where the two
  package indexes' names are mapped);
* which rule runs which script in which env, read from ``rules/*.smk``;
* the import graph of a rule's script: every import statement of the script and of the
  ``filterdb`` modules it reaches, function-level imports included, so a package that only one
  branch imports (``dask_jobqueue`` for SLURM) still counts;
* the env as a virtualenv with no system site-packages, holding exactly that env's packages at
  its pins and their dependencies at the lock's versions, every file hash-checked;
* the jobs of a real Snakemake run (kept with ``--skip-script-cleanup``) as plain JSON specs, for
  ``rule_env_driver.py`` to run in such an env without Snakemake.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import pickle
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from filterdb.bootstrap import LOCKS, ROOT

REPO = ROOT
DRIVER = Path(__file__).resolve().with_name("rule_env_driver.py")

# conda-forge names a few packages differently from PyPI; every other name is the same on both.
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "pytables": "tables",
    "pyyaml": "PyYAML",
    "python-flatbuffers": "flatbuffers",
}
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)=([0-9][A-Za-z0-9.+_\-]*)$")

# Packages an env may pin although no import statement of its rules names them: the module whose
# presence in the import graph needs each one, and why.
IMPLIED = {
    "dask": ("distributed", "distributed is built on it and needs its own release's version"),
    "torchvision": ("timm", "timm imports it; pinned beside torch so that the two builds match"),
    "tables": ("pandas", "pandas reads and writes HDF5 tables through it"),
    "pip": ("filterdb.acquire.pypi", "it runs `python -m pip download` for pypi: sources"),
    "flatbuffers": ("tflite", "the tflite schema bindings import its runtime"),
}


def normalise(name: str) -> str:
    """A distribution name in PEP 503 form, so ``PyYAML`` and ``pyyaml`` compare equal."""
    return re.sub(r"[-_.]+", "-", name).lower()


def env_pins(env_file: Path) -> dict[str, str]:
    """``{normalised PyPI name: version}`` of an env file's packages; Python itself left out.

    Raises ValueError on a line that is not ``name=version``.
    """
    pins = {}
    for dep in yaml.safe_load(env_file.read_text())["dependencies"]:
        match = PIN.match(dep)
        if not match:
            raise ValueError(f"{env_file.name}: {dep!r} is not pinned as name=version")
        name, version = match.groups()
        if name != "python":
            pins[normalise(CONDA_TO_PYPI.get(name, name))] = version
    return pins


def python_pin(env_file: Path) -> str:
    """The env's ``python=`` pin (a series such as ``3.11``)."""
    for dep in yaml.safe_load(env_file.read_text())["dependencies"]:
        if dep.startswith("python="):
            return dep.split("=", 1)[1]
    raise ValueError(f"{env_file.name} pins no python")


@dataclass(frozen=True)
class RuleScript:
    """One rule of ``rules/*.smk``: its name, its conda env file and its script."""

    rule: str
    env: Path
    script: Path


def rule_scripts(repo: Path = REPO) -> list[RuleScript]:
    """Every rule that runs a script, with the env it runs in."""
    found = []
    for smk in sorted((repo / "rules").glob("*.smk")):
        text = smk.read_text()
        heads = list(re.finditer(r"^\s*(?:rule|checkpoint) (\w+):", text, re.M))
        ends = [h.start() for h in heads[1:]] + [len(text)]
        for head, end in zip(heads, ends[: len(heads)], strict=True):
            block = text[head.end() : end]
            conda = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
            script = re.search(r'script:\s*\n\s*"([^"]+)"', block)
            if conda and script:
                found.append(
                    RuleScript(
                        head.group(1),
                        (smk.parent / conda.group(1)).resolve(),
                        (smk.parent / script.group(1)).resolve(),
                    )
                )
    return found


def _module_file(module: str, repo: Path) -> Path | None:
    base = repo.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def import_graph(script: Path, repo: Path = REPO) -> dict[str, str]:
    """``{top-level package: the file that imports it}`` for every non-stdlib import.

    Follows ``filterdb`` imports (and the packages above each module, which Python imports
    first) through the checkout at ``repo``; the keys then hold ``filterdb.*`` module names too,
    so ``IMPLIED`` can name a module as a package's reason.
    """
    found: dict[str, str] = {}
    queue: list[tuple[str, Path]] = [("__main__", script)]
    seen: set[Path] = set()

    def reach(module: str, importer: Path) -> None:
        parts = module.split(".")
        if parts[0] != "filterdb":
            if parts[0] not in sys.stdlib_module_names and parts[0] != "__future__":
                found.setdefault(parts[0], str(importer.relative_to(repo)))
            return
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            path = _module_file(name, repo)
            if path is not None:
                found.setdefault(name, str(importer.relative_to(repo)))
                queue.append((name, path))

    while queue:
        module, path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    reach(alias.name, path)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = _package_of(module, path).split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                reach(base, path)
                for alias in node.names:  # `from pkg import submodule`
                    if base.startswith("filterdb") and _module_file(f"{base}.{alias.name}", repo):
                        reach(f"{base}.{alias.name}", path)
    return found


@functools.cache
def _providers() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distribution_of(top_level: str) -> str:
    """The installed distribution (normalised) that provides the import name ``top_level``."""
    dists = _providers().get(top_level, [])
    names = sorted({normalise(d) for d in dists})
    if len(names) > 1:  # several dists write into one namespace: take the one it is named for
        names = [n for n in names if n == normalise(top_level)] or names
    if len(names) != 1:
        raise LookupError(f"no single installed distribution provides {top_level!r}: {names}")
    return names[0]


def env_problems(env_file: Path, rules: list[RuleScript], repo: Path = REPO) -> list[str]:
    """What is wrong with ``env_file`` for the rules that run in it; empty if nothing.

    A package a script imports (directly or through filterdb) that the env lacks, and a package
    the env pins that no script of its rules imports and ``IMPLIED`` does not explain.
    """
    pins = env_pins(env_file)
    problems, used = [], set()
    for rule in rules:
        graph = import_graph(rule.script, repo)
        for top, importer in sorted(graph.items()):
            if top.startswith("filterdb"):
                continue
            dist = distribution_of(top)
            used.add(dist)
            if dist not in pins:
                problems.append(
                    f"rule {rule.rule}: {importer} imports {top!r} (distribution {dist}), "
                    f"which {env_file.name} lacks"
                )
        for dist, (needed_by, _why) in IMPLIED.items():
            if needed_by in graph:
                used.add(normalise(dist))
    problems += [
        f"{env_file.name} pins {dist}, which none of its rules "
        f"({', '.join(r.rule for r in rules)}) imports or needs"
        for dist in sorted(set(pins) - used)
    ]
    return problems


def build_env(env_file: Path, prefix: Path, lock: Path = LOCKS[""]) -> Path:
    """``env_file`` as a virtualenv at ``prefix`` with no system site-packages; its python.

    It holds the env's packages at their pins and what they depend on at ``lock``'s versions,
    every file checked against the lock's hashes (pip takes the hashes from the constraints).
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(prefix)], check=True)
    python = prefix / "bin" / "python"
    requirements = [f"{name}=={version}" for name, version in env_pins(env_file).items()]
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
        + ["--disable-pip-version-check", "--require-hashes", "-c", str(lock), *requirements],
        check=True,
    )
    return python


def _named(values: Any) -> dict[str, Any]:
    return {"items": list(values), "names": {k: list(v) for k, v in values._names.items()}}


def kept_jobs(workdir: Path) -> list[dict[str, Any]]:
    """The jobs of the Snakemake runs in ``workdir`` whose wrapper scripts were kept, as specs.

    Each spec holds what the script's ``snakemake`` object holds (input, output, params, ...),
    read from the pickle in the wrapper's preamble. These are this test run's own wrappers,
    unpickled by the Snakemake that wrote them; ``json`` then fails loudly on anything a plain
    spec cannot carry.
    """
    specs = []
    for wrapper in sorted((workdir / ".snakemake" / "scripts").glob("*.py")):
        preamble = wrapper.read_text().split("\n")[1]
        values = {}
        for node in ast.parse(preamble).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                call = node.value
                if isinstance(call, ast.Call) and call.args:
                    values[node.targets[0].id] = ast.literal_eval(call.args[0])
                elif isinstance(call, ast.Constant):
                    values[node.targets[0].id] = call.value
        smk = pickle.loads(values["snakemake"])
        spec = {
            "rule": smk.rule,
            "script": values["__file__"],
            "scriptdir": smk.scriptdir,
            "threads": smk.threads,
            "config": smk.config,
            **{
                key: _named(getattr(smk, key))
                for key in ("input", "output", "params", "wildcards", "resources", "log")
            },
        }
        specs.append(json.loads(json.dumps(spec)))
    return specs
