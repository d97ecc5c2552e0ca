"""Snakemake script: degeneration by depth, randomness threshold, most degenerated models."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.figures import degeneration, ranking, threshold
    from filterdb.figures.style import save_figure, save_table

    layers = degeneration.read_layer_metrics(smk.input.layer_metrics)
    save_figure(degeneration.plot_degeneration_by_depth(layers), smk.output.depth, smk.params.dpi)
    save_table(degeneration.degeneration_table(layers), smk.output.depth_table)

    curve = threshold.read_threshold_curve(smk.input.randomness)
    figure = threshold.plot_randomness_threshold(curve, layers)
    save_figure(figure, smk.output.threshold, smk.params.dpi)
    save_table(curve, smk.output.threshold_table)

    top = ranking.read_top_models(smk.input.ranking, smk.params.top_models)
    save_figure(ranking.plot_top_models(top), smk.output.top, smk.params.dpi)
    save_table(top, smk.output.top_table)
    print(f"{len(layers)} layers; top {len(top)} degenerated models")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
