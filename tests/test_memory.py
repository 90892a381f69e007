"""Memory of a training step: what it keeps, what it lets go, and that it stays float32.

- Once a step's loss goes out of scope, every intermediate Tensor and every graph node of
  that step is gone, by reference counting alone (no cycle collection needed), while the
  parameters keep their ``.grad``.
- ``backward()`` frees the graph: the intermediate Tensors die even while the loss lives.
- Memory does not grow over 10,000 tiny training steps.
- A float32 model trains in float32 throughout, also on a float64 NumPy batch.
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim
from tinygrad_mlp.engine.autograd import Function


def _graph(root: tg.Tensor) -> tuple[list[tg.Tensor], list[Function]]:
    """Every Tensor and every node reachable from ``root``, before backward frees the graph."""
    tensors: list[tg.Tensor] = []
    nodes: list[Function] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        tensors.append(t)
        node = t.grad_fn
        if node is not None and id(node) not in seen:
            seen.add(id(node))
            nodes.append(node)
            stack.extend(node.parents)
    return tensors, nodes


def _problem(loss: str, dtype=np.float32, sizes=(3, 8, 8, 2), batch: int = 16, seed: int = 0):
    tg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = nn.MLP(list(sizes))
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    if loss == "mse":
        y = rng.standard_normal((batch, sizes[-1])).astype(dtype)
        loss_fn = nn.MSELoss()
    else:
        y = rng.integers(0, sizes[-1], batch)
        loss_fn = nn.CrossEntropyLoss()
    return model, loss_fn, optim.SGD(model.parameters(), lr=0.01), x, y


def _watched_step(model, loss_fn, opt, x, y):
    """One training step; weak references to its intermediate Tensors (the forward's outputs)
    and to its nodes. Every strong reference dies on return."""
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    tensors, nodes = _graph(loss)
    intermediates = [t for t in tensors if t.grad_fn is not None]
    tensor_refs = [weakref.ref(t) for t in intermediates]
    node_refs = [weakref.ref(node) for node in nodes]
    count = len(nodes)
    loss.backward()
    opt.step()
    return tensor_refs, node_refs, count


@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_step_intermediates_die_with_the_loss(loss):
    model, loss_fn, opt, x, y = _problem(loss)
    _watched_step(model, loss_fn, opt, x, y)  # warm-up: anything made once is made now
    gc.collect()
    gc.disable()  # reference counting alone must free the step: no cycles
    try:
        tensor_refs, node_refs, count = _watched_step(model, loss_fn, opt, x, y)
        alive_tensors = [r() for r in tensor_refs if r() is not None]
        alive_nodes = [r() for r in node_refs if r() is not None]
    finally:
        gc.enable()
    assert count >= 5 and len(tensor_refs) == len(node_refs) == count  # linear, relu, ..., loss
    assert alive_tensors == []
    assert alive_nodes == []
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.shape == p.shape and np.isfinite(p.grad.data).all(), name


def test_backward_frees_the_intermediate_tensors_while_the_loss_lives():
    model, loss_fn, _opt, x, y = _problem("ce")
    loss = loss_fn(model(x), y)
    tensors, _nodes = _graph(loss)
    refs = [weakref.ref(t) for t in tensors if t.grad_fn is not None and t is not loss]
    del tensors, _nodes
    gc.collect()
    gc.disable()
    try:
        loss.backward()
        alive = [r() for r in refs if r() is not None]
    finally:
        gc.enable()
    assert alive == [], f"{len(alive)} intermediate tensors kept alive by a finished loss"
    assert loss.grad_fn is not None  # the graph's shape stays (for pictures)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


@pytest.mark.slow
def test_memory_is_flat_over_10000_tiny_steps():
    model, loss_fn, opt, x, y = _problem("mse", sizes=(2, 8, 1), batch=8)

    def step() -> None:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(998):
        step()
    # Traced from step 999 on: from step 1000 on, everything a step frees was traced too.
    tracemalloc.start()
    try:
        step()
        step()
        gc.collect()
        at_1000 = tracemalloc.get_traced_memory()[0]
        for _ in range(9000):
            step()
        gc.collect()
        at_10000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    growth = at_10000 - at_1000
    assert growth < 64 * 1024, f"memory grew by {growth} bytes from step 1,000 to 10,000"


@pytest.mark.parametrize("batch_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ["mse", "ce"])
def test_a_float32_step_is_float32_throughout(loss, batch_dtype):
    model, loss_fn, opt, x, y = _problem(loss, dtype=batch_dtype)
    opt.zero_grad()
    loss_value = loss_fn(model(x), y)
    tensors, nodes = _graph(loss_value)
    wrong = [(t.shape, t.dtype) for t in tensors if t.dtype != np.float32]
    assert wrong == [], "tensors of the graph that are not float32"
    wrong = [(type(n).__name__, n.dtype) for n in nodes if n.dtype != np.float32]
    assert wrong == [], "operations whose output is not float32"

    intermediates = [t for t in tensors if t.grad_fn is not None]
    grads = tg.grad(loss_value, intermediates, retain_graph=True)
    wrong = [(type(t.grad_fn).__name__, g.dtype) for t, g in zip(intermediates, grads)
             if g.dtype != np.float32]
    assert wrong == [], "gradients of intermediate tensors that are not float32"

    loss_value.backward()
    opt.step()
    for name, p in model.named_parameters():
        assert p.grad.dtype == np.float32, name
        assert p.dtype == np.float32, name


def test_kept_losses_do_not_keep_their_steps_gradients():
    # A loop that keeps every loss Tensor (instead of loss.item()) must not keep every step's
    # gradients: only the latest backward pass's stay on its nodes, for pictures.
    model, loss_fn, opt, x, y = _problem("ce", sizes=(64, 64, 10), batch=32)
    losses = []

    def step() -> None:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss)

    for _ in range(5):
        step()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(50):
            step()
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    one_step_of_gradients = 32 * (64 + 64 + 10) * 4
    assert growth / 50 < one_step_of_gradients / 4, f"{growth / 50:.0f} bytes per kept loss"
    assert losses[-1].grad_fn.out_grad is not None  # the latest pass: still there to draw
    assert losses[0].grad_fn.out_grad is None
