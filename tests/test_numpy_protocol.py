"""NumPy's functions and ufuncs on Tensors: each records the Tensor operation of the same name.

Two independent truths: NumPy itself on plain float64 arrays gives every value (the same
function, the same arguments), and central differences of that same NumPy call give every
gradient. On top, each NumPy name must record exactly what the method of the same name
records (same node type, same value, same gradient), keep the Tensor dtype rules, record
nothing under no_grad, and refuse with a TypeError what it cannot differentiate.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import FAST, broadcastable_shapes, matmul_shapes, numerical_grad, seeds, shapes
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp.engine import numpy_protocol as protocol

# The list in API.md's "NumPy functions on Tensors" (the contract, /work/shared/API.md).
CONTRACT = (
    "dot matmul exp log tanh sqrt square abs power maximum minimum multiply add subtract divide "
    "negative sum mean max min where clip transpose reshape concatenate hstack vstack squeeze "
    "expand_dims zeros_like ones_like"
).split()
# What learners' own code calls too (Nielsen's network.py/network2.py, Ng's assignments).
LEARNERS = ["linalg.norm", "nan_to_num", "nansum", "log1p", "expm1", "outer", "shape", "ndim",
            "size", "sin", "cos", "sign", "var", "std", "prod", "argmax", "argmin", "stack",
            "ravel", "copy", "full_like", "broadcast_to", "amax", "amin", "all", "any"]
API_MD = Path("/work/shared/API.md")


def numpy_object(name: str):
    obj = np
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("name", CONTRACT + LEARNERS)
def test_every_listed_numpy_function_has_a_tensor_form(name):
    obj = numpy_object(name)
    assert obj in protocol.UFUNCS or obj in protocol.FUNCTIONS, name


@pytest.mark.skipif(not API_MD.exists(), reason="the contract is outside the repository")
def test_the_contract_list_here_is_the_one_in_api_md():
    section = API_MD.read_text().split("## NumPy functions on Tensors", 1)[1].split("\n- ", 1)[0]
    named = set(re.findall(r"`np\.([a-z_]+)[(`]", section))
    named -= {"asarray", "array"}  # the two that leave the graph on purpose
    named.discard("random")
    assert named == set(CONTRACT)


def tensors_of(arrays, dtype=np.float64):
    return [tg.tensor(np.asarray(a, dtype), requires_grad=True) for a in arrays]


def same_as_numpy(fn, arrays, as_tensor=None, seed=0, rtol=1e-5, atol=1e-6):
    """``fn`` (NumPy code) on Tensors against ``fn`` on float64 arrays: the value, and the
    gradient of every Tensor input against central differences of the NumPy call."""
    arrays = [np.asarray(a, np.float64) for a in arrays]
    as_tensor = [True] * len(arrays) if as_tensor is None else as_tensor
    inputs = [tg.tensor(a, requires_grad=True) if t else a for a, t in zip(arrays, as_tensor)]
    out = fn(*inputs)
    assert isinstance(out, tg.Tensor), type(out)
    expected = fn(*arrays)
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(gradient=upstream)
    for i, (t, is_tensor) in enumerate(zip(inputs, as_tensor)):
        if is_tensor:
            numeric = numerical_grad(fn, arrays, i, upstream)
            np.testing.assert_allclose(t.grad.data, numeric, rtol=rtol, atol=atol,
                                       err_msg=f"gradient of input {i}")
    return out


# ---------------------------------------------------------------------------------------------
# Ufuncs


UNARY = {  # ufunc -> (method name, inputs inside the domain)
    np.exp: ("exp", lambda r, s: r.standard_normal(s)),
    np.expm1: ("expm1", lambda r, s: r.standard_normal(s)),
    np.log: ("log", lambda r, s: r.uniform(0.5, 3, s)),
    np.log1p: ("log1p", lambda r, s: r.uniform(-0.5, 3, s)),
    np.sqrt: ("sqrt", lambda r, s: r.uniform(0.5, 3, s)),
    np.square: ("square", lambda r, s: r.standard_normal(s)),
    np.sin: ("sin", lambda r, s: r.standard_normal(s)),
    np.cos: ("cos", lambda r, s: r.standard_normal(s)),
    np.tanh: ("tanh", lambda r, s: r.standard_normal(s)),
    np.absolute: ("abs", lambda r, s: r.uniform(0.1, 2, s) * r.choice([-1, 1], s)),
    np.negative: ("__neg__", lambda r, s: r.standard_normal(s)),
    np.sign: ("sign", lambda r, s: r.uniform(0.1, 2, s) * r.choice([-1, 1], s)),
}


@pytest.mark.parametrize("ufunc", UNARY, ids=lambda u: u.__name__)
@FAST
@given(shape=shapes(0, 3, 4), seed=seeds)
def test_unary_ufunc_is_the_method_of_the_same_name(ufunc, shape, seed):
    method, sample = UNARY[ufunc]
    x = sample(np.random.default_rng(seed), shape)
    out = same_as_numpy(ufunc, [x], seed=seed)
    (t,) = tensors_of([x])
    by_method = getattr(t, method)()
    assert type(out.grad_fn) is type(by_method.grad_fn)
    np.testing.assert_array_equal(out.data, by_method.data)


BINARY = {  # ufunc -> the operator or tg function it must equal
    np.add: lambda a, b: a + b,
    np.subtract: lambda a, b: a - b,
    np.multiply: lambda a, b: a * b,
    np.divide: lambda a, b: a / b,
    np.power: lambda a, b: a**b,
    np.maximum: tg.maximum,
    np.minimum: tg.minimum,
}


def _positive_spaced(rng, *shape_list):
    """Values in [0.5, 2.5], all different (no ties for maximum/minimum, a**b defined)."""
    sizes = [int(np.prod(s)) for s in shape_list]
    grid = rng.choice(np.arange(50, 250), size=sum(sizes), replace=False) / 100 + 0.005
    out, start = [], 0
    for s, n in zip(shape_list, sizes):
        out.append(grid[start:start + n].reshape(s))
        start += n
    return out


@pytest.mark.parametrize("ufunc", BINARY, ids=lambda u: u.__name__)
@pytest.mark.parametrize("kinds", [(True, True), (False, True), (True, False)],
                         ids=["tensor-tensor", "array-tensor", "tensor-array"])
@FAST
@given(shape_pair=broadcastable_shapes(2), seed=seeds)
def test_binary_ufunc_on_any_mix_of_tensors_and_arrays(ufunc, kinds, shape_pair, seed):
    a, b = _positive_spaced(np.random.default_rng(seed), *shape_pair)
    out = same_as_numpy(ufunc, [a, b], as_tensor=list(kinds), seed=seed)
    ta, tb = (tg.tensor(v, requires_grad=True) if k else v for v, k in zip((a, b), kinds))
    by_operator = BINARY[ufunc](ta, tb)
    assert type(out.grad_fn) is type(by_operator.grad_fn)
    np.testing.assert_array_equal(out.data, by_operator.data)


@FAST
@given(shape_pair=matmul_shapes(), seed=seeds, left=st.booleans())
def test_matmul_ufunc_and_the_at_operator_with_an_array_on_either_side(shape_pair, seed, left):
    rng = np.random.default_rng(seed)
    a, b = (rng.standard_normal(s) for s in shape_pair)
    same_as_numpy(np.matmul, [a, b], as_tensor=[not left, True] if left else [True, False])
    same_as_numpy(lambda x, y: x @ y, [a, b], as_tensor=[left, not left])


@pytest.mark.parametrize("number", [2, 0.5, np.float64(1.5), np.float32(3.0)],
                         ids=["int", "float", "np.float64", "np.float32"])
def test_numbers_on_the_left_follow_the_tensors_dtype(number):
    t = tg.tensor([1.0, 2.0], requires_grad=True)  # float32
    for result in (number * t, number - t, number / t, np.multiply(number, t),
                   np.maximum(number, t), np.power(t, number)):
        assert isinstance(result, tg.Tensor) and result.dtype == np.float32
        assert result.requires_grad


def test_float32_tensor_beside_float64_arrays_stays_float32_and_says_so_in_its_gradients():
    w = tg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    x = np.random.default_rng(0).standard_normal((3, 4))  # float64
    b = np.zeros((2, 1))
    z = np.dot(w, x) + b
    a = 1 / (1 + np.exp(-z))
    assert z.dtype == a.dtype == np.float32
    np.sum(a).backward()
    assert w.grad.dtype == np.float32


def test_sigmoid_and_relu_written_in_numpy_are_differentiated_exactly():
    z = np.random.default_rng(1).standard_normal((3, 5))
    same_as_numpy(lambda z: 1 / (1 + np.exp(-z)), [z])
    same_as_numpy(lambda z: np.maximum(0, z), [np.where(np.abs(z) < 0.01, 0.5, z)])


def test_ufunc_reduce_and_outer():
    x = np.random.default_rng(2).uniform(0.5, 2, (3, 4))
    same_as_numpy(lambda x: np.add.reduce(x), [x])  # axis 0 by default, as NumPy
    same_as_numpy(lambda x: np.multiply.reduce(x, axis=1, keepdims=True), [x])
    same_as_numpy(lambda x: np.maximum.reduce(x, axis=1), [x])
    same_as_numpy(lambda a, b: np.multiply.outer(a, b), [x[0], x[1, :2]])


# ---------------------------------------------------------------------------------------------
# Functions: NumPy's signatures and meaning


def _x(shape=(3, 4), seed=0, low=0.5, high=2.5):
    return _positive_spaced(np.random.default_rng(seed), shape)[0] * (high - low) / 2 + low / 2


FUNCTION_CASES = {  # name -> (NumPy code, inputs)
    "sum": (lambda x: np.sum(x), [_x()]),
    "sum axis keepdims": (lambda x: np.sum(x, axis=0, keepdims=True), [_x()]),
    "sum tuple axis": (lambda x: np.sum(x, axis=(0, 2)), [_x((2, 3, 2))]),
    "mean": (lambda x: np.mean(x, axis=1), [_x()]),
    "prod": (lambda x: np.prod(x, axis=0), [_x()]),
    "max": (lambda x: np.max(x, axis=1), [_x()]),
    "amax keepdims": (lambda x: np.amax(x, axis=0, keepdims=True), [_x()]),
    "min": (lambda x: np.min(x), [_x()]),
    "amin": (lambda x: np.amin(x, axis=(0, 1)), [_x()]),
    "var ddof": (lambda x: np.var(x, axis=0, ddof=1), [_x()]),
    "std": (lambda x: np.std(x, axis=1), [_x()]),
    "nansum": (lambda x: np.nansum(x, axis=1), [_x()]),
    "dot matrices": (lambda a, b: np.dot(a, b), [_x((2, 3)), _x((3, 4), 1)]),
    "dot vectors": (lambda a, b: np.dot(a, b), [_x((3,)), _x((3,), 1)]),
    "dot N-d and vector": (lambda a, b: np.dot(a, b), [_x((2, 2, 3)), _x((3,), 1)]),
    "dot scalar": (lambda a, b: np.dot(a, b), [_x(()), _x((3,), 1)]),
    "outer": (lambda a, b: np.outer(a, b), [_x((3,)), _x((2, 2), 1)]),
    "where": (lambda a, b: np.where(a > 1.2, a, b), [_x(), _x((4,), 1)]),
    "clip": (lambda x: np.clip(x, 0.9, 1.8), [_x()]),
    "clip min=": (lambda x: np.clip(x, min=1.0), [_x()]),
    "clip array bounds": (lambda x, lo: np.clip(x, lo, 2.0), [_x(), _x((4,), 1)]),
    "transpose": (lambda x: np.transpose(x), [_x((2, 3, 4))]),
    "transpose axes": (lambda x: np.transpose(x, (1, 0, 2)), [_x((2, 3, 4))]),
    "reshape": (lambda x: np.reshape(x, (4, -1)), [_x()]),
    "ravel": (lambda x: np.ravel(x), [_x()]),
    "concatenate": (lambda a, b: np.concatenate([a, b], axis=1), [_x((2, 3)), _x((2, 2), 1)]),
    "concatenate axis None": (lambda a, b: np.concatenate([a, b], axis=None),
                              [_x((2, 3)), _x((3,), 1)]),
    "stack": (lambda a, b: np.stack([a, b], axis=-1), [_x((2, 3)), _x((2, 3), 1)]),
    "hstack vectors": (lambda a, b: np.hstack([a, b]), [_x((3,)), _x((2,), 1)]),
    "hstack matrices": (lambda a, b: np.hstack((a, b)), [_x((2, 3)), _x((2, 1), 1)]),
    "vstack": (lambda a, b: np.vstack([a, b]), [_x((3,)), _x((2, 3), 1)]),
    "squeeze": (lambda x: np.squeeze(x), [_x((1, 3, 1))]),
    "squeeze axis": (lambda x: np.squeeze(x, axis=2), [_x((1, 3, 1))]),
    "expand_dims": (lambda x: np.expand_dims(x, (0, 3)), [_x((2, 3))]),
    "broadcast_to": (lambda x: np.broadcast_to(x, (2, 3, 4)), [_x((3, 1))]),
    "copy": (lambda x: np.copy(x) * 2, [_x()]),
    "linalg.norm": (lambda x: np.linalg.norm(x), [_x()]),
    "linalg.norm axis": (lambda x: np.linalg.norm(x, axis=0, keepdims=True), [_x()]),
    "linalg.norm ord 3": (lambda x: np.linalg.norm(x, ord=3, axis=1), [_x()]),
    "linalg.norm ord inf": (lambda x: np.linalg.norm(x, ord=np.inf, axis=1), [_x()]),
    "linalg.norm vector ord 1": (lambda x: np.linalg.norm(x, 1), [_x((5,))]),
    "linalg.norm matrix ord 1": (lambda x: np.linalg.norm(x, 1), [_x()]),
    "linalg.norm matrix ord -inf": (lambda x: np.linalg.norm(x, -np.inf), [_x()]),
    "linalg.norm fro axes": (lambda x: np.linalg.norm(x, "fro", axis=(0, 2)), [_x((2, 3, 2))]),
    "nan_to_num": (lambda x: np.nan_to_num(x * 2), [_x()]),
}


@pytest.mark.parametrize("name", FUNCTION_CASES)
def test_numpy_function_on_tensors_gives_numpys_value_and_exact_gradient(name):
    fn, arrays = FUNCTION_CASES[name]
    same_as_numpy(fn, arrays)


@pytest.mark.parametrize("name", ["dot matrices", "where", "clip array bounds", "concatenate",
                                  "hstack matrices", "outer"])
def test_numpy_function_with_an_array_among_its_operands(name):
    fn, arrays = FUNCTION_CASES[name]
    same_as_numpy(fn, arrays, as_tensor=[False, True])
    same_as_numpy(fn, arrays, as_tensor=[True, False])


METHOD_TWINS = {  # NumPy call -> the method call it must record
    "sum": (lambda t: np.sum(t, axis=0, keepdims=True), lambda t: t.sum(axis=0, keepdims=True)),
    "mean": (lambda t: np.mean(t, 1), lambda t: t.mean(dim=1)),
    "max": (lambda t: np.max(t, axis=1), lambda t: t.amax(1)),
    "var": (lambda t: np.var(t, ddof=1), lambda t: t.var(ddof=1)),
    "std": (lambda t: np.std(t, axis=0), lambda t: t.std(axis=0)),
    "prod": (lambda t: np.prod(t), lambda t: t.prod()),
    "clip": (lambda t: np.clip(t, 1.0, 2.0), lambda t: t.clip(1.0, 2.0)),
    "transpose": (lambda t: np.transpose(t), lambda t: t.T),
    "reshape": (lambda t: np.reshape(t, (2, 6)), lambda t: t.reshape(2, 6)),
    "squeeze": (lambda t: np.squeeze(t[None]), lambda t: t[None].squeeze()),
    "norm": (lambda t: np.linalg.norm(t, axis=1), lambda t: t.norm(dim=1)),
    "nan_to_num": (lambda t: np.nan_to_num(t), lambda t: t.nan_to_num()),
    "dot": (lambda t: np.dot(t, t.T), lambda t: t @ t.T),
}


@pytest.mark.parametrize("name", METHOD_TWINS)
def test_numpy_function_records_what_the_method_of_the_same_name_records(name):
    by_numpy, by_method = METHOD_TWINS[name]
    (a,), (b,) = tensors_of([_x()]), tensors_of([_x()])
    out_numpy, out_method = by_numpy(a), by_method(b)
    assert type(out_numpy.grad_fn) is type(out_method.grad_fn)
    np.testing.assert_array_equal(out_numpy.data, out_method.data)
    upstream = np.random.default_rng(3).standard_normal(out_numpy.shape)
    out_numpy.backward(gradient=upstream)
    out_method.backward(gradient=upstream)
    np.testing.assert_array_equal(a.grad.data, b.grad.data)


@FAST
@given(shape=shapes(1, 4, 3), data=st.data(), keepdims=st.booleans(), seed=seeds)
def test_sum_mean_max_over_random_axes_are_numpys(shape, data, keepdims, seed):
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1)
                     | st.sets(st.integers(0, len(shape) - 1), min_size=1).map(tuple))
    x = _positive_spaced(np.random.default_rng(seed), shape)[0]
    for fn in (np.sum, np.mean, np.max, np.min, np.prod, np.var):
        same_as_numpy(lambda x, fn=fn: fn(x, axis=axis, keepdims=keepdims), [x], seed=seed)


def test_numpy_semantics_where_they_differ_from_the_methods():
    t = tg.zeros(2, 3, 4)
    assert np.transpose(t, (0, 1, 2)).shape == (2, 3, 4)  # NumPy's permutation
    assert t.transpose(0, 1).shape == (3, 2, 4)           # PyTorch's swap
    assert tg.zeros(2, 1).squeeze(0).shape == (2, 1)      # PyTorch leaves a non-1 axis alone
    with pytest.raises(ValueError, match="squeeze: cannot squeeze axis 0"):
        np.squeeze(tg.zeros(2, 1), axis=0)                # NumPy refuses it
    x = tg.tensor([[1.0, -5.0], [2.0, 3.0]])
    assert np.linalg.norm(x, 1).item() == 8.0              # NumPy: the largest column sum
    assert x.norm(p=1).item() == 11.0                      # PyTorch: the flattened 1-norm


# ---------------------------------------------------------------------------------------------
# Learners' own NumPy code, run on Tensors and differentiated exactly


def ng_two_layer_cost(X, Y, W1, b1, W2, b2):
    """Andrew Ng's planar-data network: tanh hidden layer, sigmoid output, cross-entropy."""
    m = Y.shape[1]
    Z1 = np.dot(W1, X) + b1
    A1 = np.tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = 1 / (1 + np.exp(-Z2))
    logprobs = np.multiply(np.log(A2), Y) + np.multiply((1 - Y), np.log(1 - A2))
    cost = -np.sum(logprobs) / m
    return np.squeeze(cost)


def ng_deep_cost(X, Y, W1, b1, W2, b2, lambd=0.7):
    """Ng's L-layer form: ReLU, sigmoid, cost with np.dot(Y, log(AL).T) and L2 regularisation."""
    m = Y.shape[1]
    A1 = np.maximum(0, np.dot(W1, X) + b1)
    AL = 1 / (1 + np.exp(-(np.dot(W2, A1) + b2)))
    cost = (1.0 / m) * (-np.dot(Y, np.log(AL).T) - np.dot(1 - Y, np.log(1 - AL).T))
    l2 = lambd / (2 * m) * (np.sum(np.square(W1)) + np.sum(np.square(W2)))
    return np.squeeze(cost) + l2


def nielsen_quadratic_cost(x, y, w1, b1, w2, b2):
    """Nielsen's network2.py: sigmoid layers, QuadraticCost.fn, weight decay with norms."""
    a = x
    for w, b in ((w1, b1), (w2, b2)):
        a = 1.0 / (1.0 + np.exp(-(np.dot(w, a) + b)))
    decay = 0.5 * 0.1 * sum(np.linalg.norm(w) ** 2 for w in (w1, w2))
    return 0.5 * np.linalg.norm(a - y) ** 2 + decay


def nielsen_cross_entropy_cost(x, y, w1, b1, w2, b2):
    """Nielsen's CrossEntropyCost.fn, with its nan_to_num."""
    a = x
    for w, b in ((w1, b1), (w2, b2)):
        a = 1.0 / (1.0 + np.exp(-(np.dot(w, a) + b)))
    return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))


@pytest.mark.parametrize("cost", [ng_two_layer_cost, ng_deep_cost, nielsen_quadratic_cost,
                                  nielsen_cross_entropy_cost])
@pytest.mark.parametrize("seed", [0, 1])
def test_learners_forward_pass_and_cost_differentiated_exactly(cost, seed):
    rng = np.random.default_rng(seed)
    n_x, n_h, n_y, m = 3, 4, 2, 5
    X = rng.standard_normal((n_x, m))
    Y = (rng.random((n_y, m)) > 0.5).astype(float)
    params = [rng.standard_normal((n_h, n_x)), rng.standard_normal((n_h, 1)) * 0.1,
              rng.standard_normal((n_y, n_h)), rng.standard_normal((n_y, 1)) * 0.1]
    same_as_numpy(cost, [X, Y, *params], as_tensor=[False, False, True, True, True, True])


ARRAY_METHODS = {  # ndarray methods learners call, with the same meaning on Tensors
    "W.dot(X)": (lambda w, x: w.dot(x), [_x((2, 3)), _x((3, 4), 1)]),
    "v.dot(v)": (lambda a, b: a.dot(b), [_x((3,)), _x((3,), 1)]),
    "A.copy()": (lambda a: a.copy() * a, [_x()]),
    "A.ravel()": (lambda a: a.ravel(), [_x()]),
    "A.T": (lambda a: a.T, [_x()]),
    "A.reshape": (lambda a: a.reshape(2, -1), [_x()]),
    "A.reshape tuple": (lambda a: a.reshape((6, 2)), [_x()]),
    "A.sum keepdims": (lambda a: a.sum(axis=0, keepdims=True), [_x()]),
    "A.mean": (lambda a: a.mean(), [_x()]),
    "A.max": (lambda a: a.max(axis=0), [_x()]),
    "A.min": (lambda a: a.min(1), [_x()]),
    "A.std": (lambda a: a.std(axis=1), [_x()]),
    "A.var ddof": (lambda a: a.var(axis=0, ddof=1), [_x()]),
    "A.prod": (lambda a: a.prod(axis=1), [_x()]),
    "A.clip": (lambda a: a.clip(0.8, 1.9), [_x()]),
    "A.transpose(perm)": (lambda a: a.transpose(2, 0, 1), [_x((2, 3, 4))]),
    "A.transpose()": (lambda a: a.transpose(), [_x((2, 3, 4))]),
    "A.squeeze()": (lambda a: a.squeeze(), [_x((3, 1))]),
    "A.flatten()": (lambda a: a.flatten(), [_x()]),
}


@pytest.mark.parametrize("name", ARRAY_METHODS)
def test_ndarray_methods_in_learners_code_mean_the_same_on_tensors(name):
    fn, arrays = ARRAY_METHODS[name]
    same_as_numpy(fn, arrays)


def test_nan_to_num_passes_the_gradient_only_where_its_input_was_finite():
    x = tg.tensor(np.array([1.0, np.inf, -np.inf, np.nan, -2.0]), requires_grad=True)
    np.sum(np.nan_to_num(x) * 0.5).backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.0, 0.0, 0.5]
    big = np.finfo(np.float64).max
    assert np.nan_to_num(x, nan=7.0).tolist() == [1.0, big, -big, 7.0, -2.0]


def test_scipy_erf_and_expit_record_erf_and_sigmoid():
    special = pytest.importorskip("scipy.special")
    x = np.linspace(-2, 2, 5)
    out = same_as_numpy(lambda x: special.erf(x) * special.expit(x), [x])
    assert {type(p.grad_fn).__name__ for p in out.grad_fn.parents} == {"Erf", "Sigmoid"}
    with pytest.raises(TypeError, match="the ufunc gamma has no gradient rule"):
        special.gamma(tg.ones(2))


def test_shapes_lengths_and_numpy_scalars_work_as_on_arrays():
    t = tg.zeros(3, 2)
    assert np.shape(t) == (3, 2) and np.ndim(t) == 2 and np.size(t) == 6 and len(t) == 3
    assert np.size(t, 1) == 2
    assert (np.float64(2.0) * t).dtype == np.float32


# ---------------------------------------------------------------------------------------------
# Constants, non-differentiable results, no_grad, and what is refused


def test_zeros_like_ones_like_and_random_arrays_are_constants():
    t = tg.tensor(np.ones((2, 3)), requires_grad=True)
    for made in (np.zeros_like(t), np.ones_like(t), np.full_like(t, 7.0), np.empty_like(t)):
        assert isinstance(made, tg.Tensor) and not made.requires_grad
        assert made.shape == (2, 3) and made.dtype == np.float64
    assert np.zeros_like(t, dtype=np.float32).dtype == np.float32
    assert np.ones_like(t).tolist() == [[1.0] * 3] * 2
    mask = np.random.rand(*t.shape) < 0.5  # Ng's dropout mask: an array, a constant
    dropped = np.multiply(t, mask) / 0.5
    assert dropped.requires_grad
    dropped.sum().backward()
    np.testing.assert_array_equal(t.grad.data, mask / 0.5)


@pytest.mark.parametrize("ufunc", [np.equal, np.not_equal, np.less, np.less_equal, np.greater,
                                   np.greater_equal, np.logical_and, np.logical_or])
def test_comparisons_give_the_bool_tensors_the_operators_give(ufunc):
    t = tg.tensor([0.0, 1.0, 2.0], requires_grad=True)
    a = np.array([2.0, 1.0, 0.0])
    for result, expected in ((ufunc(t, a), ufunc(t.data, a)), (ufunc(a, t), ufunc(a, t.data)),
                             (ufunc(t, 1.0), ufunc(t.data, 1.0))):
        assert isinstance(result, tg.Tensor) and result.dtype == bool
        assert not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)
    np.testing.assert_array_equal((a < t).data, (t > a).data)


def test_predicates_and_index_functions_match_the_methods():
    t = tg.tensor([[1.0, np.nan], [np.inf, -2.0]])
    for ufunc, method in ((np.isnan, "isnan"), (np.isinf, "isinf"), (np.isfinite, "isfinite"),
                          (np.logical_not, "__invert__")):
        np.testing.assert_array_equal(ufunc(t).data, getattr(t, method)().data)
        np.testing.assert_array_equal(ufunc(t).data, ufunc(t.data))
    u = tg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert np.argmax(u, axis=1).tolist() == [1, 0] == u.argmax(1).tolist()
    assert np.argmin(u).item() == 4 and np.argmin(u).dtype == np.int64
    assert np.all(u >= 0).item() and not np.any(u > 9).item()
    assert np.allclose(u, u.data) and np.array_equal(u, u.data)
    np.testing.assert_array_equal(np.isclose(u, u.data + 1e-12).data, True)


def test_no_grad_records_nothing():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        for result in (np.exp(t), np.sum(t), np.ones(2) * t, np.dot(t, t), np.maximum(0, t)):
            assert isinstance(result, tg.Tensor) and not result.requires_grad
    assert np.exp(t).requires_grad


@pytest.mark.parametrize("call, name", [
    (lambda t: np.cumsum(t), "np.cumsum"),
    (lambda t: np.sort(t), "np.sort"),
    (lambda t: np.floor(t), "np.floor"),
    (lambda t: np.add.accumulate(t), "np.add.accumulate"),
    (lambda t: np.einsum("i,i", t, t), "np.einsum"),
    (lambda t: np.linalg.inv(t.reshape(1, 1)), "np.linalg.inv"),
    (lambda t: np.mean(t, where=True), "np.mean"),
    (lambda t: np.exp(t, dtype=np.float64), "np.exp"),
    (lambda t: np.where(t > 0), "np.where"),
    (lambda t: np.where(np.array(["a"]), t, 0.0), "np.where"),
    (lambda t: np.linalg.norm(t.reshape(1, 1), 2), "np.linalg.norm"),
])
def test_a_numpy_call_without_a_gradient_rule_is_refused_by_name(call, name):
    t = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=re.escape(name)):
        call(t)


def test_linalg_norm_refuses_an_order_numpy_refuses_for_the_shape():
    with pytest.raises(ValueError, match=r"np\.linalg\.norm: ord=1 needs a 1-D or 2-D input"):
        np.linalg.norm(tg.ones(2, 2, 2), 1)


def test_asarray_array_and_numpy_leave_the_graph_on_purpose():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    for plain in (np.asarray(t), np.array(t), t.numpy(), np.asarray(t, dtype=np.float64)):
        assert type(plain) is np.ndarray
        np.testing.assert_array_equal(plain, [1.0, 2.0])


# ---------------------------------------------------------------------------------------------
# out=


def test_micrograd_update_writes_plain_values_into_the_data_array():
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    data = p.data
    p.data += -0.1 * p.grad
    assert p.data is data and p.is_leaf and p.requires_grad
    np.testing.assert_allclose(p.data, [0.8, 1.6])


def test_out_into_a_plain_array_gives_that_array_with_plain_values():
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    out = np.empty(2, np.float32)
    assert np.add(t, 1.0, out=out) is out
    np.testing.assert_array_equal(out, [2.0, 3.0])
    buffer = np.empty((), np.float32)
    np.sum(t, out=buffer)
    assert buffer == 3.0


def test_out_into_a_tensor_changes_it_in_place_and_keeps_the_gradient_right():
    x = tg.tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    t = x * 2
    memory = t.data
    assert np.exp(t, out=t) is t and t.data is memory  # the same object and the same array
    np.testing.assert_allclose(t.data, np.exp(x.data * 2))
    mask = np.array([1.0, 0.0, 1.0])
    assert np.multiply(t, mask, out=t) is t          # Ng's dropout, written in place
    t.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * np.exp(2 * x.data) * mask)


def test_out_into_a_tensor_from_arrays_a_reduction_and_a_reduce():
    u = tg.zeros(2, 3)
    assert np.add(np.ones(3), 1.0, out=u) is u             # broadcast into out, as NumPy
    assert u.tolist() == [[2.0] * 3] * 2 and not u.requires_grad
    v = tg.zeros(3)
    np.sum(u, axis=0, out=v)
    assert v.tolist() == [4.0] * 3
    np.add.reduce(u, axis=1, out=tg.zeros(2))


def test_out_into_a_leaf_follows_the_in_place_rules():
    w = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (w * w).sum().backward()
    with pytest.raises(RuntimeError):
        np.subtract(w, 0.1 * w.grad, out=w)               # outside no_grad: refused
    assert w.tolist() == [1.0, 2.0]
    with tg.no_grad():
        np.subtract(w, 0.1 * w.grad, out=w)               # an optimizer's step
    assert w.is_leaf and w.requires_grad
    np.testing.assert_allclose(w.data, [0.8, 1.6])


def test_out_into_a_tensor_is_refused_when_it_cannot_hold_the_result():
    counts = tg.zeros(2, dtype=np.int64)
    with pytest.raises(RuntimeError, match=r"np\.divide\(\.\.\., out=\): result type float"):
        np.divide(counts, 2.0, out=counts)
    with pytest.raises(TypeError, match=r"np\.floor has no gradient rule"):
        np.floor(tg.ones(2), out=tg.ones(2))
    with pytest.raises(TypeError, match=r"np\.divmod has no gradient rule"):
        np.divmod(tg.ones(2), 2.0, out=(tg.ones(2), tg.ones(2)))
    assert counts.tolist() == [0, 0]
