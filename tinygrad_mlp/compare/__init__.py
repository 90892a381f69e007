"""Hold your hand-written backprop against the exact gradient, in the convention you wrote it in.

:func:`check_backprop` takes your network as it is — the course skeleton of
:mod:`tinygrad_mlp.manual`, Michael Nielsen's ``network.py``/``network2.py``, Andrew Ng's
deeplearning.ai ``parameters`` dict with its forward and backward functions — and
:func:`check_gradients` anything else (a loss function and your gradients). Every part is
named in your own terms (``db2``, ``nabla_w[0]``, ``weights[1]``), with the line of your
file that computed the first wrong one, and the likely cause.

The package, floor by floor (each module imports only those above it in this list):

==========================  ==============================================================
``usercode``                your code told from ours by module name; where it raised
``arrays``                  comparing an array with the reference; naming a factor
``differences``             finite differences where your code cannot run on Tensors
``skeleton_reference``      the course skeleton: its reference through the engine,
``skeleton_report``         its table rows and report,
``skeleton_causes``         the words and guesses for each cause,
``skeleton_stages``         its stages, one at a time,
``skeleton``                and ``check_skeleton``, which puts them together
==========================  ==============================================================

What the other tools use: ``diagnose`` uses the skeleton's ``check_convention``, ``clone``,
``untouched`` (:mod:`.skeleton_stages`), ``reference_pass`` (:mod:`.skeleton_reference`) and
``exception_text`` (:mod:`.usercode`).

>>> import numpy as np
>>> from tinygrad_mlp import manual
>>> X = np.random.default_rng(0).normal(size=(8, 3)); y = X[:, :1] ** 2
>>> net = manual.NeuralNetwork(3, [4, 1], [manual.Tanh(), manual.Identity()], manual.MSE())
>>> check_backprop(net, X, y).ok
True
"""

from __future__ import annotations

from typing import Any

from numpy.typing import ArrayLike

from ..nn.activations import ACTIVATIONS
from ..scenario import setup
from .skeleton import check_skeleton
from .skeleton_reference import parameter_of, reference_pass
from .skeleton_report import BackpropReport, Finding, Location, Row
from .skeleton_stages import check_convention, clone, untouched
from .usercode import exception_text

__all__ = [
    "BackpropReport",
    "Finding",
    "Location",
    "Row",
    "check_backprop",
    "demo",
]


def check_backprop(
    net: Any,
    X: ArrayLike,
    y: ArrayLike,
    rtol: float = 1e-6,
    atol: float = 1e-12,
    confirm: bool = True,
) -> BackpropReport:
    """Check a hand-written network's backprop against autograd, in float64.

    >>> import numpy as np
    >>> from tinygrad_mlp import manual
    >>> X = np.random.default_rng(0).normal(size=(6, 2)); y = X.sum(1, keepdims=True)
    >>> net = manual.PostedNeuralNetwork(2, [3, 1], [manual.ReLU(), manual.Identity()],
    ...                                  manual.MSE())
    >>> report = check_backprop(net, X, y)
    >>> report.ok, str(report.first_mismatch), "zero_bias_column" in report.causes
    (False, 'update, layer 0, bias row', True)
    """
    return check_skeleton(net, X, y, rtol, atol, confirm)


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


# The names ``diagnose`` used before the checker became a package; they go when it uses the
# public ones above (``check_convention``, ``clone``, ``untouched``, ``exception_text``,
# ``reference_pass``, and ``ActivationReference.apply`` for the activations).
_check_convention = check_convention
_clone = clone
_untouched = untouched
_exception_text = exception_text
_reference = reference_pass
_ENGINE_ACTIVATIONS = {
    name: (lambda A, act, spec=spec: spec.rule(A, parameter_of(spec, act)))
    for name, spec in ACTIVATIONS.items()
}
