"""Snakemake script of rule assemble_database: results/db/layers.parquet and models.parquet."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.db.assemble import ModelParts, assemble_database

    parts = [
        ModelParts(model, Path(layers), Path(summary), Path(filters))
        for model, layers, summary, filters in zip(
            smk.params.models, smk.input.layers, smk.input.summaries, smk.input.filters, strict=True
        )
    ]
    assemble_database(
        smk.params.manifest, parts, smk.output.layers, smk.output.models, smk.output.failures
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
