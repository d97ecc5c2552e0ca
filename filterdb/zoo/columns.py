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
