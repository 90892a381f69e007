"""Bad input to the engine gets a clear error that names what was wrong, and changes nothing
(issue 14): data NumPy would silently mangle (complex, strings, objects), NumPy's own errors
re-worded, casting out of the graph, gradients of the wrong dtype, constructor arguments."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp.engine.autograd import Function


def leaf(values, dtype=np.float64):
    return tg.tensor(np.array(values, dtype=dtype), requires_grad=True)


# -- NumPy's refusals, re-worded for every exception type -----------------------------------------


class Stringy(Function):
    """An operation whose forward NumPy refuses with a TypeError subclass whose constructor
    does not take a message (``type(error)(text)`` used to fail on it)."""

    name = "stringy"

    def forward(self, x):
        return np.multiply(x, np.array(["x"]))


class FarAxis(Function):
    """One whose forward raises NumPy's AxisError (both a ValueError and an IndexError)."""

    name = "far_axis"

    def forward(self, x):
        return np.sum(x, axis=5)


def test_a_numpy_error_of_any_class_is_reworded_and_chained():
    a = leaf([1.0, -2.0])
    with pytest.raises(TypeError, match="stringy") as info:
        Stringy.apply(a)
    assert type(info.value) is TypeError
    cause = info.value.__cause__  # NumPy's own error, kept as the cause ...
    assert isinstance(cause, TypeError) and type(cause) is not TypeError
    with pytest.raises(TypeError):
        type(cause)("a message")  # ... whose class cannot be re-made from a message
    assert "input shapes (2,)" in str(info.value)
    with pytest.raises(ValueError, match=r"far_axis: .*axis 5") as info:
        FarAxis.apply(a)
    assert type(info.value) is ValueError and isinstance(info.value.__cause__, IndexError)
    assert a.grad is None and a.is_leaf


# -- data NumPy would mangle ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("other", "kind"),
    [
        (np.array([1j, 2j]), "complex128"),
        (1j, "complex128"),
        ("1", "<U1"),
        (np.array(["1.5", "2"]), "<U3"),
        (np.array([1.0, "x"], dtype=object), "object"),
        (None, "object"),
    ],
)
def test_complex_strings_and_objects_beside_a_tensor_are_refused(other, kind):
    a = tg.tensor([1.0, 2.0])
    for operation, name in ((lambda: a + other, "add"), (lambda: other * a, "mul")):
        with pytest.raises(TypeError, match=f"{name}: an operand of dtype {kind}"):
            operation()
    np.testing.assert_array_equal(a.data, [1.0, 2.0])
