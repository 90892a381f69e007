"""The engine: ``Tensor``, the graph, reverse-mode differentiation and every operation.

Its modules, each one idea:

- ``tensor``: the ``Tensor`` class, its conversions and the constructors (``zeros``, ...);
- ``ops``, ``functions``: the operations, each a small class with forward and backward, and
  the ``tg.`` functions in front of them; ``methods`` (the Tensor's operation methods),
  ``keywords`` (``dim=`` beside ``axis=``), ``numpy_protocol`` (NumPy's functions on Tensors);
- ``inplace``: ``t += x``, ``t.zero_()``, ``t[i] = v`` and the version check behind them;
- ``hooks``: ``retain_grad()`` and ``register_hook(fn)``;
- ``function``: the graph node ``Function`` and ``apply``, which runs and records an operation;
- ``backward``: the backward pass in its steps, ``backward`` and ``grad``;
- ``modes``: grad mode and anomaly mode, per thread (``no_grad``, ``detect_anomaly``, ...);
- ``autograd``: every name of ``function``, ``backward`` and ``modes`` in one place;
- ``gradcheck``: analytic gradients against finite differences;
- ``numerics``: the one NaN/inf check and its wording, the number format, finite differences;
- ``frames``: which line of a stack is the user's, by module name;
- ``arguments``: sizes, counts, numbers, seeds, dtypes and flags checked where they are given.

What it offers the floors above (and the tools use, so that they need no walk of their own):
``autograd.topological_order(roots, leaves=False)`` lists a graph's entries (the Tensors
computed by operations, or after backward freed the graph, its nodes), each after its inputs,
and ``autograd.inputs_of(entry)`` gives an entry's inputs; ``frames.user_frame()`` /
``frames.is_user_frame(frame)`` / ``frames.describe(frame)`` find and write the user's line;
``autograd.mode`` is the current thread's grad and anomaly mode; ``arguments`` checks an
argument with a message naming the function (``arguments.seed(s, "fit")``).

This floor imports nothing from the rest of the package. Inside it, ``tensor``, ``ops``,
``function``, ``backward``, ``autograd``, ``inplace`` and ``hooks`` know each other: a
Tensor's methods are doors into the operations, the operations make Tensors, and the graph is
made of both. The picture methods (``Tensor.draw``, ``AnomalyError.draw``) reach
``tinygrad_mlp.viz`` lazily, when called; that is the one upward reach, on purpose.
"""
