# Helpers and validation shared by every stage. The logic lives in the filterdb package, which
# sits beside this workflow; putting it on sys.path here means nothing has to be pip-installed.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)

from filterdb.ids import MODEL_ID_PATTERN
from filterdb.manifest import load_manifest
from filterdb.sources import parse_source

validate(config, "../config/schemas/config.schema.yaml")

DB_SOURCE = config["database"]["source"]
DB_DIR = "results/db"
STATS_DIR = "results/stats"
FIGURES_DIR = "results/figures"

if DB_SOURCE == "zoo":
    MANIFEST = load_manifest(
        config["zoo"], Path(workflow.basedir) / "config/schemas/zoo.schema.yaml"
    ).set_index("model", drop=False)
    MODELS = list(MANIFEST.index)
else:
    MANIFEST = None
    MODELS = []


wildcard_constraints:
    model=MODEL_ID_PATTERN,


def manifest_row(wildcards):
    """The manifest row of the job's model, as a plain dict of strings."""
    return MANIFEST.loc[wildcards.model].to_dict()


def checkpoint_name(wildcards):
    """File name of a model's materialised checkpoint inside resources/models/<model>/."""
    return (
        wildcards.model + parse_source(MANIFEST.loc[wildcards.model, "source"]).suffix
    )


def input_mb(wildcards, input):
    """Size in MB of a job's inputs, directories included, to scale memory with the work."""
    total = 0
    for item in input:
        path = Path(item)
        files = path.rglob("*") if path.is_dir() else [path]
        total += sum(f.stat().st_size for f in files if f.is_file())
    return total / 1e6


def all_cores():
    """The run's --cores, for rules that use every core; 1 where none is set (--report, --lint)."""
    try:
        return workflow.cores
    except WorkflowError:
        return 1


def filter_files():
    """The per-model filter files of the database, or the import's directory."""
    if DB_SOURCE == "zoo":
        return expand(f"{DB_DIR}/filters/{{model}}.parquet", model=MODELS)
    return [f"{DB_DIR}/filters"]


def statistics_mem_mb(wildcards, input, threads):
    """Client plus one partition per worker (~120 bytes per filter while it is processed).

    The client's per-layer partial results grow with the database, hence the input-size term.
    """
    rows = config["statistics"].get("partition_rows", 4194304)
    workers = threads * (400 + rows * 120 / 1e6)
    return int(1024 + workers + 0.01 * input_mb(wildcards, input))


def all_outputs():
    """Everything `snakemake` builds by default: database, statistics, figures."""
    outputs = [f"{DB_DIR}/models.parquet", f"{DB_DIR}/layers.parquet"]
    if DB_SOURCE == "zoo":
        outputs.append("results/failures.tsv")
    outputs += STATS_OUTPUTS + FIGURE_OUTPUTS
    if config["export"]["enabled"]:
        outputs.append(config["export"]["path"])
    return outputs
