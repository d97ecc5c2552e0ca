"""Conda package names of envs/*.yaml and the PyPI distributions they correspond to.

conda-forge names a few packages differently from PyPI; the env-pin test and the env generator
both use this one table.
"""

CONDA_TO_PYPI = {"pytorch": "torch", "pytables": "tables", "pyyaml": "PyYAML"}
