"""Snakemake script: materialise one model's checkpoint (download, copy or seeded init)."""

import logging
import sys
from pathlib import Path


def main(smk) -> None:
    from filterdb.download import DownloadSettings, materialise
    from filterdb.errors import ModelError
    from filterdb.failures import write_download_failure
    from filterdb.sources import parse_source

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(levelname)s %(message)s")
    model = smk.params.model
    target = Path(smk.output[0]) / smk.params.filename
    settings = DownloadSettings.from_config(smk.params.download, base_dir=Path.cwd())
    try:
        materialise(
            model, parse_source(smk.params.source), smk.params.sha256, target, settings=settings
        )
    except ModelError as error:
        if not smk.params.skip_failed:
            raise
        write_download_failure(target.parent, str(error))
        print(f"skip_failed_models: recorded the failure in {target.parent}: {error}")
        return
    print(f"model {model!r}: wrote {target} ({target.stat().st_size} bytes)")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821
    from filterdb.script_log import log_to_file

    log_to_file(snakemake.log[0])  # noqa: F821
    main(snakemake)  # noqa: F821
