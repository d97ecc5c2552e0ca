"""Snakemake script of rule download_model: materialise one model's checkpoint."""

import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.acquire.materialise import download_model

    download_model(
        smk.params.model,
        smk.params.source,
        smk.params.sha256,
        Path(smk.output[0]) / smk.params.filename,
        smk.params.download,
        skip_failed=smk.params.skip_failed,
        revision=smk.params.hf_revision,
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.rule_script import run

    run(main, snakemake)  # noqa: F821
