"""The skeleton checker's stages: your methods run one at a time and held against the reference.

Each stage is fed the *correct* inputs (the reference's), so a mistake shows up in the stage
that makes it and not in every stage after it; the end-to-end rows then show what one
training step of your network really does. :class:`SkeletonChecker` collects the table rows
and the findings; the words of each cause live in :mod:`.skeleton_causes`.

>>> from tinygrad_mlp import manual
>>> net = manual.NeuralNetwork(2, [3, 1], [manual.Tanh(), manual.Identity()], manual.MSE())
>>> check_convention(net) is None
True
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..engine.numerics import format_number
from .arrays import FD_RTOL, Comparison, as_array, close, compare_arrays, name_factor
from .skeleton_causes import (
    CAUSES,
    FACTOR_EXPLANATION,
    SHAPE_HINT,
    TRANSPOSE_HINT,
    bias_last_forward,
    derivative_at_output,
    looks_like_shape_error,
    times_derivative_at_output,
    times_user_derivative,
    transposed_step,
    untransposed_line,
    whole_weight_line,
)
from .skeleton_reference import copy_or_same, reference_pass
from .skeleton_report import Finding, Location, Row, error_row, make_row
from .usercode import exception_text

REQUIRED = ("W", "activations", "loss", "learning_rate", "forward_pass", "backward_pass",
             "update_weights")


def check_convention(net: Any) -> None:
    missing = [name for name in REQUIRED if not hasattr(net, name)]
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


def clone(net: Any, W: Sequence[np.ndarray]) -> Any:
    """A copy of ``net`` with float64 copies of ``W``, so a call cannot touch the original.

    >>> from tinygrad_mlp import manual
    >>> net = manual.NeuralNetwork(1, [1], [manual.Identity()], manual.MSE())
    >>> clone(net, net.W).W[0] is net.W[0]
    False
    """
    try:
        twin = copy.deepcopy(net)
    except Exception:  # an object holding something uncopyable (a file, a lock): go shallow
        twin = copy.copy(net)
    twin.W = [np.array(w, dtype=np.float64, copy=True) for w in W]
    return twin


@contextmanager
def untouched(net: Any) -> Iterator[None]:
    """Restore ``net``'s attributes and the contents of its ``W`` arrays on exit.

    The checks run on copies, but a class may share state through mutable class attributes
    or caches; this is the belt to those braces.

    >>> from tinygrad_mlp import manual
    >>> net = manual.NeuralNetwork(1, [1], [manual.Identity()], manual.MSE())
    >>> with untouched(net):
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




class SkeletonChecker:
    """Runs every stage of one network on one batch and collects rows and findings."""

    def __init__(self, net: Any, X: np.ndarray, y: Any, rtol: float, atol: float) -> None:
        self.net = net
        self.X = X
        self.y = y
        self.n = X.shape[0]
        self.L = len(net.W)
        self.W = [np.array(w, dtype=np.float64, copy=True) for w in net.W]
        self.lr = float(net.learning_rate)
        self.ref = reference_pass(net, self.W, X, y)
        self.k = self.ref.Z[-1].shape[1] if self.ref.Z[-1].ndim == 2 else 1
        self.rtol = rtol
        self.atol = atol
        # Finite-difference references carry their own error; do not call it a mismatch.
        self.grad_rtol = max(rtol, FD_RTOL) if self.ref.uses_fd else rtol
        self.rows: list[Row] = []
        self.findings: list[Finding] = []
        self.notes: list[str] = []

    # -- helpers -------------------------------------------------------------------------------

    def twin(self) -> Any:
        return clone(self.net, self.W)

    def add(self, location: Location, user: Any, ref: np.ndarray, grad_stage: bool = True,
            counted: bool = True) -> Comparison:
        rtol = self.grad_rtol if grad_stage else self.rtol
        cmp = compare_arrays(user, ref, rtol, self.atol)
        reference = "finite differences" if (grad_stage and self.ref.uses_fd) else "autograd"
        row = make_row(location, cmp, reference, counted)
        if cmp.factor is not None:
            named = name_factor(cmp.factor, self.n, self.k, self.lr)
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
                value = as_array(formula(*args))
        except Exception:
            return False
        u = as_array(user)
        if value is None or u is None or not np.all(np.isfinite(value)):
            return False
        return close(u, value, max(self.grad_rtol, 1e-9), self.atol)

    def factor_finding(self, location: Location, cmp: Comparison, what: str,
                       lr: bool = False) -> bool:
        """Name a constant factor between yours and autograd's; False when there is none."""
        if cmp.factor is None:
            return False
        named = name_factor(cmp.factor, self.n, self.k, self.lr if lr else None)
        if named is None:
            self.find(location, "constant_factor",
                      f"{what} is exactly {format_number(cmp.factor, 6)} times autograd's: the "
                      "formula is right up to a constant (check the constants).")
            return True
        cause, text = named
        template = FACTOR_EXPLANATION.get(
            (location.stage, cause),
            FACTOR_EXPLANATION.get(("*", cause), "{what} is {text} times autograd's."),
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
            self.rows.append(error_row(loc0, exception_text(exc)))
            cause = "shape" if looks_like_shape_error(exc) else "exception"
            self.find(loc0, cause, f"forward_pass raised {exception_text(exc)}. " + SHAPE_HINT)
            return
        if len(A_vals) != self.L or len(Z_vals) != self.L:
            self.rows.append(error_row(loc0, f"returned {len(A_vals)} A_vals and {len(Z_vals)} "
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
                if self.matches(A_vals[i], bias_last_forward, Zp, self.W[i]):
                    self.find(loc_a, "bias_last", CAUSES["bias_last"].format(i=i))
                elif self.matches(A_vals[i], np.matmul, Zp, self.W[i][1:]):
                    self.find(loc_a, "bias_missing", CAUSES["bias_missing"].format(i=i))
                elif cmp.shape_problem:
                    self.find(loc_a, "shape", f"A_vals[{i}] has {cmp.error}. " + SHAPE_HINT)
            loc_z = Location("forward", i, "Z (output)")
            cmp = self.add(loc_z, Z_vals[i], self.ref.Z[i], grad_stage=False)
            if not cmp.ok and not explained:
                explained = True
                if self.matches(Z_vals[i], np.asarray, self.ref.A[i]):
                    self.find(loc_z, "activation_not_applied",
                              f"Z_vals[{i}] equals A_vals[{i}]: the activation of layer {i} "
                              "was not applied.")
                elif cmp.shape_problem:
                    self.find(loc_z, "shape", f"Z_vals[{i}] has {cmp.error}. " + SHAPE_HINT)

    # -- loss ----------------------------------------------------------------------------------

    def loss(self) -> None:
        loc = Location("loss", None, "dL/dyhat")
        try:
            with np.errstate(all="ignore"):
                user = copy_or_same(self.net.loss).derivative(self.ref.Z[-1].copy(), self.y)
        except Exception as exc:
            self.rows.append(error_row(loc, exception_text(exc)))
            self.find(loc, "exception", f"loss.derivative raised {exception_text(exc)}.")
            return
        checked = self.ref.loss_ref.checked
        u = as_array(user)
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
        elif not self.factor_finding(loc, cmp, what) and cmp.shape_problem:
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
                    self.rows.append(error_row(loc, exception_text(exc)))
                    continue
                self.add(loc, user, ref.vjp(U))
                continue
            try:
                with np.errstate(all="ignore"):
                    user = as_array(act.derivative(ref.A.copy()))
            except Exception as exc:
                self.rows.append(error_row(loc, exception_text(exc)))
                self.find(loc, "exception", f"activations[{i}].derivative raised "
                          f"{exception_text(exc)}.")
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
            if self.matches(truth, derivative_at_output, act, ref.A):
                self.find(loc, "derivative_expects_output", CAUSES["derivative_expects_output"]
                          .format(i=i, name=name))
            else:
                self.find(loc, "activation_derivative", CAUSES["activation_derivative"]
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
            text = exception_text(exc)
            self.rows.append(error_row(loc0, text))
            shape = looks_like_shape_error(exc)
            whole = whole_weight_line(twin.backward_pass) if shape else None
            if whole is not None:
                self.find(loc0, "bias_row_in_backward", CAUSES["bias_row_in_backward"].format(
                    what=f"backward_pass raised {text}.", where=whole))
                return
            hint = TRANSPOSE_HINT + untransposed_line(exc) if shape else ""
            self.find(loc0, "shape" if shape else "exception",
                      f"backward_pass raised {text}. {hint}".strip())
            return
        if len(deltas) != self.L:
            self.rows.append(error_row(loc0, f"returned {len(deltas)} deltas for {self.L} layers"))
            self.find(loc0, "shape", f"backward_pass should return one delta per layer "
                      f"({self.L}), front to back; it returned {len(deltas)}.")
            return
        results: dict[int, Comparison] = {}
        for i in range(self.L - 1, -1, -1):
            loc = Location("backward", i, "delta")
            results[i] = self.add(loc, deltas[i], self.ref.deltas[i])
        if self.L > 1 and not all(r.ok for r in results.values()) and all(
                self.matches(d, np.asarray, r) for d, r in zip(deltas[::-1], self.ref.deltas)):
            self.find(Location("backward", self.L - 1, "delta"), "deltas_reversed",
                      CAUSES["deltas_reversed"].format(last=self.L - 1))
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
        above = as_array(deltas[i + 1])
        try:
            return above @ self.W[i + 1][1:].T
        except Exception:
            return None

    def explain_delta(
        self, i: int, deltas: list[Any], upstream: np.ndarray | None, cmp: Comparison
    ) -> None:
        loc = Location("backward", i, "delta")
        ref = self.ref.acts[i]
        act = ref.act
        name = type(act).__name__
        user = deltas[i]
        if cmp.shape_problem:
            u = as_array(user)
            if u is not None and u.shape == (self.n, self.ref.A[i].shape[1] + 1):
                self.find(loc, "bias_row_in_backward", CAUSES["bias_row_in_backward"].format(
                    what=f"deltas[{i}] have one column too many.", where=f"W[{i + 1}]"))
            else:
                self.find(loc, "shape", f"deltas[{i}] has {cmp.error}. " + TRANSPOSE_HINT)
            return
        if upstream is None:
            return
        # Guesses at what was written instead, each evaluated from the same inputs.
        hypotheses: list[tuple[str, Callable[..., Any], tuple]] = []
        if i < self.L - 1:
            above = as_array(deltas[i + 1])
            hypotheses.append(("transpose", transposed_step, (ref, above, self.W[i + 1])))
        if ref.elementwise:
            hypotheses.append(("derivative_of_output", times_derivative_at_output,
                               (act, ref.A, upstream)))
            hypotheses.append(("user_activation_derivative", times_user_derivative,
                               (act, ref.A, upstream)))
        else:
            hypotheses.append(("softmax_diagonal", times_user_derivative, (act, ref.A, upstream)))
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
            self.find(loc, cause, CAUSES[cause].format(i=i, name=name, above=i + 1))
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
            a = as_array(a)
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
            text = exception_text(exc)
            self.rows.append(error_row(loc0, text))
            if stage == "update":
                shape = looks_like_shape_error(exc)
                hint = TRANSPOSE_HINT if shape else ""
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
                              f"update_weights changed W[{i}] to {cmp.error}. " + TRANSPOSE_HINT)
                continue
            bias = self.add(Location(stage, i, "bias row"), step[:1], ref[:1])
            rows = self.add(Location(stage, i, "weight rows"), step[1:], ref[1:])
            if stage != "update" or (bias.ok and rows.ok):
                continue
            self.explain_update(i, step, ref, bias, rows)

    def explain_update(
        self, i: int, step: np.ndarray, ref: np.ndarray, bias: Comparison, rows: Comparison
    ) -> None:
        loc_b = Location("update", i, "bias row")
        loc_w = Location("update", i, "weight rows")
        whole = compare_arrays(step, ref, self.grad_rtol, self.atol)
        if bias.zero:
            self.find(loc_b, "zero_bias_column", CAUSES["zero_bias_column"].format(i=i))
        elif close(step[-1], ref[0], 1e-9) and close(step[:-1], ref[1:], 1e-9):
            self.find(loc_b, "bias_last", CAUSES["bias_last"].format(i=i))
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
        self.rows.append(error_row(Location("loss", None, "value"),
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


def _quietly(call: Callable[[], Any]) -> None:
    try:
        call()
    except Exception:
        pass  # only run for any state it leaves behind; the stage under test is judged next
