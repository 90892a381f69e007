"""``Tensor``: a NumPy array that remembers how it was computed.

A Tensor holds its value in ``.data`` (an ``np.ndarray``). When it requires grad, every
operation on it records a node (``grad_fn``) so that ``backward()`` can compute gradients.
The operations themselves live in ``ops``, and the methods that reach them in ``methods``
(the class inherits them); this module holds the class, its conversions and the
constructors (``zeros``, ``randn``, ...).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from . import arguments, autograd, hooks, methods

float32 = np.float32
float64 = np.float64
int32 = np.int32
int64 = np.int64

_default_rng = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the generator behind ``rand``, ``randn``, ``uniform`` and ``nn`` initialisation.

    >>> import tinygrad_mlp as tg
    >>> tg.manual_seed(0); a = tg.randn(2)
    >>> tg.manual_seed(0); b = tg.randn(2)
    >>> bool((a == b).all())
    True
    """
    global _default_rng
    _default_rng = np.random.default_rng(arguments.count(seed, "manual_seed", "seed"))


def default_rng() -> np.random.Generator:
    """The generator that ``manual_seed`` seeds (used by ``nn.init``)."""
    return _default_rng


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    """Convert ``data`` as ``torch.tensor`` would: a copy; Python floats become float32,
    arrays keep their dtype."""
    if isinstance(data, Tensor):
        array = data._data.copy()
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data)
    else:
        try:
            array = np.asarray(data)
        except ValueError as error:  # ragged nested lists
            raise ValueError(f"Tensor: cannot make an array from this data: {error}") from None
        if array.dtype == np.float64 and dtype is None:  # a dtype asked for is kept exactly
            array = array.astype(np.float32)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"Tensor: unsupported data of dtype {array.dtype} (from {type(data).__name__}); "
            "expected numbers, nested lists of numbers or a numeric np.ndarray"
        )
    if dtype is not None:
        array = array.astype(arguments.numeric_dtype(dtype, "Tensor"), copy=False)
    return array


def _check_float(dtype: np.dtype, flag: bool) -> None:
    if flag and dtype.kind != "f":
        raise TypeError(
            f"only floating point tensors can require gradients, but this tensor has dtype "
            f"{dtype}; make it float first, e.g. Tensor(data, dtype=np.float32)"
        )


class Tensor(methods.TensorMethods):
    """A NumPy array with reverse-mode automatic differentiation.

    ``data``: a Python number, nested list, ``np.ndarray`` or Tensor, copied (as by
    ``torch.tensor``; ``tg.from_numpy`` shares the array's memory instead). Python floats
    become float32 (as in PyTorch); a NumPy array keeps its dtype; ``dtype=`` overrides.

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([2. 4.])
    """

    __slots__ = ("_data", "_grad", "_requires_grad", "grad_fn", "name", "__weakref__")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        array = _to_array(data, dtype)
        _check_float(array.dtype, arguments.flag(requires_grad, "Tensor", "requires_grad"))
        self._data = array
        self._grad: Tensor | None = None
        self._requires_grad = bool(requires_grad)
        self.grad_fn: autograd.Function | None = None
        self.name: str | None = None

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool, grad_fn: Any) -> Tensor:
        """The fast path for results of operations: no conversion, no checks."""
        t = object.__new__(cls)
        t._data = data
        t._grad = None
        t._requires_grad = requires_grad
        t.grad_fn = grad_fn
        t.name = None
        return t

    # -- the value ---------------------------------------------------------------------------

    @property
    def data(self) -> np.ndarray:
        """The value as an ``np.ndarray``; assigning an array replaces it (nothing recorded)."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        if isinstance(value, Tensor):
            array = value._data
        elif isinstance(value, np.ndarray):
            array = value
            arguments.numeric_dtype(array.dtype, "data")
        else:
            array = _to_array(value, None)
        _check_float(array.dtype, self._requires_grad)
        self._data = array

    @property
    def grad(self) -> Tensor | None:
        """The gradient accumulated by ``backward()`` (a Tensor of this shape), or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad must be a Tensor or None, got {type(value).__name__}; "
                    "wrap an array with tg.tensor(...)"
                )
            if value._data.shape != self._data.shape:
                raise ValueError(
                    f"assigned grad has shape {value.shape} but the tensor has shape "
                    f"{self.shape}; they must match"
                )
            if value._data.dtype != self._data.dtype:
                raise TypeError(
                    f"assigned grad has dtype {value.dtype} but the tensor has dtype "
                    f"{self.dtype}; they must match (as in PyTorch): use .astype({self.dtype})"
                )
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for backward."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set ``requires_grad`` in place on a leaf and return the tensor.

        >>> import tinygrad_mlp as tg
        >>> tg.zeros(2).requires_grad_().requires_grad
        True
        """
        if self.grad_fn is not None and not flag:
            raise RuntimeError(
                "requires_grad_: you can only change requires_grad of leaf tensors; use "
                ".detach() to get a tensor that does not require grad"
            )
        _check_float(self._data.dtype, flag)
        self._requires_grad = bool(flag)
        return self

    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by a recorded operation)."""
        return self.grad_fn is None

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or the length of one dimension (as PyTorch's ``size``)."""
        return self._data.shape if dim is None else self._data.shape[dim]

    def numel(self) -> int:
        """The number of elements.

        >>> import tinygrad_mlp as tg
        >>> tg.zeros(2, 3).numel()
        6
        """
        return int(self._data.size)

    def numpy(self) -> np.ndarray:
        """The value as an ``np.ndarray`` (shares memory)."""
        return self._data

    def item(self) -> float | int | bool:
        """The value of a one-element tensor as a Python number.

        >>> import tinygrad_mlp as tg
        >>> tg.tensor([2.5]).item()
        2.5
        """
        if self._data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python number, "
                f"this one has shape {self.shape}"
            )
        return self._data.item()

    def tolist(self) -> Any:
        """The value as (nested) Python lists."""
        return self._data.tolist()

    def detach(self) -> Tensor:
        """The same value, cut off from the graph (shares memory, requires no grad)."""
        return Tensor._make(self._data, False, None)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self._data.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        prefix = "tensor("
        body = np.array2string(self._data, prefix=prefix, separator=" ")
        extras = []
        if self._data.dtype != np.float32 and self._data.dtype.kind == "f":
            extras.append(f"dtype={self._data.dtype}")
        elif self._data.dtype.kind != "f" and self._data.size == 0:
            extras.append(f"dtype={self._data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{type(self.grad_fn).__name__}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return prefix + body + "".join(", " + e for e in extras) + ")"

    # -- autograd ----------------------------------------------------------------------------

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Add the gradient of this tensor to ``.grad`` of every leaf it depends on.

        On a one-element tensor the seed is 1; otherwise pass ``gradient=`` of this shape.
        The graph is freed afterwards unless ``retain_graph=True``; ``create_graph=True``
        records the backward pass so that gradients can be differentiated again
        (``retain_graph`` then defaults to True, as in PyTorch).

        >>> import tinygrad_mlp as tg
        >>> x = tg.tensor(3.0, requires_grad=True)
        >>> (x ** 2).backward()
        >>> x.grad.item()
        6.0
        """
        autograd.backward(self, gradient, retain_graph, create_graph)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward (as PyTorch).

        >>> import tinygrad_mlp as tg
        >>> x = tg.tensor([1.0, 2.0], requires_grad=True)
        >>> h = x * 3
        >>> h.retain_grad()
        >>> (h * h).sum().backward()
        >>> h.grad, h.retains_grad
        (tensor([ 6. 12.]), True)
        """
        hooks.retain_grad(self)

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor whose ``retain_grad()`` was called."""
        return hooks.retains_grad(self)

    def register_hook(self, hook: Any) -> hooks.RemovableHandle:
        """Call ``hook(grad)`` each time this tensor's gradient is computed; it may return a
        replacement (same shape and dtype) that flows on instead. Returns a handle whose
        ``.remove()`` takes the hook off.

        >>> import tinygrad_mlp as tg
        >>> w = tg.tensor([1.0, 2.0], requires_grad=True)
        >>> handle = w.register_hook(lambda g: g * 10)
        >>> (w * w).sum().backward()
        >>> w.grad
        tensor([20. 40.])
        """
        return hooks.register_hook(self, hook)

    def draw(self, **options: Any) -> Any:
        """Draw the graph that produced this tensor (see ``tinygrad_mlp.viz.draw_graph``)."""
        from ..viz import draw_graph

        return draw_graph(self, **options)

    # -- in place: the same object and memory get the new value (see inplace.py) ------------

    def __iadd__(self, other: Any) -> Tensor:
        return inplace.change(self, lambda previous: previous + other, "+= (add_)")

    def __isub__(self, other: Any) -> Tensor:
        return inplace.change(self, lambda previous: previous - other, "-= (sub_)")

    def __imul__(self, other: Any) -> Tensor:
        return inplace.change(self, lambda previous: previous * other, "*= (mul_)")

    def __itruediv__(self, other: Any) -> Tensor:
        return inplace.change(self, lambda previous: previous / other, "/= (div_)")

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        """``self += alpha * other`` in place; returns self.

        >>> import tinygrad_mlp as tg
        >>> t = tg.zeros(2)
        >>> t.add_(tg.ones(2), alpha=3) is t, t.tolist()
        (True, [3.0, 3.0])
        """
        other = _scaled(other, alpha)
        return inplace.change(self, lambda previous: previous + other, "add_")

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        """``self -= alpha * other`` in place; returns self."""
        other = _scaled(other, alpha)
        return inplace.change(self, lambda previous: previous - other, "sub_")

    def mul_(self, other: Any) -> Tensor:
        """``self *= other`` in place; returns self."""
        return inplace.change(self, lambda previous: previous * other, "mul_")

    def div_(self, other: Any) -> Tensor:
        """``self /= other`` in place; returns self."""
        return inplace.change(self, lambda previous: previous / other, "div_")

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        """Clip to ``[min, max]`` in place; returns self."""
        return inplace.change(self, lambda previous: previous.clip(min, max), "clamp_")

    clip_ = clamp_

    def copy_(self, src: Any) -> Tensor:
        """Overwrite with ``src`` (broadcast to this shape, cast to this dtype); returns self.
        The gradient reaches ``src``; the old value passes none on."""
        return inplace.change(
            self, lambda previous: inplace.Copy.apply(previous, src), "copy_", casting="unsafe"
        )

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` in place; returns self.

        >>> import tinygrad_mlp as tg
        >>> w = tg.ones(2, requires_grad=True)
        >>> (w * w).sum().backward()
        >>> w.grad.zero_().tolist()
        [0.0, 0.0]
        """
        return inplace.change(
            self, lambda previous: inplace.Copy.apply(previous, value), "fill_", casting="unsafe"
        )

    def zero_(self) -> Tensor:
        """Set every element to 0 in place; returns self."""
        return self.fill_(0)

    def __setitem__(self, index: Any, value: Any) -> None:
        inplace.set_item(self, index, value)

    def astype(self, dtype: Any) -> Tensor:
        """A copy with another dtype; differentiable between float dtypes. An integer or bool
        result ends the graph (it does not require grad, as in PyTorch).

        >>> import tinygrad_mlp as tg
        >>> x = tg.tensor([1.5, -2.5], requires_grad=True)
        >>> x.astype("float64").requires_grad, x.astype("int32").requires_grad
        (True, False)
        """
        dtype = arguments.numeric_dtype(dtype, "astype")
        if dtype == self._data.dtype:
            return self
        if dtype.kind != "f":
            return Tensor._make(self._data.astype(dtype), False, None)
        return ops.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        """As float32."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """As float64."""
        return self.astype(np.float64)


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A Tensor that shares ``array``'s memory and dtype (as ``torch.from_numpy``).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> a = np.zeros(2)
    >>> t = tg.from_numpy(a); a[0] = 5.0
    >>> t.tolist()
    [5.0, 0.0]
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    _to_array(array[:0], None)  # only checks the dtype
    _check_float(array.dtype, requires_grad)
    return Tensor._make(array, bool(requires_grad), None)


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Make a Tensor; the same as ``Tensor(data, requires_grad, dtype)``.

    >>> import tinygrad_mlp as tg
    >>> tg.tensor([1.0, 2.0]).dtype
    dtype('float32')
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


# -- constructors --------------------------------------------------------------------------------


def _new(array: np.ndarray, dtype: Any, requires_grad: bool, name: str) -> Tensor:
    dtype = np.float32 if dtype is None else arguments.numeric_dtype(dtype, name)
    array = array.astype(dtype, copy=False)
    _check_float(array.dtype, arguments.flag(requires_grad, name, "requires_grad"))
    return Tensor._make(array, bool(requires_grad), None)


def _generator(rng: np.random.Generator | None, seed: int | None, name: str) -> np.random.Generator:
    if rng is not None and seed is not None:
        raise ValueError(f"{name}: give either rng= or seed=, not both")
    if rng is not None:
        return arguments.generator(rng, name)
    seed = arguments.seed(seed, name)
    return np.random.default_rng(seed) if seed is not None else _default_rng


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype=``).

    >>> import tinygrad_mlp as tg
    >>> tg.zeros(2, 3).shape
    (2, 3)
    """
    return _new(np.zeros(arguments.sizes(shape, "zeros")), dtype, requires_grad, "zeros")


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 unless ``dtype=``).

    >>> import tinygrad_mlp as tg
    >>> tg.ones(2).tolist()
    [1.0, 1.0]
    """
    return _new(np.ones(arguments.sizes(shape, "ones")), dtype, requires_grad, "ones")


def full(shape: Any, value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``value``; its dtype follows the value as in PyTorch (a float
    gives float32, an int int64, a bool bool) unless ``dtype=`` is given.

    >>> import tinygrad_mlp as tg
    >>> tg.full((2,), 7.0).tolist(), tg.full((2,), 7).dtype
    ([7.0, 7.0], dtype('int64'))
    """
    shape = arguments.sizes(shape, "full")
    if not isinstance(value, (numbers.Real, np.bool_)):
        raise TypeError(f"full: value must be a number (bool, int or float), got {value!r}")
    if dtype is None:
        dtype = _to_array(value, None).dtype
    return _new(np.full(shape, value), dtype, requires_grad, "full")


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n x m).

    >>> import tinygrad_mlp as tg
    >>> tg.eye(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    n = arguments.count(n, "eye", "n")
    m = n if m is None else arguments.count(m, "eye", "m")
    return _new(np.eye(n, m), dtype, requires_grad, "eye")


def arange(
    start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Evenly spaced values in [start, stop); integers give int64, floats float32.

    >>> import tinygrad_mlp as tg
    >>> tg.arange(3).tolist()
    [0, 1, 2]
    """
    if stop is None:
        start, stop = 0, start
    for argument, number in (("start", start), ("stop", stop), ("step", step)):
        arguments.real(number, "arange", argument)
    if step == 0:
        raise ValueError("arange: step must not be zero")
    array = np.arange(start, stop, step)
    if dtype is None:
        dtype = np.int64 if array.dtype.kind in "iu" else np.float32
    return _new(array, dtype, requires_grad, "arange")


def rand(
    *shape: Any, dtype: Any = None, requires_grad: bool = False,
    rng: np.random.Generator | None = None, seed: int | None = None,
) -> Tensor:
    """Uniform samples in [0, 1).

    >>> import tinygrad_mlp as tg
    >>> tg.rand(3, seed=0).shape
    (3,)
    """
    values = _generator(rng, seed, "rand").random(arguments.sizes(shape, "rand"))
    return _new(values, dtype, requires_grad, "rand")


def randn(
    *shape: Any, dtype: Any = None, requires_grad: bool = False,
    rng: np.random.Generator | None = None, seed: int | None = None,
) -> Tensor:
    """Standard normal samples.

    >>> import tinygrad_mlp as tg
    >>> tg.randn(2, 2, seed=0).dtype
    dtype('float32')
    """
    values = _generator(rng, seed, "randn").standard_normal(arguments.sizes(shape, "randn"))
    return _new(values, dtype, requires_grad, "randn")


def uniform(
    *shape: Any, low: float = 0.0, high: float = 1.0, dtype: Any = None,
    requires_grad: bool = False, rng: np.random.Generator | None = None, seed: int | None = None,
) -> Tensor:
    """Uniform samples in [low, high).

    >>> import tinygrad_mlp as tg
    >>> bool((tg.uniform(100, low=-1, high=1, seed=0).abs() <= 1).all())
    True
    """
    low, high = arguments.real(low, "uniform", "low"), arguments.real(high, "uniform", "high")
    if not low <= high:
        raise ValueError(f"uniform: low={low} must not exceed high={high}")
    values = _generator(rng, seed, "uniform").uniform(low, high, arguments.sizes(shape, "uniform"))
    return _new(values, dtype, requires_grad, "uniform")


for _name in ("zeros", "ones", "full", "eye", "arange", "rand", "randn", "uniform"):
    setattr(Tensor, _name, staticmethod(globals()[_name]))


def _scaled(other: Any, alpha: float) -> Any:
    """``alpha * other`` for ``add_``/``sub_`` (exact for numbers; recorded for Tensors)."""
    if alpha == 1:
        return other
    if isinstance(other, (int, float, np.number)):
        return other * alpha
    return ops.Mul.apply(other, alpha)


from . import inplace, ops  # noqa: E402  (they need the Tensor class defined above)

methods.ops = ops  # the operation methods' door into ops, now that both exist
