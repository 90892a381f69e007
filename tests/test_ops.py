"""Every differentiable operation: forward against NumPy, gradient against finite differences.

All checks run in float64 so that central differences are accurate to about 1e-9; dtype
behaviour in float32 is the business of ``test_autograd.py``. Inputs come from
``spaced_values`` wherever an operation has a kink (ties, zero, clip bounds), so that a
finite-difference step never crosses one.
"""

from __future__ import annotations

import operator

import numpy as np
import pytest
from conftest import (
    FAST,
    axes_of,
    basic_indices,
    boolean_mask_indices,
    broadcastable_shapes,
    cat_shapes,
    integer_array_indices,
    matmul_shapes,
    numerical_grad,
    reshape_targets,
    seeds,
    shapes,
    spaced_values,
)
from hypothesis import assume, given
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp.engine import ops


def check(fn, arrays, expected=None, wrt=None, seed=0, rtol=1e-5, atol=1e-6):
    """Run ``fn`` on Tensors made from ``arrays``; compare its value with ``expected`` and the
    gradient of every input in ``wrt`` (default: all) with central differences of ``fn``.

    The upstream gradient is random, not ones, so that a rule that mixes up positions of the
    output (a wrong transpose, a wrong scatter) cannot hide behind a symmetric seed.
    """
    wrt = list(range(len(arrays))) if wrt is None else list(wrt)
    tensors = [tg.tensor(a, requires_grad=i in wrt) for i, a in enumerate(arrays)]
    out = fn(*tensors)
    assert isinstance(out, tg.Tensor)
    assert out.dtype == np.float64
    if expected is not None:
        assert out.shape == np.shape(expected)
        np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(gradient=upstream)

    def plain(*values):
        with tg.no_grad():
            return fn(*[tg.tensor(v) for v in values]).data

    for i in wrt:
        grad = tensors[i].grad
        assert grad is not None, f"input {i} got no gradient"
        assert grad.shape == tensors[i].shape
        assert grad.dtype == np.float64
        numeric = numerical_grad(plain, arrays, i, upstream)
        np.testing.assert_allclose(
            grad.data, numeric, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )
    return out


# ---------------------------------------------------------------------------------------------
# Binary operations

BINARY = {
    "add": (operator.add, np.add),
    "sub": (operator.sub, np.subtract),
    "mul": (operator.mul, np.multiply),
    "div": (operator.truediv, np.divide),
    "pow": (operator.pow, np.power),
    "maximum": (tg.maximum, np.maximum),
    "minimum": (tg.minimum, np.minimum),
}


def binary_inputs(name, rng, shape_a, shape_b):
    """Operands inside the operation's smooth domain (no ties; no zero divisor; base > 0)."""
    a, b = spaced_values(rng, shape_a, shape_b)
    if name == "div":
        b = np.sign(b) * (0.5 + np.abs(b))
    if name == "pow":
        a = 0.5 + np.abs(a)
    return a, b


@pytest.mark.parametrize("name", BINARY)
@FAST
@given(shape_pair=broadcastable_shapes(2), seed=seeds)
def test_binary_broadcasting(name, shape_pair, seed):
    fn, reference = BINARY[name]
    a, b = binary_inputs(name, np.random.default_rng(seed), *shape_pair)
    check(fn, [a, b], expected=reference(a, b), seed=seed)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("kind", ["number", "array", "0-d array"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_binary_with_constants(name, kind, side):
    """A Python number or an ndarray on either side of a Tensor; the gradient is the Tensor's."""
    fn, reference = BINARY[name]
    a, b = binary_inputs(name, np.random.default_rng(1), (2, 3), (2, 3))
    source = a if side == "left" else b  # the constant comes from its own side's domain
    constant = {
        "number": float(source[0, 0]), "array": source[0], "0-d array": np.array(source[0, 0])
    }[kind]
    if side == "left":
        check(lambda t: fn(constant, t), [b], expected=reference(constant, b))
    else:
        check(lambda t: fn(t, constant), [a], expected=reference(a, constant))


def test_binary_with_python_int_and_reflected_operators():
    x = np.array([0.5, 1.5, 2.5])
    check(lambda t: 2 - t, [x], expected=2 - x)
    check(lambda t: 3 / t, [x], expected=3 / x)
    check(lambda t: 2**t, [x], expected=2**x)
    check(lambda t: t**3, [x], expected=x**3)
    check(lambda t: 1 + t * 4, [x], expected=1 + x * 4)


@FAST
@given(shape_pair=matmul_shapes(), seed=seeds)
def test_matmul(shape_pair, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(shape_pair[0]), rng.standard_normal(shape_pair[1])
    check(operator.matmul, [a, b], expected=np.matmul(a, b), seed=seed)


@pytest.mark.parametrize("shape_a, shape_b", [((3, 4), (4, 2)), ((4,), (4, 2)), ((2, 3, 4), (4,))])
def test_matmul_with_arrays_on_either_side(shape_a, shape_b):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    check(lambda t: t @ b, [a], expected=a @ b)
    check(lambda t: a @ t, [b], expected=a @ b)
    check(lambda s, t: tg.matmul(s, t), [a, b], expected=a @ b)


@FAST
@given(shape_triple=broadcastable_shapes(3), seed=seeds)
def test_where_broadcasting(shape_triple, seed):
    rng = np.random.default_rng(seed)
    cond = rng.random(shape_triple[0]) > 0.5
    a, b = rng.standard_normal(shape_triple[1]), rng.standard_normal(shape_triple[2])
    check(lambda s, t: tg.where(cond, s, t), [a, b], expected=np.where(cond, a, b), seed=seed)


def test_where_with_tensor_condition_and_constants():
    x = np.array([[-1.5, 2.0, 0.5], [3.0, -0.25, -2.0]])
    check(lambda t: tg.where(t > 0, t, 0.0), [x], expected=np.where(x > 0, x, 0.0))
    check(lambda t: tg.where(t > 0, 1.0, t), [x], expected=np.where(x > 0, 1.0, x))
    other = np.arange(3.0)
    check(lambda t: tg.where(x < 0, other, t), [x], expected=np.where(x < 0, other, x))


def test_where_rejects_a_non_boolean_condition():
    with pytest.raises(TypeError, match="bool"):
        tg.where(np.array([1, 0]), tg.ones(2), tg.zeros(2))


# ---------------------------------------------------------------------------------------------
# Unary operations


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


# name: (method call, tg function call or None, NumPy reference, domain)
UNARY = {
    "neg": (operator.neg, None, np.negative, "any"),
    "abs": (abs, tg.abs, np.abs, "any"),
    "exp": (tg.Tensor.exp, tg.exp, np.exp, "any"),
    "log": (tg.Tensor.log, tg.log, np.log, "positive"),
    "sqrt": (tg.Tensor.sqrt, tg.sqrt, np.sqrt, "positive"),
    "sin": (tg.Tensor.sin, tg.sin, np.sin, "any"),
    "cos": (tg.Tensor.cos, tg.cos, np.cos, "any"),
    "tanh": (tg.Tensor.tanh, tg.tanh, np.tanh, "any"),
    "sigmoid": (tg.Tensor.sigmoid, tg.sigmoid, _sigmoid, "any"),
    "relu": (tg.Tensor.relu, tg.relu, lambda x: np.maximum(x, 0), "any"),
    "leaky_relu": (
        tg.Tensor.leaky_relu, tg.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), "any"
    ),
    "leaky_relu(0.2)": (
        lambda t: t.leaky_relu(0.2),
        lambda t: tg.leaky_relu(t, negative_slope=0.2),
        lambda x: np.where(x > 0, x, 0.2 * x),
        "any",
    ),
    "softplus": (tg.Tensor.softplus, tg.softplus, lambda x: np.log1p(np.exp(x)), "any"),
    # Bounds sit between the grid points of spaced_values, so no input is on a bound.
    "clip": (
        lambda t: t.clip(-0.503, 0.497),
        lambda t: tg.clip(t, min=-0.503, max=0.497),
        lambda x: np.clip(x, -0.503, 0.497),
        "any",
    ),
    "clip(min)": (
        lambda t: t.clip(min=0.253), lambda t: tg.clamp(t, min=0.253),
        lambda x: np.maximum(x, 0.253), "any",
    ),
    "clip(max)": (
        lambda t: t.clamp(max=-1.007), lambda t: tg.clip(t, max=-1.007),
        lambda x: np.minimum(x, -1.007), "any",
    ),
}


@pytest.mark.parametrize("name", UNARY)
@FAST
@given(shape=shapes(0, 3, 4), seed=seeds)
def test_unary(name, shape, seed):
    method, function, reference, domain = UNARY[name]
    (x,) = spaced_values(np.random.default_rng(seed), shape)
    if domain == "positive":
        x = 0.1 + np.abs(x)
    check(method, [x], expected=reference(x), seed=seed)
    if function is not None:
        check(function, [x], expected=reference(x), seed=seed)


def test_unary_functions_accept_arrays_and_numbers():
    assert isinstance(tg.exp(np.array([0.0, 1.0])), tg.Tensor)
    np.testing.assert_allclose(tg.exp(np.array([0.0, 1.0])).data, [1.0, np.e])
    assert tg.sqrt(4.0).item() == 2.0


def test_kinks_have_pytorch_subgradients():
    """At the kink itself: relu'(0) = 0, abs'(0) = 0, clip passes the gradient on a bound."""
    x = tg.tensor([0.0, -1.0, 1.0], requires_grad=True, dtype=np.float64)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])
    x.grad = None
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, -1.0, 1.0])
    x.grad = None
    x.clip(-1.0, 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0, 0.0])


# Multiples of 0.01: halfway between the values of spaced_values, so no input is on a bound.
bounds_on_the_grid = st.integers(-300, 300).map(lambda k: k / 100)


@st.composite
def clip_bounds(draw):
    """Both bounds, only min or only max; min > max now and then (then everything is max)."""
    kind = draw(st.sampled_from(["both", "min", "max"]))
    low = draw(bounds_on_the_grid) if kind != "max" else None
    high = draw(bounds_on_the_grid) if kind != "min" else None
    if kind == "both" and low > high and draw(st.booleans()):
        low, high = high, low
    return low, high


CLIP_FORMS = {
    "method": lambda t, low, high: t.clip(low, high),
    "clamp method": lambda t, low, high: t.clamp(min=low, max=high),
    "tg.clip": lambda t, low, high: tg.clip(t, min=low, max=high),
    "tg.clamp": lambda t, low, high: tg.clamp(t, low, high),
}


@FAST
@given(shape=shapes(0, 3, 4), bounds=clip_bounds(), form=st.sampled_from(list(CLIP_FORMS)),
       seed=seeds)
def test_clip_with_random_bounds(shape, bounds, form, seed):
    low, high = bounds
    (x,) = spaced_values(np.random.default_rng(seed), shape)
    expected = x
    if low is not None:
        expected = np.maximum(expected, low)
    if high is not None:
        expected = np.minimum(expected, high)  # PyTorch's order: min > max gives max
    check(lambda t: CLIP_FORMS[form](t, low, high), [x], expected=expected, seed=seed)


@FAST
@given(
    shape=shapes(0, 3, 4),
    slope=st.sampled_from([0.0, 1.0, -0.5]) | st.floats(-3, 3, allow_nan=False),
    seed=seeds,
)
def test_leaky_relu_with_random_slope(shape, slope, seed):
    (x,) = spaced_values(np.random.default_rng(seed), shape)  # never 0, the kink
    expected = np.where(x > 0, x, slope * x)
    check(lambda t: t.leaky_relu(slope), [x], expected=expected, seed=seed)
    check(lambda t: tg.leaky_relu(t, negative_slope=slope), [x], expected=expected, seed=seed)


# ---------------------------------------------------------------------------------------------
# Reductions


@st.composite
def shape_axis_keepdims(draw):
    shape = draw(shapes(1, 3, 4))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        axis = None
    elif kind == "int":
        axis = draw(st.integers(-ndim, ndim - 1))
    else:
        picked = draw(st.lists(st.integers(0, ndim - 1), min_size=1, unique=True))
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in picked)
    return shape, axis, draw(st.booleans())


def _logsumexp(x, axis, keepdims):
    return np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))


REDUCTIONS = {
    "sum": (tg.Tensor.sum, tg.sum, np.sum),
    "mean": (tg.Tensor.mean, tg.mean, np.mean),
    "max": (tg.Tensor.max, tg.max, np.max),
    "min": (tg.Tensor.min, tg.min, np.min),
    "var": (tg.Tensor.var, tg.var, np.var),
    "var(ddof=1)": (
        lambda t, axis, keepdims: t.var(axis, keepdims, ddof=1),
        lambda t, axis, keepdims: tg.var(t, axis=axis, keepdims=keepdims, ddof=1),
        lambda x, axis, keepdims: np.var(x, axis=axis, keepdims=keepdims, ddof=1),
    ),
    "logsumexp": (tg.Tensor.logsumexp, tg.logsumexp, _logsumexp),
}


@pytest.mark.parametrize("name", REDUCTIONS)
@FAST
@given(case=shape_axis_keepdims(), seed=seeds)
def test_reduction(name, case, seed):
    shape, axis, keepdims = case
    method, function, reference = REDUCTIONS[name]
    if name == "var(ddof=1)":
        axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
        assume(np.prod([shape[a] for a in axes]) > 1)
    (x,) = spaced_values(np.random.default_rng(seed), shape)
    expected = reference(x, axis=axis, keepdims=keepdims)
    check(lambda t: method(t, axis, keepdims), [x], expected=expected, seed=seed)
    check(lambda t: function(t, axis=axis, keepdims=keepdims), [x], expected=expected, seed=seed)


def _reduced_count(shape, axis):
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    return int(np.prod([shape[a] for a in axes]))


@FAST
@given(case=shape_axis_keepdims(), data=st.data(), seed=seeds)
def test_var_with_random_ddof(case, data, seed):
    """Every ddof that leaves at least one degree of freedom: 0 up to count - 1."""
    shape, axis, keepdims = case
    ddof = data.draw(st.integers(0, _reduced_count(shape, axis) - 1), label="ddof")
    (x,) = spaced_values(np.random.default_rng(seed), shape)
    expected = np.var(x, axis=axis, keepdims=keepdims, ddof=ddof)
    check(lambda t: t.var(axis, keepdims, ddof), [x], expected=expected, seed=seed)
    check(
        lambda t: tg.var(t, axis=axis, keepdims=keepdims, ddof=ddof),
        [x], expected=expected, seed=seed,
    )


@FAST
@given(
    case=shape_axis_keepdims(),
    offset=st.sampled_from([0.0, 700.0, -700.0]) | st.floats(-50, 50),
    seed=seeds,
)
def test_logsumexp_with_random_axes_and_offsets(case, offset, seed):
    """Shifting every input by c shifts the result by c: a reference that never sees the
    large values (exp(700) is near float64's overflow)."""
    shape, axis, keepdims = case
    x = np.random.default_rng(seed).standard_normal(shape)
    expected = _logsumexp(x, axis, keepdims) + offset
    check(lambda t: t.logsumexp(axis, keepdims), [x + offset], expected=expected, seed=seed)
    check(
        lambda t: tg.logsumexp(t, axis=axis, keepdims=keepdims),
        [x + offset], expected=expected, seed=seed,
    )


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_split_the_gradient_between_ties(name):
    sign = 1.0 if name == "max" else -1.0
    x = tg.tensor(sign * np.array([[1.0, 3.0, 3.0], [-2.0, -2.0, -2.0]]), requires_grad=True)
    getattr(x, name)(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)


@pytest.mark.parametrize("fn", [tg.maximum, tg.minimum])
def test_maximum_minimum_split_the_gradient_on_ties(fn):
    a = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([1.0, 5.0], requires_grad=True)
    fn(a, b).sum().backward()
    big = fn is tg.maximum
    np.testing.assert_array_equal(a.grad.data, [0.5, 0.0 if big else 1.0])
    np.testing.assert_array_equal(b.grad.data, [0.5, 1.0 if big else 0.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_var_with_no_degrees_of_freedom_left_is_nan_not_an_error():
    """NumPy gives nan for var(ddof=1) of one value; backward must follow, not divide by 0."""
    x = tg.tensor([[1.0], [2.0]], requires_grad=True, dtype=np.float64)
    out = x.var(axis=1, ddof=1)
    np.testing.assert_array_equal(out.data, np.var(x.data, axis=1, ddof=1))
    out.sum().backward()
    assert x.grad.shape == (2, 1) and np.isnan(x.grad.data).all()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_power_zero_has_zero_gradient_even_at_zero():
    """d/dx x**0 is 0 everywhere (PyTorch agrees), not 0 * 0**-1 = nan at x = 0."""
    x = tg.tensor([0.0, 2.0], requires_grad=True, dtype=np.float64)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    x.grad = None
    b = tg.tensor([0.0, 3.0], requires_grad=True, dtype=np.float64)
    (x**b).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 12.0])
    np.testing.assert_allclose(b.grad.data, [0.0, 8.0 * np.log(2.0)])


def test_reduction_of_a_0d_tensor_and_axis_out_of_range():
    check(lambda t: t.sum(), [np.array(2.5)], expected=2.5)
    with pytest.raises(ValueError, match=r"sum.*axis 2"):
        tg.ones(2, 3).sum(axis=2)


# ---------------------------------------------------------------------------------------------
# Shape operations

SHAPE_CASES = {
    "reshape varargs": ((2, 3, 4), lambda t: t.reshape(4, 6), lambda x: x.reshape(4, 6)),
    "reshape tuple -1": ((2, 3, 4), lambda t: t.reshape((3, -1)), lambda x: x.reshape(3, -1)),
    "tg.reshape": ((6,), lambda t: tg.reshape(t, 2, 3), lambda x: x.reshape(2, 3)),
    "flatten": ((2, 3, 4), lambda t: t.flatten(), lambda x: x.reshape(-1)),
    "flatten(1)": ((2, 3, 4), lambda t: tg.flatten(t, 1), lambda x: x.reshape(2, 12)),
    "transpose()": ((2, 3, 4), lambda t: t.transpose(), lambda x: x.transpose()),
    "transpose perm": ((2, 3, 4), lambda t: t.transpose(2, 0, 1), lambda x: x.transpose(2, 0, 1)),
    "transpose tuple": (
        (2, 3, 4), lambda t: tg.transpose(t, (1, 2, 0)), lambda x: x.transpose(1, 2, 0)
    ),
    "transpose swap": ((2, 3, 4), lambda t: t.transpose(0, 2), lambda x: np.swapaxes(x, 0, 2)),
    "T": ((2, 3, 4), lambda t: t.T, lambda x: x.T),
    "T of matrix": ((3, 4), lambda t: t.T, lambda x: x.T),
    "mT": ((2, 3, 4), lambda t: t.mT, lambda x: np.swapaxes(x, -1, -2)),
    "squeeze()": ((2, 1, 3, 1), lambda t: t.squeeze(), np.squeeze),
    "squeeze(1)": ((2, 1, 3, 1), lambda t: t.squeeze(1), lambda x: np.squeeze(x, 1)),
    "squeeze(-1)": ((2, 1, 3, 1), lambda t: tg.squeeze(t, -1), lambda x: np.squeeze(x, -1)),
    "squeeze of a side > 1 is a no-op": ((2, 1, 3), lambda t: t.squeeze(0), lambda x: x),
    "unsqueeze(0)": ((2, 3), lambda t: t.unsqueeze(0), lambda x: x[None]),
    "unsqueeze(1)": ((2, 3), lambda t: tg.unsqueeze(t, 1), lambda x: x[:, None]),
    "unsqueeze(-1)": ((2, 3), lambda t: t.unsqueeze(-1), lambda x: x[..., None]),
}


@pytest.mark.parametrize("name", SHAPE_CASES)
def test_shape_operation(name):
    shape, fn, reference = SHAPE_CASES[name]
    x = np.random.default_rng(3).standard_normal(shape)
    check(fn, [x], expected=reference(x))


def _random_input(seed, shape):
    return np.random.default_rng(seed).standard_normal(shape)


@FAST
@given(shape=shapes(0, 4, 4), data=st.data(), as_tuple=st.booleans(), seed=seeds)
def test_reshape_to_random_shapes(shape, data, as_tuple, seed):
    target = data.draw(reshape_targets(int(np.prod(shape))), label="target")
    x = _random_input(seed, shape)
    fn = (lambda t: t.reshape(target)) if as_tuple else (lambda t: tg.reshape(t, *target))
    check(fn, [x], expected=x.reshape(target), seed=seed)


@st.composite
def flatten_dims(draw):
    """A shape and start_dim <= end_dim (after normalising), each positive or negative."""
    shape = draw(shapes(1, 4, 3))
    ndim = len(shape)
    start = draw(st.integers(0, ndim - 1))
    end = draw(st.integers(start, ndim - 1))
    start -= ndim if draw(st.booleans()) else 0
    end -= ndim if draw(st.booleans()) else 0
    return shape, start, end


@FAST
@given(case=flatten_dims(), seed=seeds)
def test_flatten_with_random_dims(case, seed):
    shape, start, end = case
    ndim = len(shape)
    x = _random_input(seed, shape)
    expected = x.reshape((*shape[: start % ndim], -1, *shape[end % ndim + 1 :]))
    check(lambda t: t.flatten(start, end), [x], expected=expected, seed=seed)
    check(lambda t: tg.flatten(t, start_dim=start, end_dim=end), [x], expected=expected, seed=seed)


def test_flatten_of_a_0d_tensor_is_one_element():
    check(lambda t: t.flatten(), [np.array(1.5)], expected=np.array([1.5]))


@st.composite
def permutations_of_a_shape(draw):
    """A shape and a permutation of its axes, each axis positive or negative. Two-axis
    tensors are left out: there two arguments mean a swap (PyTorch), not a permutation."""
    shape = draw(shapes(0, 4, 4).filter(lambda s: len(s) != 2))
    perm = draw(st.permutations(range(len(shape))))
    return shape, tuple(a - len(shape) if draw(st.booleans()) else a for a in perm)


@FAST
@given(case=permutations_of_a_shape(), seed=seeds)
def test_transpose_by_random_permutations(case, seed):
    shape, perm = case
    x = _random_input(seed, shape)
    expected = x.transpose(perm)
    check(lambda t: t.transpose(*perm), [x], expected=expected, seed=seed)
    check(lambda t: tg.transpose(t, perm), [x], expected=expected, seed=seed)
    check(lambda t: t.T, [x], expected=x.T, seed=seed)


@FAST
@given(shape=shapes(1, 4, 4), data=st.data(), seed=seeds)
def test_transpose_swaps_two_random_axes(shape, data, seed):
    i = data.draw(axes_of(len(shape)), label="i")
    j = data.draw(axes_of(len(shape)), label="j")
    x = _random_input(seed, shape)
    expected = np.swapaxes(x, i, j)
    check(lambda t: t.transpose(i, j), [x], expected=expected, seed=seed)
    check(lambda t: tg.transpose(t, i, j), [x], expected=expected, seed=seed)
    if len(shape) >= 2:
        check(lambda t: t.mT, [x], expected=np.swapaxes(x, -1, -2), seed=seed)


@st.composite
def squeeze_cases(draw):
    """Shapes rich in 1s; axis None, one axis or a tuple, including axes whose side is not 1
    (left alone, as PyTorch does)."""
    shape = draw(shapes(0, 4, 2))
    ndim = len(shape)
    kind = draw(st.sampled_from(["none", "int", "tuple"] if ndim else ["none"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(axes_of(ndim))
    picked = draw(st.lists(st.integers(0, ndim - 1), min_size=1, unique=True))
    return shape, tuple(a - ndim if draw(st.booleans()) else a for a in picked)


@FAST
@given(case=squeeze_cases(), seed=seeds)
def test_squeeze_with_random_axes(case, seed):
    shape, axis = case
    x = _random_input(seed, shape)
    if axis is None:
        expected = np.squeeze(x)
    else:
        ones = tuple(a for a in np.atleast_1d(axis) if shape[a] == 1)
        expected = np.squeeze(x, axis=ones)
    check(lambda t: t.squeeze(axis), [x], expected=expected, seed=seed)
    check(lambda t: tg.squeeze(t, axis), [x], expected=expected, seed=seed)


@FAST
@given(shape=shapes(0, 3, 4), data=st.data(), seed=seeds)
def test_unsqueeze_at_random_axes(shape, data, seed):
    axis = data.draw(axes_of(len(shape), extra=1), label="axis")
    x = _random_input(seed, shape)
    expected = np.expand_dims(x, axis)
    check(lambda t: t.unsqueeze(axis), [x], expected=expected, seed=seed)
    check(lambda t: tg.unsqueeze(t, axis), [x], expected=expected, seed=seed)


MASK = np.array([[True, False, True, False], [False, False, True, True], [True] * 4])

INDICES = {
    "int": 1,
    "negative int": -1,
    "int pair": (2, -3),
    "slice": slice(1, 3),
    "slice with step": (slice(None), slice(None, None, 2)),
    "negative step": slice(None, None, -1),
    "None": (None, 1),
    "ellipsis": (Ellipsis, 0),
    "ellipsis and None": (1, Ellipsis, None),
    "int array with repeats": np.array([0, 2, 0, 0]),
    "list with repeats": [1, 1, 2],
    "2-d int array": np.array([[0, 1], [1, 1]]),
    "slice and int array": (slice(None), np.array([3, 3, 0])),
    "two int arrays with a repeated pair": (np.array([0, 0, 2]), np.array([1, 1, 3])),
    "boolean mask": MASK,
    "boolean row mask": np.array([True, False, True]),
    "int Tensor": tg.tensor([2, 2, 1]),
    "bool Tensor": tg.tensor(MASK),
}


@pytest.mark.parametrize("name", INDICES)
def test_getitem(name):
    index = INDICES[name]
    x = np.random.default_rng(4).standard_normal((3, 4))
    plain_index = index.data if isinstance(index, tg.Tensor) else index
    if isinstance(plain_index, list):
        plain_index = np.array(plain_index)
    check(lambda t: t[index], [x], expected=x[plain_index])


def _as_kind(index, kind):
    """The same index with its arrays passed as they are, as lists, or as Tensors."""
    if isinstance(index, tuple):
        return tuple(_as_kind(part, kind) for part in index)
    if not isinstance(index, np.ndarray) or kind == "array":
        return index
    return index.tolist() if kind == "list" and index.ndim else tg.tensor(index)


def _check_index(shape, index, seed, kind="array"):
    x = _random_input(seed, shape)
    expected = x[index]
    given_index = _as_kind(index, kind)
    check(lambda t: t[given_index], [x], expected=expected, seed=seed)


@FAST
@given(shape=shapes(0, 3, 5), data=st.data(), seed=seeds)
def test_getitem_random_basic_indices(shape, data, seed):
    _check_index(shape, data.draw(basic_indices(shape), label="index"), seed)


@FAST
@given(
    shape=shapes(1, 3, 4),
    data=st.data(),
    kind=st.sampled_from(["array", "list", "tensor"]),
    seed=seeds,
)
def test_getitem_random_integer_arrays_with_repeats(shape, data, kind, seed):
    _check_index(shape, data.draw(integer_array_indices(shape), label="index"), seed, kind)


@FAST
@given(
    shape=shapes(1, 3, 4),
    data=st.data(),
    kind=st.sampled_from(["array", "list", "tensor"]),
    seed=seeds,
)
def test_getitem_random_boolean_masks(shape, data, kind, seed):
    _check_index(shape, data.draw(boolean_mask_indices(shape), label="mask"), seed, kind)


def test_repeated_indices_accumulate():
    x = tg.tensor([10.0, 20.0, 30.0, 40.0], requires_grad=True)
    y = x[[1, 1, 1, 3]] * tg.tensor([1.0, 2.0, 3.0, 4.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 6.0, 0.0, 4.0])


def test_getitem_out_of_range_names_the_shape():
    with pytest.raises(IndexError, match=r"getitem.*\(3, 4\)"):
        tg.zeros(3, 4)[5]


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cat(axis):
    rng = np.random.default_rng(5)
    sides = [2, 1, 3]
    arrays = []
    for side in sides:
        shape = [2, 3]
        shape[axis] = side
        arrays.append(rng.standard_normal(shape))
    check(lambda *ts: tg.cat(list(ts), axis=axis), arrays, expected=np.concatenate(arrays, axis))


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_stack(axis):
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal((2, 3)) for _ in range(3)]
    check(lambda *ts: tg.stack(ts, axis=axis), arrays, expected=np.stack(arrays, axis))


@FAST
@given(case=cat_shapes(), data=st.data(), seed=seeds)
def test_cat_random_inputs_and_axis(case, data, seed):
    """1 to 4 inputs (some empty along the axis); a random non-empty subset needs grad."""
    input_shapes, axis = case
    arrays = [_random_input(seed + k, s) for k, s in enumerate(input_shapes)]
    wrt = data.draw(
        st.lists(st.sampled_from(range(len(arrays))), min_size=1, unique=True), label="wrt"
    )
    check(
        lambda *ts: tg.cat(list(ts), axis=axis),
        arrays, expected=np.concatenate(arrays, axis), wrt=wrt, seed=seed,
    )


@FAST
@given(shape=shapes(0, 3, 3), data=st.data(), seed=seeds)
def test_stack_random_inputs_and_axis(shape, data, seed):
    count = data.draw(st.integers(1, 4), label="count")
    axis = data.draw(axes_of(len(shape), extra=1), label="axis")
    arrays = [_random_input(seed + k, shape) for k in range(count)]
    wrt = data.draw(st.lists(st.sampled_from(range(count)), min_size=1, unique=True), label="wrt")
    check(
        lambda *ts: tg.stack(ts, axis=axis),
        arrays, expected=np.stack(arrays, axis), wrt=wrt, seed=seed,
    )


def test_cat_and_stack_with_constants():
    rng = np.random.default_rng(7)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    check(lambda t: tg.cat([t, b], axis=1), [a], expected=np.concatenate([a, b], 1))
    check(lambda t: tg.stack([b, t]), [a], expected=np.stack([b, a]))


def test_cat_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"cat.*\(2, 3\).*\(2, 4\)"):
        tg.cat([tg.zeros(2, 3), tg.zeros(2, 4)], axis=0)
    with pytest.raises(ValueError, match=r"stack.*\(2, 3\).*\(3, 3\)"):
        tg.stack([tg.zeros(2, 3), tg.zeros(3, 3)])


# ---------------------------------------------------------------------------------------------
# Softmax family


def _softmax(x, axis):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("offset", [0.0, 1000.0, -1000.0])
def test_softmax_and_log_softmax_are_stable(axis, offset):
    """Shift invariance gives a reference that never sees the large values: softmax(x + c) is
    softmax(x), and log_softmax(x + c) is log_softmax(x)."""
    x = np.random.default_rng(8).standard_normal((3, 4))
    expected = _softmax(x, axis)
    check(lambda t: t.softmax(axis), [x + offset], expected=expected)
    check(lambda t: tg.softmax(t, axis=axis), [x + offset], expected=expected)
    expected_log = x - np.log(np.exp(x).sum(axis=axis, keepdims=True))
    check(lambda t: t.log_softmax(axis), [x + offset], expected=expected_log)
    check(lambda t: tg.log_softmax(t, axis=axis), [x + offset], expected=expected_log)
    check(lambda t: t.logsumexp(axis), [x + offset], expected=_logsumexp(x, axis, False) + offset)


@FAST
@given(
    shape=shapes(1, 3, 4),
    data=st.data(),
    scale=st.floats(0.1, 10),
    offset=st.sampled_from([0.0, 1000.0, -1000.0]) | st.floats(-50, 50),
    seed=seeds,
)
def test_softmax_and_log_softmax_random_axis(shape, data, scale, offset, seed):
    axis = data.draw(axes_of(len(shape)), label="axis")
    x = scale * _random_input(seed, shape)
    shifted = x - x.max(axis=axis, keepdims=True)
    expected_log = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    expected = np.exp(expected_log)
    for fn in (lambda t: t.softmax(axis), lambda t: tg.softmax(t, axis=axis)):
        check(fn, [x + offset], expected=expected, seed=seed)
    for fn in (lambda t: t.log_softmax(axis), lambda t: tg.log_softmax(t, axis=axis)):
        check(fn, [x + offset], expected=expected_log, seed=seed)


def test_softmax_of_huge_float32_logits_is_finite():
    x = tg.tensor([[1e4, 0.0, -1e4], [3e4, 3e4, 3e4]], requires_grad=True)
    for out in (x.softmax(), x.log_softmax(), x.logsumexp(axis=1)):
        assert np.isfinite(out.data).all()
    np.testing.assert_allclose(x.log_softmax().data[0], [0.0, -1e4, -2e4])
    np.testing.assert_allclose(x.logsumexp(axis=1).data, [1e4, 3e4 + np.log(3)])
    x.softmax()[:, 0].sum().backward()
    assert np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.softmax().data[1], [1 / 3] * 3, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# Fused linear and cross-entropy


@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 4, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear(x_shape, bias):
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((4, 3)), rng.standard_normal(4)
    if bias:
        check(lambda *ts: tg.linear(*ts), [x, w, b], expected=x @ w.T + b)
    else:
        check(lambda s, t: tg.linear(s, t), [x, w], expected=x @ w.T)


@FAST
@given(
    batch=shapes(0, 2, 3),
    features=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    bias=st.sampled_from(["none", "vector", "0-d"]),
    data=st.data(),
    seed=seeds,
)
def test_linear_random_batch_shapes(batch, features, bias, data, seed):
    """Inputs (in,), (N, in) and (..., in); bias (out,), 0-d or none; a random non-empty
    subset of the operands needs grad (an input batch usually does not)."""
    n_in, n_out = features
    rng = np.random.default_rng(seed)
    x, w = rng.standard_normal((*batch, n_in)), rng.standard_normal((n_out, n_in))
    arrays = [x, w]
    if bias != "none":
        arrays.append(rng.standard_normal(n_out if bias == "vector" else ()))
    wrt = data.draw(
        st.lists(st.sampled_from(range(len(arrays))), min_size=1, unique=True), label="wrt"
    )
    expected = x @ w.T + (arrays[2] if bias != "none" else 0.0)
    check(lambda *ts: tg.linear(*ts), arrays, expected=expected, wrt=wrt, seed=seed)


def test_linear_is_one_node():
    x, w, b = tg.randn(5, 3), tg.randn(4, 3, requires_grad=True), tg.randn(4, requires_grad=True)
    out = tg.linear(x, w, b)
    assert isinstance(out.grad_fn, ops.Linear)
    assert out.grad_fn.parents[1] is w and out.grad_fn.parents[2] is b


def _cross_entropy(logits, target, reduction):
    """Reference with probability targets (a one-hot row for a class index)."""
    log_probs = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    losses = -(target * log_probs).sum(axis=-1)
    if reduction == "none":
        return losses
    return losses.sum() / (logits.shape[0] if reduction == "mean" and logits.ndim == 2 else 1)


REDUCTION_KINDS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTION_KINDS)
@pytest.mark.parametrize("batched", [True, False])
def test_cross_entropy_with_class_indices(reduction, batched):
    rng = np.random.default_rng(10)
    logits = rng.standard_normal((6, 4) if batched else (4,))
    classes = rng.integers(0, 4, size=6) if batched else np.array(2)
    onehot = np.eye(4)[classes]
    check(
        lambda t: ops.CrossEntropy.apply(t, classes=classes, reduction=reduction),
        [logits],
        expected=_cross_entropy(logits, onehot, reduction),
    )


@pytest.mark.parametrize("reduction", REDUCTION_KINDS)
@pytest.mark.parametrize("batched", [True, False])
def test_cross_entropy_with_probability_targets(reduction, batched):
    rng = np.random.default_rng(11)
    shape = (6, 4) if batched else (4,)
    logits, target = rng.standard_normal(shape), rng.dirichlet(np.ones(4), size=shape[:-1])
    check(
        lambda s, t: ops.CrossEntropy.apply(s, t, reduction=reduction),
        [logits, target],
        expected=_cross_entropy(logits, target, reduction),
    )


@st.composite
def logits_shapes(draw):
    """(N, C) or (C,) with N in 1..5 and C in 1..5."""
    classes = draw(st.integers(1, 5))
    return (draw(st.integers(1, 5)), classes) if draw(st.booleans()) else (classes,)


# Cross-entropy is shift invariant along each row, so huge logits have a small-valued reference.
logit_offsets = st.sampled_from([0.0, 1000.0, -1000.0]) | st.floats(-50, 50)


@FAST
@given(
    shape=logits_shapes(),
    reduction=st.sampled_from(REDUCTION_KINDS),
    dtype=st.sampled_from([np.int64, np.int32]),
    scale=st.floats(0.1, 5),
    offset=logit_offsets,
    seed=seeds,
)
def test_cross_entropy_random_class_indices(shape, reduction, dtype, scale, offset, seed):
    rng = np.random.default_rng(seed)
    logits = scale * rng.standard_normal(shape)
    classes = rng.integers(0, shape[-1], size=shape[:-1]).astype(dtype)
    expected = _cross_entropy(logits, np.eye(shape[-1])[classes], reduction)
    check(
        lambda t: ops.CrossEntropy.apply(t, classes=classes, reduction=reduction),
        [logits + offset], expected=expected, seed=seed,
    )


@FAST
@given(
    shape=logits_shapes(),
    reduction=st.sampled_from(REDUCTION_KINDS),
    normalised=st.booleans(),
    offset=logit_offsets,
    data=st.data(),
    seed=seeds,
)
def test_cross_entropy_random_probability_targets(
    shape, reduction, normalised, offset, data, seed
):
    """A probability target Tensor (rows summing to 1, or any non-negative weights); a random
    non-empty subset of logits and target needs grad."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape)
    target = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1]) if normalised else rng.random(shape)
    wrt = data.draw(st.sampled_from([[0], [1], [0, 1]]), label="wrt")
    check(
        lambda s, t: ops.CrossEntropy.apply(s, t, reduction=reduction),
        [logits + offset, target],
        expected=_cross_entropy(logits, target, reduction), wrt=wrt, seed=seed,
    )


def test_cross_entropy_target_rows_need_not_sum_to_one():
    rng = np.random.default_rng(12)
    logits, target = rng.standard_normal((3, 5)), rng.random((3, 5))
    check(
        lambda s, t: ops.CrossEntropy.apply(s, t, reduction="sum"),
        [logits, target],
        expected=_cross_entropy(logits, target, "sum"),
    )


def test_cross_entropy_is_stable_for_huge_logits():
    """Shifting every logit by the same amount changes nothing, however large the shift."""
    rng = np.random.default_rng(13)
    base = rng.standard_normal((4, 3))
    classes = np.array([0, 2, 1, 1])
    expected = _cross_entropy(base, np.eye(3)[classes], "mean")
    for dtype, tolerance in ((np.float64, 1e-9), (np.float32, 1e-2)):
        logits = tg.tensor(base + 5e4, requires_grad=True, dtype=dtype)
        loss = ops.CrossEntropy.apply(logits, classes=classes)
        loss.backward()
        assert np.isfinite(logits.grad.data).all()
        np.testing.assert_allclose(loss.item(), expected, rtol=tolerance)
    spread = tg.tensor([[1e4, 0.0, -1e4]] * 2, requires_grad=True)
    losses = ops.CrossEntropy.apply(spread, classes=np.array([0, 2]), reduction="none")
    np.testing.assert_allclose(losses.data, [0.0, 2e4])


def test_cross_entropy_rejects_a_class_out_of_range():
    with pytest.raises(IndexError, match="class 7 is out of range for 3 classes"):
        ops.CrossEntropy.apply(tg.zeros(2, 3), classes=np.array([0, 7]))


# ---------------------------------------------------------------------------------------------
# Not differentiable


COMPARISONS = [
    (operator.eq, np.equal),
    (operator.ne, np.not_equal),
    (operator.lt, np.less),
    (operator.le, np.less_equal),
    (operator.gt, np.greater),
    (operator.ge, np.greater_equal),
]


@pytest.mark.parametrize("op, reference", COMPARISONS)
def test_comparisons_give_bool_tensors_outside_the_graph(op, reference):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    x = tg.tensor(a, requires_grad=True)
    for other, plain in ((tg.tensor(b, requires_grad=True), b), (b, b), (2.0, 2.0)):
        out = op(x, other)
        assert out.dtype == np.bool_
        assert not out.requires_grad and out.grad_fn is None
        np.testing.assert_array_equal(out.data, reference(a, plain))


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_argmax_argmin(name, axis):
    a = np.random.default_rng(14).standard_normal((3, 4))
    x = tg.tensor(a, requires_grad=True)
    for out in (getattr(x, name)(axis), getattr(tg, name)(x, axis=axis)):
        assert not out.requires_grad and out.grad_fn is None
        assert out.dtype.kind == "i"
        np.testing.assert_array_equal(out.data, getattr(np, name)(a, axis=axis))
    keep = getattr(x, name)(axis, keepdims=True)
    np.testing.assert_array_equal(keep.data, getattr(np, name)(a, axis=axis, keepdims=True))
