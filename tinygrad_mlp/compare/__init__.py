"""Hold your hand-written backprop against the exact gradient, in the convention you wrote it in.

:func:`check_backprop` takes your network as it is — the course skeleton of
:mod:`tinygrad_mlp.manual`, Michael Nielsen's ``network.py``/``network2.py``, Andrew Ng's
deeplearning.ai ``parameters`` dict with its forward and backward functions — and
:func:`check_gradients` anything else (a loss function and your gradients). Every part is
named in your own terms (``db2``, ``nabla_w[0]``, ``weights[1]``), with the line of your
file that computed the first wrong one, and the likely cause.

The package, floor by floor (each module imports only modules above it in this list):

======================  ==================================================================
``usercode``            your code told from ours by module name; the line that raised
``arrays``              comparing an array with the reference; naming a constant factor
``differences``         finite differences where your code cannot run on Tensors
``tracing``             the line tracer: which line of yours assigned what
``skeleton_*``          the course skeleton: its reference, report, causes and stages,
``skeleton``            put together by ``check_skeleton`` (a table by stage and layer)
``network``             ``UserNetwork``: the one interface of every convention
``causes``, ``dense``   guesses at what a wrong part is (factors, axes; dense layers)
``stages``              the checks of every part in backprop order
``reference``           the exact gradient of your own forward pass and cost
``skeleton_network``,   the conventions: the skeleton, Nielsen's network.py and
``nielsen``, ``ng``,    network2.py, Ng's 2-layer and L-layer forms, and a free form
``freeform``
``conventions``         ``recognise``, ``find_networks``: which convention a network is
``report``, ``check``   ``GradientReport``, and ``check_network``, which puts it together
======================  ==================================================================

What the other tools use: the diagnosis and the command line build on
:mod:`.conventions` (``recognise``, ``find_networks``, ``Found``, ``UserNetwork``,
``ConventionError``, ``NotDifferentiable``, ``EXPECTED``) and :mod:`.tracing` (``trace``);
the diagnosis also uses the skeleton's ``check_convention``, ``clone``, ``untouched``
(:mod:`.skeleton_stages`), ``reference_pass`` (:mod:`.skeleton_reference`) and
``exception_text`` (:mod:`.usercode`).

>>> import numpy as np
>>> from tinygrad_mlp import manual
>>> X = np.random.default_rng(0).normal(size=(8, 3)); y = X[:, :1] ** 2
>>> net = manual.NeuralNetwork(3, [4, 1], [manual.Tanh(), manual.Identity()], manual.MSE())
>>> check_backprop(net, X, y).ok
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numpy.typing import ArrayLike

from ..scenario import setup
from .check import check_network
from .conventions import ConventionError, UserNetwork, recognise
from .freeform import FreeformNetwork
from .report import GradientReport
from .skeleton import check_skeleton
from .skeleton_network import SkeletonNetwork, is_skeleton
from .skeleton_report import BackpropReport, Finding, Location, Row

__all__ = [
    "BackpropReport",
    "ConventionError",
    "Finding",
    "GradientReport",
    "Location",
    "Row",
    "UserNetwork",
    "check_backprop",
    "check_gradients",
    "demo",
    "recognise",
]


def check_backprop(
    net: Any,
    X: ArrayLike,
    y: ArrayLike,
    rtol: float = 1e-6,
    atol: float = 1e-12,
    confirm: bool = True,
    *,
    forward: Callable | None = None,
    backward: Callable | None = None,
    cost: Callable | None = None,
    update: Callable | None = None,
    learning_rate: float | None = None,
) -> BackpropReport | GradientReport:
    """Check your hand-written backprop, in the convention you wrote it in, in float64.

    - the course skeleton (``forward_pass``/``backward_pass``/``update_weights``):
      ``check_backprop(net, X, y)``, stage by stage (see :mod:`.skeleton`);
    - Nielsen's ``network.py``/``network2.py``: ``check_backprop(net, X, y)`` with ``X``
      ``(n, n_in)`` and ``y`` ``(n, n_out)``;
    - Ng's deeplearning.ai form: ``check_backprop(parameters, X, Y, forward=...,
      backward=..., cost=..., update=None)`` with ``X`` ``(n_features, m)``, ``Y``
      ``(n_out, m)``.

    The report's ``.ok``, ``.first_mismatch`` (the first wrong part in your terms) and
    ``str()`` (the table, the line of your file, the likely cause). Your objects and data
    are never changed. A network in none of these conventions gets a ``ConventionError``
    (a TypeError) showing each convention's expected signatures.

    >>> import numpy as np
    >>> from tinygrad_mlp import manual
    >>> X = np.random.default_rng(0).normal(size=(6, 2)); y = X.sum(1, keepdims=True)
    >>> net = manual.PostedNeuralNetwork(2, [3, 1], [manual.ReLU(), manual.Identity()],
    ...                                  manual.MSE())
    >>> report = check_backprop(net, X, y)
    >>> report.ok, str(report.first_mismatch), "zero_bias_column" in report.causes
    (False, 'update, layer 0, bias row', True)
    """
    functions = (forward, backward, cost, update)
    if isinstance(net, SkeletonNetwork):  # as the command line finds it
        net = net.net
    if is_skeleton(net) and all(f is None for f in functions):
        return check_skeleton(net, X, y, rtol, atol, confirm)
    network = recognise(net, forward=forward, backward=backward, cost=cost, update=update,
                        learning_rate=learning_rate)
    return check_network(network, X, y, None if rtol == 1e-6 else rtol, confirm)


def check_gradients(loss_fn: Callable[[Any], Any], params: Any, grads: Any,
                    rtol: float | None = None) -> GradientReport:
    """Check your gradients of any loss: ``loss_fn(params) -> float`` is your forward pass
    and loss in NumPy, ``params`` a dict of name to array or a list (or list of lists) of
    arrays, ``grads`` your gradients in the same structure (a dict may use the names or the
    names with a ``d`` in front) or a function ``grads(params)``.

    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(5, 3)); y = X @ np.ones((3, 1))
    >>> def loss_fn(p):
    ...     return float(np.mean((X @ p["W"] - y) ** 2))
    >>> def grads(p):
    ...     return {"dW": X.T @ (X @ p["W"] - y)}       # the 2/n of the mean is missing
    >>> report = check_gradients(loss_fn, {"W": np.zeros((3, 1))}, grads)
    >>> report.ok, report.first_mismatch
    (False, 'W')
    """
    return check_network(FreeformNetwork(loss_fn, params, grads), rtol=rtol)


def demo(network: str = "posted") -> BackpropReport:
    """The posted network (or the fixed one) on the diabetes data, checked against autograd.

    What the CLI's ``compare`` subcommand prints. ``network="posted"`` is the network as
    posted in the question, on the raw features; ``"fixed"`` the corrected one (see
    :func:`tinygrad_mlp.scenario.fixed_setup`), which agrees.

    >>> sorted(demo().causes)
    ['factor_n', 'zero_bias_column']
    >>> demo("fixed").ok
    True
    """
    net, X, y = setup(network)
    return check_backprop(net, X, y)
