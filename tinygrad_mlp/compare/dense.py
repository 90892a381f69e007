"""Dense layers: your forward pass's values layer by layer, and the slips of their backprop.

In the column layout of Ng and Nielsen (one example per column) layer ``i`` computes
``Z_i = W_i A_{i-1} + b_i`` and ``A_i = g_i(Z_i)``; its backprop is
``dZ_i = dA_i * g_i'(Z_i)``, ``dW_i = c dZ_i A_{i-1}^T``, ``db_i = c sum(dZ_i, axis=1)``,
``dA_{i-1} = W_i^T dZ_i`` (``c = 1/m`` for a cost that is a mean, 1 for a sum). :class:`Dense`
holds the values, each layer's activation found by value in the one table of
:mod:`tinygrad_mlp.nn.activations`; :func:`guesses` lists, for one quantity, what the usual
slips would have made of the same inputs. All deltas here are per example (``dJ/dZ`` of
the summed cost); a convention whose deltas are divided by m says so through its scales.

>>> layer = Layer(W=np.eye(2), b=np.zeros((2, 1)), A_prev=np.ones((2, 3)),
...               Z=np.ones((2, 3)), A=np.tanh(np.ones((2, 3))))
>>> layer.activation.name
'tanh'
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..engine.autograd import grad
from ..engine.tensor import Tensor
from ..nn.activations import ACTIVATIONS, ActivationSpec
from .arrays import close
from .causes import Guess, axis_guesses

# Derivatives as learners write them in terms of the activation's OUTPUT y = g(z).
OUTPUT_FORM: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda y: y * (1.0 - y),
    "tanh": lambda y: 1.0 - y * y,
    "relu": lambda y: (y > 0).astype(np.float64),
    "softplus": lambda y: 1.0 - np.exp(-y),
}


def find_layer_activation(Z: np.ndarray, A: np.ndarray
                          ) -> tuple[ActivationSpec | None, float | None]:
    """The table's activation that turns ``Z`` into ``A`` (column layout: a softmax runs down
    each column), with its parameter (a leaky ReLU's slope, read off the values).

    >>> find_layer_activation(np.array([[-2.0, 1.0]]), np.array([[-0.2, 1.0]]))[1]
    0.1
    """
    Z, A = np.asarray(Z, dtype=np.float64), np.asarray(A, dtype=np.float64)
    if Z.shape != A.shape or Z.ndim != 2:
        return None, None
    for spec in ACTIVATIONS.values():
        value = None
        if spec.parameter is not None:
            negative = Z < 0
            if not negative.any():
                continue
            value = float(np.median(A[negative] / Z[negative]))
        with np.errstate(all="ignore"):
            got = _apply(spec, value, Z)
        if close(got, A, 1e-9, 1e-12):
            return spec, value
    return None, None


def _apply(spec: ActivationSpec, value: float | None, Z: np.ndarray) -> np.ndarray:
    if spec.name == "softmax":
        return spec.rule(Tensor(Z.T.copy()), value).numpy().T
    return spec.rule(Tensor(Z.copy()), value).numpy()


@dataclass
class Layer:
    """One dense layer's values in the column layout (features × examples): ``W`` and ``b``,
    its input ``A_prev``, pre-activation ``Z`` and output ``A``; ``activation`` is found by
    value (None when it is none the table knows).

    >>> Layer(np.eye(1), np.zeros((1, 1)), np.ones((1, 2)), np.ones((1, 2)),
    ...       np.ones((1, 2))).activation.name
    'relu'
    """

    W: np.ndarray
    b: np.ndarray
    A_prev: np.ndarray
    Z: np.ndarray
    A: np.ndarray
    activation: ActivationSpec | None = field(default=None)
    parameter: float | None = None

    def __post_init__(self) -> None:
        if self.activation is None:
            self.activation, self.parameter = find_layer_activation(self.Z, self.A)

    @property
    def elementwise(self) -> bool:
        return self.activation is not None and self.activation.name != "softmax"

    def vjp(self, upstream: np.ndarray, at: np.ndarray | None = None) -> np.ndarray | None:
        """``dL/dZ`` from ``dL/dA`` through this layer's activation, taken at ``at`` (the
        pre-activation ``Z`` by default; anything else is a guess at a slip); None when the
        activation is unknown."""
        spec = self.activation
        if spec is None:
            return None
        point = self.Z if at is None else at
        if spec.op is None:  # the identity
            return np.array(upstream, dtype=np.float64)
        with np.errstate(all="ignore"):
            if spec.name == "softmax":
                x = Tensor(point.T.copy(), requires_grad=True)
                (g,) = grad(spec.rule(x, self.parameter), x, grad_outputs=np.asarray(upstream).T)
                return g.numpy().T
            x = Tensor(np.array(point, dtype=np.float64), requires_grad=True)
            (g,) = grad(spec.rule(x, self.parameter), x,
                        grad_outputs=np.asarray(upstream, dtype=np.float64))
            return g.numpy()

    def output_form(self, at: np.ndarray) -> np.ndarray | None:
        """The derivative written for the output, ``y(1 - y)`` for a sigmoid, taken at ``at``."""
        if self.activation is None or self.activation.name not in OUTPUT_FORM:
            return None
        with np.errstate(all="ignore"):
            return OUTPUT_FORM[self.activation.name](at)


@dataclass
class Dense:
    """Your network as dense layers: ``layers`` in order, ``m`` examples, ``Y`` the targets
    (column layout), ``mean`` when the cost is a mean over the examples (Ng) rather than a
    sum (Nielsen), ``dAL`` the reference gradient at the output (at your delta's scale).

    >>> Dense([], 8, mean=True).scale
    0.125
    """

    layers: list[Layer]
    m: int
    Y: np.ndarray | None = None
    mean: bool = True
    dAL: np.ndarray | None = None
    names: Callable[[str, int], str] | None = None

    def name(self, letter: str, i: int) -> str:
        """Your name of layer ``i``'s ``W``, ``Z`` or ``A`` (``A`` of layer -1 is the input):
        Ng's ``W2``, ``A1``, ``X`` by default.

        >>> Dense([], 4).name("W", 1), Dense([], 4).name("A", -1)
        ('W2', 'X')
        """
        if self.names is not None:
            return self.names(letter, i)
        return "X" if i < 0 else f"{letter}{i + 1}"

    @property
    def scale(self) -> float:
        """What a gradient of a parameter is, times the product of a per-example delta and
        its layer's input: ``1/m`` for a mean, 1 for a sum."""
        return 1.0 / self.m if self.mean else 1.0




def _square(a: np.ndarray, b: np.ndarray) -> bool:
    return a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]


# How learners write each derivative in terms of the output y, for the words of a cause.
OUTPUT_WORDS = {"sigmoid": "{A} * (1 - {A})", "tanh": "1 - {A}**2", "softplus": "1 - exp(-{A})"}


def delta_options(d: Dense, i: int, dA: np.ndarray | None
                  ) -> Iterator[tuple[str | None, str, Any]]:
    """``(cause, words, dZ)``: the right ``dZ`` of layer ``i`` from ``dA`` (cause None) and
    the slips in the activation factor, in your names."""
    if dA is None:
        return
    layer = d.layers[i]
    yield None, "", layer.vjp(dA)
    spec = layer.activation
    if spec is None or spec.op is None:
        return
    A, Z, g = d.name("A", i), d.name("Z", i), spec.name
    yield ("missing_activation_derivative",
           f"the factor {g}'({Z}) is missing: the gradient with respect to {A} is used as the "
           f"one with respect to {Z}", dA)
    if layer.elementwise and not spec.kinked:
        yield ("derivative_at_output",
               f"the derivative of {g} is taken at {A} = {g}({Z}), the layer's output, where "
               f"{Z} belongs: {g}'({A}) instead of {g}'({Z}) (a derivative written for the "
               "input given the output, or the output form applied twice)",
               layer.vjp(dA, at=layer.A))
        form = layer.output_form(layer.Z)
        if form is not None:
            written = OUTPUT_WORDS.get(g, "its output form").format(A=Z)
            yield ("output_form_at_input",
                   f"the derivative of {g} is written for its output (in terms of {A}) but "
                   f"given {Z}: {written}", dA * form)


def delta_guesses(d: Dense, i: int, up_kind: str | None, up: np.ndarray | None
                  ) -> Iterator[Guess]:
    """Slips in ``dZ_i`` given the quantity it is computed from: nothing (the output layer:
    from ``dJ/dA_L``), ``dA_i``, or the next layer's ``dZ``."""
    layer = d.layers[i]
    if up_kind == "dZ" and up is not None:
        above = d.layers[i + 1]
        dA = above.W.T @ up
        W = d.name("W", i + 1)
        if _square(above.W, up):
            yield Guess("transpose", f"the next layer's weights are not transposed: {W} @ dZ "
                        f"where {W}.T @ dZ belongs (it runs because that layer is square)",
                        layer.vjp(above.W @ up))
        for k, other in enumerate(d.layers):
            if k != i + 1 and other.W.shape == (up.shape[0], layer.Z.shape[0]):
                yield Guess("wrong_layer", f"the weights of the wrong layer: "
                            f"{d.name('W', k)} where {W} belongs", layer.vjp(other.W.T @ up))
    elif up_kind == "dA":
        dA = up
    else:
        dA = d.dAL
    options = list(delta_options(d, i, dA))
    for cause, words, dZ in options[1:]:
        yield Guess(cause, words, dZ)
    if options and layer.elementwise and layer.activation.op is not None:
        yield Guess("extra_activation_derivative", f"the right delta multiplied by the "
                    f"derivative of {layer.activation.name} once more (a delta fused with its "
                    "cost, like a - y for the cross-entropy, needs no g'(Z) factor)",
                    layer.vjp(options[0][2]))
    if i == len(d.layers) - 1 and d.Y is not None and d.Y.shape == layer.A.shape:
        yield Guess("fused_delta", "A - Y: the output delta of a sigmoid with binary "
                    "cross-entropy (or a softmax with cross-entropy), which is right only "
                    f"for those; here the output is {_name(layer)} with your own cost",
                    layer.A - d.Y)


def input_guesses(d: Dense, i: int, up: np.ndarray) -> Iterator[Guess]:
    """Slips in ``dA_i`` (the input of layer ``i + 1``) computed from ``dZ_{i+1}``."""
    W = d.layers[i + 1].W
    if _square(W, up):
        yield Guess("transpose", f"{d.name('W', i + 1)} is not transposed: W @ dZ where W.T @ dZ "
                    "belongs (it runs because the layer is square)", W @ up)
    for k, other in enumerate(d.layers):
        if k != i + 1 and other.W.shape[0] == up.shape[0] and other.W.shape[1] == W.shape[1]:
            yield Guess("wrong_layer", f"the weights of the wrong layer: {d.name('W', k)} where "
                        f"{d.name('W', i + 1)} belongs", other.W.T @ up)


def parameter_guesses(d: Dense, i: int, kind: str, up_kind: str | None, up: np.ndarray | None,
                      shape: tuple[int, ...]) -> Iterator[Guess]:
    """Slips in ``dW_i`` or ``db_i`` (``kind``) computed from ``dZ_i`` or ``dA_i``; ``shape``
    is the shape of your array (a bias gradient summed over the wrong axis has another)."""
    layer = d.layers[i]
    if up is None:
        return
    if up_kind == "dZ_next":
        right = layer.vjp(d.layers[i + 1].W.T @ up)
        options = [(None, "", right)] + [(g.cause, g.words, g.predicted)
                                         for g in delta_guesses(d, i, "dZ", up)
                                         if g.cause != "extra_activation_derivative"]
    elif up_kind == "dZ":
        options = [(None, "", up)]
    else:
        options = list(delta_options(d, i, up))
    if not options or options[0][2] is None:
        return
    dZ = options[0][2]
    for cause, words, wrong in options[1:]:
        yield Guess(cause, words, _gradient(d, layer, kind, wrong), via=wrong)
    if kind == "db":
        for guess in axis_guesses(d.scale * dZ, shape):
            if guess.predicted.shape != layer.b.shape or shape != layer.b.shape:
                yield guess
        return
    right = _gradient(d, layer, kind, dZ)
    if right.shape[0] == right.shape[1]:
        yield Guess("transpose", "the whole gradient transposed (A_prev @ dZ.T where "
                    "dZ @ A_prev.T belongs; it runs because the layer is square)", right.T)
    inputs = [("A", k, x.A) for k, x in enumerate(d.layers)] + [("X", -1, d.layers[0].A_prev)]
    for _letter, k, A in inputs:
        if k != i - 1 and A.shape[0] == layer.A_prev.shape[0] and A is not layer.A_prev:
            yield Guess("activations_off_by_one", f"the activations of the wrong layer: "
                        f"{d.name('A', k)} where {d.name('A', i - 1)} (the previous layer's "
                        "output) belongs", d.scale * dZ @ A.T)
    if i > 0 and d.layers[i - 1].Z.shape == layer.A_prev.shape:
        yield Guess("pre_activation", f"the previous layer's pre-activation "
                    f"{d.name('Z', i - 1)} where its activation {d.name('A', i - 1)} belongs",
                    d.scale * dZ @ d.layers[i - 1].Z.T)


def _gradient(d: Dense, layer: Layer, kind: str, dZ: np.ndarray) -> np.ndarray:
    if kind == "db":
        return d.scale * dZ.sum(axis=1, keepdims=True).reshape(layer.b.shape)
    return d.scale * dZ @ layer.A_prev.T


def _name(layer: Layer) -> str:
    return "an unknown activation" if layer.activation is None else layer.activation.name


def forward_guesses(d: Dense, i: int, key: str, shape: tuple[int, ...]) -> Iterator[Guess]:
    """Slips in a forward pass your backprop repeats (Nielsen's ``zs``, ``activations``),
    one example (the first column)."""
    layer = d.layers[i]
    k = shape[1] if len(shape) == 2 else 1
    if key.startswith("zs"):
        yield Guess("bias_missing", f"{d.name('W', i)} times the layer's input without the bias "
                    "(the + b is missing)", (layer.W @ layer.A_prev)[:, :k])
    else:
        yield Guess("activation_not_applied", f"{d.name('Z', i)} itself: the activation of the "
                    "layer is not applied", layer.Z[:, :k])


def right_rule(d: Dense, kind: str, i: int, up_kind: str, up: np.ndarray) -> np.ndarray | None:
    """What the right rule makes of ``up`` (a ``dZ`` or ``dA``, per example): ``dZ_i``,
    ``dA_i`` (the input of layer ``i + 1``), ``dW_i`` or ``db_i``; None when it cannot be
    told (an activation the table does not know).

    >>> layer = Layer(np.eye(2), np.zeros((2, 1)), np.ones((2, 3)), np.zeros((2, 3)),
    ...               np.zeros((2, 3)))
    >>> right_rule(Dense([layer], 3), "db", 0, "dZ", np.ones((2, 3))).ravel().tolist()
    [1.0, 1.0]
    """
    layer = d.layers[i]
    if kind == "dA":
        return d.layers[i + 1].W.T @ up if up_kind == "dZ" else None
    if kind == "dZ":
        if up_kind == "dA":
            return layer.vjp(up)
        if up_kind == "dZ":
            return layer.vjp(d.layers[i + 1].W.T @ up)
        return None
    if kind in ("dW", "db"):
        if up_kind == "dZ_next":
            dZ = layer.vjp(d.layers[i + 1].W.T @ up)
        else:
            dZ = up if up_kind == "dZ" else layer.vjp(up) if up_kind == "dA" else None
        return None if dZ is None else _gradient(d, layer, kind, dZ)
    return None
