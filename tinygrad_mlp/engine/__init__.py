"""The engine: ``Tensor``, the graph, reverse-mode differentiation and every operation.

This floor imports nothing from the rest of the package. Inside it, ``tensor`` and ``ops``
know each other: a Tensor's methods are doors into the operations of ``ops``, and the
operations make Tensors. The picture methods (``Tensor.draw``, ``AnomalyError.draw``) reach
``tinygrad_mlp.viz`` lazily, when called; that is the one upward reach, on purpose.
"""
