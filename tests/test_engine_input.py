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


# -- complex, object and string Tensors cannot be made ---------------------------------------------


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda: tg.tensor(np.array([1j, 2.0])), "Tensor"),
        (lambda: tg.tensor([1.0, 2.0], dtype=np.complex128), "Tensor"),
        (lambda: tg.tensor([1, 2], dtype=object), "Tensor"),
        (lambda: tg.tensor(np.array(["1.5", "2"])), "Tensor"),
        (lambda: tg.zeros(2, dtype=complex), "zeros"),
        (lambda: tg.ones(2, dtype="U3"), "ones"),
        (lambda: tg.arange(3, dtype=object), "arange"),
        (lambda: tg.full((2,), 1j), "full"),
        (lambda: tg.full((2,), "7"), "full"),
        (lambda: tg.from_numpy(np.ones(2, dtype=complex)), "Tensor"),
        (lambda: tg.tensor([1.0, 2.0]).astype(np.complex64), "astype"),
    ],
)
def test_complex_object_and_string_tensors_cannot_be_made(make, name):
    with pytest.raises(TypeError, match=f"^{name}"):
        make()


def test_assigning_complex_data_is_refused_and_changes_nothing():
    t = tg.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match="data: a Tensor cannot have dtype complex128"):
        t.data = np.array([1j, 2j])
    assert t.tolist() == [1.0, 2.0]


# -- casting to an integer or bool dtype ends the graph (as PyTorch) ----------------------------


def test_an_integer_or_bool_cast_does_not_require_grad():
    torch = pytest.importorskip("torch")
    x = leaf([1.5, 2.5])
    for dtype, torch_dtype in ((np.int32, torch.int32), (np.int64, torch.int64),
                               (np.bool_, torch.bool)):
        y = x.astype(dtype)
        ty = torch.tensor([1.5, 2.5], requires_grad=True).to(torch_dtype)
        assert y.requires_grad is ty.requires_grad is False and y.grad_fn is None
        np.testing.assert_array_equal(y.data, ty.numpy())
        with pytest.raises(RuntimeError, match="does not require grad"):
            y.sum().backward()  # x.grad used to become [1, 1]
    assert x.grad is None
    assert x.astype(np.float32).requires_grad  # a float cast stays in the graph


# -- .grad must have the tensor's dtype (as PyTorch) --------------------------------------------


@pytest.mark.parametrize("dtype", [np.int64, np.float64, np.bool_])
def test_a_grad_of_another_dtype_cannot_be_assigned(dtype):
    w = tg.tensor([1.0, 2.0], requires_grad=True)  # float32
    with pytest.raises(TypeError, match=rf"grad has dtype {np.dtype(dtype)} but the tensor has "
                                        r"dtype float32"):
        w.grad = tg.tensor(np.array([1, 0], dtype=dtype))
    assert w.grad is None
    w.grad = tg.tensor(np.array([1.0, 0.0], dtype=np.float32))
    assert w.grad.tolist() == [1.0, 0.0]


# -- constructors check their arguments ----------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: tg.zeros(2.5), ValueError, r"zeros: shape entries must be non-negative"),
        (lambda: tg.ones(-1, 2), ValueError, r"ones: shape entries .* got \(-1, 2\)"),
        (lambda: tg.zeros(True), ValueError, r"zeros: shape entries"),
        (lambda: tg.randn((2, "3")), ValueError, r"randn: shape entries"),
        (lambda: tg.full((2, -2), 1.0), ValueError, r"full: shape entries"),
        (lambda: tg.full((2,), None), TypeError, r"full: value must be a number"),
        (lambda: tg.eye(2.0), TypeError, r"eye: n must be a non-negative integer"),
        (lambda: tg.eye(-3), ValueError, r"eye: n must be a non-negative integer, got -3"),
        (lambda: tg.eye(2, "2"), TypeError, r"eye: m must be a non-negative integer"),
        (lambda: tg.arange("5"), TypeError, r"arange: stop must be a real number"),
        (lambda: tg.arange(0, 5, 0), ValueError, r"arange: step must not be zero"),
        (lambda: tg.arange(0, float("inf")), ValueError, r"arange: stop must be finite"),
        (lambda: tg.arange(1j), TypeError, r"arange: stop must be a real number"),
        (lambda: tg.zeros(2, dtype="banana"), TypeError, r"zeros: 'banana' is not a dtype"),
        (lambda: tg.zeros(2, requires_grad="yes"), TypeError,
         r"zeros: requires_grad must be True or False"),
        (lambda: tg.tensor([1.0], requires_grad=1), TypeError,
         r"Tensor: requires_grad must be True or False"),
        (lambda: tg.rand(2, seed=-1), ValueError, r"rand: seed must be a non-negative integer"),
        (lambda: tg.randn(2, seed=1.5), TypeError, r"randn: seed must be a non-negative integer"),
        (lambda: tg.rand(2, rng=0), TypeError, r"rand: rng must be a np.random.Generator"),
        (lambda: tg.rand(2, rng=np.random.default_rng(0), seed=0), ValueError,
         r"rand: give either rng= or seed=, not both"),
        (lambda: tg.uniform(2, low=float("nan")), ValueError, r"uniform: low must be finite"),
        (lambda: tg.uniform(2, low=0, high=float("inf")), ValueError,
         r"uniform: high must be finite"),
        (lambda: tg.uniform(2, low=1, high=0), ValueError, r"uniform: low=1 must not exceed"),
        (lambda: tg.manual_seed(-1), ValueError, r"manual_seed: seed must be a non-negative"),
        (lambda: tg.manual_seed(2.0), TypeError, r"manual_seed: seed must be a non-negative"),
        (lambda: tg.manual_seed(None), TypeError, r"manual_seed: seed must be a non-negative"),
    ],
)
def test_constructor_arguments_are_checked_and_named(call, error, message):
    state = tg.engine.tensor.default_rng().bit_generator.state
    with pytest.raises(error, match=message):
        call()
    assert tg.engine.tensor.default_rng().bit_generator.state == state  # nothing drawn


def test_good_constructor_arguments_still_work():
    assert tg.zeros((2, 3)).shape == tg.zeros([2, 3]).shape == tg.zeros(2, 3).shape == (2, 3)
    assert tg.zeros().shape == () and tg.ones(np.int64(2)).shape == (2,)
    assert tg.eye(2, 3).shape == (2, 3) and tg.eye(0).shape == (0, 0)
    assert tg.arange(1, 2, 0.5).tolist() == [1.0, 1.5] and tg.arange(3).dtype == np.int64
    assert tg.full(2, True).dtype == np.bool_ and np.isnan(tg.full(1, float("nan")).item())
    assert tg.rand(2, seed=np.int64(3)).tolist() == tg.rand(2, seed=3).tolist()
    tg.manual_seed(np.uint32(5))


@pytest.mark.parametrize("data", [0.1, [0.1, 1 / 3], [[2.0 ** -30]]])
def test_a_python_float_with_a_dtype_asked_for_is_not_rounded_through_float32(data):
    exact = np.array(data, dtype=np.float64)
    np.testing.assert_array_equal(tg.tensor(data, dtype=np.float64).numpy(), exact)
    assert tg.tensor(data).dtype == np.float32  # without dtype=, PyTorch's default
