"""Gradients of intermediates: ``retain_grad()`` and ``register_hook(fn)``, as in PyTorch.

A Tensor with hooks (or a retained gradient) is written down here, not on the Tensor: the
registry is keyed by the Tensor's id and holds it weakly, so an entry goes when its Tensor
does, and a backward pass asks once whether the registry is empty. When it is (the training
step), hooks cost nothing at all; when it is not, each node's Tensor is looked up once.

During backward, a Tensor's hooks run in the order they were registered, once, with the
whole gradient of that Tensor (the sum over all its uses), and a hook may return a
replacement of the same shape and dtype, which is what flows on (for a leaf: what is added to
``.grad``). Then a retained gradient is kept: a non-leaf's ``.grad`` sums the gradients of
every backward, like a leaf's, and is written only when the whole pass succeeded.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

Hook = Callable[["Tensor"], Any]


class _Entry:
    __slots__ = ("hooks", "ref", "retain")

    def __init__(self, ref: weakref.ref) -> None:
        self.ref = ref
        self.hooks: dict[int, Hook] = {}  # handle id -> hook, in the order registered
        self.retain = False


_registry: dict[int, _Entry] = {}
_handles = iter(range(1, 2**62))


def _entry(tensor: Tensor, create: bool = False) -> _Entry | None:
    key = id(tensor)
    entry = _registry.get(key)
    if entry is not None and entry.ref() is tensor:
        return entry
    if not create:
        return None

    def forget(ref: weakref.ref, key: int = key) -> None:
        if _registry.get(key) is not None and _registry[key].ref is ref:
            del _registry[key]

    entry = _registry[key] = _Entry(weakref.ref(tensor, forget))
    return entry


def active() -> bool:
    """True when some live Tensor has a hook or retains its gradient (backward then looks)."""
    return bool(_registry)


def has_hooks(tensor: Tensor) -> bool:
    """True when ``tensor`` has a hook or retains its gradient."""
    return _entry(tensor) is not None


class RemovableHandle:
    """What ``register_hook`` returns: ``.remove()`` takes the hook off again."""

    def __init__(self, tensor: Tensor, key: int) -> None:
        self._tensor = weakref.ref(tensor)
        self._key = key

    def remove(self) -> None:
        tensor = self._tensor()
        entry = None if tensor is None else _entry(tensor)
        if entry is not None:
            entry.hooks.pop(self._key, None)
            _drop_if_empty(tensor, entry)


def _drop_if_empty(tensor: Tensor, entry: _Entry) -> None:
    if not entry.hooks and not entry.retain:
        del _registry[id(tensor)]


def register_hook(tensor: Tensor, hook: Hook) -> RemovableHandle:
    """Call ``hook(grad)`` whenever the gradient of ``tensor`` is computed (see the module)."""
    if not callable(hook):
        raise TypeError(f"register_hook: expected a callable, got {type(hook).__name__}")
    if not tensor._requires_grad:
        raise RuntimeError(
            "register_hook: cannot register a hook on a tensor that doesn't require gradient"
        )
    key = next(_handles)
    _entry(tensor, create=True).hooks[key] = hook
    return RemovableHandle(tensor, key)


def retain_grad(tensor: Tensor) -> None:
    """Keep the gradient of a non-leaf ``tensor`` in its ``.grad`` (a leaf's is kept anyway)."""
    if not tensor._requires_grad:
        raise RuntimeError(
            "retain_grad: can't retain_grad on a tensor that has requires_grad=False"
        )
    if tensor.grad_fn is not None:
        _entry(tensor, create=True).retain = True


def retains_grad(tensor: Tensor) -> bool:
    """True for a non-leaf Tensor whose ``retain_grad()`` was called."""
    entry = _entry(tensor)
    return entry is not None and entry.retain and tensor.grad_fn is not None


def run(tensor: Tensor, g: Any, retained: dict[int, tuple[Tensor, Any]]) -> Any:
    """``g`` (the gradient of ``tensor``) after its hooks; noted in ``retained`` when kept.

    ``g`` is an array, or a Tensor under ``create_graph``. A hook sees a Tensor it cannot
    change in place (the array may be shared with other gradients).
    """
    entry = _entry(tensor)
    if entry is None:
        return g
    for hook in list(entry.hooks.values()):
        if isinstance(g, np.ndarray):
            seen = g.view()
            seen.flags.writeable = False
            replacement = hook(Tensor._make(seen, False, None))
        else:
            replacement = hook(g)
        if replacement is not None:
            g = _checked(replacement, g, hook)
    if entry.retain and tensor.grad_fn is not None:
        retained[id(tensor)] = (tensor, g)
    return g


def _checked(replacement: Any, g: Any, hook: Hook) -> Any:
    name = getattr(hook, "__name__", type(hook).__name__)
    value = replacement._data if isinstance(replacement, Tensor) else replacement
    if not isinstance(value, np.ndarray):
        raise TypeError(
            f"hook {name!r} returned {type(replacement).__name__}; a hook returns None or a "
            "Tensor (or array) of the gradient's shape and dtype"
        )
    expected = g._data if isinstance(g, Tensor) else g
    if value.shape != expected.shape or value.dtype != expected.dtype:
        raise RuntimeError(
            f"hook {name!r} has changed the gradient from shape {expected.shape} dtype "
            f"{expected.dtype} to shape {value.shape} dtype {value.dtype}; it must keep both"
        )
    if isinstance(g, Tensor):  # create_graph: a Tensor replacement stays in the graph
        return replacement if isinstance(replacement, Tensor) else Tensor._make(value, False, None)
    return value


def keep_retained(retained: dict[int, tuple[Tensor, Any]], create_graph: bool) -> None:
    """Add the retained gradients of this pass to their Tensors' ``.grad``."""
    for tensor, g in retained.values():
        previous = tensor._grad
        if create_graph:
            tensor._grad = g if previous is None else previous + g
        else:
            total = np.array(g, copy=True) if previous is None else previous._data + g
            tensor._grad = Tensor._make(total, False, None)


from .tensor import Tensor  # noqa: E402  (Tensor needs this module first)
