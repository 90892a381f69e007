"""The skeleton checker's causes: what each recognised mistake is called and why it happens.

``CAUSES`` and ``FACTOR_EXPLANATION`` hold the words, one entry per cause code (``"transpose"``,
``"factor_n"``, ...); the functions are the guesses at what was written instead, each
evaluated from the same inputs as the stage it explains, and the remarks on the line that
raised.

>>> sorted(CAUSES)[:3]
['activation_derivative', 'bias_last', 'bias_missing']
"""

from __future__ import annotations

import inspect
import re
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from .skeleton_reference import ActivationReference


def transposed_step(ref: ActivationReference, above: np.ndarray, W_above: np.ndarray) -> np.ndarray:
    return ref.vjp(above @ W_above[1:])


def times_derivative_at_output(act: Any, A: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    return derivative_at_output(act, A) * upstream


def times_user_derivative(act: Any, A: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    return np.asarray(act.derivative(A.copy()), dtype=np.float64) * upstream


def bias_last_forward(Z: np.ndarray, W: np.ndarray) -> np.ndarray:
    return np.concatenate((Z, np.ones((Z.shape[0], 1))), axis=1) @ W


def derivative_at_output(act: Any, A: np.ndarray) -> np.ndarray:
    return act.derivative(act.value(A.copy()))


def untransposed_line(exc: BaseException) -> str:
    """A pointed remark when the failing line multiplies by ``W[..][1:]`` without ``.T``."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if frame.line and re.search(r"W\[[^\]]*\]\[1:\](?!\.T)", frame.line):
            return (f" The failing line uses W[...][1:] without .T ({frame.name}, line "
                    f"{frame.lineno}): that is the transposed weight.")
    return ""


def whole_weight_line(method: Callable) -> str | None:
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


def looks_like_shape_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, ValueError) and any(
        w in text for w in ("shape", "align", "matmul", "broadcast", "dimension", "mismatch")
    )


SHAPE_HINT = (
    "Shapes in the skeleton: X is (n, n_features), W[i] is (n_in + 1, n_out) with row 0 the "
    "bias, A_i and Z_i are (n, n_out)."
)
TRANSPOSE_HINT = (
    "A shape error in backprop is almost always a missing or extra transpose: with W[i] of "
    "shape (n_in + 1, n_out), the step down a layer is delta_i @ W[i][1:].T (n, n_in) and "
    "the gradient of W[i] is [1, Z_{i-1}].T @ delta_i (n_in + 1, n_out)."
)

CAUSES = {
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

FACTOR_EXPLANATION = {
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
