"""Snakemake script: assemble results/db/layers.parquet and models.parquet."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.assemble import ModelParts, assemble
    from filterdb.atomic import atomic_path
    from filterdb.tables import write_frame

    parts = [
        ModelParts(model, Path(layers), Path(summary), Path(filters))
        for model, layers, summary, filters in zip(
            smk.params.models, smk.input.layers, smk.input.summaries, smk.input.filters, strict=True
        )
    ]
    database = assemble(smk.params.manifest, parts)
    write_frame(database.layers, smk.output.layers)
    write_frame(database.models, smk.output.models)
    with atomic_path(smk.output.failures) as tmp:
        database.failures.to_csv(tmp, sep="\t", index=False)
    print(
        f"assembled {len(database.models)} models, {len(database.layers)} 3x3 layers, "
        f"{int(database.layers['n_filters'].sum()) if len(database.layers) else 0} filters; "
        f"{len(database.failures)} failed model(s) left out"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
