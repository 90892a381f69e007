"""Neural-network building blocks with PyTorch's names: modules, layers, losses, init.

>>> import tinygrad_mlp as tg
>>> from tinygrad_mlp import nn
>>> model = nn.MLP([2, 8, 1])
>>> loss = nn.MSELoss()(model(tg.ones(4, 2)), tg.zeros(4, 1))
>>> loss.backward()
>>> model[0].weight.grad.shape
(8, 2)

What ``nn`` offers, and to whom (the public names of its modules; nothing outside ``nn``
reaches for a ``_name`` inside it):

- To users, as ``nn.X``: ``Module``, ``Parameter``, the containers, the layers and
  activations, the losses, ``functional``, ``init``, ``utils``; ``tg.save``/``tg.load`` are
  ``nn.serialize.save``/``load``.
- ``nn.activations``: THE table of activations (``ACTIVATIONS`` of ``ActivationSpec``,
  ``find_activation``, ``make_activation``, ``HIDDEN_ACTIVATIONS``), from which the command
  line, the backprop checker, the converter, the compiled step and the pictures take names,
  aliases and rules; ``nn.functional`` and ``nn.init`` read activations from it too.
- ``nn.serialize``: the ``.npz`` format for any file of named arrays: ``write_npz`` /
  ``stage_npz`` (atomic, permission-keeping writes) and ``read_npz`` (a hostile-file-safe
  read), used by ``tinygrad_mlp.modelfile`` for the model's side data; ``read_state`` and
  ``state_arrays`` for a model file's weights and architecture.
- ``nn.architecture``: how a model describes itself in a file (``describable`` for a new
  layer class, ``describe``, ``build``, ``rebuild``) and the limits a file's description
  must keep.
- ``nn.checks``: the argument checks and their wording (``positive_int``, ``probability``,
  ``check_reduction``, ``Setting``...), for every ``nn`` module and for ``optim``.

Inside ``nn`` the order is: ``checks`` and ``architecture`` (no ``nn`` imports), then
``serialize``, ``module``, ``functional``, ``init``, ``activations``, ``layers`` and the
other layer files, ``loss``, ``utils``.
"""

from . import functional, init, utils
from .activations import (
    ACTIVATIONS,
    ELU,
    GELU,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    find_activation,
)
from .bridge import from_torch, to_torch
from .layers import MLP, Dropout, Flatten, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import IncompatibleKeys, Module, ModuleList, Parameter, Sequential
from .normalization import BatchNorm1d, LayerNorm

__all__ = [
    "ACTIVATIONS", "ELU", "GELU", "MLP", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d",
    "CrossEntropyLoss", "Dropout", "Flatten", "Identity", "IncompatibleKeys", "LayerNorm",
    "LeakyReLU", "Linear", "MSELoss", "Module", "ModuleList", "Parameter", "ReLU",
    "Sequential", "Sigmoid", "Softmax", "Softplus", "Tanh", "find_activation", "from_torch",
    "functional", "init", "to_torch", "utils",
]
