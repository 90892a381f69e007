"""Pictures of the computation graph: still ones drawn with Graphviz, and a stepper page.

``draw_graph(loss)`` returns a ``graphviz.Digraph`` with one box per operation and per leaf,
arrows in the direction the data flowed (inputs -> operation -> consumer), shapes and dtypes
on every box, parameter names (``0.weight``) where known and, after ``backward()``, the norm of
every gradient. NaN and inf stand out in red, with the first place where one appeared marked;
exploding gradients stand out in orange. In Jupyter the Digraph shows itself; elsewhere use
``save_graph(digraph, "graph.svg")`` (or ``digraph.render()``). The DOT text is always in
``digraph.source``, even where Graphviz's ``dot`` program is not installed.

>>> import tinygrad_mlp as tg
>>> w = tg.tensor([1.0, -2.0], requires_grad=True)
>>> loss = (w * w).sum()
>>> loss.backward()
>>> dot = draw_graph(loss)
>>> "mul" in dot.source and "sum" in dot.source
True

How the picture reads:

* Rounded white boxes are operations: name, output shape and dtype, and ``grad norm`` (the
  norm of the gradient that reached the operation's output in the last backward).
* Blue boxes are parameters (leaves with ``requires_grad=True``), yellow ones input data,
  green ones the targets of losses, dashed ones constants (like the ``2`` of ``x * 2``). A
  double border marks the output(s). Without ``params=`` the names come from the caller's
  variables (the outermost model in scope, and variables holding leaves).
* With ``cluster_modules=True`` the nodes of each ``nn`` module (each ``Linear``, each
  activation) sit in a labelled frame.

Which operation a box belongs to is recorded by the engine; what is *not* recorded is every
intermediate value: the values of operations are known only while their output Tensor is
still held by the graph (before a backward that frees it) and for the output itself; a
``show_values=True`` picture drawn after that says so.

``stepper(loss)`` (:mod:`.stepper`) makes a page that steps through the forward and backward
pass of that graph node by node, with the engine's numbers; ``.save("step.html")`` writes it
as one self-contained file.

The package, in the order a picture is made (each module imports only those before it):

* ``graph``: the graph as the engine recorded it (:class:`~.graph.Node`, ``collect`` on the
  engine's ``topological_order``, ``find_trouble``, ``users_line``); no graphviz.
* ``labels``: the looks table and the words and numbers of every box (strings only).
* ``names``: parameter and module names (``params=`` or the caller's variables), and which
  module's frame each box sits in.
* ``scene``: the three above put together, what the still pictures and the stepper show.
* ``draw``: ``draw_graph``, ``draw_anomaly`` and the :class:`~.draw.Picture` they return.
* ``save``: ``save_graph``.
* ``rules``: each operation's local rule in words; ``layout``: ``dot``'s positions for a page;
  ``steps``: the steps and the engine's numbers of a stepper; ``page``: its HTML, style and
  script; ``stepper``: ``stepper`` and the :class:`~.stepper.Stepper` it returns.

The engine reaches this package only from its picture methods (``Tensor.draw``,
``AnomalyError.draw``), lazily; the tools above the engine (diagnose, the CLI, the demo and
the story) use the names exported here.
"""

from __future__ import annotations

from .draw import INSTALL_HINT, DotNotFoundError, Picture, draw_anomaly, draw_graph
from .save import save_graph
from .stepper import Stepper, stepper

__all__ = ["INSTALL_HINT", "DotNotFoundError", "Picture", "Stepper", "draw_anomaly",
           "draw_graph", "save_graph", "stepper"]
