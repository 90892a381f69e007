"""Hold a hand-written backward pass against autograd, one stage at a time.

A network written by hand in the course skeleton (see :mod:`tinygrad_mlp.manual`) has four
places where backprop can go wrong: the forward pass, the loss derivative ``dL/dŷ``, the
deltas of ``backward_pass`` and the step of ``update_weights``. :func:`check_backprop` runs
*your* methods (any object with ``W``, ``activations``, ``loss``, ``learning_rate``,
``forward_pass``, ``backward_pass`` and ``update_weights``; it does not have to be ours) and
compares each stage with the same quantity computed by the autograd engine in float64:

==========  ==========================================  ====================================
stage       what your code produced                     what it is compared with
==========  ==========================================  ====================================
forward     ``A_vals[i]``, ``Z_vals[i]``                ``[1, Z_{i-1}] @ W[i]`` and ``g_i(A_i)``
loss        ``loss.derivative(ŷ, y)``                   the gradient of *your* ``loss.value``
activation  ``activations[i].derivative(A_i)``          the derivative of *your* ``.value``
backward    ``deltas[i]``                               ``dL/dA_i``
update      ``ΔW[i] / -learning_rate``, bias row and    ``dL/dW[i]``, same split
            weight rows separately
end-to-end  the same, with your stages chained          ``dL/dW[i]``
==========  ==========================================  ====================================

Each stage is fed the *correct* inputs (autograd's), so a mistake shows up in the stage
that makes it and not in every stage after it; the end-to-end rows then show what one
training step of your network really does. When stages disagree the report says where
they first part and, when it recognises the pattern, why (a bias column of zeros, a
missing ``1/n``, an activation derivative evaluated at the wrong argument, a transpose).

Your network is never changed: every call runs on a copy, and the original's weights and
attributes are checked and restored afterwards.

How the references are computed
-------------------------------
* Activations named like ours (``relu``, ``leaky_relu``, ``sigmoid``, ``tanh``,
  ``identity``/``linear``, ``softmax``; by ``.name`` or class name) are differentiated by
  the engine, after checking that your ``.value`` really computes that function. Any other
  activation is differentiated by central finite differences of its own ``.value``, which
  assumes it acts **elementwise** (each output depends only on the input at the same place).
* The loss is differentiated by the engine when one of the standard formulas (mean or sum of
  squared errors, binary or categorical cross-entropy, clipped or not) reproduces your
  ``loss.value``; otherwise by finite differences of ``loss.value`` (one pair of calls per
  element of ``ŷ``, so beyond 256 elements at a seeded random sample of 256). Where the
  reference has no slope of its own (a cross-entropy's clip is active, the element is not
  in the sample) your ``loss.derivative`` is taken as given, and the table says how many
  elements were checked.

>>> import numpy as np
>>> from tinygrad_mlp import manual
>>> X = np.random.default_rng(0).normal(size=(8, 3)); y = X[:, :1] ** 2
>>> net = manual.NeuralNetwork(3, [4, 1], [manual.Tanh(), manual.Identity()], manual.MSE())
>>> check_backprop(net, X, y).ok
True
"""

from __future__ import annotations

import copy
import inspect
import os
import re
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..engine import functions as F
from ..engine.autograd import grad as _grad
from ..engine.tensor import Tensor
from ..text import NUMPY_DIR, name_keys, wrap

__all__ = [
    "BackpropReport",
    "Finding",
    "Location",
    "Row",
    "check_backprop",
    "demo",
]


# Central-difference step relative to max(1, |x|): eps**(1/3) balances the O(h^2) truncation
# against the O(eps/h) rounding of the difference quotient.
_FD_STEP = float(np.finfo(np.float64).eps ** (1.0 / 3.0))
# Finite differences are good to roughly 1e-8 relative; below this tolerance they would
# report noise as mismatches.
_FD_RTOL = 1e-5
# A candidate formula "reproduces" a value when it agrees to this relative precision.
_SAME_VALUE_RTOL = 1e-9
# How close a fitted factor must be to a recognised one (n, 1/n, 2, ...) to be named.
_FACTOR_RTOL = 1e-4

_STAGE_ORDER = ("forward", "loss", "activation", "backward", "update", "end-to-end")


# ---------------------------------------------------------------------------------------------
# Report objects


@dataclass(frozen=True)
class Location:
    """Where in the network a comparison was made: ``stage``, ``layer`` (or None) and ``part``.

    >>> str(Location("update", 0, "bias row"))
    'update, layer 0, bias row'
    """

    stage: str
    layer: int | None
    part: str

    def __str__(self) -> str:
        layer = "" if self.layer is None else f", layer {self.layer}"
        return f"{self.stage}{layer}, {self.part}"


@dataclass
class Row:
    """One line of the comparison table: your array against autograd's at one location.

    ``norm_ratio`` is ``||yours|| / ||autograd's||``; ``factor`` is set when yours is a
    constant multiple of autograd's; ``error`` holds an exception or shape problem.

    >>> Row(Location("loss", None, "dL/dyhat"), 0.0, 0.0, 1.0, True).ok
    True
    """

    location: Location
    max_abs_error: float
    rel_error: float
    norm_ratio: float
    ok: bool
    error: str | None = None
    factor: float | None = None
    counted: bool = True
    inherited: bool = False
    reference: str = "autograd"
    verdict: str = ""


@dataclass
class Finding:
    """A recognised problem: where, a short machine-readable ``cause`` and the words.

    >>> Finding(Location("update", 0, "bias row"), "zero_bias_column", "...").cause
    'zero_bias_column'
    """

    location: Location
    cause: str
    message: str
    confirmed: bool | None = None


@dataclass
class BackpropReport:
    """Result of :func:`check_backprop`; ``str(report)`` is the readable table and findings.

    ``ok`` is True when every stage agrees with autograd; ``first_mismatch`` is the
    :class:`Location` where your network and autograd first part (None when they agree);
    ``findings`` explain what was recognised; ``causes`` is the set of their cause codes.

    >>> BackpropReport(rows=[], findings=[], notes=[], title="empty").ok
    True
    """

    rows: list[Row]
    findings: list[Finding]
    notes: list[str]
    title: str
    n_samples: int = 0
    first_mismatch: Location | None = None
    reference_notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no counted stage disagrees with autograd.

        >>> BackpropReport([], [], [], "t").ok
        True
        """
        return self.first_mismatch is None

    @property
    def causes(self) -> set[str]:
        """The cause codes of all findings (e.g. ``{"zero_bias_column", "factor_n"}``).

        >>> BackpropReport([], [], [], "t").causes
        set()
        """
        return {f.cause for f in self.findings}

    def finding(self, cause: str) -> Finding | None:
        """The first finding with this cause code, or None.

        >>> BackpropReport([], [], [], "t").finding("factor_n") is None
        True
        """
        return next((f for f in self.findings if f.cause == cause), None)

    def row(self, stage: str, layer: int | None, part: str) -> Row | None:
        """The table row at this location, or None.

        >>> BackpropReport([], [], [], "t").row("loss", None, "dL/dyhat") is None
        True
        """
        wanted = Location(stage, layer, part)
        return next((r for r in self.rows if r.location == wanted), None)

    def summary(self) -> str:
        """One paragraph: agrees, or where it first parts and the recognised causes.

        >>> BackpropReport([], [], [], "t").summary().startswith("Agrees")
        True
        """
        if self.ok:
            counted = [r for r in self.rows if r.error is None and r.counted]
            worst = max((r.rel_error for r in counted), default=0.0)
            if len(counted) == len(self.rows):
                return (
                    "Agrees with autograd at every stage (forward values, dL/dyhat, deltas "
                    f"and the updates of every layer); largest relative error {_fmt(worst)}."
                )
            return (
                "Agrees with autograd where it counts: a training step does exactly what "
                f"autograd says (largest relative error {_fmt(worst)}); some stages differ "
                "only by conventions that cancel (see the notes)."
            )
        lines = [f"First mismatch: {self.first_mismatch}."]
        for f in self.findings:
            lines.append(f"- [{f.location}] {f.message}")
        return "\n".join(lines)

    def table(self) -> str:
        """The comparison table as text (stage, layer, part, errors, norm ratio, verdict).

        >>> print(BackpropReport([], [], [], "t").table().splitlines()[0].split()[0])
        stage
        """
        header = (
            f"{'stage':<11}{'layer':>5}  {'part':<12}{'max abs err':>12}{'rel err':>10}"
            f"{'norm ratio':>12}  verdict"
        )
        lines = [header, "-" * (len(header) + 10)]
        for r in self.rows:
            layer = "-" if r.location.layer is None else str(r.location.layer)
            if r.error is not None and not np.isfinite(r.max_abs_error):
                numbers = f"{'-':>12}{'-':>10}{'-':>12}"
            else:
                numbers = (
                    f"{_fmt(r.max_abs_error):>12}{_fmt(r.rel_error):>10}"
                    f"{_fmt_ratio(r.norm_ratio):>12}"
                )
            lines.append(
                f"{r.location.stage:<11}{layer:>5}  {r.location.part:<12}{numbers}  {r.verdict}"
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        parts = [self.title]
        if self.reference_notes:
            parts.append("Reference: " + "; ".join(self.reference_notes) + ".")
        parts.append("")
        parts.append(self.table())
        parts.append(
            "rel err = |yours - autograd's| / |autograd's|; norm ratio = |yours| / |autograd's|"
            "\n(1 when they agree, n when a 1/n is missing, 0 when yours is zero). Each stage is"
            "\ngiven autograd's inputs, so an error shows where it is made; end-to-end chains "
            "yours."
        )
        parts.append("")
        if self.ok:
            parts.append(self.summary())
        else:
            parts.append(f"FIRST MISMATCH: {self.first_mismatch}")
            parts.append("")
            parts.append("What was recognised:")
            for i, f in enumerate(self.findings, 1):
                parts.append(wrap(f"{i}. [{f.location}] {f.message}", "  ", "      "))
            if not self.findings:
                parts.append(
                    "  Nothing familiar: compare your formula for that stage with the "
                    "reference formula in the module docstring (python -m pydoc "
                    "tinygrad_mlp.compare)."
                )
        for note in self.notes:
            parts.append(wrap(f"Note: {note}", "  ", "     "))
        return "\n".join(parts)


def _fmt(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "-" if x is None else str(x)
    if x == 0:
        return "0"
    return f"{x:.1e}"


def _fmt_ratio(x: float) -> str:
    if x == 0:
        return "0"
    if not np.isfinite(x):
        return "-" if np.isnan(x) else str(x)
    return f"{x:.6g}" if 1e-3 <= abs(x) < 1e6 else f"{x:.3e}"


# ---------------------------------------------------------------------------------------------
# Reading the user's network


_REQUIRED = ("W", "activations", "loss", "learning_rate", "forward_pass", "backward_pass",
             "update_weights")


def _check_convention(net: Any) -> None:
    missing = [name for name in _REQUIRED if not hasattr(net, name)]
    if missing:
        raise TypeError(
            f"{type(net).__name__} does not follow the skeleton's convention: it has no "
            f"{', '.join(missing)}. check_backprop needs W (one (n_in + 1, n_out) array per "
            "layer, row 0 the bias), activations, loss, learning_rate, forward_pass, "
            "backward_pass and update_weights."
        )
    if len(net.W) != len(net.activations):
        raise TypeError(
            f"{type(net).__name__} has {len(net.W)} weight arrays but "
            f"{len(net.activations)} activations; the skeleton has one of each per layer"
        )


def _clone(net: Any, W: Sequence[np.ndarray]) -> Any:
    """A copy of ``net`` with float64 copies of ``W``, so a call cannot touch the original."""
    try:
        twin = copy.deepcopy(net)
    except Exception:  # an object holding something uncopyable (a file, a lock): go shallow
        twin = copy.copy(net)
    twin.W = [np.array(w, dtype=np.float64, copy=True) for w in W]
    return twin


@contextmanager
def _untouched(net: Any) -> Iterator[None]:
    """Restore ``net``'s attributes and the contents of its ``W`` arrays on exit.

    The checks run on copies, but a class may share state through mutable class attributes
    or caches; this is the belt to those braces.

    >>> from tinygrad_mlp import manual
    >>> net = manual.NeuralNetwork(1, [1], [manual.Identity()], manual.MSE())
    >>> with _untouched(net):
    ...     net.W[0][0, 0] = 123.0
    >>> float(net.W[0][0, 0]) != 123.0
    True
    """
    attrs = dict(vars(net)) if hasattr(net, "__dict__") else None
    W = list(net.W)
    saved = [np.array(w, copy=True) for w in W]
    try:
        yield
    finally:
        if attrs is not None:
            vars(net).clear()
            vars(net).update(attrs)
        else:
            net.W = W
        for w, s in zip(W, saved):
            if isinstance(w, np.ndarray) and w.flags.writeable and w.shape == s.shape:
                w[...] = s


def _exception_text(exc: BaseException) -> str:
    """``Type: message (at file:line in function: code)`` naming the user's line."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(frames):
        filename = os.path.abspath(frame.filename)
        if filename.startswith(NUMPY_DIR) or filename == os.path.abspath(__file__):
            continue
        where = f" (at {os.path.basename(filename)}:{frame.lineno} in {frame.name}: {frame.line})"
        break
    message = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {message}{where}"


def _as_array(x: Any) -> np.ndarray | None:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return a


# ---------------------------------------------------------------------------------------------
# Reference activations


def _slope(act: Any) -> float:
    for attr in ("negative_slope", "alpha", "slope"):
        value = getattr(act, attr, None)
        if isinstance(value, (int, float, np.floating)):
            return float(value)
    return 0.01


_ENGINE_ACTIVATIONS: dict[str, Callable[[Tensor, Any], Tensor]] = {
    "identity": lambda A, act: A,
    "relu": lambda A, act: A.relu(),
    "leakyrelu": lambda A, act: A.leaky_relu(_slope(act)),
    "sigmoid": lambda A, act: A.sigmoid(),
    "tanh": lambda A, act: A.tanh(),
    "softmax": lambda A, act: A.softmax(axis=-1),
}
_ACTIVATION_ALIASES = {
    "linear": "identity", "none": "identity", "logistic": "sigmoid", "leaky": "leakyrelu",
    "lrelu": "leakyrelu", "leakyrelu": "leakyrelu",
}
# Where these have a kink their derivative is a matter of convention.
_KINKED = ("relu", "leakyrelu")


def _fd_elementwise(value: Callable[[np.ndarray], Any], A: np.ndarray) -> dict[str, np.ndarray]:
    """Central and one-sided differences of an elementwise ``value`` at every entry of ``A``.

    Elementwise means all entries can be perturbed at once: three calls in total. A kink
    shows as left and right slopes that differ by far more than curvature could explain.
    """
    h = _FD_STEP * np.maximum(1.0, np.abs(A))
    up_x, down_x = A + h, A - h
    with np.errstate(all="ignore"):
        mid = np.asarray(value(A), dtype=np.float64)
        up = np.asarray(value(up_x), dtype=np.float64)
        down = np.asarray(value(down_x), dtype=np.float64)
        # The steps actually taken, after rounding A + h: keeps the quotient honest.
        central = (up - down) / (up_x - down_x)
        right = (up - mid) / (up_x - A)
        left = (mid - down) / (A - down_x)
        kink = np.abs(right - left) > 1e-3 + 1e-2 * np.maximum(np.abs(left), np.abs(right))
    return {"central": central, "left": left, "right": right, "kink": kink}


class _ActivationRef:
    """The reference for one layer's activation, evaluated at that layer's true ``A``."""

    def __init__(self, act: Any, A: np.ndarray, layer: int) -> None:
        self.act = act
        self.A = A
        self.layer = layer
        self.note: str | None = None
        self.key: str | None = None
        self.fd: dict[str, np.ndarray] | None = None
        try:
            self.user_value = _as_array(act.value(A.copy()))
        except Exception as exc:
            self.user_value = None
            self.note = f"layer {layer}: {type(act).__name__}.value raised {_exception_text(exc)}"
        for name in name_keys(act):
            key = _ACTIVATION_ALIASES.get(name, name)
            if key in _ENGINE_ACTIVATIONS:
                engine = _ENGINE_ACTIVATIONS[key](Tensor(A.copy()), act).numpy()
                if self.user_value is None or _close(self.user_value, engine, 1e-10):
                    self.key = key
                else:
                    self.note = (
                        f"layer {layer}: {type(act).__name__}.value does not compute the "
                        f"standard {key}, so its own value was differentiated numerically"
                    )
                break
        self.elementwise = self.key != "softmax"
        if self.key is None and self.user_value is None:
            raise ValueError(
                f"cannot check layer {layer}: its activation {type(act).__name__} is not one "
                f"the engine knows and its value raised ({self.note})"
            )
        if self.key is None:
            self.fd = _fd_elementwise(lambda a: act.value(a), A)
        self.label = self.key or f"{type(act).__name__} (finite differences)"

    def forward(self, A: Tensor) -> Tensor:
        if self.key is not None:
            return _ENGINE_ACTIVATIONS[self.key](A, self.act)
        # A first-order stand-in for the black box: its value is exactly the user's value
        # (A - A.detach() is exactly zero) and its derivative the finite difference.
        assert self.fd is not None and self.user_value is not None
        return Tensor(self.user_value) + (A - A.detach()) * Tensor(self.fd["central"])

    def vjp(self, upstream: np.ndarray) -> np.ndarray:
        """``dL/dA`` from ``dL/dZ`` at this layer's ``A``."""
        if self.key is None:
            assert self.fd is not None
            return self.fd["central"] * upstream
        A = Tensor(self.A.copy(), requires_grad=True)
        Z = _ENGINE_ACTIVATIONS[self.key](A, self.act)
        if Z is A:
            return np.array(upstream, dtype=np.float64, copy=True)
        (g,) = _grad(Z, A, grad_outputs=np.asarray(upstream, dtype=np.float64))
        return g.numpy()

    def derivative(self) -> np.ndarray:
        """The elementwise derivative ``g'(A)`` (only meaningful when elementwise)."""
        return self.vjp(np.ones_like(self.A))

    def kinks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Mask of kink points and the one-sided slopes there, from the user's own value."""
        fd = self.fd if self.fd is not None else _fd_elementwise(self.act.value, self.A)
        if self.key in _KINKED:
            # The engine's ReLU has its kink exactly at 0; trust that over a difference step.
            kink = self.A == 0.0
        else:
            kink = fd["kink"]
        return kink, np.minimum(fd["left"], fd["right"]), np.maximum(fd["left"], fd["right"])


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float = 0.0) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return bool(np.array_equal(a, b, equal_nan=True))
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)))
    return bool(np.max(np.abs(a - b), initial=0.0) <= atol + rtol * scale)


# ---------------------------------------------------------------------------------------------
# Reference loss


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
_FD_SAMPLE = 256


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


def _fd_slope(f: Callable[[float], float], x: float) -> float:
    """The slope of a scalar function at ``x``, or NaN when no difference can be trusted.

    Central differences while both steps stay where ``f`` is finite. Next to the edge of
    its domain (a probability within a step of 0 or 1, where a log turns NaN), a step that
    stays inside: one-sided second-order differences, or central ones with the step scaled
    to the distance from 0 or 1. Those are accepted only when a step four times smaller
    agrees: next to a singularity (``log p`` at a tiny ``p``) a one-sided step is far off.
    """

    def central(h: float) -> float:
        up, down = x + h, x - h
        return (f(up) - f(down)) / (up - down)

    def one_sided(h: float) -> float:
        s = 1.0 if np.isfinite(f(x + 2 * h)) else -1.0
        return s * (4 * f(x + s * h) - 3 * f(x) - f(x + 2 * s * h)) / (2 * h)

    with np.errstate(all="ignore"):
        h = _FD_STEP * max(1.0, abs(x))
        slope = central(h)
        if np.isfinite(slope):
            return slope
        edge = _FD_STEP * min(abs(x), abs(1.0 - x))
        for scheme, step in ((one_sided, h), (central, edge)):
            if step > 0:
                coarse, fine = scheme(step), scheme(step / 4)
                if np.isfinite(fine) and abs(coarse - fine) <= 1e-6 * abs(fine):
                    return fine
    return float("nan")


def _fd_loss_gradient(value: Callable[[np.ndarray], float], yhat: np.ndarray,
                      entries: np.ndarray) -> np.ndarray:
    """Differences of a black-box scalar loss at the flat ``entries`` of ``yhat``.

    Nothing is known about the loss, so each entry is perturbed on its own; the array is
    changed in place and restored, so no copies are made per call.
    """
    x = np.array(yhat, dtype=np.float64, copy=True)
    flat = x.reshape(-1)

    def at(i: int, t: float) -> float:
        flat[i] = t
        return float(value(x))

    out = np.empty(len(entries))
    for j, i in enumerate(entries):
        orig = flat[i]
        out[j] = _fd_slope(lambda t, i=i: at(i, t), orig)
        flat[i] = orig
    return out


def _given_derivative(loss: Any, yhat: np.ndarray, y: Any, gradient: np.ndarray,
                      checked: np.ndarray) -> np.ndarray:
    """Your ``loss.derivative``, for the entries the reference has no slope of its own at.

    Divided by the constant factor it has on the checked entries (so a missing ``1/n``
    stays one clean factor through the later stages); 0 where it is not finite or fails.
    """
    try:
        with np.errstate(all="ignore"):
            user = _as_array(_copy_or_same(loss).derivative(yhat.copy(), y))
    except Exception:
        user = None
    if user is None or user.shape != gradient.shape:
        return np.zeros_like(gradient)
    factor = _compare(user[checked], gradient[checked], 1e-6, 0.0).factor
    with np.errstate(all="ignore"):
        user = user / (factor or 1.0)
    return np.where(np.isfinite(user), user, 0.0)


class _LossRef:
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
        for label, formula, eps in _loss_candidates(name_keys(loss)):
            try:
                with np.errstate(all="ignore"):
                    candidate = formula(Tensor(yhat.copy()), y)
            except (ValueError, TypeError, IndexError):
                candidate = None
            if candidate is None:
                continue
            c = float(candidate.item())
            tolerance = _SAME_VALUE_RTOL * max(1.0, abs(self.value))
            if np.isfinite(c) and abs(c - self.value) <= tolerance:
                self.formula, self.label, clip = formula, label, eps
                break
        if self.formula is not None:
            Yhat = Tensor(yhat.copy(), requires_grad=True)
            with np.errstate(all="ignore"):
                (g,) = _grad(self.formula(Yhat, y), Yhat)
            gradient = g.numpy().copy()
            checked = np.isfinite(gradient)
            if clip:
                checked &= (yhat >= clip) & (yhat <= 1.0 - clip)
            why = "the clip is active there"
        else:
            entries = np.arange(yhat.size)
            if yhat.size > _FD_SAMPLE:
                entries = np.sort(np.random.default_rng(0).choice(yhat.size, _FD_SAMPLE,
                                                                  replace=False))
            gradient = np.zeros(yhat.shape)
            gradient.flat[entries] = _fd_loss_gradient(lambda a: loss.value(a, y), yhat, entries)
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
                                     _given_derivative(loss, yhat, y, gradient, checked))
            self.label += (f", checked at {int(checked.sum())} of {checked.size} entries of ŷ, "
                           f"your loss.derivative taken as given at the rest ({why})")

    @property
    def uses_fd(self) -> bool:
        return self.formula is None

    def build(self, yhat: Tensor) -> Tensor:
        """Value exactly the user's, gradient exactly :attr:`gradient`."""
        return Tensor(np.asarray(self.value)) + ((yhat - yhat.detach()) * self.gradient).sum()


# ---------------------------------------------------------------------------------------------
# The reference pass


@dataclass
class _Reference:
    X: np.ndarray
    y: Any
    W: list[np.ndarray]
    A: list[np.ndarray]
    Z: list[np.ndarray]
    loss_value: float
    dL_dyhat: np.ndarray
    deltas: list[np.ndarray]
    grads: list[np.ndarray]
    acts: list[_ActivationRef]
    loss_ref: _LossRef

    @property
    def uses_fd(self) -> bool:
        return self.loss_ref.uses_fd or any(a.key is None for a in self.acts)


def _reference(net: Any, W: list[np.ndarray], X: np.ndarray, y: Any) -> _Reference:
    """Forward and backward of the skeleton's network through the engine, in float64."""
    Ws = [Tensor(w.copy(), requires_grad=True) for w in W]
    Z = Tensor(X.copy())
    ones = Tensor(np.ones((X.shape[0], 1)))
    As: list[Tensor] = []
    Zs: list[Tensor] = []
    acts: list[_ActivationRef] = []
    for i, (Wt, act) in enumerate(zip(Ws, net.activations)):
        A = F.cat([ones, Z], axis=1) @ Wt
        ref = _ActivationRef(act, A.numpy(), i)
        Z = ref.forward(A)
        As.append(A)
        Zs.append(Z)
        acts.append(ref)
    yhat = Zs[-1]
    loss_ref = _LossRef(net.loss, yhat.numpy(), y)
    L = loss_ref.build(yhat)
    got = _grad(L, [*As, yhat, *Ws])
    n = len(Ws)
    return _Reference(
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


# ---------------------------------------------------------------------------------------------
# Comparing arrays and naming what is off


@dataclass
class _Cmp:
    max_abs: float
    rel: float
    ratio: float
    ok: bool
    error: str | None
    factor: float | None
    zero: bool


def _compare(user: Any, ref: np.ndarray, rtol: float, atol: float) -> _Cmp:
    u = _as_array(user)
    if u is None:
        problem = f"not an array ({type(user).__name__})"
        return _Cmp(np.inf, np.inf, np.nan, False, problem, None, False)
    if u.shape != ref.shape:
        return _Cmp(np.inf, np.inf, np.nan, False,
                    f"shape {u.shape} where {ref.shape} was expected", None, False)
    if not np.all(np.isfinite(ref)):
        same = bool(np.array_equal(u, ref, equal_nan=True))
        return _Cmp(np.nan, np.nan, np.nan, same, None if same else
                    "autograd's value is not finite here", None, False)
    ref_norm = float(np.linalg.norm(ref))
    with np.errstate(all="ignore"):
        diff = u - ref
        max_abs = float(np.max(np.abs(diff), initial=0.0))
        user_norm = float(np.linalg.norm(u))
        diff_norm = float(np.linalg.norm(diff))
        rel = diff_norm / ref_norm if ref_norm > 0 else (0.0 if max_abs == 0 else np.inf)
        ratio = user_norm / ref_norm if ref_norm > 0 else (1.0 if user_norm == 0 else np.inf)
    if not np.all(np.isfinite(u)):
        return _Cmp(max_abs, rel, ratio, False, "holds inf or NaN", None, False)
    scale = max(float(np.max(np.abs(ref), initial=0.0)), float(np.max(np.abs(u), initial=0.0)))
    ok = max_abs <= atol + rtol * scale
    factor = None
    zero = bool(not ok and user_norm == 0.0 and ref_norm > 0.0)
    if not ok and ref_norm > 0 and user_norm > 0:
        c = float(np.vdot(u, ref) / np.vdot(ref, ref))
        if np.linalg.norm(u - c * ref) <= max(rtol, 1e-9) * 10 * user_norm:
            factor = c
    return _Cmp(max_abs, rel, ratio, ok, None, factor, zero)


def _name_factor(c: float, n: int, k: int, lr: float | None = None) -> tuple[str, str] | None:
    """Recognise a constant factor between yours and autograd's: n, 1/n, 2, -1, 1/lr, ..."""
    candidates: list[tuple[float, str, str]] = [
        (n, "factor_n", f"n = {n} (the number of samples)"),
        (1.0 / n, "factor_1_over_n", f"1/n = 1/{n}"),
    ]
    if k > 1:
        candidates += [
            (n * k, "factor_nk", f"n·k = {n}·{k} (the number of elements of ŷ)"),
            (k, "factor_k", f"k = {k} (the number of outputs)"),
            (1.0 / k, "factor_1_over_k", f"1/k = 1/{k}"),
        ]
    candidates += [
        (2.0, "factor_2", "2"), (0.5, "factor_half", "1/2"),
        (-1.0, "sign", "-1 (the sign is flipped)"),
        (-float(n), "factor_minus_n", f"-n = -{n}"),
    ]
    if lr is not None:
        candidates += [
            (1.0 / lr, "no_learning_rate", f"1/learning_rate = {1.0 / lr:g}"),
            (lr, "learning_rate_twice", f"learning_rate = {lr:g}"),
        ]
    for value, cause, text in candidates:
        if value != 0 and abs(c / value - 1.0) <= _FACTOR_RTOL:
            return cause, text
    return None


def _is_shape(cmp: _Cmp) -> bool:
    return cmp.error is not None and cmp.error.startswith("shape")


def _make_row(location: Location, cmp: _Cmp, reference: str, counted: bool = True) -> Row:
    verdict = "ok" if cmp.ok else "MISMATCH"
    if cmp.error is not None:
        verdict = f"FAILED: {cmp.error}"
    elif cmp.zero:
        verdict = "MISMATCH: exactly zero"
    elif cmp.factor is not None:
        verdict = f"MISMATCH: {_fmt_ratio(cmp.factor)} x autograd"
    return Row(location, cmp.max_abs, cmp.rel, cmp.ratio, cmp.ok, cmp.error, cmp.factor,
               counted, False, reference, verdict)


def _error_row(location: Location, message: str) -> Row:
    # The table keeps the first words; the finding below it carries the whole message.
    short = message if len(message) <= 48 else message.split(":")[0] + " (see below)"
    return Row(location, np.inf, np.inf, np.nan, False, message, verdict=f"FAILED: {short}")


# ---------------------------------------------------------------------------------------------
# The stages


class _Checker:
    """Runs every stage of one network on one batch and collects rows and findings."""

    def __init__(self, net: Any, X: np.ndarray, y: Any, rtol: float, atol: float) -> None:
        self.net = net
        self.X = X
        self.y = y
        self.n = X.shape[0]
        self.L = len(net.W)
        self.W = [np.array(w, dtype=np.float64, copy=True) for w in net.W]
        self.lr = float(net.learning_rate)
        self.ref = _reference(net, self.W, X, y)
        self.k = self.ref.Z[-1].shape[1] if self.ref.Z[-1].ndim == 2 else 1
        self.rtol = rtol
        self.atol = atol
        # Finite-difference references carry their own error; do not call it a mismatch.
        self.grad_rtol = max(rtol, _FD_RTOL) if self.ref.uses_fd else rtol
        self.rows: list[Row] = []
        self.findings: list[Finding] = []
        self.notes: list[str] = []

    # -- helpers -------------------------------------------------------------------------------

    def twin(self) -> Any:
        return _clone(self.net, self.W)

    def add(self, location: Location, user: Any, ref: np.ndarray, grad_stage: bool = True,
            counted: bool = True) -> _Cmp:
        rtol = self.grad_rtol if grad_stage else self.rtol
        cmp = _compare(user, ref, rtol, self.atol)
        reference = "finite differences" if (grad_stage and self.ref.uses_fd) else "autograd"
        row = _make_row(location, cmp, reference, counted)
        if cmp.factor is not None:
            named = _name_factor(cmp.factor, self.n, self.k, self.lr)
            if named is not None:
                row.verdict += f" ({named[1].split(' (')[0]})"
        self.rows.append(row)
        return cmp

    def find(self, location: Location, cause: str, message: str) -> None:
        self.findings.append(Finding(location, cause, message))

    def matches(self, user: Any, formula: Callable[..., Any], *args: Any) -> bool:
        """Does ``formula(*args)``, a guess at what the user wrote, reproduce their array?"""
        try:
            with np.errstate(all="ignore"):
                value = _as_array(formula(*args))
        except Exception:
            return False
        u = _as_array(user)
        if value is None or u is None or not np.all(np.isfinite(value)):
            return False
        return _close(u, value, max(self.grad_rtol, 1e-9), self.atol)

    def factor_finding(self, location: Location, cmp: _Cmp, what: str, lr: bool = False) -> bool:
        """Name a constant factor between yours and autograd's; False when there is none."""
        if cmp.factor is None:
            return False
        named = _name_factor(cmp.factor, self.n, self.k, self.lr if lr else None)
        if named is None:
            self.find(location, "constant_factor",
                      f"{what} is exactly {_fmt_ratio(cmp.factor)} times autograd's: the "
                      "formula is right up to a constant (check the constants).")
            return True
        cause, text = named
        template = _FACTOR_EXPLANATION.get(
            (location.stage, cause),
            _FACTOR_EXPLANATION.get(("*", cause), "{what} is {text} times autograd's."),
        )
        self.find(location, cause, template.format(what=what, text=text, n=self.n, k=self.k))
        return True

    # -- forward -------------------------------------------------------------------------------

    def forward(self) -> None:
        loc0 = Location("forward", None, "call")
        try:
            with np.errstate(all="ignore"):
                out = self.twin().forward_pass(self.X.copy())
            A_vals, Z_vals = out
        except Exception as exc:
            self.rows.append(_error_row(loc0, _exception_text(exc)))
            cause = "shape" if _looks_like_shape_error(exc) else "exception"
            self.find(loc0, cause, f"forward_pass raised {_exception_text(exc)}. " + _SHAPE_HINT)
            return
        if len(A_vals) != self.L or len(Z_vals) != self.L:
            self.rows.append(_error_row(loc0, f"returned {len(A_vals)} A_vals and {len(Z_vals)} "
                                        f"Z_vals for {self.L} layers"))
            self.find(loc0, "shape", f"forward_pass should return one A and one Z per layer "
                      f"({self.L}); it returned {len(A_vals)} and {len(Z_vals)}.")
            return
        explained = False
        for i in range(self.L):
            Zp = self.X if i == 0 else self.ref.Z[i - 1]
            loc_a = Location("forward", i, "A (pre-act)")
            cmp = self.add(loc_a, A_vals[i], self.ref.A[i], grad_stage=False)
            if not cmp.ok and not explained:
                explained = True
                if self.matches(A_vals[i], _bias_last_forward, Zp, self.W[i]):
                    self.find(loc_a, "bias_last", _CAUSES["bias_last"].format(i=i))
                elif self.matches(A_vals[i], np.matmul, Zp, self.W[i][1:]):
                    self.find(loc_a, "bias_missing", _CAUSES["bias_missing"].format(i=i))
                elif _is_shape(cmp):
                    self.find(loc_a, "shape", f"A_vals[{i}] has {cmp.error}. " + _SHAPE_HINT)
            loc_z = Location("forward", i, "Z (output)")
            cmp = self.add(loc_z, Z_vals[i], self.ref.Z[i], grad_stage=False)
            if not cmp.ok and not explained:
                explained = True
                if self.matches(Z_vals[i], np.asarray, self.ref.A[i]):
                    self.find(loc_z, "activation_not_applied",
                              f"Z_vals[{i}] equals A_vals[{i}]: the activation of layer {i} "
                              "was not applied.")
                elif _is_shape(cmp):
                    self.find(loc_z, "shape", f"Z_vals[{i}] has {cmp.error}. " + _SHAPE_HINT)

    # -- loss ----------------------------------------------------------------------------------

    def loss(self) -> None:
        loc = Location("loss", None, "dL/dyhat")
        try:
            with np.errstate(all="ignore"):
                user = _copy_or_same(self.net.loss).derivative(self.ref.Z[-1].copy(), self.y)
        except Exception as exc:
            self.rows.append(_error_row(loc, _exception_text(exc)))
            self.find(loc, "exception", f"loss.derivative raised {_exception_text(exc)}.")
            return
        checked = self.ref.loss_ref.checked
        u = _as_array(user)
        if u is not None and u.shape == checked.shape and not checked.all():
            cmp = self.add(loc, u[checked], self.ref.dL_dyhat[checked])
            self.rows[-1].verdict += f" ({int(checked.sum())} of {checked.size} entries)"
        else:
            cmp = self.add(loc, user, self.ref.dL_dyhat)
        if cmp.ok:
            return
        what = "loss.derivative(ŷ, y)"
        if cmp.zero:
            self.find(loc, "zero_gradient", f"{what} is exactly zero where the gradient of "
                      "loss.value is not.")
        elif not self.factor_finding(loc, cmp, what) and _is_shape(cmp):
            self.find(loc, "shape", f"{what} has {cmp.error}: dL/dŷ must have the shape of ŷ. "
                      "A 1-D y against a 2-D ŷ broadcasts to an (n, n) array: reshape y to (n, 1).")

    # -- activations ---------------------------------------------------------------------------

    def activations(self) -> None:
        for i, ref in enumerate(self.ref.acts):
            act = ref.act
            loc = Location("activation", i, "derivative")
            if not ref.elementwise:
                backward = getattr(act, "backward", None)
                if not callable(backward):
                    continue  # judged through the deltas (see the softmax hypothesis)
                loc = Location("activation", i, "backward")
                U = np.random.default_rng(i).standard_normal(ref.A.shape)
                try:
                    user = backward(ref.A.copy(), U.copy())
                except Exception as exc:
                    self.rows.append(_error_row(loc, _exception_text(exc)))
                    continue
                self.add(loc, user, ref.vjp(U))
                continue
            try:
                with np.errstate(all="ignore"):
                    user = _as_array(act.derivative(ref.A.copy()))
            except Exception as exc:
                self.rows.append(_error_row(loc, _exception_text(exc)))
                self.find(loc, "exception", f"activations[{i}].derivative raised "
                          f"{_exception_text(exc)}.")
                continue
            truth = ref.derivative()
            if user is not None and user.shape == truth.shape:
                # At a kink any slope between the one-sided ones is a fair answer (ReLU'(0)).
                kink, low, high = ref.kinks()
                fair = kink & (user >= low - 1e-12) & (user <= high + 1e-12)
                truth = np.where(fair, user, truth)
            cmp = self.add(loc, user, truth)
            if cmp.ok:
                continue
            name = type(act).__name__
            if self.matches(truth, _derivative_at_output, act, ref.A):
                self.find(loc, "derivative_expects_output", _CAUSES["derivative_expects_output"]
                          .format(i=i, name=name))
            else:
                self.find(loc, "activation_derivative", _CAUSES["activation_derivative"]
                          .format(i=i, name=name, ref=ref.label))

    # -- backward ------------------------------------------------------------------------------

    def backward(self) -> None:
        loc0 = Location("backward", None, "call")
        twin = self.twin()
        try:
            with np.errstate(all="ignore"):
                _quietly(lambda: twin.forward_pass(self.X.copy()))  # for state a class may keep
                A_vals = [a.copy() for a in self.ref.A]
                deltas = twin.backward_pass(A_vals, self.ref.dL_dyhat.copy())
            deltas = list(deltas)
        except Exception as exc:
            text = _exception_text(exc)
            self.rows.append(_error_row(loc0, text))
            shape = _looks_like_shape_error(exc)
            whole = _whole_weight_line(twin.backward_pass) if shape else None
            if whole is not None:
                self.find(loc0, "bias_row_in_backward", _CAUSES["bias_row_in_backward"].format(
                    what=f"backward_pass raised {text}.", where=whole))
                return
            hint = _TRANSPOSE_HINT + _untransposed_line(exc) if shape else ""
            self.find(loc0, "shape" if shape else "exception",
                      f"backward_pass raised {text}. {hint}".strip())
            return
        if len(deltas) != self.L:
            self.rows.append(_error_row(loc0, f"returned {len(deltas)} deltas for {self.L} layers"))
            self.find(loc0, "shape", f"backward_pass should return one delta per layer "
                      f"({self.L}), front to back; it returned {len(deltas)}.")
            return
        results: dict[int, _Cmp] = {}
        for i in range(self.L - 1, -1, -1):
            loc = Location("backward", i, "delta")
            results[i] = self.add(loc, deltas[i], self.ref.deltas[i])
        if self.L > 1 and not all(r.ok for r in results.values()) and all(
                self.matches(d, np.asarray, r) for d, r in zip(deltas[::-1], self.ref.deltas)):
            self.find(Location("backward", self.L - 1, "delta"), "deltas_reversed",
                      _CAUSES["deltas_reversed"].format(last=self.L - 1))
            return
        # Judge each layer by its own rule, given the delta above it as the user computed it:
        # a layer that follows correctly from a wrong delta only inherits the error.
        for i in range(self.L - 1, -1, -1):
            if results[i].ok:
                continue
            row = self.row(Location("backward", i, "delta"))
            upstream = self.upstream(i, deltas)
            if upstream is not None and self.matches(deltas[i], self.ref.acts[i].vjp, upstream):
                row.inherited = True
                row.verdict += " (follows from the layer above)"
                continue
            self.explain_delta(i, deltas, upstream, results[i])

    def row(self, location: Location) -> Row:
        return next(r for r in self.rows if r.location == location)

    def upstream(self, i: int, deltas: list[Any]) -> np.ndarray | None:
        """``dL/dZ_i`` given the user's delta of the layer above (or the true dL/dŷ on top)."""
        if i == self.L - 1:
            return self.ref.dL_dyhat
        above = _as_array(deltas[i + 1])
        try:
            return above @ self.W[i + 1][1:].T
        except Exception:
            return None

    def explain_delta(
        self, i: int, deltas: list[Any], upstream: np.ndarray | None, cmp: _Cmp
    ) -> None:
        loc = Location("backward", i, "delta")
        ref = self.ref.acts[i]
        act = ref.act
        name = type(act).__name__
        user = deltas[i]
        if _is_shape(cmp):
            u = _as_array(user)
            if u is not None and u.shape == (self.n, self.ref.A[i].shape[1] + 1):
                self.find(loc, "bias_row_in_backward", _CAUSES["bias_row_in_backward"].format(
                    what=f"deltas[{i}] have one column too many.", where=f"W[{i + 1}]"))
            else:
                self.find(loc, "shape", f"deltas[{i}] has {cmp.error}. " + _TRANSPOSE_HINT)
            return
        if upstream is None:
            return
        # Guesses at what was written instead, each evaluated from the same inputs.
        hypotheses: list[tuple[str, Callable[..., Any], tuple]] = []
        if i < self.L - 1:
            above = _as_array(deltas[i + 1])
            hypotheses.append(("transpose", _transposed_step, (ref, above, self.W[i + 1])))
        if ref.elementwise:
            hypotheses.append(("derivative_of_output", _times_derivative_at_output,
                               (act, ref.A, upstream)))
            hypotheses.append(("user_activation_derivative", _times_user_derivative,
                               (act, ref.A, upstream)))
        else:
            hypotheses.append(("softmax_diagonal", _times_user_derivative, (act, ref.A, upstream)))
        hypotheses.append(("missing_activation_derivative", np.asarray, (upstream,)))
        for cause, formula, args in hypotheses:
            if not self.matches(user, formula, *args):
                continue
            if cause == "user_activation_derivative":
                # The deltas follow the skeleton; the activation's derivative itself is
                # wrong, and the activation row of this layer says how.
                act_finding = next((f for f in self.findings if f.location.stage == "activation"
                                    and f.location.layer == i), None)
                cause = act_finding.cause if act_finding else "activation_derivative"
                self.find(loc, cause, f"deltas[{i}] are built the right way, but with a wrong "
                          f"derivative of {name}: see the activation row of layer {i}.")
                return
            self.find(loc, cause, _CAUSES[cause].format(i=i, name=name, above=i + 1))
            return
        if not self.factor_finding(loc, cmp, f"deltas[{i}]"):
            if cmp.zero:
                self.find(loc, "zero_gradient", f"deltas[{i}] is exactly zero where dL/dA_{i} "
                          "is not.")

    # -- update --------------------------------------------------------------------------------

    def applied_update(self, twin: Any, before: list[np.ndarray], returned: Any) -> list[Any]:
        """``(W_before - W_after) / learning_rate`` per layer: the gradient that was applied."""
        # Most keep W in place and return it; a version that builds new arrays returns them.
        is_list = isinstance(returned, (list, tuple)) and len(returned) == self.L
        after = returned if is_list else twin.W
        steps: list[Any] = []
        for b, a in zip(before, after):
            a = _as_array(a)
            # A wrong shape is passed on as it is, to be reported as a shape problem.
            steps.append(a if a is None or a.shape != b.shape else (b - a) / self.lr)
        return steps

    def update(self, stage: str = "update") -> None:
        loc0 = Location(stage, None, "call")
        twin = self.twin()
        before = [w.copy() for w in twin.W]
        try:
            with np.errstate(all="ignore"):
                if stage == "update":
                    _quietly(lambda: twin.forward_pass(self.X.copy()))
                    _quietly(lambda: twin.backward_pass([a.copy() for a in self.ref.A],
                                                        self.ref.dL_dyhat.copy()))
                    returned = twin.update_weights(self.X.copy(), [z.copy() for z in self.ref.Z],
                                                   [d.copy() for d in self.ref.deltas])
                else:
                    A_vals, Z_vals = twin.forward_pass(self.X.copy())
                    dLdyhat = twin.loss.derivative(Z_vals[-1], self.y)
                    deltas = twin.backward_pass(A_vals, dLdyhat)
                    returned = twin.update_weights(self.X.copy(), Z_vals, deltas)
        except Exception as exc:
            text = _exception_text(exc)
            self.rows.append(_error_row(loc0, text))
            if stage == "update":
                shape = _looks_like_shape_error(exc)
                hint = _TRANSPOSE_HINT if shape else ""
                self.find(loc0, "shape" if shape else "exception",
                          f"update_weights raised {text}. {hint}".strip())
            return
        steps = self.applied_update(twin, before, returned)
        for i in range(self.L):
            step, ref = steps[i], self.ref.grads[i]
            if step is None or step.shape != ref.shape:
                cmp = self.add(Location(stage, i, "W"), step, ref)
                if stage == "update":
                    self.find(Location(stage, i, "W"), "shape",
                              f"update_weights changed W[{i}] to {cmp.error}. " + _TRANSPOSE_HINT)
                continue
            bias = self.add(Location(stage, i, "bias row"), step[:1], ref[:1])
            rows = self.add(Location(stage, i, "weight rows"), step[1:], ref[1:])
            if stage != "update" or (bias.ok and rows.ok):
                continue
            self.explain_update(i, step, ref, bias, rows)

    def explain_update(
        self, i: int, step: np.ndarray, ref: np.ndarray, bias: _Cmp, rows: _Cmp
    ) -> None:
        loc_b = Location("update", i, "bias row")
        loc_w = Location("update", i, "weight rows")
        whole = _compare(step, ref, self.grad_rtol, self.atol)
        if bias.zero:
            self.find(loc_b, "zero_bias_column", _CAUSES["zero_bias_column"].format(i=i))
        elif _close(step[-1], ref[0], 1e-9) and _close(step[:-1], ref[1:], 1e-9):
            self.find(loc_b, "bias_last", _CAUSES["bias_last"].format(i=i))
            return
        if whole.factor is not None and not bias.zero:
            what = f"the update of W[{i}] (ΔW / -learning_rate)"
            self.factor_finding(loc_w, whole, what, lr=True)
            return
        if not rows.ok:
            if rows.zero:
                self.find(loc_w, "zero_gradient", f"the weight rows of W[{i}] do not move "
                          "although their gradient is not zero.")
            else:
                self.factor_finding(loc_w, rows, f"the update of W[{i}][1:]", lr=True)
        if not bias.ok and not bias.zero and bias.factor is not None:
            self.factor_finding(loc_b, bias, f"the update of the bias row of W[{i}]", lr=True)

    # -- all -----------------------------------------------------------------------------------

    def run(self) -> None:
        self.forward()
        if not self.reference_is_finite():
            return
        self.loss()
        self.activations()
        self.backward()
        self.update("update")
        self.update("end-to-end")
        self.settle_activation_rows()

    def reference_is_finite(self) -> bool:
        """Gradients can only be compared where autograd's are finite; say so otherwise."""
        ref = self.ref
        pieces = [("the loss value", np.asarray(ref.loss_value)), ("dL/dyhat", ref.dL_dyhat)]
        pieces += [(f"dL/dW[{i}]", g) for i, g in enumerate(ref.grads)]
        bad = [name for name, a in pieces if not np.all(np.isfinite(a))]
        if not bad:
            return True
        if np.isfinite(ref.loss_value):
            why = ("Your loss value is finite: the reference itself overflowed between "
                   "these weights and the loss (very large weights or inputs), which says "
                   "nothing against your code.")
        else:
            why = ("Typical causes: an output exactly 0 or 1 fed to a log (a saturated "
                   "sigmoid without clipping), or values that overflowed.")
        self.find(Location("loss", None, "value"), "non_finite_reference",
                  f"At these weights {', '.join(bad)} already hold inf or NaN (loss = "
                  f"{ref.loss_value}), so there is nothing finite to compare the backward "
                  f"stages with. {why} tinygrad_mlp.diagnose shows where they come from.")
        self.rows.append(_error_row(Location("loss", None, "value"),
                                    f"loss = {ref.loss_value} at these weights"))
        return False

    def settle_activation_rows(self) -> None:
        """An activation whose derivative breaks the contract but whose deltas come out right
        (say, derivative written for the output and backward_pass passing the output) trains
        correctly: keep it as a note rather than a failure."""
        for r in self.rows:
            if r.location.stage != "activation" or r.ok:
                continue
            delta = next((d for d in self.rows if d.location == Location(
                "backward", r.location.layer, "delta")), None)
            if delta is not None and delta.ok:
                r.counted = False
                r.verdict += " (deltas still right)"
                for f in self.findings:
                    if f.location == r.location:
                        f.message += (" Your backward_pass still gets the deltas right, so "
                                      "this is a contract issue, not a training bug.")


def _transposed_step(ref: _ActivationRef, above: np.ndarray, W_above: np.ndarray) -> np.ndarray:
    return ref.vjp(above @ W_above[1:])


def _times_derivative_at_output(act: Any, A: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    return _derivative_at_output(act, A) * upstream


def _times_user_derivative(act: Any, A: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    return np.asarray(act.derivative(A.copy()), dtype=np.float64) * upstream


def _bias_last_forward(Z: np.ndarray, W: np.ndarray) -> np.ndarray:
    return np.concatenate((Z, np.ones((Z.shape[0], 1))), axis=1) @ W


def _derivative_at_output(act: Any, A: np.ndarray) -> np.ndarray:
    return act.derivative(act.value(A.copy()))


def _copy_or_same(obj: Any) -> Any:
    try:
        return copy.deepcopy(obj)
    except Exception:
        return obj


def _quietly(call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception:
        pass  # only run for any state it leaves behind; the stage under test is judged next


def _untransposed_line(exc: BaseException) -> str:
    """A pointed remark when the failing line multiplies by ``W[..][1:]`` without ``.T``."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if frame.line and re.search(r"W\[[^\]]*\]\[1:\](?!\.T)", frame.line):
            return (f" The failing line uses W[...][1:] without .T ({frame.name}, line "
                    f"{frame.lineno}): that is the transposed weight.")
    return ""


def _whole_weight_line(method: Callable) -> str | None:
    """The line of ``method`` that uses ``W[...].T`` (bias row included), if there is one."""
    try:
        lines, start = inspect.getsourcelines(method)
    except (OSError, TypeError):
        return None
    for k, line in enumerate(lines):
        code = line.split("#")[0]
        if re.search(r"W\[[^\]]*\]\.T\b", code):
            return f"line {start + k}: {code.strip()}"
    return None


def _looks_like_shape_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, ValueError) and any(
        w in text for w in ("shape", "align", "matmul", "broadcast", "dimension", "mismatch")
    )


_SHAPE_HINT = (
    "Shapes in the skeleton: X is (n, n_features), W[i] is (n_in + 1, n_out) with row 0 the "
    "bias, A_i and Z_i are (n, n_out)."
)
_TRANSPOSE_HINT = (
    "A shape error in backprop is almost always a missing or extra transpose: with W[i] of "
    "shape (n_in + 1, n_out), the step down a layer is delta_i @ W[i][1:].T (n, n_in) and "
    "the gradient of W[i] is [1, Z_{i-1}].T @ delta_i (n_in + 1, n_out)."
)

_CAUSES = {
    "zero_bias_column": (
        "The bias row of W[{i}] gets an update of exactly zero although its gradient is not "
        "zero: the bias never learns. The usual cause is the column that multiplies the bias "
        "built with np.zeros instead of np.ones when prepending it to the layer's input "
        "(np.concatenate((np.zeros((n, 1)), X), axis=1)): then [0, X].T @ delta has a zero "
        "first row. Use np.ones, the same column as in forward_pass."
    ),
    "bias_last": (
        "W[{i}] is used with the column of ones appended at the END ([Z, 1]) where the "
        "skeleton puts it first ([1, Z], row 0 of W is the bias). Use the same order in "
        "forward_pass and update_weights."
    ),
    "bias_missing": (
        "A_{i} equals Z_{{i-1}} @ W[{i}][1:]: the bias row W[{i}][0] is not added (a missing "
        "or zero column of ones in forward_pass)."
    ),
    "transpose": (
        "deltas[{i}] match delta_{above} @ W[{above}][1:] WITHOUT the transpose: going down "
        "a layer needs delta_{above} @ W[{above}][1:].T. With a square weight matrix the "
        "wrong product still runs, so nothing fails loudly; with a non-square one it raises."
    ),
    "missing_activation_derivative": (
        "deltas[{i}] equal dL/dZ_{i} (the delta of the layer above times the weights) without "
        "the factor g'(A_{i}): the derivative of the activation of layer {i} ({name}) is "
        "missing. delta_{i} = g'(A_{i}) * (delta_{above} @ W[{above}][1:].T)."
    ),
    "derivative_of_output": (
        "deltas[{i}] are built from {name}.derivative applied to the activation OUTPUT "
        "Z_{i} = g(A_{i}), but the derivative expects the pre-activation A_{i} (for a sigmoid "
        "that computes s(s(A))(1 - s(s(A))) instead of s(A)(1 - s(A))). Pass A_vals[{i}] to "
        "derivative, or write derivative in terms of the output and say so."
    ),
    "derivative_expects_output": (
        "{name}.derivative(A) at layer {i} disagrees with finite differences of its own "
        "value, but {name}.derivative(value(A)) agrees: the derivative is written in terms "
        "of the activation's OUTPUT (e.g. s * (1 - s) with s the sigmoid output), while the "
        "network passes the pre-activation A. Compute s = value(A) inside derivative (or "
        "pass Z, consistently)."
    ),
    "activation_derivative": (
        "{name}.derivative at layer {i} disagrees with the derivative of its own value "
        "({ref}). Check the formula."
    ),
    "softmax_diagonal": (
        "deltas[{i}] use {name}.derivative(A) * upstream, i.e. only the diagonal of the "
        "softmax Jacobian. A softmax output depends on the whole row, so dL/dA = "
        "s * (g - sum(g * s)) with g = dL/dZ (or use the activation's backward)."
    ),
    "bias_row_in_backward": (
        "{what} Going down a layer used all of W[i + 1], bias row included ({where}), which "
        "gives one column too many. The bias row does not depend on the layer below: use "
        "W[i + 1][1:].T."
    ),
    "deltas_reversed": (
        "backward_pass returns the right deltas in the wrong order: deltas[i] holds the delta "
        "of layer {last} - i. A list built from the output layer down with append must be "
        "reversed (deltas[::-1]) before it is returned; deltas[0] belongs to the first layer."
    ),
}

_FACTOR_EXPLANATION = {
    ("loss", "factor_n"): (
        "{what} is {text} times the gradient of loss.value: loss.value is a mean over the "
        "samples but its derivative leaves out the 1/n (e.g. 2 * (ŷ - y) instead of "
        "2 * (ŷ - y) / n). update_weights sums over the examples, so every step is n times "
        "too large, and the larger the dataset, the larger the step."
    ),
    ("loss", "factor_nk"): (
        "{what} is {text} times the gradient of loss.value: loss.value averages over all "
        "n·k elements but the derivative does not divide by them."
    ),
    ("loss", "factor_k"): (
        "{what} is {text} times the gradient of loss.value: the value averages over the k "
        "outputs too, the derivative only over the samples."
    ),
    ("loss", "factor_1_over_n"): (
        "{what} is {text} times the gradient of loss.value: the derivative divides by n but "
        "the value does not average (is a sum), or the 1/n is applied twice."
    ),
    ("loss", "factor_2"): (
        "{what} is {text} times the gradient of loss.value: the derivative of (ŷ - y)^2 is "
        "2(ŷ - y), of (ŷ - y)^2 / 2 it is (ŷ - y); value and derivative use different "
        "conventions."
    ),
    ("loss", "factor_half"): (
        "{what} is {text} times the gradient of loss.value: the derivative of (ŷ - y)^2 is "
        "2(ŷ - y); the factor 2 is missing."
    ),
    ("*", "sign"): "{what} has the wrong sign: it points uphill (ŷ - y versus y - ŷ, or += "
                   "instead of -=).",
    ("update", "factor_n"): (
        "{what} is {text} times the gradient: update_weights multiplies by the number of "
        "samples. The deltas already carry the 1/n of the mean loss; the plain sum "
        "[1, Z].T @ delta is the gradient."
    ),
    ("update", "factor_1_over_n"): (
        "{what} is {text} times the gradient: update_weights averages over the samples, but "
        "the deltas already carry the 1/n of the mean loss (from loss.derivative), so the "
        "1/n is applied twice and every step is n times too small. Sum, don't average, or "
        "take the 1/n out of loss.derivative (then loss.derivative disagrees with loss.value)."
    ),
    ("update", "no_learning_rate"): (
        "{what} is {text} times the gradient: update_weights does not multiply by "
        "learning_rate."
    ),
    ("update", "learning_rate_twice"): (
        "{what} is {text} times the gradient: update_weights multiplies by learning_rate "
        "twice."
    ),
    ("*", "factor_n"): "{what} is {text} times autograd's: a sum over the samples where a "
                       "mean belongs (or a missing 1/n).",
    ("*", "factor_1_over_n"): "{what} is {text} times autograd's: a mean over the samples "
                              "where a sum belongs (the 1/n is applied twice).",
}


# ---------------------------------------------------------------------------------------------
# Putting it together


def _first_mismatch(rows: list[Row]) -> Location | None:
    for stage in _STAGE_ORDER:
        for r in rows:
            if r.location.stage == stage and r.counted and not r.ok:
                return r.location
    return None


def check_backprop(
    net: Any,
    X: ArrayLike,
    y: ArrayLike,
    rtol: float = 1e-6,
    atol: float = 1e-12,
    confirm: bool = True,
) -> BackpropReport:
    """Check a hand-written network's backprop against autograd, stage by stage, in float64.

    :param net: any object in the skeleton's convention (``W``, ``activations``, ``loss``,
        ``learning_rate``, ``forward_pass``, ``backward_pass``, ``update_weights``). It is
        not changed: every method runs on a copy.
    :param X: inputs, shape ``(n, n_features)``; ``y``: targets as your loss expects them.
    :param rtol, atol: a stage agrees when ``max|yours - autograd's| <= atol + rtol * scale``
        (``scale`` = the largest magnitude of either). References computed by finite
        differences use at least ``rtol = 1e-5``.
    :param confirm: rerun at a second batch size to confirm a factor equal to ``n``.
    :returns: a :class:`BackpropReport`; print it for the table and the explanations.

    >>> import numpy as np
    >>> from tinygrad_mlp import manual
    >>> X = np.random.default_rng(0).normal(size=(6, 2)); y = X.sum(1, keepdims=True)
    >>> net = manual.PostedNeuralNetwork(2, [3, 1], [manual.ReLU(), manual.Identity()],
    ...                                  manual.MSE())
    >>> report = check_backprop(net, X, y)
    >>> report.ok, str(report.first_mismatch), "zero_bias_column" in report.causes
    (False, 'update, layer 0, bias row', True)
    """
    _check_convention(net)
    X = np.array(X, dtype=np.float64, copy=True)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, n_features), got shape {X.shape}")
    y_arr = np.array(y, copy=True)
    if y_arr.dtype.kind in "fc":
        y_arr = y_arr.astype(np.float64)
    with _untouched(net), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        checker = _Checker(net, X, y_arr, rtol, atol)
        checker.run()
        if confirm:
            _confirm_factors(checker, net, X, y_arr, rtol, atol)
    rows, findings, notes = checker.rows, checker.findings, checker.notes
    first = _first_mismatch(rows)
    first = _compensated(rows, findings, notes, first)
    for ref in checker.ref.acts:
        if ref.note:
            notes.append(ref.note + ".")
    ref_notes = [
        "autograd in float64",
        "activations: " + ", ".join(a.label for a in checker.ref.acts),
        f"loss: {checker.ref.loss_ref.label}",
    ]
    shapes = " -> ".join([str(X.shape[1])] + [str(a.shape[1]) for a in checker.ref.A])
    title = (
        f"check_backprop: {type(net).__name__} ({shapes}), {X.shape[0]} samples, "
        f"learning_rate {checker.lr:g}, loss {type(net.loss).__name__} = "
        f"{checker.ref.loss_value:.6g}"
    )
    return BackpropReport(rows, findings, notes, title, X.shape[0], first, ref_notes)


def _compensated(rows: list[Row], findings: list[Finding], notes: list[str],
                 first: Location | None) -> Location | None:
    """Accept stages that are off by factors which cancel when the stages are chained.

    Where the 1/n lives (in loss.derivative, as the skeleton says, or in update_weights) is
    a convention; if the chained step agrees with autograd, training is right.
    """
    if first is None:
        return None
    chained = [r for r in rows if r.location.stage == "end-to-end"]
    isolated_bad = [r for r in rows if r.counted and not r.ok and r.location.stage != "end-to-end"]
    if not chained or not all(r.ok for r in chained):
        return first
    if all(r.factor is not None for r in isolated_bad if not r.inherited) and not any(
        r.location.stage == "forward" for r in isolated_bad
    ):
        where = ", ".join(str(r.location) for r in isolated_bad)
        notes.append(
            f"Stages are off by constant factors ({where}) that cancel when chained: one "
            "training step agrees with autograd. The skeleton puts the 1/n of a mean loss in "
            "loss.derivative; yours lives elsewhere, which is fine as long as both move together."
        )
        for r in isolated_bad:
            r.counted = False
            r.verdict += " (compensated)"
        findings.clear()
        return None
    return first


def _confirm_factors(checker: _Checker, net: Any, X: np.ndarray, y: np.ndarray,
                     rtol: float, atol: float) -> None:
    """Rerun with half the samples: a factor that follows the batch size is the 1/n."""
    batch_causes = {"factor_n", "factor_1_over_n", "factor_nk", "factor_minus_n"}
    todo = [f for f in checker.findings if f.cause in batch_causes]
    if not todo:
        return
    m = X.shape[0] // 2
    if m < 1 or m == X.shape[0]:
        for f in todo:
            f.message += " (Could not confirm at a second batch size: only one sample.)"
        return
    try:
        small = _Checker(net, X[:m], y[:m], rtol, atol)
        small.run()
    except Exception as exc:  # pragma: no cover - the full batch already ran
        for f in todo:
            f.message += f" (The rerun with {m} samples failed: {exc}.)"
        return
    for f in todo:
        other = next((g for g in small.findings if g.location == f.location), None)
        big = next(r for r in checker.rows if r.location == f.location)
        part = next((r for r in small.rows if r.location == f.location), None)
        if other is not None and other.cause == f.cause:
            f.confirmed = True
            factor = part.factor if part is not None and part.factor is not None else float("nan")
            f.message += (
                f" Confirmed: rerun with {m} samples the factor is {_fmt_ratio(factor)} "
                f"(was {_fmt_ratio(big.factor or float('nan'))} with {X.shape[0]}): it follows "
                "the batch size."
            )
        else:
            f.confirmed = False
            f.message += (
                f" But with {m} samples the factor does not change with the batch size, so "
                "it is a constant that happens to equal n here."
            )


def demo(network: str = "posted") -> BackpropReport:
    """The posted network (or the fixed one) on the diabetes data, checked against autograd.

    What the CLI's ``compare`` subcommand prints. ``network="posted"`` is the network as
    posted in the question, on the raw features; ``"fixed"`` the corrected one (see
    :func:`tinygrad_mlp.diagnose.fixed_setup`), which agrees.

    >>> sorted(demo().causes)
    ['factor_n', 'zero_bias_column']
    >>> demo("fixed").ok
    True
    """
    from ..diagnose import _setup

    net, X, y = _setup(network)
    return check_backprop(net, X, y)
