"""Snakemake script: one axis's distribution-shift matrix figure and its numbers."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.figures import shift
    from filterdb.figures.style import save_figure, save_table

    matrix = shift.read_shift_matrix(smk.input.matrix, smk.input.groups, smk.wildcards.axis)
    save_figure(shift.plot_shift_matrix(matrix), smk.output.figure, smk.params.dpi)
    save_table(shift.shift_table(matrix), smk.output.table)
    print(f"{smk.wildcards.axis}: {len(matrix.d)} groups in order {list(matrix.d.index)}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
