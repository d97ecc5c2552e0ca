"""Column names of the zoo manifest, shared by every stage that carries them into the database.

Kept apart from ``manifest`` (which needs jsonschema and PyYAML to validate) so that stages
which only copy the columns, such as the published-file import, stay light.
"""

META_COLUMNS = (
    "Name",
    "Task",
    "Visual Category",
    "Training-Dataset",
    "Pretraining-Dataset",
    "Network",
    "Backbone",
    "Framework",
    "Precision",
    "Conv Weight Initializer",
    "Optimizer",
    "Paper",
    "License",
    "Accessible",
)
MANIFEST_COLUMNS = ("model", "source", "sha256", *META_COLUMNS)

#: Columns a manifest may have; when missing they read as empty. They are checks on a row, not
#: facts about the model, so they do not enter ``models.parquet``.
#: ``expected_3x3_filters`` is the architecture's count of 3x3 kernels (c_out * c_in / groups
#: over every 3x3 conv); extraction fails the model when it finds another count.
EXPECTED_3X3 = "expected_3x3_filters"
#: The Hugging Face commit a timm: row is pinned to; only the zoo's lock file sets it.
HF_REVISION = "hf_revision"
OPTIONAL_COLUMNS = (EXPECTED_3X3, HF_REVISION)
