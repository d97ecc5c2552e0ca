"""Snakemake script of rule plot_shift_matrix: one axis's distribution-shift matrix."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.figures.make import make_shift_matrix

    make_shift_matrix(
        smk.input.matrix,
        smk.input.groups,
        smk.wildcards.axis,
        dict(smk.output.items()),
        smk.params.dpi,
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
