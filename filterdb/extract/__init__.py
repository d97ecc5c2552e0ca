"""Stage 2, extract: read one checkpoint without running its code and write its 3x3 filters.

Readers (``read_pytorch``, ``read_onnx``) reduce a file to the same ``conv_layers.ModelConvs``;
``dispatch`` picks the reader, ``graph_depth`` places layers in the network, ``write`` streams the
filters and the layer table out, and ``stage`` is the per-model job with its failure handling.
"""
