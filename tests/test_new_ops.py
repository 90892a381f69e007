"""The operations added for issues 13 and 14, against PyTorch in float64 and finite differences.

Each case runs the same computation in both engines on the same float64 values with the same
random upstream gradient, and compares values, first gradients and (through
``create_graph=True``) second derivatives along a random direction. Finite differences of our
own forward back up the gradients where PyTorch has no twin (NumPy-only semantics).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import FAST, numerical_grad, seeds, shapes, spaced_values
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp.engine import ops

torch = pytest.importorskip("torch")


def against_torch(ours, theirs, arrays, seed=0, second=True, rtol=1e-10, atol=1e-12):
    """``ours`` on Tensors and ``theirs`` on torch tensors: values, gradients and second
    derivatives (a Hessian-vector product through create_graph) must agree."""
    rng = np.random.default_rng(seed)
    mine = [tg.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    ref = [torch.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    out, expected = ours(*mine), theirs(*ref)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol)
    up = rng.standard_normal(out.shape)
    grads = tg.grad((out * up).sum(), mine, create_graph=second, allow_unused=True)
    ref_grads = torch.autograd.grad((expected * torch.tensor(up)).sum(), ref,
                                    create_graph=second, allow_unused=True)
    for i, (g, r) in enumerate(zip(grads, ref_grads)):
        r = np.zeros(arrays[i].shape) if r is None else r.detach().numpy()
        g = np.zeros(arrays[i].shape) if g is None else g.data
        np.testing.assert_allclose(g, r, rtol=1e-9, atol=1e-10, err_msg=f"gradient {i}")
    if not second:
        return out
    directions = [rng.standard_normal(np.shape(a)) for a in arrays]
    used = [g for g in grads if g is not None and g.requires_grad]
    if not used:
        return out
    total = sum((g * d).sum() for g, d in zip(grads, directions) if g is not None)
    mine_h = tg.grad(total, mine, allow_unused=True)
    ref_total = sum((r * torch.tensor(d)).sum() for r, d in zip(ref_grads, directions)
                    if r is not None and r.requires_grad)
    ref_h = torch.autograd.grad(ref_total, ref, allow_unused=True)
    for i, (h, r) in enumerate(zip(mine_h, ref_h)):
        r = np.zeros(arrays[i].shape) if r is None else r.numpy()
        h = np.zeros(arrays[i].shape) if h is None else h.data
        np.testing.assert_allclose(h, r, rtol=1e-8, atol=1e-9, err_msg=f"second derivative {i}")
    return out


UNARY = {
    "erf": (lambda t: t.erf(), torch.erf, lambda r, s: r.standard_normal(s) * 2),
    "expm1": (lambda t: t.expm1(), torch.expm1, lambda r, s: r.standard_normal(s)),
    "log1p": (lambda t: t.log1p(), torch.log1p, lambda r, s: r.uniform(-0.9, 3, s)),
    "square": (lambda t: t.square(), torch.square, lambda r, s: r.standard_normal(s)),
    "sign": (lambda t: t.sign(), torch.sign, lambda r, s: r.standard_normal(s)),
    "clone": (lambda t: t.clone() * 2, lambda t: t.clone() * 2, lambda r, s: r.standard_normal(s)),
    "nan_to_num": (lambda t: t.nan_to_num(), torch.nan_to_num, lambda r, s: r.standard_normal(s)),
}


@pytest.mark.parametrize("name", UNARY)
@FAST
@given(shape=shapes(0, 3, 4), seed=seeds)
def test_new_unary_operation_matches_pytorch(name, shape, seed):
    ours, theirs, sample = UNARY[name]
    against_torch(ours, theirs, [sample(np.random.default_rng(seed), shape)], seed=seed)


@pytest.mark.parametrize("name", ["erf", "expm1", "log1p", "square"])
def test_new_unary_operations_are_methods_functions_and_numpy_ufuncs(name):
    x = tg.tensor(np.linspace(-0.5, 0.5, 5))
    by_method = getattr(x, name)().data
    np.testing.assert_array_equal(getattr(tg, name)(x).data, by_method)
    if name != "erf":  # NumPy has no erf
        np.testing.assert_array_equal(getattr(np, name)(x).data, by_method)


def test_erf_is_float64_accurate_everywhere_and_keeps_float32():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(20000) * 3, rng.uniform(-7, 7, 20000),
                        np.linspace(-6, 6, 2001), [0.0, -0.0, 0.46875, -0.46875, 4.0, -4.0,
                                                   27.0, 1e300, -1e300, 1e-300, 5e-324]])
    ours = tg.erf(tg.tensor(x)).data
    exact = np.array([math.erf(v) for v in x])
    ulps = np.abs(ours - exact) / np.spacing(np.abs(exact) + np.finfo(float).tiny)
    assert ulps.max() <= 4, (x[np.argmax(ulps)], ulps.max())
    np.testing.assert_allclose(ours, torch.erf(torch.tensor(x)).numpy(), rtol=5e-16, atol=0)
    special = tg.erf(tg.tensor(np.array([np.inf, -np.inf, np.nan]))).data
    assert special[0] == 1 and special[1] == -1 and np.isnan(special[2])
    assert tg.erf(tg.tensor([0.5])).dtype == np.float32


def test_sign_has_a_zero_gradient_not_none():
    x = tg.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    y = x.sign()
    assert y.requires_grad
    (y * 5).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


# ---------------------------------------------------------------------------------------------
# Reductions


REDUCTIONS = {  # name -> ours, PyTorch's, the degrees of freedom it takes off (or None)
    "std": (lambda t, a: t.std(axis=a), lambda t, a: t.std(dim=a, correction=0), 0),
    "std ddof=1": (lambda t, a: t.std(axis=a, ddof=1), lambda t, a: t.std(dim=a), 1),
    "std dim= is unbiased": (lambda t, a: t.std(dim=a), lambda t, a: t.std(dim=a), 1),
    "std correction=2": (lambda t, a: t.std(dim=a, correction=2, keepdim=True),
                         lambda t, a: t.std(dim=a, correction=2, keepdim=True), 2),
    "var dim= is unbiased": (lambda t, a: t.var(dim=a), lambda t, a: t.var(dim=a), 1),
    "prod": (lambda t, a: t.prod(axis=a), lambda t, a: torch.prod(t, dim=a), None),
    "amax": (lambda t, a: t.amax(axis=a), lambda t, a: torch.amax(t, dim=a), None),
    "amin keepdim": (lambda t, a: t.amin(dim=a, keepdim=True),
                     lambda t, a: torch.amin(t, dim=a, keepdim=True), None),
    "logsumexp dim": (lambda t, a: t.logsumexp(dim=a), lambda t, a: torch.logsumexp(t, dim=a),
                      None),
    **{f"norm p={p}": (lambda t, a, p=p: t.norm(p, dim=a),
                       lambda t, a, p=p: torch.linalg.vector_norm(t, p, dim=a), None)
       for p in (2, 1, 3, 0.5, np.inf, -np.inf, 0)},
}


@st.composite
def reduction_case(draw):
    shape = draw(shapes(1, 3, 4))
    ndim = len(shape)
    axis = draw(st.integers(-ndim, ndim - 1) | st.sets(
        st.integers(0, ndim - 1), min_size=1).map(tuple))
    return shape, axis


@pytest.mark.parametrize("name", REDUCTIONS)
@FAST
@given(case=reduction_case(), seed=seeds)
def test_reduction_matches_pytorch(name, case, seed):
    shape, axis = case
    ours, theirs, correction = REDUCTIONS[name]
    if name == "prod" and isinstance(axis, tuple):  # torch.prod takes one dim
        axis = axis[0]
    count = np.prod([shape[a] for a in ((axis,) if isinstance(axis, int) else axis)])
    if correction is not None and count <= correction:
        return  # no degrees of freedom left: NaN, tested in test_ops.py
    (x,) = spaced_values(np.random.default_rng(seed), shape)
    against_torch(lambda t: ours(t, axis), lambda t: theirs(t, axis), [x], seed=seed)


@pytest.mark.parametrize("zeros", [1, 2, 3])
def test_prod_gradients_with_zeros_are_exact(zeros):
    x = np.array([[2.0, -3.0, 0.5, 4.0], [1.5, 2.5, -1.0, 3.0]])
    x[0, :zeros] = 0.0
    against_torch(lambda t: t.prod(dim=1), lambda t: t.prod(dim=1), [x])
    against_torch(lambda t: t.prod(), lambda t: t.prod(), [x])


def test_norm_and_std_at_zero_have_pytorchs_zero_gradient():
    zero = np.zeros((2, 3))
    against_torch(lambda t: t.norm(dim=1), lambda t: torch.linalg.vector_norm(t, dim=1), [zero],
                  second=False)
    against_torch(lambda t: t.std(dim=1), lambda t: t.std(dim=1), [zero], second=False)
    against_torch(lambda t: t.norm(3), lambda t: torch.linalg.vector_norm(t, 3), [zero],
                  second=False)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_max_and_min_with_dim_return_values_and_indices_as_torch(name, keepdim, dim):
    x = spaced_values(np.random.default_rng(4), (3, 4))[0]
    x[1, 2] = x[1, 0] = np.max(x) + 1  # a tie: the gradient goes to the index picked only
    result = getattr(tg.tensor(x), name)(dim=dim, keepdim=keepdim)
    expected = getattr(torch.tensor(x), name)(dim=dim, keepdim=keepdim)
    values, indices = result
    assert result.values is values and result.indices is indices
    np.testing.assert_array_equal(indices.data, expected.indices.numpy())
    assert indices.dtype == np.int64
    against_torch(lambda t: getattr(t, name)(dim=dim, keepdim=keepdim)[0],
                  lambda t: getattr(t, name)(dim=dim, keepdim=keepdim)[0], [x])


def test_max_with_axis_keeps_numpys_values_and_amax_shares_ties():
    x = tg.tensor([[1.0, 3.0, 3.0]], requires_grad=True)
    assert x.max(axis=1).tolist() == [3.0] and x.max(1).tolist() == [3.0]
    x.amax(dim=1).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5]]
    assert tg.max(x, dim=1).indices.tolist() == [1]
    zero_d = tg.tensor(2.0).max(dim=0)
    assert zero_d.values.item() == 2.0 and zero_d.indices.item() == 0


# ---------------------------------------------------------------------------------------------
# Clip with tensor and broadcasting bounds, leaky_relu's slope


@st.composite
def clip_case(draw):
    shape = draw(shapes(0, 3, 3))
    low_shape = tuple(draw(st.sampled_from([1, n])) for n in shape[len(shape) - draw(
        st.integers(0, len(shape))):])
    high_shape = draw(st.sampled_from([(), low_shape]))
    return shape, low_shape, high_shape


@FAST
@given(case=clip_case(), seed=seeds)
def test_clip_with_tensor_bounds_that_broadcast_matches_pytorch(case, seed):
    shape, low_shape, high_shape = case
    x, low = spaced_values(np.random.default_rng(seed), shape, low_shape)
    high = low + np.abs(spaced_values(np.random.default_rng(seed + 1), high_shape)[0]) + 0.5
    against_torch(lambda t, lo, hi: t.clip(lo, hi), lambda t, lo, hi: torch.clamp(t, lo, hi),
                  [x, low - 0.5, high], seed=seed)


@pytest.mark.parametrize("bounds", [
    (np.zeros((2, 1)), None), (None, np.ones((2, 3))), (np.full((2, 1), -1.0), np.ones((4, 1, 3))),
], ids=["low grows it", "high grows it", "both grow it"])
def test_clip_bounds_that_broadcast_the_output_larger(bounds):
    # PyTorch's own clamp backward fails here, so finite differences of np.clip are the truth.
    x = np.array([-2.0, 0.5, 3.0])
    given = [b for b in bounds if b is not None]
    tensors = [tg.tensor(a, requires_grad=True) for a in [x, *given]]
    low, high = bounds
    it = iter(tensors[1:])
    out = tg.clip(tensors[0], next(it) if low is not None else None,
                  next(it) if high is not None else None)

    def plain(x, *b):
        it = iter(b)
        return np.clip(x, next(it) if low is not None else None,
                       next(it) if high is not None else None)

    np.testing.assert_array_equal(out.data, plain(x, *given))
    up = np.random.default_rng(9).standard_normal(out.shape)
    out.backward(gradient=up)
    for i, t in enumerate(tensors):
        np.testing.assert_allclose(t.grad.data, numerical_grad(plain, [x, *given], i, up),
                                   atol=1e-8)


def test_clip_with_crossed_bounds_gives_the_upper_one_and_its_gradient():
    x = tg.tensor(np.array([0.0, 5.0, 10.0]), requires_grad=True)
    lo = tg.tensor(np.array([6.0, 6.0, 6.0]), requires_grad=True)
    hi = tg.tensor(np.array([4.0, 4.0, 4.0]), requires_grad=True)
    out = x.clip(lo, hi)
    assert out.tolist() == [4.0, 4.0, 4.0] == np.clip(x.data, lo.data, hi.data).tolist()
    out.sum().backward()
    assert x.grad.tolist() == [0, 0, 0] and lo.grad.tolist() == [0, 0, 0]
    assert hi.grad.tolist() == [1, 1, 1]


@pytest.mark.parametrize("slope", ["x", tg.tensor(0.1), np.array([0.1]), None, True])
def test_leaky_relu_refuses_a_slope_that_is_not_a_number_up_front(slope):
    a = tg.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a number"):
        a.leaky_relu(slope)
    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a number"):
        tg.leaky_relu(a, slope)


def test_leaky_relu_takes_numpy_numbers():
    a = tg.tensor([-1.0, 2.0])
    assert a.leaky_relu(np.float64(0.5)).tolist() == [-0.5, 2.0]


# ---------------------------------------------------------------------------------------------
# Shapes: expand, broadcast_to, permute, transpose, reshape, indexing, cat


def test_expand_and_broadcast_to_match_pytorch():
    x = np.random.default_rng(5).standard_normal((3, 1))
    against_torch(lambda t: t.expand(2, 3, 4), lambda t: t.expand(2, 3, 4), [x])
    against_torch(lambda t: t.expand(-1, 5), lambda t: t.expand(-1, 5), [x])
    against_torch(lambda t: t.broadcast_to((2, 3, 4)), lambda t: t.broadcast_to((2, 3, 4)), [x])
    against_torch(lambda t: tg.broadcast_to(t, (3, 2)), lambda t: torch.broadcast_to(t, (3, 2)),
                  [x])
    with pytest.raises(ValueError, match=r"expand: a tensor of shape \(3, 1\) cannot be"):
        tg.tensor(x).expand(4, 4)
    with pytest.raises(ValueError, match="broadcast_to"):
        tg.tensor(x).broadcast_to((3,))


@FAST
@given(shape=shapes(0, 4, 3), data=st.data(), seed=seeds)
def test_permute_matches_pytorch(shape, data, seed):
    perm = data.draw(st.permutations(range(len(shape))))
    (x,) = spaced_values(np.random.default_rng(seed), shape)
    if perm:  # PyTorch's permute() needs at least one argument
        against_torch(lambda t: t.permute(*perm), lambda t: t.permute(*perm), [x], second=False)
    against_torch(lambda t: t.permute(tuple(perm)), lambda t: t.permute(tuple(perm)), [x],
                  second=False)


def test_transpose_of_one_tuple_is_numpys_permutation_never_pytorchs_swap():
    assert tg.zeros(2, 3).transpose((0, 1)).shape == (2, 3)
    assert tg.zeros(2, 3).transpose([1, 0]).shape == (3, 2)
    assert tg.zeros(2, 3, 4).transpose((2, 0, 1)).shape == (4, 2, 3)
    assert tg.zeros(2, 3, 4).transpose(0, 2).shape == (4, 3, 2)  # two ints: PyTorch's swap
    assert tg.zeros(2, 3, 4).transpose(None).shape == (4, 3, 2)
    assert tg.zeros(2, 3, 4).transpose().shape == (4, 3, 2)
    assert tg.zeros(3).transpose(0).shape == (3,)
    with pytest.raises(ValueError, match=r"transpose: \(0, 1\) is not a permutation of the 3"):
        tg.zeros(2, 3, 4).transpose((0, 1))


def test_reshape_takes_shape_as_keyword_and_refuses_other_negative_sizes():
    x = tg.arange(6)
    assert x.reshape(shape=(2, 3)).shape == (2, 3) == x.view(shape=[2, 3]).shape
    for bad in ((-2, 3), (-1, -1), (2, -3)):
        with pytest.raises(ValueError, match=r"reshape: invalid shape"):
            x.reshape(*bad)
    with pytest.raises(TypeError, match="give the shape once"):
        x.reshape(2, 3, shape=(2, 3))


def test_indexing_with_an_empty_list_picks_nothing():
    x = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for index in ([], ([],), (slice(None), [])):
        got = x[index]
        assert got.shape == np.arange(6.0).reshape(2, 3)[index].shape
        assert got.shape == tuple(torch.zeros(2, 3)[index].shape)
    x[[]].sum().backward()
    assert x.grad.tolist() == [[0.0] * 3] * 2


def test_cat_with_axis_none_joins_flattened_values_and_refuses_dim_none():
    a, b = np.arange(4.0).reshape(2, 2), np.arange(3.0)
    joined = tg.cat([tg.tensor(a, requires_grad=True), tg.tensor(b)], axis=None)
    np.testing.assert_array_equal(joined.data, np.concatenate([a, b], axis=None))
    joined.sum().backward()  # the backward works too (it failed in the old cat)
    with pytest.raises(TypeError, match="cat: dim=None is not allowed"):
        tg.cat([tg.tensor(a)], dim=None)
    with pytest.raises(TypeError, match="stack: dim=None is not allowed"):
        tg.stack([tg.tensor(a)], dim=None)
    with pytest.raises(TypeError, match="stack: axis must be an int"):
        tg.stack([tg.tensor(a)], axis=None)


def test_finite_differences_back_the_numpy_only_shapes():
    x = np.random.default_rng(6).standard_normal((2, 3))
    t = tg.tensor(x, requires_grad=True)
    out = tg.cat([t, t * 2], axis=None)
    up = np.random.default_rng(7).standard_normal(out.shape)
    out.backward(gradient=up)

    def plain(v):
        return np.concatenate([v, v * 2], axis=None)

    np.testing.assert_allclose(t.grad.data, numerical_grad(plain, [x], 0, up), rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# PyTorch's keywords beside NumPy's


KEYWORD_CALLS = {  # name -> call with dim=/keepdim=, call with axis=/keepdims=
    "sum": (lambda t: t.sum(dim=1, keepdim=True), lambda t: t.sum(axis=1, keepdims=True)),
    "mean": (lambda t: t.mean(dim=(0, 1)), lambda t: t.mean(axis=(0, 1))),
    "prod": (lambda t: t.prod(dim=0), lambda t: t.prod(axis=0)),
    "logsumexp": (lambda t: t.logsumexp(dim=1), lambda t: t.logsumexp(axis=1)),
    "amax": (lambda t: t.amax(dim=(0, 1)), lambda t: t.amax(axis=(0, 1))),
    "amin": (lambda t: t.amin(dim=0, keepdim=True), lambda t: t.amin(axis=0, keepdims=True)),
    "norm": (lambda t: t.norm(dim=1), lambda t: t.norm(axis=1)),
    "softmax": (lambda t: t.softmax(dim=0), lambda t: t.softmax(axis=0)),
    "log_softmax": (lambda t: t.log_softmax(dim=0), lambda t: t.log_softmax(axis=0)),
    "argmax": (lambda t: t.argmax(dim=1, keepdim=True), lambda t: t.argmax(axis=1, keepdims=True)),
    "argmin": (lambda t: t.argmin(dim=0), lambda t: t.argmin(axis=0)),
    "squeeze": (lambda t: t[:, :1].squeeze(dim=1), lambda t: t[:, :1].squeeze(axis=1)),
    "unsqueeze": (lambda t: t.unsqueeze(dim=0), lambda t: t.unsqueeze(axis=0)),
    "tg.sum": (lambda t: tg.sum(t, dim=0), lambda t: tg.sum(t, axis=0)),
    "tg.softmax": (lambda t: tg.softmax(t, dim=0), lambda t: tg.softmax(t, axis=0)),
    "tg.cat": (lambda t: tg.cat([t, t], dim=1), lambda t: tg.cat([t, t], axis=1)),
    "tg.stack": (lambda t: tg.stack([t, t], dim=2), lambda t: tg.stack([t, t], axis=2)),
    "tg.argmax": (lambda t: tg.argmax(t, dim=1), lambda t: tg.argmax(t, axis=1)),
    "all": (lambda t: (t > 0).all(dim=1), lambda t: (t > 0).all(axis=1)),
    "any": (lambda t: (t > 0).any(dim=0, keepdim=True), lambda t: (t > 0).any(0, True)),
}


@pytest.mark.parametrize("name", KEYWORD_CALLS)
def test_dim_and_keepdim_mean_axis_and_keepdims(name):
    by_torch_names, by_numpy_names = KEYWORD_CALLS[name]
    x = tg.tensor(spaced_values(np.random.default_rng(8), (3, 4))[0])
    np.testing.assert_array_equal(by_torch_names(x).data, by_numpy_names(x).data)


BOTH = [
    lambda t: t.sum(axis=0, dim=0), lambda t: t.sum(keepdims=True, keepdim=True),
    lambda t: t.sum(axis=None, dim=None), lambda t: t.mean(keepdims=False, keepdim=False),
    lambda t: t.max(axis=1, dim=1), lambda t: t.softmax(axis=-1, dim=-1),
    lambda t: t.argmax(axis=0, dim=0), lambda t: t.squeeze(axis=0, dim=0),
    lambda t: t.unsqueeze(0, dim=0), lambda t: tg.cat([t], axis=0, dim=0),
    lambda t: tg.stack([t], axis=0, dim=0), lambda t: t.var(ddof=1, correction=1),
    lambda t: tg.sum(t, axis=1, dim=1), lambda t: t.amax(axis=0, dim=0),
]


@pytest.mark.parametrize("call", BOTH)
def test_both_spellings_at_once_are_refused_even_with_equal_values(call):
    with pytest.raises(TypeError, match="got both"):
        call(tg.ones(2, 2))


@pytest.mark.parametrize("call, argument", [
    (lambda t: t.sum(axis=1.0), "axis"), (lambda t: t.mean(axis="0"), "axis"),
    (lambda t: t.max(dim=0.5), "dim"), (lambda t: t.softmax(axis=1.5), "axis"),
    (lambda t: t.argmax(axis="x"), "axis"), (lambda t: t.squeeze(axis=0.0), "axis"),
    (lambda t: t.unsqueeze(1.0), "axis"), (lambda t: tg.cat([t], axis="0"), "axis"),
    (lambda t: t.flatten(0.0), "start_dim"), (lambda t: t.transpose(0, 1.0), "dim1"),
    (lambda t: t.sum(axis=(0, 1.0)), "axis"), (lambda t: t.norm(p="x"), "p"),
    (lambda t: t.sum(axis=True), "axis"), (lambda t: t.var(ddof="1"), "ddof"),
])
def test_float_or_string_axes_are_refused_naming_the_operation_and_argument(call, argument):
    t = tg.ones(2, 3)
    with pytest.raises(TypeError, match=rf"^[a-z_.]+: {argument}"):
        call(t)


@pytest.mark.parametrize("other", [np.array(["a", "b"]), np.array([object(), object()]), "ab"])
def test_comparisons_refuse_string_and_object_operands(other):
    with pytest.raises(TypeError, match="cannot compare a tensor with"):
        tg.ones(2) == other  # noqa: B015


FINITE_DIFFERENCES = {  # each new operation on its own forward, by central differences
    "erf": (lambda t: t.erf(), [(3, 4)]),
    "expm1": (lambda t: t.expm1(), [(3,)]),
    "log1p": (lambda t: (t * t).log1p(), [(2, 3)]),
    "square": (lambda t: t.square(), [(2, 2)]),
    "std": (lambda t: t.std(dim=1), [(3, 4)]),
    "std ddof 0 keepdims": (lambda t: t.std(axis=0, keepdims=True), [(3, 4)]),
    "prod": (lambda t: t.prod(axis=(0, 2)), [(2, 3, 2)]),
    "norm": (lambda t: t.norm(), [(3, 4)]),
    "norm p=3": (lambda t: t.norm(3, dim=0), [(3, 4)]),
    "norm p=1": (lambda t: t.norm(1, dim=1, keepdim=True), [(3, 4)]),
    "amax": (lambda t: t.amax(dim=(0, 1)), [(3, 4)]),
    "max dim": (lambda t: t.max(dim=1).values, [(3, 4)]),
    "clip by tensors": (lambda t, lo, hi: t.clip(lo, hi), [(3, 4), (4,), (3, 1)]),
    "expand": (lambda t: t.expand(2, -1, 4), [(3, 1)]),
    "broadcast_to": (lambda t: t.broadcast_to((2, 3)), [(3,)]),
    "clone": (lambda t: t.clone() * t, [(3,)]),
    "nan_to_num": (lambda t: t.nan_to_num(), [(3,)]),
    "permute": (lambda t: t.permute(2, 0, 1), [(2, 3, 4)]),
    "transpose of a tuple": (lambda t: t.transpose((1, 2, 0)), [(2, 3, 4)]),
}


@pytest.mark.parametrize("name", FINITE_DIFFERENCES)
def test_new_operations_pass_finite_differences(name):
    fn, input_shapes = FINITE_DIFFERENCES[name]
    arrays = spaced_values(np.random.default_rng(10), *input_shapes)
    if name == "clip by tensors":
        arrays[2] = arrays[1] + 1.0 + np.abs(arrays[2])  # high above low everywhere
    tensors = [tg.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    up = np.random.default_rng(11).standard_normal(out.shape)
    out.backward(gradient=up)

    def plain(*values):
        with tg.no_grad():
            return fn(*[tg.tensor(v) for v in values]).data

    for i, t in enumerate(tensors):
        np.testing.assert_allclose(t.grad.data, numerical_grad(plain, arrays, i, up),
                                   rtol=1e-5, atol=1e-7, err_msg=f"input {i}")


def test_comparing_with_none_is_plainly_false_as_in_pytorch():
    t = tg.ones(2)
    assert (t == None) is False and (t != None) is True  # noqa: E711
    assert t not in [None]


def test_ops_module_names_what_others_read():
    assert ops.FEW_CLASSES == 64
