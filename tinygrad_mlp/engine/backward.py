"""Reverse mode: walk the graph once from the output to the inputs, each rule called once.

``run_backward`` does it in steps, each a function below: sort the graph
(:func:`topological_order`, iteratively, so a 1,000,000-op chain is fine), seed the roots,
propagate (each node's rule called once with the summed gradient of its output), then either
hand back the gradients asked for (``tg.grad``) or add the leaves' gradients to their
``.grad``, and free the graph. Leaves' ``.grad`` are written only after the whole pass
succeeded, so a failed backward changes nothing.

A gradient rule is written once, with operators and methods that both ``np.ndarray`` and
``Tensor`` have: it runs on arrays normally, and on Tensors (recording a graph of the backward
pass) under ``create_graph=True``.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import hooks, inplace
from .function import AnomalyError, Function
from .modes import enable_grad, mode
from .numerics import non_finite

_FREED_MESSAGE = (
    "Trying to backward through the graph a second time: its saved values were freed when "
    "the first backward() returned. Call backward(retain_graph=True) the first time if you "
    "need to backward through the same graph again (or recompute the forward pass)."
)


# ---------------------------------------------------------------------------------------------
# The graph walk


def inputs_of(item: Tensor | Function) -> Sequence[Any]:
    """The inputs of a graph entry: a node's ``parents`` (Tensors while the graph is alive;
    after backward freed it, the nodes that made them, and leaf Tensors); none for a leaf.

    >>> import tinygrad_mlp as tg
    >>> x = tg.tensor([1.0], requires_grad=True)
    >>> inputs_of(x * 2)[0] is x, inputs_of(x)
    (True, ())
    """
    node = item if isinstance(item, Function) else item.grad_fn
    # ``parents`` is unset on a Function that was never recorded (an anomaly raised before)
    return () if node is None else getattr(node, "parents", ())


_made = operator.attrgetter("grad_fn.made")


def topological_order(
    roots: Sequence[Any], leaves: bool = False, live: bool = False
) -> list[Any]:
    """Everything the graph behind ``roots`` is made of, each entry after all of its inputs.

    ``roots`` are Tensors (or nodes). The entries are the Tensors computed by operations, in
    the order they were computed (with ``leaves=True``, the leaf Tensors come first). A node
    made before an input was changed in place is shown the version it used (see ``inplace``). Of a
    graph freed by backward only the nodes are left: there an entry is the node (a
    :class:`Function`) itself; ``live=True`` refuses one instead (backward needs the
    values). An explicit stack: depth is limited only by memory.

    >>> import tinygrad_mlp as tg
    >>> x = tg.tensor([1.0], requires_grad=True)
    >>> h = x * 2
    >>> y = h + h
    >>> [t is h for t in topological_order([y])]
    [True, False]
    >>> len(topological_order([y], leaves=True))  # x and the constant 2 come first
    4
    """
    found: list[Any] = []
    seen: set[int] = set()
    stack = [root for root in roots if root.grad_fn is not None]
    while stack:
        item = stack.pop()
        node = item.grad_fn  # a node's grad_fn is the node itself
        if id(node) in seen:
            continue
        seen.add(id(node))
        if live and node.freed:
            raise RuntimeError(_FREED_MESSAGE)
        found.append(item)
        for parent in node.parents:
            if parent.grad_fn is not None:
                stack.append(parent)
    found.sort(key=_made)
    if found and inplace.latest > found[0].grad_fn.made and inplace.rewire(found):
        return topological_order(roots, leaves, live)  # again, along the versions used
    return _leaves_of(roots, found) + found if leaves else found


def _leaves_of(roots: Sequence[Any], entries: Sequence[Any]) -> list[Tensor]:
    """The leaf Tensors among ``roots`` and the inputs of ``entries``, each once."""
    found: list[Tensor] = []
    seen: set[int] = set()
    for item in [*roots, *(p for entry in entries for p in inputs_of(entry))]:
        if item.grad_fn is None and id(item) not in seen:
            seen.add(id(item))
            found.append(item)
    return found


# ---------------------------------------------------------------------------------------------
# Shapes and dtypes of gradients


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum a gradient of a broadcast result back to an operand's ``shape``.

    The one place where broadcasting is undone; it works on arrays and on Tensors.

    >>> unbroadcast(np.ones((4, 3)), (3,))
    array([4., 4., 4.])
    """
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1
    )
    if axes:
        g = g.sum(axis=axes)
    return g.reshape(shape) if g.shape != shape else g


def _fit_to(g: Any, parent: Tensor) -> Any:
    """The gradient for ``parent`` with its shape, dtype and type (only work that is needed)."""
    if isinstance(g, np.generic):  # NumPy turns 0-d results into scalars
        g = np.asarray(g)
    if g.shape != parent._data.shape:
        g = unbroadcast(g, parent._data.shape)
    if g.dtype != parent._data.dtype:
        g = g.astype(parent._data.dtype)
    return g


def _buffer_owner(array: np.ndarray) -> int:
    while isinstance(array.base, np.ndarray):
        array = array.base
    return id(array)


# ---------------------------------------------------------------------------------------------
# The steps of a backward pass


def _remember_pass(order: Sequence[Tensor]) -> None:
    """Make this pass the latest: each node keeps the gradient of its output (``out_grad``)
    so that a picture drawn after backward can show it, but only until the next pass (a loop
    that keeps every loss Tensor must not keep every step's gradients)."""
    for ref in mode.latest_pass:
        node = ref()
        if node is not None:
            node.out_grad = None
    mode.latest_pass = [weakref.ref(tensor.grad_fn) for tensor in order]


def _seeded(
    roots: Sequence[Tensor], seeds: Sequence[Any]
) -> tuple[dict[int, Any], dict[int, Tensor]]:
    """The gradients reaching each Tensor so far (keyed by id), and the leaves among them."""
    grads: dict[int, Any] = {}
    leaves: dict[int, Tensor] = {}
    for root, seed in zip(roots, seeds):
        previous = grads.get(id(root))
        grads[id(root)] = seed if previous is None else previous + seed
        if root.grad_fn is None and root._requires_grad:
            leaves[id(root)] = root
    return grads, leaves


def _propagate(
    order: Sequence[Tensor], grads: dict[int, Any], leaves: dict[int, Tensor],
    wanted: set[int] | None, create_graph: bool, retained: dict[int, Any] | None,
) -> dict[int, Any]:
    """Call each node's rule, outputs first, adding what it gives its inputs to ``grads``;
    returns the gradients of the ``wanted`` non-leaf Tensors. With ``retained`` (a dict),
    Tensors' hooks run and retained gradients are noted there (see ``hooks``)."""
    if create_graph and not mode.grad_enabled:
        with enable_grad():  # a recorded backward records, even when called under no_grad
            return _propagate(order, grads, leaves, wanted, create_graph, retained)
    # Otherwise grad mode is left as it is: the rules run on arrays and record nothing (and
    # no mode is switched that an interrupt could leave switched).
    found: dict[int, Any] = {}
    anomaly = mode.anomaly
    for tensor in reversed(order):
        g = grads.pop(id(tensor), None)
        if g is None:
            continue
        if retained is not None:
            g = hooks.run(tensor, g, retained)
        node = tensor.grad_fn
        node.out_grad = g._data if create_graph else g
        if wanted is not None and id(tensor) in wanted:
            found[id(tensor)] = g
        parents = node.parents
        if create_graph:
            input_grads = node.backward(g, tensor, *parents)
        else:
            input_grads = node.backward(g, tensor._data, *[p._data for p in parents])
        for index, (parent, pg) in enumerate(zip(parents, input_grads)):
            if pg is None or not parent._requires_grad:
                continue
            data = parent._data
            if (type(pg) is not np.ndarray or pg.shape != data.shape
                    or (pg.dtype is not data.dtype and pg.dtype != data.dtype)):
                pg = _fit_to(pg, parent)
            if anomaly:
                _check_backward(node, pg, index)
            key = id(parent)
            previous = grads.get(key)
            if previous is None:
                grads[key] = pg
                if parent.grad_fn is None:
                    leaves[key] = parent
            else:
                grads[key] = previous + pg
    return found


def _hook_leaves(leaves: dict[int, Tensor], grads: dict[int, Any], wanted: set[int] | None,
                 retained: dict[int, Any]) -> None:
    """Run the hooks of the leaves whose gradients this pass delivers (before any is kept)."""
    for key, leaf in leaves.items():
        if wanted is None or key in wanted:
            grads[key] = hooks.run(leaf, grads[key], retained)


def _accumulate(
    leaves: dict[int, Tensor], grads: dict[int, Any], seeds: Sequence[Any], create_graph: bool
) -> None:
    """Add each leaf's gradient to its ``.grad``."""
    # A seed can reach a leaf unchanged (through add, reshape, ...) and Add hands one
    # array to both sides: .grad is the user's to modify, so never share a buffer.
    owners = {_buffer_owner(s) for s in seeds if isinstance(s, np.ndarray)}
    for key, leaf in leaves.items():
        g = grads[key]
        if create_graph:
            leaf._grad = g if leaf._grad is None else leaf._grad + g
            continue
        owner = id(g) if g.base is None else _buffer_owner(g)
        if owner in owners or not g.flags.writeable:
            g = g.copy()
        owners.add(owner)
        previous = leaf._grad
        leaf._grad = Tensor._make(g if previous is None else previous._data + g, False, None)


def free(order: Sequence[Tensor]) -> None:
    """Free a graph: drop the nodes' hold on intermediate values and saved arrays, keeping
    the graph's shape (nodes in place of non-leaf inputs) for pictures."""
    for tensor in order:
        node = tensor.grad_fn
        node.parents = [p.grad_fn or p for p in node.parents]
        for name in node._saved:
            setattr(node, name, None)
        node.freed = True


def run_backward(
    roots: Sequence[Tensor],
    seeds: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> list[Any] | None:
    """Propagate ``seeds`` (gradients of ``roots``) through the graph.

    Without ``capture`` the gradients of leaves that require grad are added to their
    ``.grad``; with it, the gradients of the captured Tensors are returned instead and no
    ``.grad`` changes. Leaves' ``.grad`` are written only after the whole pass succeeded, and
    the graph is freed only then, so a failed backward changes nothing.
    """
    order = topological_order(roots, live=True)
    if order and inplace.latest > order[0].grad_fn.made:
        inplace.check_versions(order)  # a value a rule reads was changed in place since
    _remember_pass(order)
    grads, leaves = _seeded(roots, seeds)
    wanted = None if capture is None else {id(t) for t in capture}
    retained = {} if hooks.active() else None
    found = _propagate(order, grads, leaves, wanted, create_graph, retained)
    if retained is not None:
        _hook_leaves(leaves, grads, wanted, retained)
    result = None
    if capture is not None:
        result = [found[id(t)] if id(t) in found else grads.get(id(t)) for t in capture]
    else:
        _accumulate(leaves, grads, seeds, create_graph)
    if retained:
        hooks.keep_retained(retained, create_graph)
    if not retain_graph:
        free(order)
    return result


def _check_backward(node: Function, g: np.ndarray | Tensor, index: int) -> None:
    array = g._data if isinstance(g, Tensor) else g
    bad = non_finite(array)
    if bad is None:
        return
    upstream = node.out_grad
    origin = (
        "; the gradient reaching it was already non-finite"
        if upstream is not None and non_finite(np.asarray(upstream))
        else " from a finite incoming gradient"
    )
    where = node.where or "(unknown: enable detect_anomaly before the forward pass)"
    raise AnomalyError(
        f"backward of {node.name} produced {bad} in the gradient for its input {index} "
        f"(shape {array.shape}){origin}.\n  created at {where}",
        node,
    )


# ---------------------------------------------------------------------------------------------
# The public entry points


def _as_list(x: Any) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _seed(root: Tensor, gradient: Any, create_graph: bool, caller: str) -> Any:
    if gradient is None:
        if root._data.size != 1:
            raise RuntimeError(
                f"{caller}: grad can be implicitly created only for one-element outputs, but "
                f"this tensor has shape {root.shape}; pass gradient= (an array of that shape)"
            )
        seed = np.ones(root._data.shape, root._data.dtype)
    else:
        seed = gradient._data if isinstance(gradient, Tensor) else np.asarray(gradient)
        if seed.shape != root._data.shape:
            raise RuntimeError(
                f"{caller}: gradient has shape {seed.shape} but the tensor has shape "
                f"{root.shape}; they must match"
            )
        if create_graph and isinstance(gradient, Tensor) and gradient._requires_grad:
            # The recorded backward pass is then differentiable in the seed too (PyTorch's
            # double-backward trick for Jacobian-vector products needs this).
            return gradient.astype(root._data.dtype)
        seed = seed.astype(root._data.dtype, copy=False)
    return Tensor._make(seed, False, None) if create_graph else seed


def _check_root(root: Any, caller: str) -> None:
    if not isinstance(root, Tensor):
        raise TypeError(f"{caller}: expected a Tensor, got {type(root).__name__}")
    if not root._requires_grad:
        raise RuntimeError(
            f"{caller}: this tensor does not require grad and has no grad_fn: nothing that "
            "it was computed from has requires_grad=True (or it was made under no_grad())"
        )


def backward(
    tensor: Tensor,
    gradient: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Add the gradient of ``tensor`` to ``.grad`` of every leaf it depends on.

    Used as ``t.backward()``; see :meth:`Tensor.backward`.
    """
    _check_root(tensor, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    seed = _seed(tensor, gradient, create_graph, "backward")
    run_backward([tensor], [seed], retain_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, leaving ``.grad`` untouched.

    >>> import tinygrad_mlp as tg
    >>> x = tg.tensor([3.0], requires_grad=True)
    >>> (dx,) = tg.grad((x ** 2).sum(), x)
    >>> dx
    tensor([6.])
    >>> x.grad is None
    True
    """
    outs, ins = _as_list(outputs), _as_list(inputs)
    if grad_outputs is None:
        g_outs = [None] * len(outs)
    else:
        g_outs = _as_list(grad_outputs)
        if len(g_outs) != len(outs):
            raise ValueError(
                f"grad: {len(outs)} outputs but {len(g_outs)} grad_outputs; give one each"
            )
    for out in outs:
        _check_root(out, "grad")
    for i, x in enumerate(ins):
        if not isinstance(x, Tensor) or not x._requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [_seed(o, g, create_graph, "grad") for o, g in zip(outs, g_outs)]
    found = run_backward(outs, seeds, retain_graph, create_graph, capture=ins)
    results: list[Tensor | None] = []
    for i, g in enumerate(found):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} was not used to compute the outputs; pass "
                    "allow_unused=True to get None for it"
                )
            results.append(None)
        elif isinstance(g, Tensor):
            results.append(g)
        else:
            results.append(Tensor._make(g, False, None))
    return tuple(results)


from .tensor import Tensor  # noqa: E402  (Tensor needs this module first)
