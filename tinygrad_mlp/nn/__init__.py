"""Neural-network building blocks with PyTorch's names: modules, layers, losses, init.

>>> import tinygrad_mlp as tg
>>> from tinygrad_mlp import nn
>>> model = nn.MLP([2, 8, 1])
>>> loss = nn.MSELoss()(model(tg.ones(4, 2)), tg.zeros(4, 1))
>>> loss.backward()
>>> model[0].weight.grad.shape
(8, 2)
"""

from . import functional, init, utils
from .activations import (
    ACTIVATIONS,
    Identity,
    LeakyReLU,
    ReLU,
    Sigmoid,
    Softmax,
    Softplus,
    Tanh,
    find_activation,
)
from .layers import MLP, Flatten, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import IncompatibleKeys, Module, ModuleList, Parameter, Sequential

__all__ = [
    "ACTIVATIONS", "MLP", "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Flatten",
    "Identity", "IncompatibleKeys", "LeakyReLU", "Linear", "MSELoss", "Module", "ModuleList",
    "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Softplus", "Tanh",
    "find_activation", "functional", "init", "utils",
]
