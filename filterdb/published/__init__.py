"""Read and write the published CNN Filter DB files (Gavrikov & Keuper, CVPR 2022).

``import_published`` turns a published file (v1.0.0 from Zenodo or v0.1.0 from Kaggle) into our
``results/db/`` layout, so the statistics and figures run on the published filters without
downloading a single model; ``export_published`` writes any ``results/db/`` (ours or imported)
back in the v1.0.0 layout, so the original notebook runs on our rebuild. Both stream the filters.
The README section "Published CNN Filter DB files" gives the column mapping and what is (not)
round-tripped.
"""

from filterdb.published.errors import PublishedFileError
from filterdb.published.exporter import export_published
from filterdb.published.importer import ImportReport, import_published
from filterdb.published.layout import V0_1_0, V1_0_0, detect_version, read_meta

__all__ = [
    "ImportReport",
    "PublishedFileError",
    "V0_1_0",
    "V1_0_0",
    "detect_version",
    "export_published",
    "import_published",
    "read_meta",
]
