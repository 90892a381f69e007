"""Which convention a network is written in: :func:`recognise` and :func:`find_networks`.

:func:`recognise` takes your network as it is — a course-skeleton object, a Nielsen
``Network``, Ng's ``parameters`` dict with its functions — tells the convention apart by
names and signatures (Ng's backward by its arity: 4 is ``(parameters, cache, X, Y)``, 3 is
``(AL, Y, caches)``) and returns its :class:`~.network.UserNetwork`. What does not fit gets
a :class:`~.network.ConventionError` (a ``TypeError``) that shows what was looked for and
what was found. :func:`find_networks` finds every network in a module's globals, for the
command line.

This module is the interface the diagnosis and the command line build on: it offers
``recognise``, ``find_networks``, ``Found``, ``UserNetwork``, ``ConventionError``,
``NotDifferentiable`` and ``EXPECTED`` (each convention's expected signatures).

>>> import numpy as np
>>> recognise({"W1": np.ones((1, 2)), "b1": np.zeros((1, 1))}, forward=lambda X, p: (X, {}),
...           backward=lambda AL, Y, caches: {}, cost=lambda AL, Y: 0.0).convention
'ng-deep'
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .freeform import EXPECTED as FREEFORM_EXPECTED
from .freeform import FreeformNetwork
from .network import ConventionError, NotDifferentiable, UserNetwork, required_arity
from .ng import EXPECTED as NG_EXPECTED
from .ng import NgDeepNetwork, NgNetwork, check_arity
from .nielsen import EXPECTED as NIELSEN_EXPECTED
from .nielsen import NielsenNetwork, is_nielsen
from .skeleton_network import EXPECTED as SKELETON_EXPECTED
from .skeleton_network import SkeletonNetwork, is_skeleton

__all__ = ["EXPECTED", "ConventionError", "Found", "NotDifferentiable", "UserNetwork",
           "find_networks", "recognise", "resized"]

EXPECTED = {
    "skeleton": SKELETON_EXPECTED,
    "nielsen": NIELSEN_EXPECTED,
    "ng": NG_EXPECTED,
    "free-form": FREEFORM_EXPECTED,
}


def recognise(obj: Any, X: Any = None, Y: Any = None, *, forward: Callable | None = None,
              backward: Callable | None = None, cost: Callable | None = None,
              update: Callable | None = None, **more: Any) -> UserNetwork:
    """Your network as a :class:`~.network.UserNetwork` of its convention (see the module
    docstring). ``learning_rate=`` may be given for Ng's form.

    >>> import numpy as np
    >>> class Network:
    ...     weights, biases = [np.ones((1, 2))], [np.zeros((1, 1))]
    ...     def feedforward(self, a): return a
    ...     def backprop(self, x, y): return [], []
    ...     def cost_derivative(self, output_activations, y): return output_activations - y
    >>> recognise(Network()).convention
    'nielsen'
    """
    if isinstance(obj, UserNetwork):
        return obj
    if isinstance(obj, dict) or any(f is not None for f in (forward, backward, cost)):
        missing = [n for n, f in (("forward", forward), ("backward", backward), ("cost", cost))
                   if f is None]
        if missing:
            raise ConventionError(f"a parameters dict needs forward=, backward= and cost= "
                                  f"(missing: {', '.join(missing)})\n\n{NG_EXPECTED}")
        arity = check_arity(backward, "backward", (3, 4))
        cls = NgDeepNetwork if arity == 3 else NgNetwork
        return cls(obj, forward, backward, cost, update, more.get("learning_rate"))
    if is_skeleton(obj):
        return SkeletonNetwork(obj)
    if is_nielsen(obj):
        return NielsenNetwork(obj)
    raise ConventionError(_not_recognised(obj))


def _not_recognised(obj: Any) -> str:
    found = [n for n in dir(obj) if not n.startswith("_")]
    shown = ", ".join(found[:20]) + (", ..." if len(found) > 20 else "")
    looked = "\n\n".join(EXPECTED[k] for k in ("skeleton", "nielsen", "ng"))
    return (f"check_backprop does not recognise a {type(obj).__name__}: it has "
            f"{shown or 'no public attributes'}.\nIt looks for one of these conventions "
            f"(or use compare.check_gradients(loss_fn, params, grads) for any other):\n\n"
            f"{looked}")


@dataclass
class Found:
    """A network found in a module: its ``name`` there, its ``convention``, and how to
    build its :class:`~.network.UserNetwork` (``build()``). ``resizable``: it is a class or
    an initializer, so ``build(inputs, outputs)`` can make it fit real data.

    >>> Found("net", "skeleton", lambda: None).name
    'net'
    """

    name: str
    convention: str
    make: Callable[..., UserNetwork]
    resizable: bool = False

    def build(self, inputs: int | None = None, outputs: int | None = None) -> UserNetwork:
        """The network, ready to check (a class or an initializer is called with small
        sizes, the first and last replaced by ``inputs`` and ``outputs`` when given; an
        instance or a dict keeps its own)."""
        return self.make(inputs, outputs) if self.resizable else self.make()


def resized(sizes: list[int], inputs: int | None, outputs: int | None) -> list[int]:
    """``sizes`` with the first and last replaced by ``inputs`` and ``outputs`` when given.

    >>> resized([4, 5, 3], 7, None)
    [7, 5, 3]
    """
    return [inputs or sizes[0], *sizes[1:-1], outputs or sizes[-1]]


# Small sizes for a network the finder has to make itself.
SIZES = [4, 5, 3]
NG_NAMES = {
    "forward": ("L_model_forward", "forward_propagation", "model_forward", "forward"),
    "backward": ("L_model_backward", "backward_propagation", "model_backward", "backward"),
    "cost": ("compute_cost", "cost", "loss", "compute_loss"),
    "update": ("update_parameters", "update"),
    "init": ("initialize_parameters_deep", "initialize_parameters", "init_parameters"),
}


def find_networks(namespace: dict[str, Any]) -> list[Found]:
    """Every network in a module's globals (``vars(module)``) that fits a convention: an
    instance (skeleton, Nielsen), a Nielsen ``Network`` class (built with sizes
    ``[4, 5, 3]``), Ng's functions (with a module-level ``parameters`` dict or an
    ``initialize_parameters``-style function), and ``loss_fn``/``params``/``grads``.

    >>> find_networks({"x": 3})
    []
    """
    found: list[Found] = []
    for name, value in namespace.items():
        if name.startswith("_") or inspect.ismodule(value):
            continue
        if is_skeleton(value):
            found.append(Found(name, "skeleton", lambda v=value: SkeletonNetwork(v)))
        elif is_nielsen(value):
            found.append(Found(name, NielsenNetwork(value).convention,
                               lambda v=value: NielsenNetwork(v)))
        elif inspect.isclass(value) and value.__module__ == namespace.get("__name__"):
            found += _nielsen_class(name, value)
    found += _ng_functions(namespace)
    if all(k in namespace for k in ("loss_fn", "params", "grads")):
        found.append(Found("loss_fn", "free-form", lambda: FreeformNetwork(
            namespace["loss_fn"], namespace["params"], namespace["grads"])))
    return found


def _nielsen_class(name: str, cls: type) -> list[Found]:
    try:
        instance = cls(list(SIZES))
    except Exception:
        return []
    if not is_nielsen(instance):
        return []
    try:
        convention = NielsenNetwork(instance).convention
    except ConventionError:
        return []
    return [Found(f"{name}({SIZES})", convention, lambda n_in, n_out: NielsenNetwork(
        cls(resized(SIZES, n_in, n_out))), resizable=True)]


def _ng_functions(namespace: dict[str, Any]) -> list[Found]:
    picked = {role: next((namespace[n] for n in names if callable(namespace.get(n))), None)
              for role, names in NG_NAMES.items()}
    forward, backward, cost = picked["forward"], picked["backward"], picked["cost"]
    if not (forward and backward and cost):
        return []
    arity = required_arity(backward)
    if arity not in (3, 4):
        return []
    parameters = namespace.get("parameters")
    if isinstance(parameters, dict):
        make = lambda n_in=None, n_out=None: parameters  # noqa: E731 - a module-level dict
        label, resizable = "parameters", False
    elif picked["init"] is not None:
        (make, label), resizable = _initializer(picked["init"], arity), True
    else:
        return []
    convention = "ng-deep" if arity == 3 else "ng"
    return [Found(label, convention, lambda n_in=None, n_out=None: recognise(
        make(n_in, n_out), forward=forward, backward=backward, cost=cost,
        update=picked["update"]), resizable)]


def _initializer(init: Callable, arity: int) -> tuple[Callable[..., Any], str]:
    """Call an ``initialize_parameters``-style function with small sizes: ``(n_x, n_h,
    n_y)`` for the 2-layer form, ``layer_dims`` for the L-layer one."""
    if required_arity(init) == 1:
        dims = [4, 5, 3, 1] if arity == 3 else [4, 5, 1]
        return (lambda n_in, n_out: init(resized(dims, n_in, n_out))), f"{init.__name__}({dims})"
    return (lambda n_in, n_out: init(*resized([4, 5, 1], n_in, n_out))), \
        f"{init.__name__}(4, 5, 1)"
