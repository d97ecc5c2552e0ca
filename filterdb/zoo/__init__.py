"""Stage 0, the zoo: which models the database holds, where their weights come from, their meta.

The manifest (a TSV, one row per model) is read and validated here before any job starts; model
ids, sources and the meta columns are defined here once for every later stage.
"""
