"""Snakemake script of rule export_published: results/db/ in the published v1.0.0 layout."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.published import export_published

    export_published(Path(smk.input.models).parent, smk.output[0], dtype=smk.params.dtype)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
