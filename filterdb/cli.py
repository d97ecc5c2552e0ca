"""The ``filterdb`` command: check a checkpoint, describe a database, generate and pin zoos.

Every command that reads user input turns a bad file into one line on stderr naming the file and
the cause, and exit code 2 (click's own code for bad usage), never a traceback. Heavy imports
(torch, the readers) happen inside the commands, so ``filterdb --help`` answers at once.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from filterdb.extract.formats import FORMATS

FORMAT_CHOICES = ("auto", *FORMATS)
#: Exit code of every error caused by the input (a file, a directory, an option).
INPUT_ERROR = 2


def fail(message: object) -> NoReturn:
    """Print ``message`` as one line on stderr and exit with ``INPUT_ERROR``."""
    click.echo(f"filterdb: error: {' '.join(str(message).split())}", err=True)
    sys.exit(INPUT_ERROR)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="filterdb")
def main() -> None:
    """Rebuild, query and use the CNN Filter DB (Gavrikov & Keuper, CVPR 2022)."""


@main.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMAT_CHOICES),
    default="auto",
    show_default=True,
    help="checkpoint format; auto: by the file's suffix",
)
@click.option("--db", type=click.Path(path_type=Path), help="a built database (results/db)")
@click.option(
    "--stats",
    type=click.Path(path_type=Path),
    help="its statistics (default: 'stats' beside --db)",
)
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
@click.option("--plot", type=click.Path(path_type=Path), help="draw the result to this file")
@click.option(
    "--max-mem-mb",
    type=click.IntRange(min=1001),
    help="largest checkpoint and layer decoded, as for an extraction job "
    "(default: extraction.max_mem_mb)",
)
@click.option(
    "--groups",
    "per_axis",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="closest groups shown per axis (0: all)",
)
def check(
    checkpoint: Path,
    file_format: str,
    db: Path | None,
    stats: Path | None,
    as_json: bool,
    plot: Path | None,
    max_mem_mb: int | None,
    per_axis: int,
) -> None:
    """Measure the 3x3 filters of CHECKPOINT: degeneration per layer, and how its filters
    compare with a built database's Task and Visual Category groups."""
    from filterdb.check.plot import save_check_plot
    from filterdb.check.reference import ReferenceInputError
    from filterdb.check.run import check_file
    from filterdb.check.text import render
    from filterdb.errors import ModelError
    from filterdb.extract.memory import MemoryLimit

    try:
        result = check_file(
            checkpoint,
            None if file_format == "auto" else file_format,
            db,
            stats,
            MemoryLimit.for_job(max_mem_mb),
        )
        if plot is not None:
            save_check_plot(result, plot)
    except (ModelError, ReferenceInputError) as exc:
        fail(exc)
    except OSError as exc:
        fail(f"{exc.filename or checkpoint}: {exc.strerror or exc}")
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(render(result, per_axis), nl=False)


@main.command()
@click.option(
    "--db",
    type=click.Path(path_type=Path),
    default=Path("results/db"),
    show_default=True,
    help="a built database",
)
@click.option("--json", "as_json", is_flag=True, help="print the counts as JSON")
def info(db: Path, as_json: bool) -> None:
    """Count the models, layers and filters of a database, per Task and Visual Category."""
    from filterdb.db.access import DatabaseError, open_db
    from filterdb.db.info import INFO_COLUMNS, group_counts, per_model_counts

    try:
        database = open_db(db)
        counted = per_model_counts(database.models, database.layers)
    except (DatabaseError, OSError, ValueError) as exc:
        fail(exc)
    totals = {
        "models": len(counted),
        "layers": int(counted["n_layers"].sum()),
        "filters": int(counted["n_filters"].sum()),
    }
    tables = {column: group_counts(counted, column) for column in INFO_COLUMNS}
    if as_json:
        document = {**totals, **{c: t.to_dict(orient="records") for c, t in tables.items()}}
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(
        f"{db}: {totals['models']:,} models, {totals['layers']:,} layers, "
        f"{totals['filters']:,} 3x3 filters"
    )
    for table in tables.values():
        click.echo("\n" + table.to_string(index=False, formatters={"filters": "{:,}".format}))


_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


@main.group()
def zoo() -> None:
    """Generate and pin zoo manifests."""


@zoo.command("timm", context_settings=_PASS_THROUGH, add_help_option=False)
@click.pass_context
def zoo_timm(ctx: click.Context) -> None:
    """Write the paper-scale zoo of timm's pretrained models (python -m filterdb.zoo.timm_zoo)."""
    from filterdb.zoo import timm_zoo

    sys.exit(timm_zoo.main(ctx.args, prog="filterdb zoo timm"))


@zoo.command("pin", context_settings=_PASS_THROUGH, add_help_option=False)
@click.pass_context
def zoo_pin(ctx: click.Context) -> None:
    """Pin a zoo's checkpoints after a run (python -m filterdb.zoo.pin)."""
    from filterdb.zoo import pin

    sys.exit(pin.main(ctx.args, prog="filterdb zoo pin"))
