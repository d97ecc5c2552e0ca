"""filterdb: rebuild the CNN Filter DB and its analyses.

The package holds all logic; the Snakemake rules and ``workflow_scripts/`` only wire files to it,
so every piece can be tested without running a workflow.
"""
