"""NumPy's own functions and ufuncs on Tensors, so that NumPy code written for arrays runs on
Tensors and is differentiated exactly.

``Tensor.__array_ufunc__`` and ``Tensor.__array_function__`` hand every NumPy call that
involves a Tensor to this module, which looks the NumPy function up in one of two tables and
runs the Tensor operation of the same name: ``np.exp(t)`` records what ``t.exp()`` records,
``np.dot(W, X) + b`` what ``W @ X + b`` records, ``1 / (1 + np.exp(-z))`` a div, an add and an
exp. Operands may be any mix of Tensors, arrays and numbers; the dtype rules are the Tensor's
(a float32 Tensor gives float32, beside float64 arrays too), and nothing is recorded under
``no_grad``.

- ``UFUNCS``: a ufunc to its operation (``np.multiply`` -> ``Mul``). The operators with an
  array on the left come this way too (``ndarray * Tensor`` is ``np.multiply(ndarray, t)``).
- ``FUNCTIONS``: a NumPy function to the Tensor version with NumPy's signature and meaning.
  Methods follow PyTorch, NumPy's functions follow NumPy: ``np.transpose(t, axes)`` is NumPy's
  permutation, ``np.squeeze(t, 1)`` refuses an axis whose size is not 1, ``np.max`` returns
  values only, ``np.linalg.norm`` of a matrix with ``ord=1`` is the largest column sum.

A NumPy function in neither table raises ``TypeError`` naming it: a NumPy call on a Tensor
never returns a plain array that silently drops the graph (``np.asarray(t)``, ``np.array(t)``
and ``t.numpy()`` leave the graph on purpose). A call whose ``out=`` is a plain array computes
plain values into it, as NumPy would (``p.data += -lr * p.grad``, micrograd's update); one
whose ``out=`` is a Tensor changes that Tensor in place, with the rules of ``t += x``.

>>> import numpy as np, tinygrad_mlp as tg
>>> z = tg.tensor([-1.0, 2.0], requires_grad=True)
>>> a = 1 / (1 + np.exp(-z))          # a Tensor: div, add, exp and neg recorded
>>> np.sum(np.maximum(0, z) * a).backward()
>>> [round(g, 4) for g in z.grad.tolist()]
[0.0, 1.0908]
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import inplace, ops
from .tensor import Tensor

# ---------------------------------------------------------------------------------------------
# Ufuncs: np.exp(t), ndarray * t, np.maximum(0, z)

UFUNCS: dict[np.ufunc, Callable[..., Any]] = {
    np.add: ops.Add.apply,
    np.subtract: ops.Sub.apply,
    np.multiply: ops.Mul.apply,
    np.divide: ops.Div.apply,
    np.power: ops.Pow.apply,
    np.matmul: ops.MatMul.apply,
    np.maximum: ops.Maximum.apply,
    np.minimum: ops.Minimum.apply,
    np.negative: ops.Neg.apply,
    np.positive: Tensor.__pos__,
    np.absolute: ops.Abs.apply,
    np.exp: ops.Exp.apply,
    np.expm1: ops.Expm1.apply,
    np.log: ops.Log.apply,
    np.log1p: ops.Log1p.apply,
    np.sqrt: ops.Sqrt.apply,
    np.square: ops.Square.apply,
    np.sin: ops.Sin.apply,
    np.cos: ops.Cos.apply,
    np.tanh: ops.Tanh.apply,
    np.sign: ops.Sign.apply,
    # Not differentiable: bool Tensors outside the graph, as the operators give.
    **{u: functools.partial(ops.compare, u) for u in (
        np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
        np.logical_and, np.logical_or, np.logical_not, np.isnan, np.isinf, np.isfinite,
    )},
}


def _tensor(a: Any, dtype: Any = None) -> Tensor:
    """The one Tensor operand of a function: a Tensor as it is, a list holding Tensors stacked
    (``np.sum([t1, t2])`` keeps the graph), anything else a constant; ``dtype=`` casts."""
    if not isinstance(a, Tensor):
        if isinstance(a, (list, tuple)) and any(isinstance(x, (Tensor, list, tuple)) for x in a):
            a = ops.stack([_tensor(x) for x in a], 0)
        else:
            a = ops.as_tensor(a)
    return a if dtype is None else a.astype(dtype)


# ``ufunc.reduce``: np.add.reduce is np.sum along axis 0 by default, and so on.
REDUCERS: dict[np.ufunc, Callable[..., Tensor]] = {
    np.add: lambda a, axis=0, dtype=None, keepdims=False: _tensor(a, dtype).sum(axis, keepdims),
    np.multiply: lambda a, axis=0, dtype=None, keepdims=False: _tensor(a, dtype).prod(
        axis, keepdims),
    np.maximum: lambda a, axis=0, keepdims=False: _tensor(a).amax(axis, keepdims),
    np.minimum: lambda a, axis=0, keepdims=False: _tensor(a).amin(axis, keepdims),
}


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """``Tensor.__array_ufunc__``: the common case (a plain call) first, with no other work."""
    if method == "__call__" and not kwargs:
        operation = UFUNCS.get(ufunc)
        if operation is not None:
            return operation(*inputs)
    return _other_ufunc_call(ufunc, method, inputs, kwargs)


def _other_ufunc_call(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    name = _ufunc_name(ufunc) + ("" if method == "__call__" else f".{method}")
    operation = _ufunc_operation(ufunc, method)
    if kwargs.get("out") is not None:
        return _into(getattr(ufunc, method), operation, name, inputs, kwargs)
    if method == "__call__" and operation is not None:
        if not kwargs:  # one of OTHER_UFUNCS: NumPy's own came the short way
            return operation(*inputs)
        raise TypeError(
            f"{name} on Tensors takes only its operands, not {', '.join(map(repr, kwargs))}"
        )
    if method == "reduce" and operation is not None:
        return _call(operation, name, inputs, kwargs)
    if method == "outer" and ufunc in UFUNCS and ufunc.nin == 2 and not kwargs:
        a, b = _tensor(inputs[0]), inputs[1]
        return UFUNCS[ufunc](ops.reshape(a, *a.shape, *(1,) * np.ndim(ops.value(b))), b)
    raise _no_rule(name)


# Ufuncs from outside NumPy, by name (SciPy is not a dependency, so not imported here):
# ``scipy.special.erf`` and ``scipy.special.expit``, the sigmoid, which learners' code uses.
OTHER_UFUNCS: dict[str, Callable[..., Any]] = {"erf": ops.Erf.apply, "expit": ops.Sigmoid.apply}


def _ufunc_operation(ufunc: np.ufunc, method: str) -> Callable[..., Any] | None:
    """What ``ufunc.method`` records on Tensors, or None when it has no gradient rule."""
    if method == "__call__":
        found = UFUNCS.get(ufunc)
        if found is None and _ufunc_name(ufunc).startswith("the ufunc"):
            return OTHER_UFUNCS.get(ufunc.__name__)
        return found
    return REDUCERS.get(ufunc) if method == "reduce" else None


def _ufunc_name(ufunc: Any) -> str:
    name = getattr(ufunc, "__name__", repr(ufunc))
    return f"np.{name}" if getattr(np, name, None) is ufunc else f"the ufunc {name}"


# ---------------------------------------------------------------------------------------------
# Functions with NumPy's signatures and meaning


def where(condition: Any, x: Any = None, y: Any = None) -> Tensor:
    """NumPy's ``where(condition, x, y)`` (any nonzero condition counts as true)."""
    if x is None or y is None:
        raise TypeError(
            "np.where(condition) with one argument is np.nonzero, which has no Tensor form "
            "here; give x and y, or use np.nonzero(np.asarray(condition))"
        )
    cond = np.asarray(ops.value(condition))
    if cond.dtype.kind not in "biuf":
        raise TypeError(f"np.where on Tensors: the condition must be numbers or booleans, got "
                        f"dtype {cond.dtype}")
    return ops.Where.apply(x, y, cond=cond if cond.dtype == bool else cond != 0)


def clip(a: Any, a_min: Any = None, a_max: Any = None, *, min: Any = None,
         max: Any = None) -> Tensor:
    """NumPy's ``clip``: bounds positional or as min=/max=; they may be Tensors."""
    return ops.clip(a, a_min if a_min is not None else min, a_max if a_max is not None else max)


def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None,
            copy: Any = None) -> Tensor:
    """NumPy's ``reshape`` (C order only)."""
    _c_order(order, "np.reshape")
    return ops.reshape(_tensor(a), shape if shape is not None else newshape)


def ravel(a: Any, order: str = "C") -> Any:
    """NumPy's ``ravel`` (C order): a Tensor flattened in the graph, an array as NumPy does."""
    _c_order(order, "np.ravel")
    return ops.reshape(a, -1) if isinstance(a, Tensor) else np.ravel(a)


def nansum(a: Any, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Tensor:
    """NumPy's ``nansum``: NaNs count as 0 (and pass no gradient)."""
    t = _tensor(a, dtype)
    return ops.Where.apply(0.0, t, cond=np.isnan(t._data)).sum(axis, keepdims)


def _c_order(order: str, name: str) -> None:
    if order not in ("C", "K", "A"):
        raise TypeError(f"{name} on Tensors works in C order only, got order={order!r}")


def _at_least(x: Any, ndim: int) -> Any:
    """``np.atleast_1d``/``atleast_2d`` that keeps a Tensor in the graph."""
    shape = np.shape(ops.value(x))
    if len(shape) >= ndim:
        return x
    new = (1,) * (ndim - len(shape)) + shape
    return ops.reshape(x, new) if isinstance(x, Tensor) else np.reshape(x, new)


def hstack(tup: Sequence[Any]) -> Tensor:
    """NumPy's ``hstack``: along the first axis for vectors, the second otherwise."""
    arrays = [_at_least(x, 1) for x in tup]
    return ops.cat(arrays, 0 if arrays and np.ndim(ops.value(arrays[0])) == 1 else 1)


def expand_dims(a: Any, axis: Any) -> Tensor:
    """NumPy's ``expand_dims``: size-1 axes inserted at ``axis`` (an int or a tuple)."""
    t = _tensor(a)
    count = len(axis) if isinstance(axis, (tuple, list)) else 1
    new_axes = ops.reduced_axes(axis, t.ndim + count, "np.expand_dims")
    sizes = iter(t.shape)
    return ops.reshape(t, tuple(1 if i in new_axes else next(sizes) for i in range(t.ndim + count)))


def linalg_norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``np.linalg.norm``: vector norms over one axis (or a vector), matrix norms over two
    (``None``/"fro", 1, -1, inf, -inf); the flattened 2-norm when ``ord`` and ``axis`` are None."""
    t = _tensor(x)
    if axis is None:
        if ord is None:
            return ops.Norm.apply(t, p=2.0, axis=None, keepdims=keepdims)
        if t.ndim not in (1, 2):
            raise ops.ShapeError(f"np.linalg.norm: ord={ord!r} needs a 1-D or 2-D input, "
                                 f"got shape {t.shape}")
        axis = tuple(range(t.ndim))
    axes = ops.reduced_axes(axis, t.ndim, "np.linalg.norm")
    if isinstance(axis, (tuple, list)) and len(axis) == 2:
        return _matrix_norm(t, ord, tuple(ops.one_axis(a, t.ndim, "np.linalg.norm") for a in axis),
                            keepdims)
    if ord in ("fro", "nuc") or len(axes) != 1:
        raise TypeError(f"np.linalg.norm: ord={ord!r} over axis={axis!r} is not supported on "
                        "Tensors (vector norms over one axis, matrix norms over two)")
    return ops.Norm.apply(t, p=2.0 if ord is None else ops.norm_order(ord), axis=axes,
                          keepdims=keepdims)


def _matrix_norm(t: Tensor, ord: Any, axes: tuple[int, int], keepdims: bool) -> Tensor:
    rows, cols = axes
    if ord in (None, "fro"):
        out = ops.Norm.apply(t, p=2.0, axis=axes, keepdims=True)
    elif ord in (1, -1, np.inf, -np.inf):  # the largest (smallest) column or row sum
        summed, other = (rows, cols) if ord in (1, -1) else (cols, rows)
        sums = abs(t).sum(summed, keepdims=True)
        out = sums.amax(other, keepdims=True) if ord > 0 else sums.amin(other, keepdims=True)
    else:
        raise TypeError(
            f"np.linalg.norm: the matrix norm ord={ord!r} needs singular values, which have no "
            "gradient rule here; supported: None, 'fro', 1, -1, inf, -inf"
        )
    return out if keepdims else ops.squeeze(out, axes)


def _constant_like(make: Callable[..., np.ndarray]) -> Callable[..., Tensor]:
    """``np.zeros_like`` and friends on a Tensor: a constant Tensor of its shape and dtype."""

    def like(a: Any, *args: Any, dtype: Any = None, order: str = "K", subok: bool = True,
             shape: Any = None) -> Tensor:
        return Tensor._make(np.asarray(make(ops.value(a), *args, dtype=dtype, shape=shape)),
                            False, None)

    return like


def _plain_result(compute: Callable[..., Any]) -> Callable[..., Any]:
    """A function whose result carries no gradient (a bool, a bool Tensor), on plain values."""

    def plain(*args: Any, **kwargs: Any) -> Any:
        result = compute(*_plain(args), **kwargs)
        return Tensor._make(result, False, None) if isinstance(result, np.ndarray) else result

    return plain


FUNCTIONS: dict[Callable[..., Any], Callable[..., Any]] = {
    np.dot: ops.dot,
    np.sum: lambda a, axis=None, dtype=None, keepdims=False: _tensor(a, dtype).sum(
        axis, keepdims),
    np.nansum: nansum,
    np.mean: lambda a, axis=None, dtype=None, keepdims=False: _tensor(a, dtype).mean(
        axis, keepdims),
    np.prod: lambda a, axis=None, dtype=None, keepdims=False: _tensor(a, dtype).prod(
        axis, keepdims),
    np.max: lambda a, axis=None, keepdims=False: _tensor(a).amax(axis, keepdims),
    np.amax: lambda a, axis=None, keepdims=False: _tensor(a).amax(axis, keepdims),
    np.min: lambda a, axis=None, keepdims=False: _tensor(a).amin(axis, keepdims),
    np.amin: lambda a, axis=None, keepdims=False: _tensor(a).amin(axis, keepdims),
    np.var: lambda a, axis=None, dtype=None, ddof=0, keepdims=False: _tensor(a, dtype).var(
        axis, keepdims, ddof),
    np.std: lambda a, axis=None, dtype=None, ddof=0, keepdims=False: _tensor(a, dtype).std(
        axis, keepdims, ddof),
    np.argmax: lambda a, axis=None, keepdims=False: _tensor(a).argmax(axis, keepdims),
    np.argmin: lambda a, axis=None, keepdims=False: _tensor(a).argmin(axis, keepdims),
    np.all: lambda a, axis=None, keepdims=False: _tensor(a).all(axis, keepdims),
    np.any: lambda a, axis=None, keepdims=False: _tensor(a).any(axis, keepdims),
    np.linalg.norm: linalg_norm,
    np.nan_to_num: lambda x, copy=True, nan=0.0, posinf=None, neginf=None: _tensor(
        x).nan_to_num(nan, posinf, neginf),
    np.where: where,
    np.clip: clip,
    np.outer: lambda a, b: ops.Mul.apply(ravel(a)[:, None], ravel(b)),
    np.transpose: lambda a, axes=None: ops.transpose(_tensor(a), axes),
    np.reshape: reshape,
    np.ravel: ravel,
    np.squeeze: lambda a, axis=None: ops.squeeze(_tensor(a), axis, strict=True),
    np.expand_dims: expand_dims,
    np.broadcast_to: lambda array, shape, subok=False: ops.broadcast_to(_tensor(array), shape),
    np.concatenate: lambda arrays, axis=0: ops.cat(arrays, axis),
    np.stack: lambda arrays, axis=0: ops.stack(arrays, axis),
    np.hstack: hstack,
    np.vstack: lambda tup: ops.cat([_at_least(x, 2) for x in tup], 0),
    np.copy: lambda a, order="K", subok=False: _tensor(a).clone(),
    np.shape: lambda a: _tensor(a).shape,
    np.ndim: lambda a: _tensor(a).ndim,
    np.size: lambda a, axis=None: _tensor(a).numel() if axis is None else _tensor(a).shape[axis],
    np.zeros_like: _constant_like(np.zeros_like),
    np.ones_like: _constant_like(np.ones_like),
    np.empty_like: _constant_like(np.zeros_like),
    np.full_like: _constant_like(np.full_like),
    np.allclose: _plain_result(np.allclose),
    np.isclose: _plain_result(np.isclose),
    np.array_equal: _plain_result(np.array_equal),
}


def array_function(func: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """``Tensor.__array_function__``: the Tensor version of ``func``, or a TypeError."""
    implementation = FUNCTIONS.get(func)
    name = _function_name(func)
    if implementation is None:
        raise _no_rule(name)
    if kwargs.get("out") is not None:
        return _into(func, lambda *a, **k: _call(implementation, name, a, k), name, args, kwargs)
    kwargs.pop("out", None)
    return _call(implementation, name, args, kwargs)


def _call(implementation: Callable[..., Any], name: str, args: tuple, kwargs: dict) -> Any:
    try:
        return implementation(*args, **kwargs)
    except TypeError as error:
        try:  # did NumPy's own signature get arguments this version does not take?
            inspect.signature(implementation).bind(*args, **kwargs)
        except TypeError as wrong:
            taken = ", ".join(inspect.signature(implementation).parameters)
            raise TypeError(f"{name} on Tensors: {wrong} (it takes {taken} here)") from None
        raise error


def _function_name(func: Any) -> str:
    """``np.sum``, ``np.linalg.norm``: the name as the user wrote it."""
    module = getattr(func, "__module__", None) or "numpy"
    return "np" + module[len("numpy"):] + "." + getattr(func, "__name__", repr(func))


# ---------------------------------------------------------------------------------------------
# What every call shares: out= and the refusal


def _plain(values: Any) -> Any:
    """Tensors (also inside lists and tuples) replaced by their arrays."""
    if isinstance(values, Tensor):
        return values._data
    if isinstance(values, (list, tuple)):
        return type(values)(_plain(v) for v in values)
    return values


def _into(call: Callable[..., Any], operation: Callable[..., Any] | None, name: str,
          args: tuple, kwargs: dict) -> Any:
    """A call with ``out=``: plain values into a plain array, as NumPy does; into a Tensor, an
    in-place change of that Tensor (``t += x``'s rules: refused on a leaf that requires grad
    outside ``no_grad``, recorded otherwise, the dtype kept)."""
    out = kwargs["out"]
    outs = out if isinstance(out, tuple) else (out,)
    if not any(isinstance(o, Tensor) for o in outs):
        return call(*_plain(args), **kwargs)
    rest = {k: v for k, v in kwargs.items() if k != "out"}
    if operation is None:
        raise _no_rule(name)
    (target,) = outs  # every operation here has one output

    def compute(previous: Tensor) -> Tensor:  # the target's old value wherever it is an operand
        result = operation(*_swapped(args, target, previous), **rest)
        return inplace.Copy.apply(previous, result)

    return inplace.change(target, compute, f"{name}(..., out=)")


def _swapped(values: Any, old: Tensor, new: Tensor) -> Any:
    """``values`` with ``old`` (the very object, also inside lists and tuples) replaced."""
    if values is old:
        return new
    if isinstance(values, (list, tuple)):
        return type(values)(_swapped(v, old, new) for v in values)
    return values


def _no_rule(name: str) -> TypeError:
    return TypeError(
        f"{name} has no gradient rule here, so it does not take Tensors: a NumPy call on a "
        "Tensor either records an operation or refuses, it never drops the graph silently. "
        "Use a Tensor operation, or np.asarray(t) for the plain values (outside the graph)"
    )
