# Helpers and validation shared by every stage. The logic lives in the filterdb package, which
# sits beside this workflow; putting it on sys.path here means nothing has to be pip-installed.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.io import report as report_file
from snakemake.utils import validate

sys.path.insert(0, workflow.basedir)

from filterdb.db.schema import FILTERS_DIR, LAYERS_FILE, MODELS_FILE
from filterdb.extract.memory import declared_mb, extraction_mem_mb
from filterdb.figures.catalogue import COMBINED_SHIFT_AXES, FIGURES, figure_files
from filterdb.stats.files import (
    STATS_FILES,
    all_stats_files,
    shift_file,
    shift_groups_file,
)
from filterdb.stats.grouping import axis_slugs
from filterdb.stats.resources import statistics_mem_mb
from filterdb.zoo.ids import MODEL_ID_PATTERN
from filterdb.zoo.manifest import load_manifest
from filterdb.zoo.sources import checkpoint_name

# Every setting's default and bounds are in the schema; validation fills the defaults in.
validate(config, "../filterdb/schemas/config.schema.yaml", set_default=True)

DB_SOURCE = config["database"]["source"]
DB_DIR = "results/db"
STATS_DIR = "results/stats"
FIGURES_DIR = "results/figures"
FILTER_FILE = f"{DB_DIR}/{FILTERS_DIR}/{{model}}.parquet"
SHIFT_AXES = axis_slugs(config["statistics"]["extra_axes"])
FIGURE_FORMATS = config["figures"]["formats"]

# One plain dict per model: params and input functions run once per job, and a pandas lookup
# each time would cost seconds of DAG building for a paper-scale zoo.
if DB_SOURCE == "zoo":
    MANIFEST = {
        row["model"]: row
        for row in load_manifest(config["zoo"]).to_dict(orient="records")
    }
else:
    MANIFEST = {}
MODELS = list(MANIFEST)


wildcard_constraints:
    model=MODEL_ID_PATTERN,


def manifest_row(wildcards):
    """The manifest row of the job's model, as a plain dict of strings."""
    return MANIFEST[wildcards.model]


def checkpoint_file_name(wildcards):
    """File name of a model's materialised checkpoint inside resources/models/<model>/."""
    return checkpoint_name(wildcards.model, manifest_row(wildcards)["source"])


def input_mb(wildcards, input):
    """Size in MB of a job's inputs, directories included, to scale memory with the work."""
    total = 0
    for item in input:
        path = Path(item)
        files = path.rglob("*") if path.is_dir() else [path]
        total += sum(f.stat().st_size for f in files if f.is_file())
    return total / 1e6


def extraction_job_mb(wildcards, input):
    """The extraction job's mem_mb: follows the sizes its checkpoint declares (capped)."""
    return extraction_mem_mb(
        declared_mb(input.checkpoint), config["extraction"]["max_mem_mb"]
    )


def all_cores():
    """The run's --cores, for rules that use every core; 1 where none is set (--report, --lint)."""
    try:
        return workflow.cores
    except WorkflowError:
        return 1


def db_file(name):
    """A table of the database: layers.parquet or models.parquet."""
    return f"{DB_DIR}/{name}"


def filter_files():
    """The per-model filter files of the database, or the import's directory."""
    if DB_SOURCE == "zoo":
        return expand(FILTER_FILE, model=MODELS)
    return [f"{DB_DIR}/{FILTERS_DIR}"]


def stats_file(name):
    """A file of results/stats/ by its output name in the statistics rule."""
    return f"{STATS_DIR}/{STATS_FILES[name]}"


def statistics_job_mb(wildcards, input, threads):
    """The statistics job's mem_mb, from the memory model in filterdb.stats.resources."""
    rows = config["statistics"]["partition_rows"]
    return statistics_mem_mb(threads, rows, input_mb(wildcards, input))


def figure_outputs(*names):
    """Named outputs of a figure rule: each figure in every format and its CSV, for the report.

    The first format and the CSV are report entries under the figure's caption.
    """
    outputs = {}
    for name in names:
        entry = FIGURES[name]
        path = f"{FIGURES_DIR}/{name}"
        where = dict(
            caption=f"report/{entry.caption}.rst",
            category=entry.category,
            subcategory=entry.subcategory,
        )
        outputs[entry.key] = [
            report_file(f"{path}.{FIGURE_FORMATS[0]}", **where),
            *[f"{path}.{fmt}" for fmt in FIGURE_FORMATS[1:]],
        ]
        outputs[f"{entry.key}_table"] = report_file(f"{path}.csv", **where)
    return outputs


def all_outputs():
    """Everything `snakemake` builds by default: database, statistics, figures."""
    outputs = [db_file(MODELS_FILE), db_file(LAYERS_FILE)]
    if DB_SOURCE == "zoo":
        outputs.append("results/failures.tsv")
    outputs += [f"{STATS_DIR}/{name}" for name in all_stats_files(SHIFT_AXES)]
    outputs += figure_files(FIGURES_DIR, SHIFT_AXES, FIGURE_FORMATS)
    if config["export"]["enabled"]:
        outputs.append(config["export"]["path"])
    return outputs
