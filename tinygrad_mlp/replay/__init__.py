"""Record a training step once, then replay it as a flat list of NumPy calls into reused buffers.

An eager training step (``zero_grad``, forward, loss, ``backward``, ``optimizer.step``) spends
much of its time, at small sizes, on bookkeeping: Tensors and graph nodes made and freed,
Python dispatch, fresh arrays for every intermediate value. For a static-shape loop (the
same model, the same batch shape, step after step) all of that is the same every time.
:func:`compile_step` (``tg.compile``) takes the model, the loss and the optimizer and returns
a callable :class:`CompiledStep`; ``step(x, y)`` has the effect of one eager step and returns
the loss.

How it works. The first call with a given input signature (shapes and dtypes of ``x`` and
``y``) runs the eager step, checks that the graph it built is the one expected, and writes the
same step as Python source: one line per NumPy call, each call the one the eager rule makes,
with ``out=`` into buffers allocated once. The source is compiled to a function
(``step.source`` shows it). To make sure, that first step is then run a second time from the
same starting point by the new function, and parameters, gradients, optimizer state and loss
must come out bit for bit as the eager step left them; otherwise that signature stays eager
(``step.reason`` says where they differed). Later calls with the same signature check a few
identities (the same modules, parameters, arrays, optimizer settings) and run the function:
results are bit-identical to the eager step's. The update is all or nothing, as the
optimizer's own: every new value is computed into the replay's buffers and checked before
any is written, and a NaN, inf or overflowing step is handed to the optimizer's ``step()``,
which refuses it (naming the parameter, changing nothing) as it does in an eager loop;
Ctrl-C is held back while the replay writes, with the optimizer's own deferral.

After a replayed step the trainable parameters were updated in place (the same arrays) and
each ``.grad`` is a Tensor holding the step's gradient, as eager leaves it, but its array is
reused by the next replay: copy it to keep it (the optimizer's state buffers too: two
replays later their memory holds new values). The optimizer's ``param_groups`` are read at
every step (a new ``lr`` is used at once) and its ``state`` is its own, so eager steps and
replays can be mixed freely.

Supported: ``nn.Sequential`` / ``nn.MLP`` (nested too) or a bare ``nn.Linear``, built from
``nn.Linear`` (with or without bias) and the activations whose op has a replay form (today
``nn.ReLU``, ``nn.Tanh``, ``nn.Sigmoid``, and ``nn.Identity``), the first computing layer a
Linear, on a 2-D batch; ``nn.MSELoss`` and ``nn.CrossEntropyLoss`` with integer class targets
(or ``F.mse_loss`` / ``F.cross_entropy``), reduction ``"mean"`` or ``"sum"``; ``optim.SGD``
(momentum, dampening, Nesterov, weight decay), ``optim.Adam`` and ``optim.AdamW``. Frozen
parameters (``requires_grad=False``) are fine. Anything else runs the eager step, every
time, and ``step.reason`` names what it met.

The package, for whoever reads or extends it (only ``compile_step`` and ``CompiledStep`` are
public outside it; the modules offer each other what is listed):

- ``forms``: the replay forms of the ops, ``LAYER_FORMS`` and ``LOSS_FORMS`` keyed by the
  engine's op class (how Linear, ReLU, Tanh, Sigmoid, MSE and cross-entropy replay), and
  ``Layer``;
- ``updates``: the replay forms of the optimizers, ``UPDATE_FORMS`` keyed by the optimizer
  class, and ``write_updates``;
- ``support``: ``analyse`` (what is supported, read off those tables and
  ``nn.activations.ACTIVATIONS``) and the ``Analysis`` with its fingerprint;
- ``workspace``: the ``Workspace`` every form writes with, and ``Unsupported``;
- ``writer``: the source ``Writer`` and the ``NAMESPACE`` of NumPy calls;
- ``arena``: the flat gradient ``Arena`` and ``Gradients``;
- ``builder``: the ``Builder`` that asks the forms for one step's lines;
- ``check``: ``Snapshot``, ``same`` and ``graph_problem``, to check a replay against eager;
- ``step``: ``CompiledStep`` and ``compile_step``.

>>> import numpy as np
>>> import tinygrad_mlp as tg
>>> from tinygrad_mlp import nn, optim
>>> from tinygrad_mlp.replay import compile_step
>>> tg.manual_seed(0)
>>> model = nn.MLP([2, 8, 1])
>>> step = compile_step(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
>>> x, y = np.ones((4, 2), np.float32), np.zeros((4, 1), np.float32)
>>> losses = [float(step(x, y)) for _ in range(3)]
>>> step.compiled, step.counts
(True, {'replay': 2, 'record': 1, 'eager': 0})
"""

from __future__ import annotations

from .step import CompiledStep, compile_step

__all__ = ["CompiledStep", "compile_step"]
