"""filterdb: rebuild the CNN Filter DB and its analyses.

The package holds all logic, one sub-package per stage of the workflow's DAG: ``zoo`` (the
manifest) -> ``acquire`` (checkpoints) -> ``extract`` (filters) -> ``db`` (the database) ->
``stats`` (statistics) -> ``figures``; ``published`` reads and writes the published files. The
Snakemake rules and ``workflow_scripts/`` only wire files to it, so every piece can be tested
without running a workflow.
"""
