"""Snakemake script of rule plot_shift_overview: the three-panel shift figure, drift boxes."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.figures.make import make_shift_overview

    make_shift_overview(
        smk.params.axes,
        smk.input.matrices,
        smk.input.groups,
        smk.input.upper_triangle,
        dict(smk.output.items()),
        smk.params.dpi,
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
