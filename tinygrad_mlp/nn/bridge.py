"""The bridge to PyTorch: hand a model over when you outgrow this library, or bring one in.

``to_torch(model)`` returns the equivalent ``torch.nn`` module with the same weights (and
running statistics, training mode and dtype), so it computes the same outputs to float
round-off; ``from_torch(module)`` is the reverse. Both take ``Sequential``/``MLP`` models
(nested too) of the layers in ``LAYERS``, or one such layer; anything else is refused with an
error naming the layer. The state-dict names are PyTorch's on both sides, so the weights are
copied by name. PyTorch is imported only when the bridge is used: it is an optional
dependency.

>>> from tinygrad_mlp import nn
>>> sorted(name for name in LAYERS)[:4]
['BatchNorm1d', 'Dropout', 'ELU', 'Flatten']
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from . import activations as A
from .architecture import keeping_generator
from .layers import MLP, Dropout, Flatten, Linear
from .module import Module, Sequential
from .normalization import BatchNorm1d, LayerNorm

# The float dtypes both libraries have, by the name both read.
_FLOATS = ("float16", "float32", "float64")


def _dtype(module: Any) -> str:
    """The float dtype of a layer's arrays, as a name both libraries read (``"float64"``)."""
    for tensor in (*module.parameters(), *module.buffers()):
        name = str(tensor.dtype).removeprefix("torch.")
        if name in _FLOATS:
            return name
        if getattr(tensor.dtype, "is_floating_point", False):  # a torch dtype NumPy lacks
            raise ValueError(f"its dtype {tensor.dtype} has no NumPy counterpart")
    return "float32"


def _has_bias(module: Any) -> bool:
    return module.bias is not None


# Each layer by its class name (the same in both libraries): the settings that make it, read
# from the attributes of the same name on either side, and the settings read otherwise.
LAYERS: dict[str, tuple[type[Module], tuple[str, ...], dict[str, Callable[[Any], Any]]]] = {
    "Linear": (Linear, ("in_features", "out_features"), {"bias": _has_bias, "dtype": _dtype}),
    "ReLU": (A.ReLU, (), {}),
    "LeakyReLU": (A.LeakyReLU, ("negative_slope",), {}),
    "Tanh": (A.Tanh, (), {}),
    "Sigmoid": (A.Sigmoid, (), {}),
    "Softplus": (A.Softplus, ("beta", "threshold"), {}),
    "GELU": (A.GELU, ("approximate",), {}),
    "ELU": (A.ELU, ("alpha",), {}),
    "Identity": (A.Identity, (), {}),
    "Softmax": (A.Softmax, ("dim",), {}),
    "Flatten": (Flatten, ("start_dim", "end_dim"), {}),
    "Dropout": (Dropout, ("p",), {}),
    "BatchNorm1d": (BatchNorm1d, ("num_features", "eps", "momentum", "affine",
                                  "track_running_stats"), {"bias": _has_bias, "dtype": _dtype}),
    "LayerNorm": (LayerNorm, ("normalized_shape", "eps", "elementwise_affine"),
                  {"bias": _has_bias, "dtype": _dtype}),
}
_OURS = {cls: name for name, (cls, _, _) in LAYERS.items()}


def _torch(caller: str) -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{caller} needs PyTorch, an optional dependency: pip install torch"
        ) from None
    return torch


def _settings(name: str, module: Any) -> dict[str, Any]:
    _, attributes, derived = LAYERS[name]
    settings = {attribute: getattr(module, attribute) for attribute in attributes}
    settings.update({key: read(module) for key, read in derived.items()})
    return settings


def _unsupported(caller: str, where: str, module: Any, why: str = "") -> TypeError:
    place = f"layer '{where}'" if where else "the model"
    why = why or (
        "it has no counterpart; supported are Sequential, MLP and "
        + ", ".join(LAYERS)
    )
    return TypeError(f"{caller}: {place} ({type(module).__name__}) cannot be converted: {why}")


def _copy_modes(source: Any, target: Any) -> None:
    for (_, a), (_, b) in zip(source.named_modules(), target.named_modules()):
        b.training = a.training


def to_torch(model: Module) -> Any:
    """The ``torch.nn`` module equivalent to ``model``: same layers, settings, weights,
    buffers, dtypes and training modes (an ``MLP`` becomes a ``torch.nn.Sequential``).

    >>> import numpy as np, pytest
    >>> torch = pytest.importorskip("torch")
    >>> from tinygrad_mlp import nn
    >>> model = nn.MLP([2, 4, 1])
    >>> theirs = nn.to_torch(model)
    >>> x = np.ones((3, 2), np.float32)
    >>> bool(np.allclose(theirs(torch.from_numpy(x)).detach().numpy(), model(x).numpy()))
    True
    """
    torch = _torch("to_torch")
    if not isinstance(model, Module):
        raise TypeError(f"to_torch: expected an nn.Module, got {type(model).__name__}")

    def convert(module: Module, where: str) -> Any:
        if type(module) in (Sequential, MLP):
            return torch.nn.Sequential(OrderedDict(
                (name, convert(child, f"{where}.{name}".lstrip(".")))
                for name, child in module._modules.items()
            ))
        name = _OURS.get(type(module))
        if name is None:
            raise _unsupported("to_torch", where, module)
        settings = _settings(name, module)
        if settings.get("bias") is True:  # every layer's default; older PyTorch has no
            del settings["bias"]           # BatchNorm1d(bias=...)
        if "dtype" in settings:
            settings["dtype"] = getattr(torch, settings["dtype"])
        return getattr(torch.nn, name)(**settings)

    theirs = convert(model, "")
    state = {key: torch.from_numpy(np.ascontiguousarray(value))
             for key, value in model.state_dict().items()}
    theirs.load_state_dict(state, strict=True)
    _copy_modes(model, theirs)
    return theirs


def _as_mlp(children: OrderedDict) -> MLP | None:
    """The ``MLP`` whose layer stack ``children`` is (names 0, 1, ...: Linear layers with the
    same activation between them and perhaps one after), or None when it is none."""
    layers = list(children.values())
    if list(children) != [str(i) for i in range(len(layers))]:
        return None
    linears = layers[::2]
    between = layers[1::2]
    if not all(type(m) is Linear for m in linears) or any(type(m) is Linear for m in between):
        return None
    widths = [m.in_features for m in linears] + [linears[-1].out_features]
    if any(a.out_features != b.in_features for a, b in itertools.pairwise(linears)):
        return None
    if len({m.bias is not None for m in linears}) != 1:
        return None
    hidden = between[: len(linears) - 1]
    output = between[len(linears) - 1] if len(between) == len(linears) else None
    if len({repr(m) for m in hidden}) > 1 or any(_OURS.get(type(m)) is None for m in hidden):
        return None
    if hidden and A.find_activation(hidden[0]) is None:
        return None
    if output is not None and A.find_activation(output) is None:
        return None
    dtype = linears[0].weight.dtype
    if dtype not in (np.float32, np.float64):
        return None
    model = MLP(widths, activation=hidden[0] if hidden else "relu", output_activation=output,
                bias=linears[0].bias is not None)
    return model.double() if dtype == np.float64 else model


def from_torch(module: Any) -> Module:
    """The ``nn`` model equivalent to the ``torch.nn`` module ``module``: same layers,
    settings, weights, buffers, dtypes and training modes. A ``torch.nn.Sequential`` comes
    back as an ``nn.MLP`` when it is exactly the layer stack an ``MLP`` makes, else as an
    ``nn.Sequential``.

    >>> import pytest
    >>> torch = pytest.importorskip("torch")
    >>> from tinygrad_mlp import nn
    >>> nn.from_torch(torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh()))
    MLP(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): Tanh()
    )
    """
    torch = _torch("from_torch")
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"from_torch: expected a torch.nn.Module, got {type(module).__name__}")

    def convert(theirs: Any, where: str) -> Module:
        if type(theirs) is torch.nn.Sequential:
            children = OrderedDict(
                (name, convert(child, f"{where}.{name}".lstrip(".")))
                for name, child in theirs.named_children()
            )
            return _as_mlp(children) or Sequential(dict(children))
        name = type(theirs).__name__
        if name not in LAYERS or type(theirs) is not getattr(torch.nn, name, None):
            raise _unsupported("from_torch", where, theirs)
        if name == "Softmax" and theirs.dim is None:
            raise _unsupported("from_torch", where, theirs,
                               "dim=None (PyTorch's implicit choice) is not supported; "
                               "give it a dim")
        try:
            return LAYERS[name][0](**_settings(name, theirs))
        except (TypeError, ValueError) as error:
            raise _unsupported("from_torch", where, theirs, str(error)) from None

    with keeping_generator():  # the layers' initial weights are replaced by the module's
        ours = convert(module, "")
    state = {key: value.detach().cpu().numpy() for key, value in module.state_dict().items()}
    ours.load_state_dict(state, strict=True)
    _copy_modes(module, ours)
    return ours
