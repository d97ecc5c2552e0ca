"""Run one Snakemake job's script in this interpreter, as Snakemake would, but without Snakemake.

``python -I rule_env_driver.py SPEC.json`` is run by the rule-env tests in a virtualenv that holds
only the rule's env packages. It gives the script the ``snakemake`` object Snakemake's preamble
would unpickle, rebuilt from the job's spec (``rule_envs.kept_jobs``), and runs the script as
``__main__``. Snakemake's preamble would also append Snakemake's own site-packages to
``sys.path``, where every package of the main environment lies; leaving it out is the point, so
this refuses to run if Snakemake is importable at all. Afterwards it writes the top-level modules
the job imported next to the spec (``SPEC.modules.json``).
"""

from __future__ import annotations

import importlib.util
import json
import runpy
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any


class Namedlist(list):
    """Snakemake's named list as a script sees it: items by index, by name, and ``items()``."""

    def __init__(self, spec: dict[str, Any]) -> None:
        super().__init__(spec["items"])
        self._names = spec["names"]
        for name, (start, end) in self._names.items():
            value = self[start] if end is None else list(self[start:end])
            setattr(self, name, value)

    def items(self):
        for name in self._names:
            yield name, getattr(self, name)


def main(spec_path: Path) -> None:
    if importlib.util.find_spec("snakemake") is not None:
        raise SystemExit(f"snakemake is importable from {sys.path}: the env is not isolated")
    spec = json.loads(spec_path.read_text())
    named = ("input", "output", "params", "wildcards", "resources", "log")
    snakemake = SimpleNamespace(
        rule=spec["rule"],
        threads=spec["threads"],
        config=spec["config"],
        scriptdir=spec["scriptdir"],
        bench_iteration=None,
        **{key: Namedlist(spec[key]) for key in named},
    )
    runpy.run_path(spec["script"], init_globals={"snakemake": snakemake}, run_name="__main__")
    modules = sorted({name.split(".")[0] for name in sys.modules})
    spec_path.with_suffix(".modules.json").write_text(json.dumps(modules))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
