"""Changing a Tensor in place, as PyTorch does, and the version check that keeps it honest.

``t += x``, ``t.add_(x)``, ``t.zero_()``, ``t[idx] = v`` and the rest change ``t`` itself:
the same object and the same memory (an array taken from ``t.data`` before sees the new
values), and ``t`` keeps its dtype. Each is an ordinary operation on ``t``'s previous value,
whose result is written back into ``t``'s array:

- on a leaf that requires grad, outside ``no_grad``, it is refused (backward would need the
  value it overwrites); inside ``no_grad`` (an optimizer step) nothing is recorded and ``t``
  stays the same leaf;
- otherwise, when it is recorded, ``t`` gets the new node as its ``grad_fn`` and the node's
  first input is ``t``'s previous version (a Tensor holding the old values): "rebasing the
  history", as PyTorch says. Nodes made earlier that used ``t`` used that previous version;
  the graph walk finds it for them (:func:`consumed_version`).

The version check: every change stamps the array's memory with the engine's creation clock
(the clock that numbers the nodes). A node whose rule reads a value (``Function.reads``:
its inputs, its output, or the inputs that the product rule needs) must not find that
value's memory stamped after the node was made: backward then raises ``RuntimeError`` naming
the operation, never computing a silently wrong gradient. Memory is tracked, not objects, so
a view or a detached copy changed in place counts too (PyTorch shares the version counter of
views the same way). Nothing is looked at when no change happened while a graph was alive:
backward compares one number, ``latest``, with the graph's oldest node.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .function import Function, clock, operand_array
from .modes import mode

# The stamp of the latest in-place change anywhere (-1: none yet).
latest = -1


class _Change:
    """The latest change of one piece of memory: any change (``stamp``), and a recorded one
    (``recorded``), which rebased the history of ``target``, the Tensor it was made on, with
    nodes made before the clock reached ``done``."""

    __slots__ = ("done", "recorded", "ref", "stamp", "target")

    def __init__(self, ref: weakref.ref) -> None:
        self.ref = ref
        self.stamp = self.recorded = self.done = -1
        self.target: weakref.ref | None = None


_changes: dict[int, _Change] = {}


def _owner(array: np.ndarray) -> np.ndarray:
    """The array that owns ``array``'s memory (itself, or the base of a view)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _change_of(array: np.ndarray) -> _Change | None:
    owner = _owner(array)
    change = _changes.get(id(owner))
    return change if change is not None and change.ref() is owner else None


def _stamp(array: np.ndarray, stamp: int, target: Tensor | None = None) -> None:
    """Note a change of ``array``'s memory at ``stamp``; ``target`` is the Tensor whose
    history a recorded change rebased, now (None for a change that records nothing)."""
    global latest
    owner = _owner(array)
    change = _change_of(owner)
    if change is None:
        key = id(owner)

        def forget(ref: weakref.ref, key: int = key) -> None:
            if _changes.get(key) is not None and _changes[key].ref is ref:
                del _changes[key]

        change = _changes[key] = _Change(weakref.ref(owner, forget))
    change.stamp = stamp
    if target is not None:
        change.recorded, change.target, change.done = stamp, weakref.ref(target), next(clock)
    latest = max(latest, stamp)


# ---------------------------------------------------------------------------------------------
# Changing a tensor


def _refuse_if_unsafe(t: Tensor, name: str) -> None:
    if mode.grad_enabled and t._requires_grad:
        if t.grad_fn is None:
            raise RuntimeError(
                f"{name}: a leaf tensor that requires grad cannot be changed in place outside "
                "no_grad(): backward would need the value it overwrites. Change it inside "
                "`with tg.no_grad():` (as an optimizer step does), or make a new tensor "
                "(t = t + x)"
            )
        if t._data.base is not None and _views_a_leaf(t):
            raise RuntimeError(
                f"{name}: this tensor is a view of a leaf tensor that requires grad, and "
                "changing it in place outside no_grad() would change that leaf; change it "
                "inside `with tg.no_grad():`, or clone() the view first"
            )
    if not t._data.flags.writeable:
        raise RuntimeError(
            f"{name}: this tensor's memory is read-only (a broadcast view, as expand makes, "
            "has several elements in one place); clone() it before changing it in place"
        )


def _views_a_leaf(t: Tensor) -> bool:
    """True when ``t``'s memory belongs to a leaf that requires grad (through views)."""
    owner = _owner(t._data)
    stack = [t]
    while stack:
        tensor = stack.pop()
        if tensor.grad_fn is None:
            if tensor._requires_grad and _owner(tensor._data) is owner:
                return True
            continue
        stack.extend(p for p in tensor.grad_fn.parents
                     if isinstance(p, Tensor) and _owner(p._data) is owner)
    return False


def change(
    t: Tensor, compute: Callable[[Tensor], Tensor], name: str, casting: str = "same_kind"
) -> Tensor:
    """Write ``compute(previous)`` into ``t``'s own array and return ``t``.

    ``compute`` is an ordinary operation on ``t``'s previous version that keeps it as its
    first input (``previous + x``, ``previous.clip(...)``). Nothing changes if anything is
    refused: the leaf rule, a result of another shape, a dtype ``t`` cannot hold.
    """
    _refuse_if_unsafe(t, name)
    stamp = next(clock)
    previous = Tensor._make(t._data, t._requires_grad, t.grad_fn)
    result = compute(previous)
    if result._data.shape != t._data.shape:
        raise RuntimeError(
            f"{name}: the result has shape {result.shape} but the tensor changed in place has "
            f"shape {t.shape} (an in-place operation cannot broadcast its own tensor larger)"
        )
    if not np.can_cast(result._data.dtype, t._data.dtype, casting):
        raise RuntimeError(
            f"{name}: result type {result._data.dtype} can't be cast to the tensor's dtype "
            f"{t._data.dtype} (an in-place operation keeps the dtype)"
        )
    node = result.grad_fn
    if node is not None:
        if result._data.dtype != t._data.dtype:
            result = ops.Cast.apply(result, dtype=t._data.dtype)
            node = result.grad_fn
        # The old value for rules that read it: t's memory is about to hold the new one.
        previous._data = t._data.copy()
        _stamp(previous._data, stamp)  # as in PyTorch, the old value counts as changed
    np.copyto(t._data, result._data, casting="unsafe")
    _stamp(t._data, stamp, t if node is not None else None)
    if node is not None:
        t.grad_fn = node
        t._requires_grad = True
    return t


# ---------------------------------------------------------------------------------------------
# The operations only in-place changes make (forward and backward side by side)


class Copy(Function):
    """``previous`` replaced by ``src`` broadcast to its shape and cast to its dtype
    (``copy_``, ``fill_``, ``zero_``): the old value gets a zero gradient, as in PyTorch."""

    __slots__ = ()
    name = "copy"
    reads = ()

    def forward(self, previous, src):
        return np.array(np.broadcast_to(src, previous.shape), dtype=previous.dtype)

    def backward(self, g, out, previous, src):
        return _zeros_like(g), g  # the engine sums g back to src's shape

    def explain(self, previous, src):
        return (f"copy_: a source of shape {src.shape} cannot fill a tensor of shape "
                f"{previous.shape}")


def _zeros_like(g: Any) -> Any:
    """Zeros of ``g``'s shape and dtype: an array for an array, a Tensor for a Tensor."""
    if isinstance(g, Tensor):
        return Tensor._make(np.zeros_like(g._data), False, None)
    return np.zeros_like(g)


def _plain(index: Any) -> Any:
    """An index with Tensors and lists in it as arrays (as ``t[index]`` reads them)."""
    if isinstance(index, tuple):
        return tuple(map(_plain, index))
    return index._data if isinstance(index, Tensor) else np.asarray(index) if isinstance(
        index, list) else index


def _without_leading_ones(value: np.ndarray, ndim: int) -> np.ndarray:
    """``value`` without the leading 1s that make it longer than the place it fills (PyTorch
    writes a (1,) value into one element)."""
    extra = value.ndim - ndim
    if extra > 0 and all(n == 1 for n in value.shape[:extra]):
        return value.reshape(value.shape[extra:])
    return value


class SetItem(Function):
    """``previous`` with ``value`` written at ``index`` (``t[index] = value``): the gradient
    reaches ``value`` from the places written and ``previous`` from the others."""

    __slots__ = ("index", "kept")
    name = "setitem"
    reads = ()

    def forward(self, previous, value, index=None):
        self.index = _plain(index)
        out = previous.copy()
        out[self.index] = _without_leading_ones(value, out[self.index].ndim)
        self.kept = np.ones(previous.shape, dtype=bool)
        self.kept[self.index] = False
        return out

    def backward(self, g, out, previous, value):
        written = g[self.index]
        if written.ndim < value.ndim:  # a value with leading 1s, as PyTorch allows
            written = written.reshape(value.shape)
        return g * self.kept, written  # the engine sums the second back to value's shape

    def explain(self, previous, value, index=None):
        return (f"setitem: a value of shape {value.shape} cannot be written at {index!r} of a "
                f"tensor of shape {previous.shape}")


def set_item(t: Tensor, index: Any, value: Any) -> None:
    """``t[index] = value``: recorded when ``t`` or ``value`` requires grad, as PyTorch."""
    recorded = mode.grad_enabled and (
        t._requires_grad or (isinstance(value, Tensor) and value._requires_grad)
    )
    if recorded:
        change(t, lambda previous: SetItem.apply(previous, value, index=index), "setitem",
               casting="unsafe")
        return
    _refuse_if_unsafe(t, "setitem")
    array = value._data if isinstance(value, Tensor) else operand_array(value, "setitem")
    try:
        place = _plain(index)
        t._data[place] = _without_leading_ones(np.asarray(array), t._data[place].ndim)
    except (IndexError, ValueError, TypeError) as error:
        raise type(error)(
            f"setitem: cannot write a value of shape {np.shape(value)} at {index!r} of a tensor "
            f"of shape {t.shape}: {error}"
        ) from error
    _stamp(t._data, next(clock))


# ---------------------------------------------------------------------------------------------
# What backward and the graph walk ask


def consumed_version(p: Any, made: int) -> Any:
    """The version of input ``p`` that a node made at ``made`` used: ``p`` itself, or, when
    ``p`` was changed in place since, the previous version its new history starts from."""
    while p.grad_fn is not None and p.grad_fn.made > made:
        p = p.grad_fn.parents[0]
    return p


def rewire(entries: Sequence[Any]) -> bool:
    """Point every node of ``entries`` at the versions of its inputs it used; True when one
    had to change (the walk must then be done again)."""
    changed = False
    for entry in entries:
        node = entry.grad_fn
        parents = node.parents
        used = [consumed_version(p, node.made) for p in parents]
        if any(u is not p for u, p in zip(used, parents)):
            node.parents = used
            changed = True
    return changed


def _read_inputs(node: Function) -> list[bool]:
    reads = node.reads
    if "inputs" in reads:
        return [True] * len(node.parents)
    if "others" in reads:  # the product rule: an input is read when another wants a gradient
        needs = node.needs
        return [any(n for j, n in enumerate(needs) if j != i) for i in range(len(needs))]
    return [False] * len(node.parents)


def check_versions(order: Sequence[Tensor]) -> None:
    """Raise when a value some node's rule reads was changed in place after the node was
    made, or when a node used a view whose memory a recorded change rewrote behind it."""
    for tensor in order:
        node = tensor.grad_fn
        if "output" in node.reads:
            _check_unchanged(tensor, node, "its output")
        for i, (parent, read) in enumerate(zip(node.parents, _read_inputs(node))):
            if read:
                _check_unchanged(parent, node, f"its input {i}")
            _check_history(parent, node, i)


def _check_unchanged(value: Tensor, node: Function, what: str) -> None:
    change = _change_of(value._data)
    if change is not None and change.stamp > node.made:
        raise RuntimeError(
            f"backward: one of the values {node.name} saved for its gradient ({what}, shape "
            f"{value.shape}) was changed by an in-place operation after {node.name} used it, "
            "so its gradient would be wrong. Make the change after backward, or use an "
            "out-of-place operation (t = t + x instead of t += x)"
            + (f".\n  {node.name} was created at {node.where}" if node.where else "")
        )


def _check_history(parent: Tensor, node: Function, i: int) -> None:
    """A node that used ``parent`` after a recorded change rewrote ``parent``'s memory through
    another Tensor (a view, or the base of one): ``parent``'s own history misses the change."""
    change = _change_of(parent._data)
    if change is None or not 0 <= change.done < node.made:
        return  # no recorded change, or the node came before it or is part of it
    if parent.grad_fn is not None and parent.grad_fn.made > change.recorded:
        return  # computed after the change, from the changed values
    target = change.target() if change.target is not None else None
    if parent.grad_fn is None and target is not None and target._data is parent._data:
        return  # a detached alias of the changed tensor: a constant, as it should be
    raise RuntimeError(
        f"backward: input {i} of {node.name} (shape {parent.shape}) shares memory with a "
        "tensor that a recorded in-place operation changed after it was computed, so its own "
        "history misses that change (a view taken before an in-place change of its base, or "
        "the base of a view changed in place). Take the view after the change, or clone() it"
    )


from . import ops  # noqa: E402  (ops needs Function and Tensor first)
from .tensor import Tensor  # noqa: E402
