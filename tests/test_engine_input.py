"""Bad input to the engine gets a clear error that names what was wrong, and changes nothing
(issue 14): data NumPy would silently mangle (complex, strings, objects), NumPy's own errors
re-worded, casting out of the graph, gradients of the wrong dtype, constructor arguments."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg


def leaf(values, dtype=np.float64):
    return tg.tensor(np.array(values, dtype=dtype), requires_grad=True)


# -- NumPy's refusals, re-worded for every exception type -----------------------------------------


def test_a_numpy_error_of_any_class_is_reworded_and_chained():
    a = leaf([1.0, -2.0])
    # NumPy raises _UFuncNoLoopError, whose constructor takes other arguments than a message
    with pytest.raises(TypeError, match="leaky_relu") as info:  # past the method's own check
        tg.engine.ops.LeakyReLU.apply(a, negative_slope="x")
    assert type(info.value) is TypeError
    assert isinstance(info.value.__cause__, TypeError)  # NumPy's own error, kept as the cause
    assert "input shapes (2,)" in str(info.value)
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
