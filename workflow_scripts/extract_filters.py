"""Snakemake script of rule extract_filters: one model's 3x3 filters and layer table."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.extract.stage import extract_model

    extract_model(
        smk.params.model,
        smk.input.checkpoint,
        smk.params.filename,
        smk.output.filters,
        smk.output.layers,
        smk.output.summary,
        source=smk.params.source,
        expected_3x3=smk.params.expected_3x3_filters,
        row_group_size=smk.params.row_group_size,
        skip_failed=smk.params.skip_failed,
        threads=smk.threads,
        mem_mb=smk.resources.mem_mb,
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
