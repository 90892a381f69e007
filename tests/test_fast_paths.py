"""Every path taken for speed gives what the plain path gives.

The plain path is the same mathematics written with the engine's ordinary operations (or an
ordinary memory layout). In float64 the two agree to a few units of round-off (rtol 1e-12);
in float32, the dtype the benchmarks train in, to float32 round-off (rtol 1e-5, atol 1e-7).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp import nn
from tinygrad_mlp.engine import ops
from tinygrad_mlp.nn import functional as F

TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-5, atol=1e-7)}
DTYPES = [np.float64, np.float32]


def _grads(fn, *arrays, dtype):
    """fn(*tensors) and the gradients of its sum with respect to every input."""
    tensors = [tg.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.sum().backward()
    return out.numpy(), [t.grad.numpy() for t in tensors]


def _assert_same(fast, plain, dtype):
    (fast_out, fast_grads), (plain_out, plain_grads) = fast, plain
    np.testing.assert_allclose(fast_out, plain_out, **TOLERANCE[dtype])
    for f, p in zip(fast_grads, plain_grads):
        assert f.dtype == p.dtype == dtype
        np.testing.assert_allclose(f, p, **TOLERANCE[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_fused_mse_equals_the_composite(dtype, reduction, rows, cols, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((2, rows, cols))

    def plain(a, b):
        squares = (a - b) * (a - b)
        return {"mean": squares.mean(), "sum": squares.sum(), "none": squares}[reduction]

    _assert_same(_grads(lambda a, b: F.mse_loss(a, b, reduction), x, y, dtype=dtype),
                 _grads(plain, x, y, dtype=dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("classes", [3, 10, 64, 65, 200])  # both sides of the column-major cut
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_fused_cross_entropy_equals_log_softmax_and_a_pick(dtype, classes, reduction):
    rng = np.random.default_rng(classes)
    logits = rng.standard_normal((17, classes)) * 3
    target = rng.integers(0, classes, 17)

    def plain(z):
        picked = z.log_softmax(axis=-1)[np.arange(17), target]
        losses = -picked
        return {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]

    fast = _grads(lambda z: F.cross_entropy(z, target, reduction), logits, dtype=dtype)
    _assert_same(fast, _grads(plain, logits, dtype=dtype), dtype)


def test_cross_entropy_takes_row_major_or_column_major_logits_alike():
    logits = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32)
    target = np.arange(8) % 5
    c, f = (F.cross_entropy(tg.tensor(a), target).item()
            for a in (np.ascontiguousarray(logits), np.asfortranarray(logits)))
    assert c == f


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch_shape", [(7,), (3, 4), ()])
def test_linear_with_a_column_major_weight_equals_a_row_major_one(dtype, batch_shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((*batch_shape, 6))
    w = rng.standard_normal((4, 6))
    b = rng.standard_normal(4)

    def with_layout(order):
        def fn(x_, w_, b_):
            w_._data = np.asarray(w_._data, order=order)
            return tg.linear(x_, w_, b_)
        return fn

    fast = _grads(with_layout("F"), x, w, b, dtype=dtype)
    plain = _grads(with_layout("C"), x, w, b, dtype=dtype)
    _assert_same(fast, plain, dtype)
    # and both equal the composite x @ w.T + b
    _assert_same(fast, _grads(lambda x_, w_, b_: x_ @ w_.T + b_, x, w, b, dtype=dtype), dtype)


@pytest.mark.parametrize("sizes,column_major", [((5, 3), False), ((64, 64), True)])
def test_nn_linear_picks_a_layout_by_size_and_its_gradient_follows(sizes, column_major):
    layer = nn.Linear(*sizes)
    assert layer.weight.data.flags.f_contiguous == column_major
    assert layer.weight.data.flags.c_contiguous != column_major
    layer(tg.ones(4, sizes[0])).sum().backward()
    assert layer.weight.grad.data.flags.f_contiguous == column_major
    # a copy made by the state dict and loaded back keeps the layout and the values
    other = nn.Linear(*sizes)
    other.load_state_dict(layer.state_dict())
    assert other.weight.data.flags.f_contiguous == column_major
    np.testing.assert_array_equal(other.weight.data, layer.weight.data)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("rows", [1, 2, 31, 512])
def test_bias_gradient_as_a_ones_product_equals_the_column_sum(dtype, rows):
    g = np.random.default_rng(rows).standard_normal((rows, 7)).astype(dtype)
    np.testing.assert_allclose(ops.column_sums(g), g.sum(axis=0), **TOLERANCE[dtype])
    assert ops.column_sums(g).dtype == dtype
    # the cached row of ones cannot be changed by anyone
    with pytest.raises(ValueError):
        ops.ones_row(rows, np.dtype(dtype))[0] = 2
