"""Gradients of intermediates: retain_grad(), retains_grad and register_hook, as PyTorch
(issue 13 item 3). PyTorch in float64 is the oracle for every value; the classic exercise
(derive each intermediate gradient by hand, then compare with ``t.grad``) is done by hand too.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp.engine import hooks

torch = pytest.importorskip("torch")


def ours(values):
    return tg.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def theirs(values):
    return torch.tensor(np.array(values, dtype=np.float64), requires_grad=True)


def plain(g):
    """A gradient's values as a new array, from either engine."""
    return np.array(g.data) if isinstance(g, tg.Tensor) else g.detach().numpy().copy()


def close(mine, truth):
    np.testing.assert_allclose(np.asarray(mine.data), truth.detach().numpy(), rtol=1e-12)


def test_the_classic_exercise_every_intermediate_gradient_by_hand():
    # y = sigmoid(w x + b), L = (y - t)^2 / 2: dL/dy = y - t, dL/dz = (y - t) y (1 - y)
    x, t = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[1.0], [0.0]])
    w, b = ours([[0.3], [-0.7]]), ours([0.1])
    z = tg.tensor(x) @ w + b
    y = z.sigmoid()
    loss = ((y - t) ** 2).sum() / 2
    for intermediate in (z, y, loss):
        intermediate.retain_grad()
    loss.backward()
    dy = y.data - t
    dz = dy * y.data * (1 - y.data)
    np.testing.assert_allclose(y.grad.data, dy, rtol=1e-12)
    np.testing.assert_allclose(z.grad.data, dz, rtol=1e-12)
    np.testing.assert_allclose(w.grad.data, x.T @ dz, rtol=1e-12)
    assert loss.grad.item() == 1.0
    assert z.retains_grad and not w.retains_grad  # a leaf keeps its .grad anyway


def test_retained_gradients_of_an_mlp_equal_pytorchs():
    rng = np.random.default_rng(0)
    x, w1, w2 = (rng.standard_normal(shape) for shape in ((4, 3), (3, 5), (5, 2)))
    results = []
    for make, lib in ((ours, tg), (theirs, torch)):
        W1, W2 = make(w1), make(w2)
        h = lib.tensor(x) @ W1
        a = h.tanh()
        out = (a @ W2).softmax(-1) if lib is tg else torch.softmax(a @ W2, -1)
        for t in (h, a, out):
            t.retain_grad()
        (out[:, 0] * out[:, 1]).sum().backward()
        results.append([h.grad, a.grad, out.grad, W1.grad])
    for mine, truth in zip(*results):
        close(mine, truth)


def test_retained_gradients_add_up_over_backward_calls_like_leaves():
    for make in (ours, theirs):
        w = make([1.0, 2.0])
        a = w * 3
        a.retain_grad()
        loss = (a * a).sum()
        loss.backward(retain_graph=True)
        loss.backward()
        np.testing.assert_allclose(plain(a.grad), [12, 24])


def test_a_hook_sees_the_whole_gradient_once_and_may_replace_it():
    def run(make):
        w = make([1.0, 2.0])
        seen = []
        w.register_hook(lambda g: seen.append(plain(g)) or g * 10)
        a = w * 3
        a.register_hook(lambda g: g + 1)
        a.register_hook(lambda g: seen.append(plain(g)))
        a.retain_grad()
        (a * a + a).sum().backward()  # a is used twice: its hooks run once, on the sum
        return w.grad, a.grad, seen

    (w_grad, a_grad, seen), (t_w, t_a, t_seen) = run(ours), run(theirs)
    close(w_grad, t_w)
    close(a_grad, t_a)  # the retained gradient is the one after the hooks
    for mine, truth in zip(seen, t_seen, strict=True):
        np.testing.assert_allclose(mine, truth)


def test_hooks_on_the_root_and_removed_hooks():
    for make in (ours, theirs):
        w = make([1.0, 2.0])
        gone = w.register_hook(lambda g: g * 1000)
        gone.remove()
        loss = (w * 3).sum()
        loss.register_hook(lambda g: g * 5)
        loss.backward()
        np.testing.assert_allclose(plain(w.grad), [15, 15])


def test_hooks_run_in_tg_grad_and_what_it_returns_is_after_them():
    w = ours([1.0, 2.0])
    w.register_hook(lambda g: g * 10)
    a = w * 3
    a.retain_grad()
    a.register_hook(lambda g: g + 1)
    (gw,) = tg.grad(a.sum(), w)
    tw = theirs([1.0, 2.0])
    tw.register_hook(lambda g: g * 10)
    ta = tw * 3
    ta.retain_grad()
    ta.register_hook(lambda g: g + 1)
    (tgw,) = torch.autograd.grad(ta.sum(), tw)
    close(gw, tgw)
    close(a.grad, ta.grad)
    assert w.grad is None and tw.grad is None


def test_hooks_and_second_derivatives():
    w = ours([1.0, -2.0])
    a = w * w
    a.register_hook(lambda g: g * 3)
    (g,) = tg.grad(a.sum(), w, create_graph=True)
    (h,) = tg.grad(g.sum(), w)
    tw = theirs([1.0, -2.0])
    ta = tw * tw
    ta.register_hook(lambda g: g * 3)
    (tg_,) = torch.autograd.grad(ta.sum(), tw, create_graph=True)
    (th,) = torch.autograd.grad(tg_.sum(), tw)
    close(g, tg_)
    close(h, th)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda t: tg.tensor([1.0]).register_hook(lambda g: g), RuntimeError,
         "doesn't require gradient"),
        (lambda t: tg.tensor([1.0]).retain_grad(), RuntimeError, "requires_grad=False"),
        (lambda t: t.register_hook(3), TypeError, "expected a callable"),
    ],
)
def test_refusals_as_pytorch(call, error, message):
    with pytest.raises(error, match=message):
        call(ours([1.0]))


@pytest.mark.parametrize(
    ("hook", "message"),
    [
        (lambda g: tg.ones(3, dtype=np.float64), r"changed the gradient from shape \(2,\)"),
        (lambda g: tg.ones(2), r"dtype float64 to shape \(2,\) dtype float32"),
        (lambda g: [1.0, 2.0], "returned list"),
    ],
)
def test_a_hook_that_changes_shape_or_dtype_is_refused_and_changes_nothing(hook, message):
    w = ours([1.0, 2.0])
    a = w * 3
    a.retain_grad()
    (w * w).sum().backward()
    before = w.grad.data.copy()
    a.register_hook(hook)
    with pytest.raises((RuntimeError, TypeError), match=message):
        (a * a + w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, before)  # no leaf written
    assert a.grad is None  # nor the retained gradient


def test_a_hook_cannot_change_the_gradient_in_place():
    w = ours([1.0, 2.0])
    a = w + 1  # add hands the same array to both sides
    a.register_hook(lambda g: g.zero_())
    with pytest.raises(RuntimeError, match="read-only"):
        (a + a).sum().backward()


def test_the_registry_holds_tensors_weakly_and_empties_itself():
    assert not hooks.active()
    w = ours([1.0])
    w.register_hook(lambda g: None)
    h = w * 2
    h.retain_grad()
    assert hooks.active() and hooks.has_hooks(w) and hooks.has_hooks(h)
    del w, h
    gc.collect()
    assert not hooks.active()  # backward is back on the path that looks at nothing
