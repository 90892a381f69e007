"""Exact conversions between the hand-written network and ``nn.MLP``, and side-by-side training.

The two store the same numbers in different layouts. The skeleton keeps one matrix per
layer, ``W[i]`` of shape ``(n_in + 1, n_out)`` with the bias in row 0, and computes
``[1, Z] @ W[i]``; ``nn.Linear`` keeps ``weight`` of shape ``(n_out, n_in)`` and ``bias`` of
shape ``(n_out,)`` and computes ``Z @ weight.T + bias``. So::

    bias   = W[i][0]          W[i] = vstack([bias, weight.T])
    weight = W[i][1:].T

Both directions copy the numbers exactly (float64, no arithmetic), so the two networks
compute the same function to the last bit of the matrix products, and
:func:`train_side_by_side` shows that plain gradient descent keeps them together step
after step.

>>> import numpy as np
>>> from tinygrad_mlp import manual
>>> net = manual.NeuralNetwork(3, [4, 1], [manual.Tanh(), manual.Identity()], manual.MSE())
>>> model = to_mlp(net)
>>> bool(np.array_equal(model[0].bias.numpy(), net.W[0][0]))
True
>>> back = from_mlp(model, loss=manual.MSE(), learning_rate=net.learning_rate)
>>> all(np.array_equal(a, b) for a, b in zip(back.W, net.W))
True
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import manual, nn, optim
from .engine.tensor import Tensor, default_rng
from .nn.activations import ACTIVATIONS, find_activation

__all__ = [
    "ProbabilityCrossEntropyLoss",
    "SideBySide",
    "from_mlp",
    "from_nn_loss",
    "to_mlp",
    "to_nn_loss",
    "train_side_by_side",
]


def _to_module(act: Any, layer: int) -> nn.Module:
    spec = find_activation(act)
    if spec is None:
        known = ", ".join(ACTIVATIONS)
        raise ValueError(
            f"to_mlp: layer {layer} has activation {type(act).__name__}, which has no nn "
            f"counterpart; known: {known}"
        )
    return spec.make(spec.value_of(act))


def to_mlp(net: Any) -> nn.MLP:
    """The ``nn.MLP`` (float64) computing exactly what ``net`` computes, same weights.

    ``net`` is any object in the skeleton's convention (``W`` and ``activations``).
    Activations are mapped by name (``relu``, ``leaky_relu`` with its slope, ``sigmoid``,
    ``tanh``, ``softmax``, ``identity``/``linear``); an identity on the last layer becomes
    no output activation. Different activations in different hidden layers are kept. The
    loss is not part of a model: map it with :func:`to_nn_loss`. No random numbers are
    drawn (the generator behind ``tg.manual_seed`` is left where it was).

    >>> from tinygrad_mlp import manual
    >>> net = manual.NeuralNetwork(2, [3, 1], [manual.ReLU(), manual.Identity()], manual.MSE())
    >>> to_mlp(net)
    MLP(
      (0): Linear(in_features=2, out_features=3, bias=True)
      (1): ReLU()
      (2): Linear(in_features=3, out_features=1, bias=True)
    )
    """
    W = [np.asarray(w, dtype=np.float64) for w in net.W]
    acts = list(net.activations)
    if len(W) != len(acts) or not W:
        raise ValueError(f"to_mlp: {len(W)} weight arrays but {len(acts)} activations")
    sizes = [W[0].shape[0] - 1]
    for i, w in enumerate(W):
        if w.ndim != 2 or w.shape[0] != sizes[-1] + 1:
            raise ValueError(
                f"to_mlp: W[{i}] has shape {w.shape}; expected ({sizes[-1] + 1}, n_out) "
                "(row 0 the bias, then one row per input)"
            )
        sizes.append(w.shape[1])
    hidden = [_to_module(a, i) for i, a in enumerate(acts[:-1])]
    last = _to_module(acts[-1], len(acts) - 1)
    output = None if isinstance(last, nn.Identity) else last

    rng = default_rng()
    state = copy.deepcopy(rng.bit_generator.state)
    try:
        model = nn.MLP(sizes, activation=hidden[0] if hidden else "relu",
                       output_activation=output)
    finally:
        # The fresh layers drew random initial weights that are overwritten right away;
        # putting the generator back makes converting invisible to seeded code around it.
        rng.bit_generator.state = state
    model.double()
    for i, module in enumerate(hidden):
        model[2 * i + 1] = module
    linears = [m for m in model if isinstance(m, nn.Linear)]
    for w, linear in zip(W, linears):
        linear.weight.data = np.ascontiguousarray(w[1:].T).copy()
        linear.bias.data = w[0].copy()
    return model


def _from_module(module: nn.Module, position: int) -> manual.Activation:
    if isinstance(module, nn.Softmax) and module.dim not in (-1, 1):
        raise ValueError(
            f"from_mlp: module {position} is a Softmax over dim {module.dim}; the manual "
            "network's Softmax works on the last axis (dim=-1)"
        )
    spec = find_activation(module)
    # The manual activation of the same name as the nn class (ActivationSpec.title).
    cls = getattr(manual, spec.title, None) if spec is not None else None
    if cls is None or not (isinstance(cls, type) and issubclass(cls, manual.Activation)):
        names = [s.title for s in ACTIVATIONS.values()
                 if isinstance(getattr(manual, s.title, None), type)]
        raise ValueError(
            f"from_mlp: module {position} ({type(module).__name__}) has no counterpart in "
            f"tinygrad_mlp.manual ({', '.join(names)})"
        )
    value = spec.value_of(module)
    return cls() if value is None else cls(value)


def from_mlp(
    model: nn.Module,
    loss: Any = "mse",
    learning_rate: float = 0.01,
) -> manual.NeuralNetwork:
    """The hand-written ``manual.NeuralNetwork`` computing exactly what ``model`` computes.

    ``model`` is an ``nn.MLP`` or any ``nn.Sequential`` of ``Linear`` layers, each followed
    by at most one activation. A ``Linear`` without a bias gets a zero bias row (same
    function; the manual network will then learn that bias). ``loss`` is a manual loss
    object, an nn loss module (see :func:`from_nn_loss`) or a name (``"mse"``, ``"bce"``,
    ``"cross_entropy"``).

    >>> from tinygrad_mlp import nn
    >>> net = from_mlp(nn.MLP([2, 3, 1], activation="tanh"), loss="mse", learning_rate=0.1)
    >>> [w.shape for w in net.W], [a.name for a in net.activations]
    ([(3, 3), (4, 1)], ['tanh', 'identity'])
    """
    modules = list(model) if isinstance(model, nn.Sequential) else [model]
    W: list[np.ndarray] = []
    acts: list[manual.Activation | None] = []
    for position, module in enumerate(modules):
        if isinstance(module, nn.Linear):
            weight = np.asarray(module.weight.numpy(), dtype=np.float64)
            bias = (np.zeros(weight.shape[0]) if module.bias is None
                    else np.asarray(module.bias.numpy(), dtype=np.float64))
            if W and W[-1].shape[1] != weight.shape[1]:
                raise ValueError(
                    f"from_mlp: module {position} takes {weight.shape[1]} inputs but the "
                    f"layer before gives {W[-1].shape[1]}"
                )
            W.append(np.vstack([bias[None, :], weight.T]))
            acts.append(None)
        else:
            if not W:
                raise ValueError(f"from_mlp: module {position} ({type(module).__name__}) "
                                 "comes before the first Linear layer")
            if acts[-1] is not None:
                raise ValueError(f"from_mlp: module {position} is a second activation after "
                                 "one Linear layer; the manual network has one per layer")
            acts[-1] = _from_module(module, position)
    if not W:
        raise ValueError("from_mlp: the model has no Linear layer")
    activations = [a if a is not None else manual.Identity() for a in acts]
    sizes = [w.shape[1] for w in W]
    return manual.NeuralNetwork(W[0].shape[0] - 1, sizes, activations, _manual_loss(loss),
                                learning_rate=learning_rate, W_init=W)


# ---------------------------------------------------------------------------------------------
# Losses


class ProbabilityCrossEntropyLoss(nn.Module):
    """``manual.CrossEntropy`` as an nn loss: cross-entropy of *probabilities* (after a softmax).

    ``-sum(Y * log(clip(p, 1e-12, 1 - 1e-12))) / n`` with ``Y`` one-hot (from class indices
    ``(n,)``) or given rows ``(n, k)``, exactly like the manual loss. PyTorch has no such
    module because ``nn.CrossEntropyLoss`` on logits is more stable; this one exists so a
    manual network ending in a softmax converts with its output unchanged.

    >>> import tinygrad_mlp as tg
    >>> round(ProbabilityCrossEntropyLoss()(tg.tensor([[0.25, 0.75]]), [1]).item(), 6)
    0.287682
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        """The loss of probabilities ``input`` (n, k) against labels (n,) or rows (n, k).

        >>> import tinygrad_mlp as tg
        >>> round(ProbabilityCrossEntropyLoss()(tg.tensor([[0.5, 0.5]]), [[1.0, 0.0]]).item(), 6)
        0.693147
        """
        p = input if isinstance(input, Tensor) else Tensor(input)
        y = np.asarray(target.numpy() if isinstance(target, Tensor) else target)
        n, k = p.shape
        if y.shape == (n,):
            onehot = np.zeros((n, k), dtype=p.dtype)
            onehot[np.arange(n), y.astype(np.int64)] = 1.0
            y = onehot
        clipped = p.clip(1e-12, 1.0 - 1e-12)
        return -(Tensor(y.astype(p.dtype)) * clipped.log()).sum() / n


# The nn loss with the same value as each manual loss.
_NN_LOSSES: dict[type, Any] = {
    manual.MSE: nn.MSELoss,
    manual.BinaryCrossEntropy: nn.BCELoss,
    manual.CrossEntropy: ProbabilityCrossEntropyLoss,
}


def to_nn_loss(loss: Any) -> nn.Module:
    """The nn loss module with the same value as the manual ``loss`` object.

    ``MSE`` becomes ``nn.MSELoss()`` (both the mean over every element),
    ``BinaryCrossEntropy`` becomes ``nn.BCELoss()`` (the two differ only where a
    probability is within 1e-12 of 0 or 1: the manual one clips there, BCELoss clamps the
    log at -100) and ``CrossEntropy`` becomes :class:`ProbabilityCrossEntropyLoss`. The
    mapping goes by the loss's name, i.e. by its value: a loss whose derivative is not the
    derivative of its value maps to the loss its value describes.

    >>> from tinygrad_mlp import manual
    >>> to_nn_loss(manual.MSE())
    MSELoss()
    """
    kind = manual.find_loss(loss)
    if kind is None or kind not in _NN_LOSSES:
        raise ValueError(f"to_nn_loss: no nn loss for {type(loss).__name__} (known: MSE, "
                         "BinaryCrossEntropy, CrossEntropy)")
    return _NN_LOSSES[kind]()


def from_nn_loss(loss: nn.Module) -> manual.Loss:
    """The manual loss object with the same value as an nn loss module (mean reduction).

    >>> from tinygrad_mlp import nn
    >>> from_nn_loss(nn.MSELoss())
    MSE()
    """
    reduction = getattr(loss, "reduction", "mean")
    if isinstance(loss, ProbabilityCrossEntropyLoss):
        return manual.CrossEntropy()
    if reduction != "mean":
        raise ValueError(
            f"from_nn_loss: {type(loss).__name__}(reduction={reduction!r}) has no manual "
            "counterpart; the manual losses average (reduction='mean')"
        )
    if isinstance(loss, nn.MSELoss):
        return manual.MSE()
    if isinstance(loss, nn.BCELoss):
        return manual.BinaryCrossEntropy()
    raise ValueError(
        f"from_nn_loss: no manual loss for {type(loss).__name__}; CrossEntropyLoss and "
        "BCEWithLogitsLoss take logits, while the manual losses take probabilities: end the "
        "network in Softmax/Sigmoid and use CrossEntropy/BinaryCrossEntropy"
    )


def _manual_loss(loss: Any) -> Any:
    if isinstance(loss, str):
        kind = manual.find_loss(loss)
        if kind is None:
            raise ValueError(f"unknown loss name {loss!r}; use one of 'mse', 'bce', "
                             "'binary_cross_entropy', 'cross_entropy'")
        return kind()
    if isinstance(loss, nn.Module):
        return from_nn_loss(loss)
    return loss


# ---------------------------------------------------------------------------------------------
# Side by side


@dataclass
class SideBySide:
    """What :func:`train_side_by_side` saw: both loss curves and how far apart they drifted.

    ``max_weight_diff[e]`` is the largest ``|manual - mlp|`` over all weights and biases
    after step ``e``, relative to the largest weight; ``net`` and ``model`` are the trained
    copies.

    >>> SideBySide([1.0], [1.0], [0.0], None, None).agree()
    True
    """

    manual_losses: list[float]
    mlp_losses: list[float]
    max_weight_diff: list[float]
    net: Any
    model: Any
    notes: list[str] = field(default_factory=list)

    def agree(self, rtol: float = 1e-9) -> bool:
        """True when weights and losses stayed within ``rtol`` (relative) every step.

        >>> SideBySide([1.0], [2.0], [0.0], None, None).agree()
        False
        """
        losses = np.asarray(self.manual_losses)
        other = np.asarray(self.mlp_losses)
        close = np.all(np.abs(losses - other) <= rtol * np.maximum(1.0, np.abs(losses)))
        return bool(close and max(self.max_weight_diff, default=0.0) <= rtol)


def _mlp_weights(model: nn.Module) -> list[np.ndarray]:
    linears = [m for m in model if isinstance(m, nn.Linear)]
    return [np.vstack([lin.bias.numpy()[None, :], lin.weight.numpy().T]) for lin in linears]


def train_side_by_side(net: Any, X: ArrayLike, y: ArrayLike, epochs: int) -> SideBySide:
    """Train a copy of ``net`` and its :func:`to_mlp` twin with plain gradient descent.

    The manual copy runs its own ``forward_pass``/``backward_pass``/``update_weights``;
    the twin runs ``model(X)``, ``to_nn_loss(net.loss)``, ``backward()`` and
    ``optim.SGD(lr=net.learning_rate).step()``. Both start from the same weights; after
    every step the weights are compared. ``net`` itself is not changed.

    >>> import numpy as np
    >>> from tinygrad_mlp import manual
    >>> X = np.random.default_rng(0).normal(size=(20, 2)); y = X[:, :1] * X[:, 1:]
    >>> net = manual.NeuralNetwork(2, [8, 1], [manual.Tanh(), manual.Identity()],
    ...                            manual.MSE(), learning_rate=0.1)
    >>> run = train_side_by_side(net, X, y, epochs=50)
    >>> run.agree(), run.mlp_losses[-1] < run.mlp_losses[0]
    (True, True)
    """
    X = np.asarray(X, dtype=np.float64)
    twin = copy.deepcopy(net)
    twin.W = [np.array(w, dtype=np.float64, copy=True) for w in twin.W]
    model = to_mlp(twin)
    loss_fn = to_nn_loss(twin.loss)
    opt = optim.SGD(model.parameters(), lr=float(twin.learning_rate))
    y_arr = np.asarray(y)
    out_shape = (X.shape[0], twin.W[-1].shape[1])
    if isinstance(loss_fn, nn.MSELoss | nn.BCELoss) and y_arr.size == X.shape[0] * out_shape[1]:
        y_arr = y_arr.astype(np.float64).reshape(out_shape)
    Xt, yt = Tensor(X), (Tensor(y_arr) if y_arr.dtype.kind == "f" else y_arr)
    manual_losses: list[float] = []
    mlp_losses: list[float] = []
    drift: list[float] = []
    for _ in range(int(epochs)):
        A_vals, Z_vals = twin.forward_pass(X)
        manual_losses.append(float(twin.loss.value(Z_vals[-1], y)))
        deltas = twin.backward_pass(A_vals, twin.loss.derivative(Z_vals[-1], y))
        twin.W = twin.update_weights(X, Z_vals, deltas)

        opt.zero_grad()
        loss = loss_fn(model(Xt), yt)
        loss.backward()
        opt.step()
        mlp_losses.append(float(loss.item()))

        theirs = _mlp_weights(model)
        scale = max(float(np.max(np.abs(w))) for w in twin.W) or 1.0
        drift.append(max(float(np.max(np.abs(a - b))) for a, b in zip(twin.W, theirs)) / scale)
    return SideBySide(manual_losses, mlp_losses, drift, twin, model)
