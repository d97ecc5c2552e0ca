"""``filterdb check``: one model's filters measured, and placed against a built database.

The layer metrics are the statistics stage's own (``stats.degeneration``, ``stats.summaries``) on
the weights the workflow's readers return, so a checked model gets exactly the numbers the
database would hold for it; with a built database, its coefficients are binned on the
database's PCA basis and histogram edges, and compared with every group as groups are compared
with each other.
"""
