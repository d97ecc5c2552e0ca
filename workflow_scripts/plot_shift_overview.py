"""Snakemake script: the paper's three-panel shift figure and the drift box plots."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.figures import drift, shift
    from filterdb.figures.style import save_figure, save_table

    panels = [
        shift.read_shift_matrix(matrix, groups, axis)
        for axis, matrix, groups in zip(
            smk.params.axes, smk.input.matrices, smk.input.groups, strict=True
        )
    ]
    save_figure(shift.plot_shift_combined(panels), smk.output.combined, smk.params.dpi)
    save_table(shift.group_order_table(panels), smk.output.combined_table)

    upper = drift.read_upper_triangle(smk.input.upper_triangle)
    save_figure(drift.plot_drift_boxplot(upper), smk.output.drift, smk.params.dpi)
    save_table(drift.drift_table(upper), smk.output.drift_table)
    print(f"panels {[p.axis for p in panels]}; drift box plots of {upper['axis'].nunique()} axes")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
