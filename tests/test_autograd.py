"""The engine as a whole: dtypes, the Tensor API, backward, create_graph, grad modes, anomaly
detection, gradcheck, error messages and the hot path (issue 2, points 1 to 6)."""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import threading
import tracemalloc
import weakref

import numpy as np
import pytest
from conftest import numerical_grad

import tinygrad_mlp as tg
from tinygrad_mlp.engine import autograd, ops
from tinygrad_mlp.engine import backward as backward_module

HERE = os.path.basename(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def leaf(values, dtype=np.float64):
    return tg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ---------------------------------------------------------------------------------------------
# 1. dtypes: float32 stays float32, float64 stays float64, gradients have the input's dtype

X_VALUES = np.array([[0.5, 1.25, 2.0], [1.5, 0.75, 1.75]])  # positive: fine for log and sqrt
PROBS = np.array([[0.2, 0.3, 0.5], [0.6, 0.1, 0.3]])

DTYPE_CASES = {
    "x * 0.5": lambda x: x * 0.5,
    "1 - x": lambda x: 1 - x,
    "x ** 2": lambda x: x**2,
    "x ** 0.5": lambda x: x**0.5,
    "2.0 ** x": lambda x: 2.0**x,
    "x / 3": lambda x: x / 3,
    "3 / x": lambda x: 3 / x,
    "x + 1": lambda x: x + 1,
    "x * True": lambda x: x * True,
    "x * np.float64(0.5)": lambda x: x * np.float64(0.5),
    "np.float64(2) - x": lambda x: np.float64(2) - x,
    "x * np.int64(3)": lambda x: x * np.int64(3),
    "x + int array": lambda x: x + np.arange(3),
    "int array * x": lambda x: np.arange(3) * x,
    "x * int list": lambda x: x * [1, 2, 3],
    "x * x": lambda x: x * x,
    "x @ x.T": lambda x: x @ x.T,
    "maximum": lambda x: tg.maximum(x, 1.0),
    "minimum": lambda x: tg.minimum(1, x),
    "where": lambda x: tg.where(x > 1, x, 0.0),
    "neg": lambda x: -x,
    "abs": lambda x: abs(x - 1),
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "sqrt": lambda x: x.sqrt(),
    "sin": lambda x: x.sin(),
    "cos": lambda x: x.cos(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: (x - 1).relu(),
    "leaky_relu": lambda x: (x - 1).leaky_relu(0.1),
    "softplus": lambda x: x.softplus(),
    "clip": lambda x: x.clip(0.6, 1.6),
    "sum": lambda x: x.sum(axis=0),
    "mean": lambda x: x.mean(axis=(0, 1), keepdims=True),
    "max": lambda x: x.max(axis=1),
    "min": lambda x: x.min(),
    "var": lambda x: x.var(axis=1),
    "var ddof=1": lambda x: x.var(ddof=1),
    "logsumexp": lambda x: x.logsumexp(axis=-1),
    "reshape": lambda x: x.reshape(3, 2),
    "flatten": lambda x: x.flatten(),
    "transpose": lambda x: x.T,
    "unsqueeze/squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "getitem": lambda x: x[[0, 0, 1], 1:],
    "mask": lambda x: x[x > 1],
    "cat": lambda x: tg.cat([x, x * 2], axis=1),
    "stack": lambda x: tg.stack([x, x]),
    "softmax": lambda x: x.softmax(),
    "log_softmax": lambda x: x.log_softmax(axis=0),
    "linear": lambda x: tg.linear(x, x, x[0, :2]),
    "cross_entropy classes": lambda x: ops.CrossEntropy.apply(x, classes=np.array([0, 2])),
    "cross_entropy probs": lambda x: ops.CrossEntropy.apply(x, x.softmax(), reduction="none"),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", DTYPE_CASES)
def test_dtype_is_kept_forward_backward_and_double_backward(name, dtype):
    x = leaf(X_VALUES, dtype)
    out = DTYPE_CASES[name](x)
    assert out.dtype == dtype, f"forward gave {out.dtype}"
    out.backward(gradient=np.ones(out.shape, dtype))
    assert x.grad.dtype == dtype and x.grad.shape == x.shape
    assert np.isfinite(x.grad.data).all()
    (first,) = tg.grad(DTYPE_CASES[name](x).sum(), x, create_graph=True)
    assert first.dtype == dtype
    if first.requires_grad:
        (second,) = tg.grad(first.sum(), x, allow_unused=True)
        assert second is None or second.dtype == dtype


def test_mixed_dtypes_promote_forward_but_each_gradient_keeps_its_input_dtype():
    x32 = leaf(X_VALUES, np.float32)
    w64 = leaf(np.ones((4, 3)), np.float64)
    out = tg.linear(x32, w64)
    assert out.dtype == np.float64  # as NumPy and PyTorch promote
    out.sum().backward()
    assert x32.grad.dtype == np.float32 and w64.grad.dtype == np.float64
    x32.grad = None
    (x32 * np.ones(3, dtype=np.float64)).sum().backward()
    assert x32.grad.dtype == np.float32


# ---------------------------------------------------------------------------------------------
# The Tensor API surface


def test_done_when_command_prints_the_gradient():
    code = (
        "import tinygrad_mlp as tg; x = tg.tensor([1., 2.], requires_grad=True); "
        "(x * x).sum().backward(); print(x.grad)"
    )
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "[2. 4.]" in result.stdout


def test_constructor_dtypes():
    assert tg.Tensor([1.0, 2.0]).dtype == np.float32
    assert tg.Tensor(3.0).dtype == np.float32
    assert tg.Tensor([[1, 2]]).dtype == np.int64
    assert tg.Tensor(np.zeros(2)).dtype == np.float64
    assert tg.Tensor(np.zeros(2, np.float32)).dtype == np.float32
    assert tg.Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert tg.tensor(np.zeros(2), dtype=np.float32).dtype == np.float32
    assert tg.Tensor([True, False]).dtype == np.bool_
    other = tg.tensor([1.0, 2.0])
    copy = tg.Tensor(other, requires_grad=True)
    assert copy.requires_grad and copy.is_leaf
    np.testing.assert_array_equal(copy.data, [1.0, 2.0])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_requires_grad_on_a_non_float_dtype_raises_naming_it(dtype):
    name = np.dtype(dtype).name
    with pytest.raises(TypeError, match=name):
        tg.Tensor(np.zeros(2, dtype), requires_grad=True)
    with pytest.raises(TypeError, match=name):
        tg.zeros(2, dtype=dtype, requires_grad=True)
    t = tg.tensor(np.zeros(2, dtype))
    with pytest.raises(TypeError, match=name):
        t.requires_grad_()
    assert not t.requires_grad
    f = tg.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match=name):
        f.data = np.zeros(2, dtype)
    assert f.dtype == np.float32


def test_attributes_and_methods():
    x = tg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.shape == (2, 3) and isinstance(x.shape, tuple)
    assert x.ndim == 2 and x.dtype == np.float32 and x.numel() == 6
    assert x.is_leaf and x.grad_fn is None and x.requires_grad and x.grad is None
    assert isinstance(x.numpy(), np.ndarray)
    np.testing.assert_array_equal(x.numpy(), [[1, 2, 3], [4, 5, 6]])
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    np.testing.assert_array_equal(np.asarray(x), x.data)
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    y = x * 2
    assert not y.is_leaf and y.grad_fn is not None and y.requires_grad
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    np.testing.assert_array_equal(d.data, y.data)
    s = y.sum()
    assert isinstance(s.item(), float) and s.item() == 42.0
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        y.item()
    z = tg.zeros(3)
    assert z.requires_grad_() is z and z.requires_grad
    z.requires_grad_(False)
    assert not z.requires_grad
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_data_assignment_replaces_the_value_and_records_nothing():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    w.data = np.array([3.0, 4.0], dtype=np.float32)
    assert w.is_leaf and w.grad_fn is None
    np.testing.assert_array_equal(w.data, [3.0, 4.0])
    (w * w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [6.0, 8.0])


def test_constructors():
    assert tg.zeros(2, 3).shape == (2, 3) and tg.zeros((2, 3)).shape == (2, 3)
    assert tg.Tensor.zeros(2).tolist() == [0.0, 0.0]
    assert tg.ones(2).tolist() == [1.0, 1.0] and tg.ones(2).dtype == np.float32
    assert tg.full((2,), 7.0).tolist() == [7.0, 7.0]
    np.testing.assert_array_equal(tg.eye(3).data, np.eye(3))
    np.testing.assert_array_equal(tg.arange(5).data, np.arange(5))
    np.testing.assert_allclose(tg.arange(0.0, 1.0, 0.25).data, [0, 0.25, 0.5, 0.75])
    for make in (tg.zeros, tg.ones, tg.rand, tg.randn):
        t = make(2, 2, dtype=np.float64, requires_grad=True)
        assert t.dtype == np.float64 and t.requires_grad and t.shape == (2, 2)
        assert make(3).dtype == np.float32 and not make(3).requires_grad
    assert tg.full((2,), 1.0, dtype=np.float64, requires_grad=True).requires_grad
    assert tg.eye(2, dtype=np.float64).dtype == np.float64
    u = tg.uniform(1000, low=-2.0, high=-1.0, seed=1)
    assert (u.data >= -2.0).all() and (u.data < -1.0).all() and u.data.std() > 0.1
    r = tg.rand(1000, seed=2)
    assert (r.data >= 0).all() and (r.data < 1).all()


def test_random_constructors_take_rng_seed_and_the_manual_seed():
    assert (tg.randn(5, seed=3).data == tg.randn(5, seed=3).data).all()
    assert not (tg.randn(5, seed=3).data == tg.randn(5, seed=4).data).all()
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    a, b = tg.rand(4, rng=g1), tg.rand(4, rng=g2)
    assert (a.data == b.data).all()
    assert not (tg.rand(4, rng=g1).data == a.data).all()  # the generator advanced
    tg.manual_seed(11)
    first = [tg.randn(3).data, tg.rand(3).data, tg.uniform(3, low=1, high=2).data]
    tg.manual_seed(11)
    second = [tg.randn(3).data, tg.rand(3).data, tg.uniform(3, low=1, high=2).data]
    for p, q in zip(first, second):
        np.testing.assert_array_equal(p, q)


# ---------------------------------------------------------------------------------------------
# 2. backward: seeding, accumulation, leaves only, depth, freeing the graph


def test_backward_seeds_one_element_tensors_with_one():
    x = leaf([3.0])
    (x * x).backward()
    np.testing.assert_array_equal(x.grad.data, [6.0])
    y = leaf([[2.0]])
    (y**3).backward()
    np.testing.assert_array_equal(y.grad.data, [[12.0]])


def test_gradients_accumulate_into_leaves_only():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    constant = tg.tensor([5.0, 6.0], dtype=np.float64)
    h = x * w
    y = (h + constant).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])
    y.backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 8.0])
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0])
    assert h.grad is None and y.grad is None and constant.grad is None
    (x * x).sum().backward()  # a second graph adds to the same leaf
    np.testing.assert_array_equal(x.grad.data, [8.0, 12.0])


def test_a_tensor_used_twice_gets_both_contributions():
    x = leaf([2.0, -1.0])
    a = x.exp()
    (a * a + a.sin() * x).sum().backward()
    xv = np.array([2.0, -1.0])
    expected = 2 * np.exp(2 * xv) + np.cos(np.exp(xv)) * np.exp(xv) * xv + np.sin(np.exp(xv))
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


def test_grad_of_each_leaf_is_its_own_writable_array():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    seed = np.ones(2)
    (a + b).backward(gradient=seed)  # add hands the same gradient to both sides
    seed[...] = 7.0
    np.testing.assert_array_equal(a.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])
    a.grad.data[...] = 100.0
    np.testing.assert_array_equal(b.grad.data, [1.0, 1.0])
    assert (seed == 7.0).all()
    c = leaf([1.0, 2.0])
    seed = np.ones(2)
    c.backward(gradient=seed)
    seed[...] = 7.0
    np.testing.assert_array_equal(c.grad.data, [1.0, 1.0])
    d = leaf([1.0, 2.0])
    d.sum().backward()
    d.grad.data[...] += 1.0  # a read-only broadcast view would refuse this


def test_a_100000_operation_chain_works_without_recursion():
    x = tg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + x
    y.backward()
    assert x.grad.item() == 100_001.0
    del y  # tearing the chain down must not overflow the stack either
    gc.collect()


def test_the_graph_is_freed_after_backward():
    x = tg.randn(50, requires_grad=True, seed=0)

    def forward():
        hidden = x.exp()
        return (hidden * hidden).sum(), weakref.ref(hidden.data)

    loss, ref = forward()
    assert ref() is not None  # the graph holds the intermediate until backward
    loss.backward()
    assert ref() is None
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()

    loss, ref = forward()
    loss.backward(retain_graph=True)
    assert ref() is not None
    loss.backward()
    assert ref() is None
    np.testing.assert_allclose(x.grad.data, 3 * 2 * np.exp(2 * x.data), rtol=1e-5)


def test_a_new_graph_through_a_freed_part_raises():
    x = leaf([1.0, 2.0])
    h = x.tanh()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2).sum().backward()


def test_the_public_graph_walk_lists_each_entry_once_after_its_inputs():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    h = x * w
    a, b = h.tanh(), h.exp()
    y = (a + b).sum()
    order = autograd.topological_order([y])
    assert [t.grad_fn.name for t in order] == ["mul", "tanh", "exp", "add", "sum"]
    assert order[0] is h and order[-1] is y
    position = {id(t): i for i, t in enumerate(order)}
    for t in order:  # every input computed by an operation comes earlier
        for parent in autograd.inputs_of(t):
            if parent.grad_fn is not None:
                assert position[id(parent)] < position[id(t)]
    everything = autograd.topological_order([y, a], leaves=True)
    assert everything[:2] == [x, w] and everything[2:] == order
    assert autograd.topological_order([x]) == [] and autograd.topological_order([x], True) == [x]


def test_the_graph_walk_reads_a_graph_that_backward_freed():
    x = leaf([1.0, 2.0])
    h = x.exp()
    y = (h * h).sum()
    nodes = [t.grad_fn for t in autograd.topological_order([y])]
    y.backward()
    after = autograd.topological_order([y], leaves=True)
    assert after[0] is x and after[-1] is y  # the root is still a Tensor ...
    assert after[1:-1] == nodes[:-1]  # ... the nodes stand in place of h and h * h
    assert [p.grad_fn for p in autograd.inputs_of(nodes[1])] == [nodes[0], nodes[0]]
    with pytest.raises(RuntimeError, match="retain_graph"):
        autograd.topological_order([y], live=True)


@pytest.mark.slow
def test_a_1000000_operation_chain_backpropagates_exactly():
    x = tg.tensor(1.0, dtype=np.float64, requires_grad=True)
    y = x
    for _ in range(1_000_000):
        y = y + x
    y.backward()
    assert x.grad.item() == 1_000_001.0
    del y
    gc.collect()


def test_keeping_the_loss_after_backward_keeps_no_saved_intermediate():
    """After backward, a kept loss must not pin the arrays its nodes saved for backward
    (a training loop that stores its losses would otherwise grow by a batch each step)."""
    logits = tg.randn(2000, 50, dtype=np.float64, requires_grad=True, seed=0)
    classes = np.arange(2000) % 50
    target = tg.tensor(np.full((2000, 50), 1 / 50))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        losses = [
            ops.CrossEntropy.apply(logits, classes=classes),
            ops.CrossEntropy.apply(logits, target, reduction="sum"),
        ]
        for loss in losses:
            loss.backward()
        retained = tracemalloc.get_traced_memory()[0] - before - logits.grad.data.nbytes
    finally:
        tracemalloc.stop()
    assert retained < logits.data.nbytes / 10


# ---------------------------------------------------------------------------------------------
# 3. create_graph: second derivatives


def test_second_derivative_of_a_cube_by_grad_and_by_backward():
    xv = np.array([0.5, -1.5, 2.0])
    x = leaf(xv)
    (first,) = tg.grad((x**3).sum(), x, create_graph=True)
    np.testing.assert_allclose(first.data, 3 * xv**2)
    (second,) = tg.grad(first.sum(), x, create_graph=True)
    np.testing.assert_allclose(second.data, 6 * xv)
    (third,) = tg.grad(second.sum(), x)
    np.testing.assert_allclose(third.data, [6.0, 6.0, 6.0])

    y = leaf(xv)
    (y**3).sum().backward(create_graph=True)
    first = y.grad
    assert first.requires_grad
    y.grad = None
    first.sum().backward()
    np.testing.assert_allclose(y.grad.data, 6 * xv)


@pytest.mark.parametrize(
    "name, fn, second",
    [
        ("tanh", tg.tanh, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
        (
            "sigmoid",
            tg.sigmoid,
            lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s),
        ),
    ],
)
def test_second_derivative_closed_forms(name, fn, second):
    xv = np.linspace(-3, 3, 7)
    x = leaf(xv)
    (first,) = tg.grad(fn(x).sum(), x, create_graph=True)
    (result,) = tg.grad(first.sum(), x)
    np.testing.assert_allclose(result.data, second(xv), rtol=1e-10, atol=1e-12)


def _hvp_vs_differences(f, xv, v, eps=1e-6):
    """The Hessian-vector product by double backward, and by differencing the gradient."""
    x = leaf(xv)
    (g,) = tg.grad(f(x), x, create_graph=True)
    (hv,) = tg.grad((g * tg.tensor(v)).sum(), x)

    def gradient(at):
        t = leaf(at)
        return tg.grad(f(t), t)[0].data

    fd = (gradient(xv + eps * v) - gradient(xv - eps * v)) / (2 * eps)
    return hv.data, fd


C = np.random.default_rng(20).standard_normal((2, 3))
SECOND_ORDER = {
    "softmax": lambda x: (x.softmax() * C).sum(),
    "softmax axis 0": lambda x: (x.softmax(axis=0) * C).sum(),
    "log_softmax": lambda x: (x.log_softmax() * C).sum(),
    "logsumexp": lambda x: (x.logsumexp(axis=1) * C[:, 0]).sum(),
    "cross_entropy classes": lambda x: ops.CrossEntropy.apply(x * C, classes=np.array([1, 2])),
    "cross_entropy probs": lambda x: ops.CrossEntropy.apply(x, (x * C).softmax(), reduction="sum"),
    "mul/div": lambda x: (x * x / (x + 3) * C).sum(),
    "pow both sides": lambda x: (x ** x[0] * C).sum(),
    "exp/log/sqrt": lambda x: ((x.exp() + x.log() * x.sqrt()) * C).sum(),
    "sin/cos": lambda x: ((x.sin() * x.cos()) * C).sum(),
    "softplus": lambda x: (x.softplus() ** 2 * C).sum(),
    "relu/leaky/clip/abs": lambda x: (
        (x - 1).relu() ** 2 + (x - 1).leaky_relu(0.3) ** 2 + x.clip(0.6, 1.6) ** 2
        + abs(x - 1) ** 3
    ).sum(),
    "max/min/maximum/minimum": lambda x: (
        x.max(axis=1) ** 2 + x.min() ** 2 + (tg.maximum(x, 1.0) * tg.minimum(x, C)).sum()
    ).sum(),
    "var and mean": lambda x: x.var(axis=1, ddof=1).sum() * x.mean() ** 2,
    "matmul and linear": lambda x: (tg.linear(x, x.T @ x, x[0]) ** 2).sum(),
    "shape ops": lambda x: (
        (x.reshape(3, 2).T * x) ** 2 * x.unsqueeze(0).squeeze(0).flatten().reshape(2, 3)
    ).sum(),
    "indexing": lambda x: (x[[0, 0, 1], 1:] ** 3).sum() + (x[x > 1] ** 2).sum(),
    "cat/stack/where": lambda x: (
        tg.cat([x, x**2], axis=1).sum(axis=0) ** 2
    ).sum() + (tg.stack([x, x * x]) ** 2).sum() + tg.where(x > 1, x**3, x).sum(),
    "sigmoid/tanh": lambda x: (x.sigmoid() * x.tanh() * C).sum(),
}


@pytest.mark.parametrize("name", SECOND_ORDER)
def test_hessian_vector_products_through_every_operation(name):
    rng = np.random.default_rng(21)
    v = rng.standard_normal(X_VALUES.shape)
    hv, fd = _hvp_vs_differences(SECOND_ORDER[name], X_VALUES.copy(), v)
    np.testing.assert_allclose(hv, fd, rtol=1e-5, atol=1e-6)


def test_hessian_vector_product_through_a_small_mlp():
    rng = np.random.default_rng(22)
    X, Y = rng.standard_normal((8, 3)), rng.standard_normal((8, 2))
    shapes = [(5, 3), (5,), (2, 5), (2,)]
    values = [rng.standard_normal(s) * 0.7 for s in shapes]
    vs = [rng.standard_normal(s) for s in shapes]

    def loss(w1, b1, w2, b2):
        hidden = tg.linear(X, w1, b1).tanh()
        out = tg.linear(hidden, w2, b2).tanh()
        return ((out - Y) ** 2).mean()

    params = [leaf(v) for v in values]
    grads = tg.grad(loss(*params), params, create_graph=True)
    dot = sum((g * tg.tensor(v)).sum() for g, v in zip(grads, vs))
    hvp = tg.grad(dot, params)

    def gradients(step):
        ps = [leaf(p + step * v) for p, v in zip(values, vs)]
        return [g.data for g in tg.grad(loss(*ps), ps)]

    eps = 1e-6
    plus, minus = gradients(eps), gradients(-eps)
    for h, p, m in zip(hvp, plus, minus):
        np.testing.assert_allclose(h.data, (p - m) / (2 * eps), rtol=1e-5, atol=1e-7)
    assert all(p.grad is None for p in params)


# ---------------------------------------------------------------------------------------------
# 4. tg.grad, grad modes, detect_anomaly, gradcheck


def test_grad_returns_a_tuple_and_leaves_dot_grad_untouched():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    w.grad = tg.tensor(np.array([9.0, 9.0]))
    hidden = x * w
    result = tg.grad((hidden**2).sum(), [x, hidden], retain_graph=True)
    assert isinstance(result, tuple) and len(result) == 2
    np.testing.assert_array_equal(result[0].data, 2 * np.array([3.0, 8.0]) * [3.0, 4.0])
    np.testing.assert_array_equal(result[1].data, [6.0, 16.0])
    assert x.grad is None and hidden.grad is None
    np.testing.assert_array_equal(w.grad.data, [9.0, 9.0])
    (gx,) = tg.grad(hidden, x, grad_outputs=np.array([1.0, -1.0]))
    np.testing.assert_array_equal(gx.data, [3.0, -4.0])


def test_grad_outputs_that_require_grad_stay_in_the_recorded_graph():
    """The double-backward trick: differentiating J^T v with respect to v gives J u."""
    m = np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 1.0]])
    a, v = leaf([0.3, -0.2]), leaf([1.0, 2.0, -1.0])
    y = (tg.tensor(m) @ a).tanh()
    (vjp,) = tg.grad(y, a, grad_outputs=v, create_graph=True)
    slope = 1 - np.tanh(m @ a.data) ** 2
    np.testing.assert_allclose(vjp.data, m.T @ (slope * v.data))
    u = np.array([0.5, -1.0])
    (jvp,) = tg.grad((vjp * tg.tensor(u)).sum(), v)
    np.testing.assert_allclose(jvp.data, slope * (m @ u))


def test_the_same_output_twice_adds_its_seeds():
    x = leaf([1.0, 2.0])
    (g,) = tg.grad([x, x], x, grad_outputs=[np.ones(2), np.full(2, 2.0)])
    np.testing.assert_array_equal(g.data, [3.0, 3.0])
    y = x * 2
    (g,) = tg.grad([y, y], x, grad_outputs=[np.ones(2), np.full(2, 2.0)])
    np.testing.assert_array_equal(g.data, [6.0, 6.0])


def test_grad_of_an_unused_input():
    x, unused = leaf([1.0]), leaf([2.0])
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.grad((x * 2).sum(), [x, unused])
    gx, gu = tg.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 2.0


def test_no_grad_and_enable_grad_as_context_managers():
    w = leaf([1.0])
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = w * 2
        assert not y.requires_grad and y.grad_fn is None
        with tg.enable_grad():
            assert tg.is_grad_enabled() and (w * 2).requires_grad
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    with pytest.raises(ZeroDivisionError), tg.no_grad():
        _ = 1 / 0
    assert tg.is_grad_enabled()


def test_no_grad_and_enable_grad_as_decorators():
    w = leaf([1.0])

    @tg.no_grad
    def bare():
        return w * 2

    @tg.no_grad()
    def called():
        return w * 2, inner()

    @tg.enable_grad()
    def inner():
        return w * 3

    assert bare.__name__ == "bare"
    assert not bare().requires_grad
    outer, nested = called()
    assert not outer.requires_grad and nested.requires_grad
    assert tg.is_grad_enabled()


def _in_thread(fn):
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as error:  # report it in the main thread
            box["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_grad_mode_is_per_thread():
    w = leaf([1.0])
    with tg.no_grad():
        assert _in_thread(lambda: (tg.is_grad_enabled(), (w * 2).requires_grad)) == (True, True)
        assert not (w * 2).requires_grad

    entered, release = threading.Event(), threading.Event()

    def worker():
        with tg.no_grad():
            entered.set()
            release.wait(10)
            return tg.is_grad_enabled(), (w * 2).requires_grad

    box = {}
    thread = threading.Thread(target=lambda: box.setdefault("result", worker()))
    thread.start()
    try:
        assert entered.wait(10)
        assert tg.is_grad_enabled() and (w * 2).requires_grad  # the worker's no_grad is its own
    finally:
        release.set()
        thread.join(10)
    assert box["result"] == (False, False)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_forward_operation_and_the_user_line():
    x = leaf([1.0, -1.0])
    with tg.detect_anomaly():
        ok = x * 2.0
        with pytest.raises(FloatingPointError) as info:
            _ = ok.sqrt() * 3.0  # sqrt(-2) is nan
    message = str(info.value)
    assert "sqrt" in message and "produced NaN" in message
    assert HERE in message
    assert "_ = ok.sqrt() * 3.0" in message
    assert isinstance(info.value, tg.AnomalyError) and info.value.node.name == "sqrt"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_checks_forward_outputs_outside_the_graph_too():
    with tg.detect_anomaly(), tg.no_grad(), pytest.raises(FloatingPointError) as info:
        _ = tg.log(tg.tensor([0.0, 1.0]))
    assert "log" in str(info.value) and "-inf" in str(info.value)
    assert "_ = tg.log(tg.tensor([0.0, 1.0]))" in str(info.value)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_names_the_backward_operation_and_changes_nothing():
    x, w = leaf([0.0, 4.0]), leaf([0.0, 1.0])
    with tg.detect_anomaly():
        root = x.sqrt()  # finite forward; its backward divides by the zero output
        loss = (root * w).sum()
    loss.backward(retain_graph=True)  # outside anomaly mode the nan goes through
    x_grad, w_grad = x.grad.data.copy(), w.grad.data.copy()
    with tg.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        loss.backward(retain_graph=True)
    message = str(info.value)
    assert "backward of sqrt" in message and "produced NaN" in message
    assert HERE in message and "root = x.sqrt()" in message
    np.testing.assert_array_equal(x.grad.data, x_grad)
    np.testing.assert_array_equal(w.grad.data, w_grad)
    loss.backward()  # the graph survived the failed call
    np.testing.assert_array_equal(w.grad.data, 2 * w_grad)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_detect_anomaly_is_off_outside_the_block():
    with tg.detect_anomaly():
        pass
    assert np.isnan(tg.sqrt(tg.tensor([-1.0])).data).all()


class WrongSquare(autograd.Function):
    """x * x with the factor 2 forgotten in backward: gradcheck must notice."""

    name = "wrong_square"

    def forward(self, x):
        return x * x

    def backward(self, g, out, x):
        return (g * x,)


class RightSquare(WrongSquare):
    name = "right_square"

    def backward(self, g, out, x):
        return (2 * g * x,)


def test_gradcheck_passes_on_correct_functions():
    rng = np.random.default_rng(23)
    x = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w = tg.tensor(rng.standard_normal((2, 4)), requires_grad=True, dtype=np.float32)
    assert tg.gradcheck(lambda t: (t.tanh() * t).sum(axis=0), [x])
    assert tg.gradcheck(lambda t, u: tg.linear(t, u).softmax(), [x, w])
    assert tg.gradcheck(lambda t: RightSquare.apply(t), x)
    assert tg.gradcheck(
        lambda t, i: ops.CrossEntropy.apply(t, classes=i.data, reduction="none"),
        [x, tg.tensor([0, 3, 3])],
    )
    assert tg.gradcheck(lambda t, i: t[i], [x, tg.tensor([2, 0, 2])])
    assert w.dtype == np.float32 and w.grad is None and x.grad is None


def test_gradcheck_names_the_worst_entry_of_a_wrong_gradient():
    x = tg.tensor([0.5, -3.0, 1.0], requires_grad=True, dtype=np.float64)
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda t: WrongSquare.apply(t).sum(), [x])
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    assert "input 0 entry (1,)" in message
    assert re.search(r"analytic -3\b.*numerical -6\b", message), message
    assert tg.gradcheck(lambda t: WrongSquare.apply(t), [x], raise_exception=False) is False
    np.testing.assert_array_equal(x.data, [0.5, -3.0, 1.0])


# ---------------------------------------------------------------------------------------------
# 5. Bad input: a clear error, and nothing changed


def test_matmul_mismatch_message():
    with pytest.raises(ValueError) as info:
        tg.randn(32, 3) @ tg.randn(4, 16)
    assert str(info.value) == "matmul: (32, 3) @ (4, 16): inner dimensions 3 and 4 differ"
    with pytest.raises(ValueError, match=re.escape("(3,) @ (4,): inner dimensions 3 and 4")):
        tg.matmul(tg.ones(3), tg.ones(4))
    with pytest.raises(ValueError, match=r"matmul: \(2, 3, 4\) @ \(3, 4, 5\).*batch"):
        tg.ones(2, 3, 4) @ tg.ones(3, 4, 5)


@pytest.mark.parametrize(
    "name, fn",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("pow", lambda a, b: a**b),
        ("maximum", tg.maximum),
        ("minimum", tg.minimum),
        ("where", lambda a, b: tg.where(tg.ones(2, 3) > 0, a, b)),
        ("less", lambda a, b: a < b),
    ],
)
def test_broadcasting_failures_name_the_operation_and_both_shapes(name, fn):
    a, b = tg.ones(2, 3, requires_grad=True), tg.ones(4, requires_grad=True)
    with pytest.raises(ValueError) as info:
        fn(a, b)
    message = str(info.value)
    assert name in message and "(2, 3)" in message and "(4,)" in message
    assert a.grad is None and b.grad is None


def test_other_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"linear: input \(5, 3\) has 3 features.*\(4, 2\)"):
        tg.linear(tg.ones(5, 3), tg.ones(4, 2))
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4, 2\)"):
        tg.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match=r"cross_entropy.*\(3, 4\).*\(3, 5\)"):
        ops.CrossEntropy.apply(tg.ones(3, 5), tg.ones(3, 4))


def test_backward_of_a_non_scalar_needs_a_gradient():
    x = leaf(np.ones((2, 3)))
    y = x * 2
    with pytest.raises(RuntimeError, match=re.escape("(2, 3)")):
        y.backward()
    assert x.grad is None
    y.backward(gradient=np.ones((2, 3)))  # the graph is intact
    np.testing.assert_array_equal(x.grad.data, np.full((2, 3), 2.0))


def test_backward_of_a_tensor_that_needs_no_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.ones(2).sum().backward()


def test_a_failed_forward_changes_nothing():
    x, w = leaf(np.ones((32, 3))), leaf(np.ones((4, 16)))
    hidden = x * 2.0
    node, parents = hidden.grad_fn, list(hidden.grad_fn.parents)
    with pytest.raises(ValueError):
        hidden @ w
    with pytest.raises(IndexError):
        hidden[40]
    assert x.grad is None and w.grad is None
    assert hidden.grad_fn is node and list(node.parents) == parents
    np.testing.assert_array_equal(x.data, np.ones((32, 3)))
    hidden.sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.full((32, 3), 2.0))


def test_a_wrong_shaped_gradient_changes_nothing():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    y.backward(gradient=np.ones(3), retain_graph=True)
    before = x.grad.data.copy()
    with pytest.raises(RuntimeError, match=r"\(2,\).*\(3,\)"):
        y.backward(gradient=np.ones(2))
    np.testing.assert_array_equal(x.grad.data, before)
    y.backward(gradient=np.ones(3))
    np.testing.assert_array_equal(x.grad.data, 2 * before)


class Flaky(autograd.Function):
    """Doubles its input; its backward fails while ``fail`` is set."""

    name = "flaky"
    fail = True

    def forward(self, x):
        return 2 * x

    def backward(self, g, out, x):
        if Flaky.fail:
            raise ValueError("flaky backward")
        return (2 * g,)


def test_a_backward_that_raises_changes_nothing():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    loss = (Flaky.apply(x) * w).sum() + (w * w).sum()
    try:
        with pytest.raises(ValueError, match="flaky backward"):
            loss.backward()
        assert x.grad is None and w.grad is None  # w's part was ready but not written
        Flaky.fail = False
        loss.backward()
    finally:
        Flaky.fail = True
    np.testing.assert_array_equal(x.grad.data, [6.0, 8.0])
    np.testing.assert_array_equal(w.grad.data, [2.0 + 6.0, 4.0 + 8.0])


# ---------------------------------------------------------------------------------------------
# 6. The hot path


def test_no_unbroadcast_reduction_when_shapes_match(monkeypatch):
    calls = []
    real = backward_module.unbroadcast

    def counting(g, shape):
        calls.append(shape)
        return real(g, shape)

    monkeypatch.setattr(backward_module, "unbroadcast", counting)
    rng = np.random.default_rng(24)
    x = tg.tensor(rng.standard_normal((8, 3)), requires_grad=True)
    w1, b1 = leaf(rng.standard_normal((5, 3))), leaf(rng.standard_normal(5))
    w2, b2 = leaf(rng.standard_normal((4, 5))), leaf(rng.standard_normal(4))
    hidden = tg.linear(x, w1, b1).tanh() * tg.linear(x, w1).sigmoid() - x.sum() / 3
    logits = tg.linear(hidden.relu() + hidden.exp().mean(), w2, b2)
    ops.CrossEntropy.apply(logits, classes=np.arange(8) % 4).backward()
    assert calls == [(), ()]  # only the two 0-d terms were really broadcast
    assert w1.grad.shape == (5, 3) and b2.grad.shape == (4,)
    calls.clear()
    (x * b2[:3]).sum().backward()  # the counter does see a real broadcast
    assert calls == [(3,)]


def test_fused_cross_entropy_is_one_node():
    logits = leaf(np.zeros((3, 4)))
    loss = ops.CrossEntropy.apply(logits, classes=np.array([0, 1, 2]))
    assert isinstance(loss.grad_fn, ops.CrossEntropy)
    assert list(loss.grad_fn.parents) == [logits]
    loss.backward()
    np.testing.assert_allclose(loss.item(), np.log(4))
    expected = (np.full((3, 4), 0.25) - np.eye(4)[:3]) / 3
    np.testing.assert_allclose(logits.grad.data, expected)


def test_numerical_grad_helper_is_right():
    """The finite-difference helper the op tests rely on, against a known derivative."""
    xv = np.array([0.3, -1.2])
    upstream = np.array([1.0, 2.0])
    np.testing.assert_allclose(
        numerical_grad(np.sin, [xv], 0, upstream), np.cos(xv) * upstream, rtol=1e-8
    )


# -- dtype rules for integer operands and NumPy arrays (as PyTorch) ------------------------------


def test_integer_tensors_beside_float32_stay_float32():
    x = tg.ones(3, requires_grad=True)
    assert (x + tg.arange(3)).dtype == np.float32
    assert tg.cat([x, tg.arange(2)]).dtype == np.float32
    assert (tg.arange(5) * 0.1).dtype == np.float32
    assert (tg.tensor([1, 2]) / tg.tensor([1, 2])).dtype == np.float32
    for method in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus"):
        assert getattr(tg.tensor([1, 2]), method)().dtype == np.float32, method
    assert tg.tensor([1, 2]).mean().dtype == np.float32
    assert (tg.arange(3) + 1).dtype == np.int64  # integer arithmetic stays integer
    (x * tg.arange(3)).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [0.0, 1.0, 2.0]


def test_a_float64_numpy_batch_follows_a_float32_model():
    from tinygrad_mlp import nn

    model = nn.MLP([2, 4, 2])
    batch = np.random.default_rng(0).normal(size=(3, 2))  # NumPy's default: float64
    out = model(batch)
    assert out.dtype == np.float32
    expected = model(tg.tensor(batch.astype(np.float32)))
    np.testing.assert_array_equal(out.data, expected.data)
    # A float64 Tensor (not a bare array) still promotes, as in NumPy and PyTorch.
    assert (tg.ones(2) * tg.tensor(np.ones(2))).dtype == np.float64


def test_tensor_copies_its_array_and_from_numpy_shares_it():
    a = np.ones(2, np.float32)
    t = tg.tensor(a, requires_grad=True)
    t.data -= 1.0
    assert a.tolist() == [1.0, 1.0]  # the user's array is not changed by updates
    shared = tg.from_numpy(a)
    a[0] = 7.0
    assert shared.tolist() == [7.0, 1.0] and shared.dtype == np.float32
    with pytest.raises(TypeError, match=r"np\.ndarray"):
        tg.from_numpy([1.0])
    with pytest.raises(TypeError, match="int64"):
        tg.from_numpy(np.arange(2), requires_grad=True)


def test_assigned_grad_must_be_a_tensor_of_the_same_shape():
    x = tg.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="Tensor or None"):
        x.grad = np.ones(2)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        x.grad = tg.ones(3)
    assert x.grad is None
    x.grad = tg.ones(2)
    assert x.grad.tolist() == [1.0, 1.0]


def test_data_assignment_converts_like_the_constructor():
    x = tg.zeros(2)
    x.data = [5.0, 6.0]
    assert x.dtype == np.float32 and x.tolist() == [5.0, 6.0]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: tg.ones(2, 3).flatten(1, 0), "flatten: start_dim 1 comes after end_dim 0"),
        (lambda: tg.ones(2, 3, 4).transpose(0, 1, 5), "not a permutation"),
        (lambda: tg.ones(2, 3, 4).transpose(0, 1, -4), "not a permutation"),
        (lambda: tg.ones(4).reshape(2.5), "must be integers"),
        (lambda: tg.ones(3).max(axis=1), "axis 1 is out of range"),
        (lambda: tg.zeros(0).max(), r"^max: cannot reduce over an empty axis \(shape \(0,\)\)$"),
        (lambda: tg.ones(3).clip(), "^clip: give at least one"),
    ],
)
def test_bad_shape_arguments_are_refused_once_and_clearly(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_zero_dim_tensors_accept_axis_zero_and_minus_one_as_pytorch():
    t = tg.tensor(3.0, requires_grad=True)
    for reduce in ("sum", "mean", "max", "min", "logsumexp"):
        for axis in (0, -1):
            assert getattr(t, reduce)(axis).shape == ()
    assert t.squeeze(0).shape == ()
    t.sum(0).backward()
    assert t.grad.item() == 1.0


def test_empty_tensors_reduce_as_pytorch():
    from tinygrad_mlp import nn

    assert tg.zeros(0, 3).max(1).shape == (0,)
    with pytest.raises(ValueError, match="empty axis"):
        tg.zeros(3, 0).max(1)
    with np.errstate(all="raise"):
        assert tg.zeros(0).logsumexp().item() == -np.inf
        assert tg.tensor([-np.inf, -np.inf]).logsumexp().item() == -np.inf
    loss = nn.CrossEntropyLoss()(tg.zeros(0, 3), np.zeros(0, dtype=np.int64))
    assert np.isnan(loss.item())


def test_full_takes_its_dtype_from_the_value_as_pytorch():
    assert tg.full((2,), 3).dtype == np.int64
    assert tg.full((2,), 3.0).dtype == np.float32
    assert tg.full((2,), True).dtype == np.bool_
    assert tg.full((2,), 3, dtype=np.float64).dtype == np.float64


def test_an_interrupt_anywhere_in_backward_leaves_grad_mode_on():
    # Backward no longer switches grad mode (its rules run on arrays), so no KeyboardInterrupt,
    # wherever it lands, can leave the thread in no_grad (found by interrupting fit line by line).
    import signal

    def run(at_line):
        count = 0

        def tracer(frame, event, arg):
            nonlocal count
            if not frame.f_globals.get("__name__", "").startswith("tinygrad_mlp"):
                return None
            if event == "line":
                count += 1
                if count == at_line:
                    signal.raise_signal(signal.SIGINT)
            return tracer

        x = leaf([0.5, -1.0])
        loss = (x.tanh() * x).sum()
        sys.settrace(tracer)
        try:
            loss.backward()
        except KeyboardInterrupt:
            pass
        finally:
            sys.settrace(None)
        return count

    lines = run(None)
    assert lines > 20
    for at_line in range(1, lines + 1):
        run(at_line)
        assert tg.is_grad_enabled(), f"grad mode left off by an interrupt at line {at_line}"
