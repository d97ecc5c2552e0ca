"""Snakemake script of rule import_published: a published CNN Filter DB file into results/db/."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.published import import_published

    import_published(
        smk.input.published,
        Path(smk.output.models).parent,
        row_group_size=smk.params.row_group_size,
        chunk_size=smk.params.chunk_size,
        workers=smk.threads,
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
