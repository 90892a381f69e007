"""The skeleton checker's reference: your network's forward and backward through the engine.

For a network in the course skeleton's convention, the reference is built from the same
weights in float64, layer by layer (``A_i = [1, Z_{i-1}] @ W[i]``, ``Z_i = g_i(A_i)``):

* an activation is recognised by the one table of :mod:`tinygrad_mlp.nn.activations`
  (``find_activation``: by ``.name`` or class name) and differentiated by the engine, after
  checking that your ``.value`` really computes it; any other activation is differentiated
  by central differences of its own ``.value``, which assumes it acts elementwise;
* the loss is differentiated by the engine when one of the standard formulas (mean or sum
  of squared errors, binary or categorical cross-entropy, clipped or not) reproduces your
  ``loss.value``, otherwise by finite differences of ``loss.value`` (one pair of calls per
  element of ``ŷ``, beyond ``FD_SAMPLE`` elements at a seeded random sample of them).

>>> from tinygrad_mlp import manual
>>> ActivationReference(manual.Tanh(), np.zeros((2, 3)), 0).label
'tanh'
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import functions as F
from ..engine.autograd import grad
from ..engine.tensor import Tensor
from ..nn.activations import ActivationSpec, find_activation
from .arrays import SAME_VALUE_RTOL, as_array, close, compare_arrays
from .differences import elementwise_slopes, entry_slopes
from .usercode import exception_text

# A finite-difference dL/dŷ costs two calls of loss.value on the whole batch per entry of
# ŷ; beyond this many entries a seeded random sample of this size is differentiated.
FD_SAMPLE = 256


def copy_or_same(obj: Any) -> Any:
    """A deep copy of ``obj``, or ``obj`` itself when it cannot be copied (a file, a lock).

    >>> import threading
    >>> lock = threading.Lock(); copy_or_same(lock) is lock
    True
    """
    try:
        return copy.deepcopy(obj)
    except Exception:
        return obj


def loss_keys(obj: object) -> list[str]:
    """Normalised names to recognise a loss by: its ``.name``, its class name.

    >>> class MSELoss: name = "mse"
    >>> loss_keys(MSELoss())
    ['mse', 'mseloss']
    """
    names = [getattr(obj, "name", None), type(obj).__name__]
    return [re.sub(r"[^a-z]", "", n.lower()) for n in names if isinstance(n, str)]


def parameter_of(spec: ActivationSpec, act: Any) -> float | None:
    """The activation's parameter (a leaky ReLU's slope) as your object spells it:
    ``negative_slope``, ``alpha`` or ``slope``; the table's default when it has none.

    >>> from tinygrad_mlp import manual
    >>> from tinygrad_mlp.nn.activations import find_activation
    >>> parameter_of(find_activation("leaky_relu"), manual.LeakyReLU(0.2))
    0.2
    """
    if spec.parameter is None:
        return None
    for attr in (spec.parameter, "alpha", "slope"):
        value = getattr(act, attr, None)
        if isinstance(value, (int, float, np.floating)):
            return float(value)
    return spec.default



# The activations


class ActivationReference:
    """The reference for one layer's activation, evaluated at that layer's true ``A``.

    ``spec`` is the table's entry when your activation is one the engine knows (and its
    ``.value`` agrees with it), else None, and then ``slopes`` holds the finite differences
    of your ``.value``; ``key`` is the spec's name (or None), ``label`` says which.
    """

    def __init__(self, act: Any, A: np.ndarray, layer: int) -> None:
        self.act = act
        self.A = A
        self.layer = layer
        self.note: str | None = None
        self.spec: ActivationSpec | None = None
        self.slopes: dict[str, np.ndarray] | None = None
        try:
            self.user_value = as_array(act.value(A.copy()))
        except Exception as exc:
            self.user_value = None
            self.note = f"layer {layer}: {type(act).__name__}.value raised {exception_text(exc)}"
        spec = find_activation(act)
        if spec is not None:
            engine = spec.rule(Tensor(A.copy()), parameter_of(spec, act)).numpy()
            if self.user_value is None or close(self.user_value, engine, 1e-10):
                self.spec = spec
            else:
                self.note = (f"layer {layer}: {type(act).__name__}.value does not compute the "
                             f"standard {spec.name}, so its own value was differentiated "
                             "numerically")
        self.elementwise = self.key != "softmax"
        if self.spec is None and self.user_value is None:
            raise ValueError(
                f"cannot check layer {layer}: its activation {type(act).__name__} is not one "
                f"the engine knows and its value raised ({self.note})"
            )
        if self.spec is None:
            self.slopes = elementwise_slopes(lambda a: act.value(a), A)
        self.label = self.key or f"{type(act).__name__} (finite differences)"

    @property
    def key(self) -> str | None:
        """The table's name of the activation, or None when it is differenced numerically."""
        return None if self.spec is None else self.spec.name

    def apply(self, A: Tensor) -> Tensor:
        """The engine's activation of ``A`` (only when ``spec`` is known)."""
        assert self.spec is not None
        return self.spec.rule(A, parameter_of(self.spec, self.act))

    def forward(self, A: Tensor) -> Tensor:
        """``g(A)`` on the graph: the engine's rule, or a first-order stand-in for a black box
        whose value is exactly yours (``A - A.detach()`` is zero) and whose derivative is the
        finite difference."""
        if self.spec is not None:
            return self.apply(A)
        assert self.slopes is not None and self.user_value is not None
        return Tensor(self.user_value) + (A - A.detach()) * Tensor(self.slopes["central"])

    def vjp(self, upstream: np.ndarray) -> np.ndarray:
        """``dL/dA`` from ``dL/dZ`` at this layer's ``A``."""
        if self.spec is None:
            assert self.slopes is not None
            return self.slopes["central"] * upstream
        A = Tensor(self.A.copy(), requires_grad=True)
        Z = self.apply(A)
        if Z is A:
            return np.array(upstream, dtype=np.float64, copy=True)
        (g,) = grad(Z, A, grad_outputs=np.asarray(upstream, dtype=np.float64))
        return g.numpy()

    def derivative(self) -> np.ndarray:
        """The elementwise derivative ``g'(A)`` (only meaningful when elementwise)."""
        return self.vjp(np.ones_like(self.A))

    def kinks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mask of kink points and the one-sided slopes there, from the user's own value."""
        s = self.slopes if self.slopes is not None else elementwise_slopes(self.act.value, self.A)
        if self.spec is not None and self.spec.kinked:
            # The engine's ReLU has its kink exactly at 0; trust that over a difference step.
            kink = self.A == 0.0
        else:
            kink = s["kink"]
        return kink, np.minimum(s["left"], s["right"]), np.maximum(s["left"], s["right"])



# The loss


def _target_like(y: Any, yhat: np.ndarray) -> np.ndarray | None:
    y_arr = np.asarray(y)
    if y_arr.shape == yhat.shape:
        return y_arr.astype(np.float64)
    if y_arr.size == yhat.size and yhat.ndim == 2 and yhat.shape[1] == 1:
        return y_arr.astype(np.float64).reshape(yhat.shape)
    return None


def _one_hot(y: Any, yhat: np.ndarray) -> np.ndarray | None:
    y_arr = np.asarray(y)
    if y_arr.shape == yhat.shape:
        return y_arr.astype(np.float64)
    if yhat.ndim == 2 and y_arr.shape == (yhat.shape[0],):
        labels = y_arr.astype(np.int64)
        outside = labels.min(initial=0) < 0 or labels.max(initial=0) >= yhat.shape[1]
        if np.any(labels != y_arr) or outside:
            return None
        onehot = np.zeros_like(yhat)
        onehot[np.arange(len(labels)), labels] = 1.0
        return onehot
    return None


# Where a cross-entropy may clip p to [eps, 1 - eps]: ours first, then no clip at all and
# the usual library choices. Like every formula, each is accepted only if it reproduces
# loss.value.
_PROB_CLIPS = (1e-12, 0.0, 1e-7, 1e-15)
# A finite-difference dL/dŷ costs two calls of loss.value on the whole batch per entry of
# ŷ; beyond this many entries a seeded random sample of this size is differentiated.
FD_SAMPLE = 256


def _loss_candidates(keys: list[str]) -> list[tuple[str, Callable, float | None]]:
    """Engine formulas that might be this loss, most likely first: ``(label, formula, clip)``.

    ``clip`` is the ``eps`` of a cross-entropy that clips ``p`` to ``[eps, 1 - eps]`` (None
    for the squared errors). The loss's name only decides the order: each is validated.
    """

    def squared(reduce: str, half: bool) -> Callable:
        def f(yhat: Tensor, y: Any) -> Tensor | None:
            Y = _target_like(y, yhat.data)
            if Y is None:
                return None
            sq = (yhat - Tensor(Y)) ** 2
            out = sq.mean() if reduce == "mean" else sq.sum()
            return out * 0.5 if half else out

        return f

    def cross_entropy(binary: bool, eps: float) -> Callable:
        def f(yhat: Tensor, y: Any) -> Tensor | None:
            Y = _target_like(y, yhat.data) if binary else _one_hot(y, yhat.data)
            if Y is None:
                return None
            p = yhat.clip(eps, 1.0 - eps) if eps else yhat
            if binary:
                return -(Tensor(Y) * p.log() + (1.0 - Tensor(Y)) * (1.0 - p).log()).mean()
            return -(Tensor(Y) * p.log()).sum() / yhat.shape[0]

        return f

    def clipped(name: str, binary: bool) -> list[tuple[str, Callable, float | None]]:
        return [(f"{name} ({f'p clipped to [{eps:g}, 1 - {eps:g}]' if eps else 'unclipped'})",
                 cross_entropy(binary, eps), eps) for eps in _PROB_CLIPS]

    named = {
        "mse": "mean of squared errors", "meansquarederror": "mean of squared errors",
        "mseloss": "mean of squared errors", "binarycrossentropy": "binary cross-entropy",
        "bce": "binary cross-entropy", "bceloss": "binary cross-entropy",
        "crossentropy": "cross-entropy", "categoricalcrossentropy": "cross-entropy",
        "crossentropyloss": "cross-entropy",
    }
    families: dict[str, list[tuple[str, Callable, float | None]]] = {
        "mean of squared errors": [("mean of squared errors", squared("mean", False), None)],
        "sum of squared errors": [("sum of squared errors", squared("sum", False), None)],
        "half mean of squared errors": [
            ("half mean of squared errors", squared("mean", True), None)],
        "half sum of squared errors": [("half sum of squared errors", squared("sum", True), None)],
        "binary cross-entropy": clipped("binary cross-entropy", True),
        "cross-entropy": clipped("cross-entropy", False),
    }
    order = dict.fromkeys([named[k] for k in keys if k in named] + list(families))
    return [candidate for family in order for candidate in families[family]]


def given_derivative(loss: Any, yhat: np.ndarray, y: Any, gradient: np.ndarray,
                      checked: np.ndarray) -> np.ndarray:
    """Your ``loss.derivative``, for the entries the reference has no slope of its own at.

    Divided by the constant factor it has on the checked entries (so a missing ``1/n``
    stays one clean factor through the later stages); 0 where it is not finite or fails.
    """
    try:
        with np.errstate(all="ignore"):
            user = as_array(copy_or_same(loss).derivative(yhat.copy(), y))
    except Exception:
        user = None
    if user is None or user.shape != gradient.shape:
        return np.zeros_like(gradient)
    factor = compare_arrays(user[checked], gradient[checked], 1e-6, 0.0).factor
    with np.errstate(all="ignore"):
        user = user / (factor or 1.0)
    return np.where(np.isfinite(user), user, 0.0)


class LossReference:
    """The reference for ``dL/dŷ``: the gradient of an engine formula that reproduces
    ``loss.value``, or finite differences of ``loss.value`` itself.

    ``checked`` marks the entries of ŷ where the reference has a slope of its own. It has
    none where a cross-entropy's clip is active (the slope there is a convention: 0 for a
    clipped loss, the log's for an unclipped one), outside the random sample of a
    finite-difference reference, and where no difference can be trusted. There your
    ``loss.derivative`` is taken as given (see :func:`_given_derivative`): the loss row
    compares only the checked entries, and the later stages get inputs consistent with it.
    """

    def __init__(self, loss: Any, yhat: np.ndarray, y: Any) -> None:
        self.value = float(loss.value(yhat.copy(), y))
        self.formula: Callable | None = None
        clip = None
        for label, formula, eps in _loss_candidates(loss_keys(loss)):
            try:
                with np.errstate(all="ignore"):
                    candidate = formula(Tensor(yhat.copy()), y)
            except (ValueError, TypeError, IndexError):
                candidate = None
            if candidate is None:
                continue
            c = float(candidate.item())
            tolerance = SAME_VALUE_RTOL * max(1.0, abs(self.value))
            if np.isfinite(c) and abs(c - self.value) <= tolerance:
                self.formula, self.label, clip = formula, label, eps
                break
        if self.formula is not None:
            Yhat = Tensor(yhat.copy(), requires_grad=True)
            with np.errstate(all="ignore"):
                (g,) = grad(self.formula(Yhat, y), Yhat)
            gradient = g.numpy().copy()
            checked = np.isfinite(gradient)
            if clip:
                checked &= (yhat >= clip) & (yhat <= 1.0 - clip)
            why = "the clip is active there"
        else:
            entries = np.arange(yhat.size)
            if yhat.size > FD_SAMPLE:
                entries = np.sort(np.random.default_rng(0).choice(yhat.size, FD_SAMPLE,
                                                                  replace=False))
            gradient = np.zeros(yhat.shape)
            gradient.flat[entries] = entry_slopes(lambda a: loss.value(a, y), yhat, entries)
            checked = np.zeros(yhat.shape, dtype=bool)
            checked.flat[entries] = np.isfinite(gradient.flat[entries])
            self.label = f"{type(loss).__name__}.value by finite differences"
            why = "; ".join(
                (["not in a seeded random sample"] if entries.size < yhat.size else [])
                + (["no difference could be trusted"] if checked.sum() < entries.size else []))
        self.checked = checked
        self.gradient = gradient
        if not checked.all():
            self.gradient = np.where(checked, gradient,
                                     given_derivative(loss, yhat, y, gradient, checked))
            self.label += (f", checked at {int(checked.sum())} of {checked.size} entries of ŷ, "
                           f"your loss.derivative taken as given at the rest ({why})")

    @property
    def uses_fd(self) -> bool:
        return self.formula is None

    def build(self, yhat: Tensor) -> Tensor:
        """Value exactly the user's, gradient exactly :attr:`gradient`."""
        return Tensor(np.asarray(self.value)) + ((yhat - yhat.detach()) * self.gradient).sum()



# The whole pass


@dataclass
class Reference:
    X: np.ndarray
    y: Any
    W: list[np.ndarray]
    A: list[np.ndarray]
    Z: list[np.ndarray]
    loss_value: float
    dL_dyhat: np.ndarray
    deltas: list[np.ndarray]
    grads: list[np.ndarray]
    acts: list[ActivationReference]
    loss_ref: LossReference

    @property
    def uses_fd(self) -> bool:
        return self.loss_ref.uses_fd or any(a.key is None for a in self.acts)


def reference_pass(net: Any, W: list[np.ndarray], X: np.ndarray, y: Any) -> Reference:
    """Forward and backward of the skeleton's network through the engine, in float64."""
    Ws = [Tensor(w.copy(), requires_grad=True) for w in W]
    Z = Tensor(X.copy())
    ones = Tensor(np.ones((X.shape[0], 1)))
    As: list[Tensor] = []
    Zs: list[Tensor] = []
    acts: list[ActivationReference] = []
    for i, (Wt, act) in enumerate(zip(Ws, net.activations)):
        A = F.cat([ones, Z], axis=1) @ Wt
        ref = ActivationReference(act, A.numpy(), i)
        Z = ref.forward(A)
        As.append(A)
        Zs.append(Z)
        acts.append(ref)
    yhat = Zs[-1]
    loss_ref = LossReference(net.loss, yhat.numpy(), y)
    L = loss_ref.build(yhat)
    got = grad(L, [*As, yhat, *Ws])
    n = len(Ws)
    return Reference(
        X=X, y=y, W=W,
        A=[a.numpy().copy() for a in As],
        Z=[z.numpy().copy() for z in Zs],
        loss_value=loss_ref.value,
        dL_dyhat=got[n].numpy().copy(),
        deltas=[g.numpy().copy() for g in got[:n]],
        grads=[g.numpy().copy() for g in got[n + 1:]],
        acts=acts,
        loss_ref=loss_ref,
    )
