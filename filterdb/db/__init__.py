"""Stage 3, the database ``results/db/``: its layout, its files, and how it is assembled.

``schema`` defines every file and column name once; ``filter_file`` and ``frame_file`` write and
read the files byte-reproducibly; ``assemble`` joins the per-model extraction outputs into the
layer and model tables; ``from_arrays`` writes a database straight from in-memory layers.
"""
