"""In place, as PyTorch (issue 13 items 1 and 4; API.md's Tensor section).

Every case below is one piece of code run twice, on tinygrad_mlp and on PyTorch in float64,
through a small namespace ``L`` that hides the two spellings of "make a tensor" and "no_grad".
PyTorch is the oracle for the values, the gradients and which calls raise: the version
counter (a value a rule reads changed after the operation saved it), the leaf rule, dtype and
shape refusals. Where this engine refuses what PyTorch does (an in-place change through a view
recorded in the graph), the test says so and checks that the refusal is clear, not silent.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg

torch = pytest.importorskip("torch")


class Library:
    """How one engine spells "a leaf", "a constant", "no_grad" and "the values"."""

    def __init__(self, make, no_grad, values) -> None:
        self.make, self.no_grad, self.values = make, no_grad, values

    def leaf(self, values):
        return self.make(np.array(values, dtype=np.float64), requires_grad=True)

    def const(self, values, dtype=np.float64):
        return self.make(np.array(values, dtype=dtype))

    def value(self, t):
        return None if t is None else self.values(t)


Ours = Library(tg.tensor, tg.no_grad, lambda t: np.array(t.data))
Torch = Library(torch.tensor, torch.no_grad, lambda t: t.detach().numpy().copy())


def run(case, L):
    """The case's result: ("raises", message) or ("ok", values of what it returns)."""
    try:
        out = case(L)
    except RuntimeError as error:
        return "raises", str(error)
    return "ok", [L.value(t) for t in out]


# -- the cases: each returns the tensors whose values (and .grad) are compared ----------------


def grads(*tensors):
    return [t.grad for t in tensors]


def add_sub_mul_div_with_alpha(L):
    w, x = L.leaf([1.0, 2.0, 3.0]), L.leaf([0.5, -1.0, 2.0])
    a = w * 2
    a.add_(x, alpha=3)
    a.sub_(x * x, alpha=0.5)
    a.mul_(x)
    a.div_(w + 1)
    (a * a).sum().backward()
    return [a, *grads(w, x)]


def operators_with_numbers(L):
    w = L.leaf([1.0, -2.0])
    a = w * 1
    a += 1.5
    a -= 0.25
    a *= 3
    a /= 2
    (a * w).sum().backward()
    return [a, *grads(w)]


def a_constant_takes_the_history_of_what_is_added(L):
    w = L.leaf([1.0, 2.0])
    total = L.const([0.0, 0.0])
    total += w * w
    total += w
    assert total.requires_grad and not total.is_leaf
    total.sum().backward()
    return [total, *grads(w)]


def the_product_rule_with_the_previous_value(L):
    w, x = L.leaf([1.0, 2.0, 3.0]), L.leaf([2.0, 3.0, 4.0])
    a = w * 2
    a *= x  # mul's gradient for x needs a's previous value
    a.sum().backward()
    return [a, *grads(w, x)]


def division_reads_its_output(L):
    w, x = L.leaf([1.0, 2.0]), L.leaf([3.0, 4.0])
    a = w * 2
    a /= x
    (a * a).sum().backward()
    return grads(w, x)


def an_earlier_use_sees_the_earlier_value(L):
    w = L.leaf([1.0, 2.0])
    a = w * 3
    s = a * 2  # made before the change; mul by a number reads nothing of a
    a += 1
    (s.sum() + (a * a).sum()).backward()
    return [a, s, *grads(w)]


def a_sum_made_before_the_change(L):
    w = L.leaf([1.0, 2.0])
    a = w * 2
    total = a.sum()
    a += 1
    total.backward()
    return grads(w)


def exp_then_add(L):  # exp's rule reads its output: the version counter raises
    w = L.leaf([1.0, 2.0])
    a = w.exp()
    a += 1
    a.sum().backward()
    return grads(w)


def tanh_then_sub_after_the_sum(L):
    w = L.leaf([1.0, 2.0])
    a = w.tanh()
    total = a.sum()
    a -= 1
    total.backward()
    return grads(w)


def exp_then_mul_by_a_number(L):
    w = L.leaf([1.0, 2.0])
    a = w.exp()
    a *= 2
    a.sum().backward()
    return grads(w)


def log_of_a_value_changed_later(L):  # log reads its input
    w = L.leaf([1.0, 2.0])
    a = w * 1
    b = a.log()
    a += 1
    b.sum().backward()
    return grads(w)


def a_view_of_a_value_changed_later(L):
    w = L.leaf([1.0, 2.0])
    a = w * 1
    v = a.reshape(2)
    u = v.log()
    a += 1
    u.sum().backward()
    return grads(w)


def a_detached_alias_changed(L):
    w = L.leaf([1.0, 2.0])
    a = w.exp()
    d = a.detach()
    d += 1  # the same memory as a, which exp saved
    a.sum().backward()
    return grads(w)


def clamp_in_place(L):
    w = L.leaf([-1.0, 0.5, 3.0])
    a = w * 1
    a.clamp_(0, 1)
    (a * a).sum().backward()
    return [a, *grads(w)]


def copy_gives_the_old_value_a_zero_gradient(L):
    w, x = L.leaf([1.0, 2.0]), L.leaf([5.0, 7.0])
    a = w * 3
    a.copy_(x * x)
    a.sum().backward()
    return [a, *grads(w, x)]


def copy_broadcasts_and_casts(L):
    a = L.const(np.zeros((2, 3)))
    a.copy_(L.const([1.0, 2.0, 3.0]))
    i = L.const([0, 0, 0], dtype=np.int64)
    i.copy_(L.const([1.7, 2.0, -3.9]))
    return [a, i]


def fill_and_zero(L):
    w = L.leaf([1.0, 2.0])
    a = w * 3
    a.fill_(2.0)
    b = w * 1
    b.zero_()
    (a * w + b).sum().backward()
    return [a, b, *grads(w)]


def item_assignment(L):
    w, v = L.leaf([1.0, 2.0, 3.0]), L.leaf([5.0])
    a = w * 2
    a[1] = v * v
    (a * a).sum().backward()
    return [a, *grads(w, v)]


def item_assignment_repeated_indices(L):
    w, v = L.leaf([1.0, 2.0, 3.0]), L.leaf([5.0, 6.0])
    a = w * 1
    a[[0, 0]] = v
    (a * a).sum().backward()
    return [a, *grads(w, v)]


def item_assignment_broadcast_and_slices(L):
    w, v = L.leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]), L.leaf([5.0])
    a = w * 1
    a[:, 1] = v
    a[0, ::2] = 0.5
    (a * a).sum().backward()
    return [a, *grads(w, v)]


def item_assignment_with_a_mask(L):
    w, v = L.leaf([1.0, 2.0, 3.0]), L.leaf(7.0)
    a = w * 1
    a[a > 1.5] = v
    (a * a).sum().backward()
    return [a, *grads(w, v)]


def item_assignment_into_a_constant(L):
    v = L.leaf(7.0)
    a = L.const([0.0, 0.0, 0.0])
    a[1] = v * 2
    assert a.requires_grad and not a.is_leaf
    (a * a).sum().backward()
    return [a, *grads(v)]


def item_assignment_casts_into_integers(L):
    a = L.const([0, 0, 0], dtype=np.int64)
    a[1] = 2.7
    return [a]


def in_place_on_a_leaf_that_requires_grad(L):
    w = L.leaf([1.0, 2.0])
    w += 1
    return [w]


def item_assignment_on_a_leaf(L):
    w = L.leaf([1.0, 2.0, 3.0])
    w[0] = 1.0
    return [w]


def zero_on_a_leaf(L):
    w = L.leaf([1.0, 2.0])
    w.zero_()
    return [w]


def a_view_of_a_leaf(L):
    w = L.leaf([1.0, 2.0, 3.0])
    v = w[0:2]
    v += 1
    return [w]


def leaves_change_under_no_grad(L):
    w = L.leaf([1.0, 2.0, 3.0])
    (w * w).sum().backward()
    with L.no_grad():
        w -= 0.1 * w.grad
        w[0] = 5.0
        w.clamp_(max=4.0)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    w.grad.zero_()
    (w * w).sum().backward()  # the next step works
    return [w, w.grad]


def an_integer_tensor_divided_in_place(L):
    a = L.const([1, 2], dtype=np.int64)
    a /= 2
    return [a]


def an_integer_tensor_plus_a_float(L):
    a = L.const([1, 2], dtype=np.int64)
    a += 1.5
    return [a]


def broadcasting_the_tensor_itself_larger(L):
    a = L.const([0.0, 0.0, 0.0])
    a += L.const(np.ones((2, 3)))
    return [a]


def float32_keeps_its_dtype(L):
    a = L.const([1.0, 2.0], dtype=np.float32)
    a += L.const([0.5, 0.25])  # float64
    assert str(a.dtype).endswith("float32")
    return [a]


def second_derivative_through_an_in_place_change(L):
    w = L.leaf([1.0, -2.0])
    a = w * w
    a *= w  # w ** 3
    grad_api = torch.autograd.grad if L is Torch else tg.grad
    (g,) = grad_api(a.sum(), w, create_graph=True)
    (h,) = grad_api(g.sum(), w)
    return [g, h]


def backward_twice_through_a_rebased_history(L):
    w = L.leaf([1.0, 2.0])
    a = w * 2
    a += w
    loss = (a * a).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    return grads(w)


CASES = [
    add_sub_mul_div_with_alpha,
    operators_with_numbers,
    a_constant_takes_the_history_of_what_is_added,
    the_product_rule_with_the_previous_value,
    division_reads_its_output,
    an_earlier_use_sees_the_earlier_value,
    a_sum_made_before_the_change,
    exp_then_add,
    tanh_then_sub_after_the_sum,
    exp_then_mul_by_a_number,
    log_of_a_value_changed_later,
    a_view_of_a_value_changed_later,
    a_detached_alias_changed,
    clamp_in_place,
    copy_gives_the_old_value_a_zero_gradient,
    copy_broadcasts_and_casts,
    fill_and_zero,
    item_assignment,
    item_assignment_repeated_indices,
    item_assignment_broadcast_and_slices,
    item_assignment_with_a_mask,
    item_assignment_into_a_constant,
    item_assignment_casts_into_integers,
    in_place_on_a_leaf_that_requires_grad,
    item_assignment_on_a_leaf,
    zero_on_a_leaf,
    a_view_of_a_leaf,
    leaves_change_under_no_grad,
    an_integer_tensor_divided_in_place,
    an_integer_tensor_plus_a_float,
    broadcasting_the_tensor_itself_larger,
    float32_keeps_its_dtype,
    second_derivative_through_an_in_place_change,
    backward_twice_through_a_rebased_history,
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_in_place_as_pytorch(case):
    ours, theirs = run(case, Ours), run(case, Torch)
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "ok":
        for mine, truth in zip(ours[1], theirs[1]):
            if truth is None:
                assert mine is None
            else:
                np.testing.assert_allclose(mine, truth, rtol=1e-12, atol=1e-12)


# -- what only this engine can show ----------------------------------------------------------


def test_the_same_object_and_memory_get_the_new_value():
    t = tg.tensor([1.0, 2.0])
    before = t.data
    for result in (t.__iadd__(1), t.add_(1), t.mul_(2), t.clamp_(0, 5), t.zero_(), t.fill_(3)):
        assert result is t
    assert t.data is before and before.tolist() == [3.0, 3.0]


def test_a_refused_change_changes_nothing():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    a = w * 2
    node = a.grad_fn
    for change in (
        lambda: a.__iadd__(tg.ones(2, 2)),  # would broadcast a larger
        lambda: w.add_(1),  # a leaf that requires grad
        lambda: a.add_("x"),  # not a number
        lambda: a.__setitem__(5, 1.0),  # out of range
    ):
        with pytest.raises((RuntimeError, TypeError, IndexError)):
            change()
        assert a.grad_fn is node and a.tolist() == [2.0, 4.0] and w.tolist() == [1.0, 2.0]
    i = tg.tensor([1, 2])
    with pytest.raises(RuntimeError, match=r"/= \(div_\): result type float32 can't be cast"):
        i /= 2
    assert i.tolist() == [1, 2] and i.dtype == np.int64


def test_the_version_error_names_the_operation_that_saved_the_value():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    a = w.exp()
    a += 1
    with pytest.raises(RuntimeError, match=r"values exp saved for its gradient \(its output"):
        a.sum().backward()
    assert w.grad is None  # nothing was written
    with tg.detect_anomaly():
        b = w.sqrt()
    b *= 2
    with pytest.raises(RuntimeError, match=r"sqrt was created at .*test_inplace.py.*b = w.sqrt"):
        b.sum().backward()


def test_read_only_memory_is_refused_with_advice():
    t = tg.from_numpy(np.broadcast_to(np.ones(3), (2, 3)))  # a broadcast view, as expand makes
    with pytest.raises(RuntimeError, match=r"read-only .* clone"):
        t += 1


def test_a_gradient_is_never_shared_with_the_values_it_came_from():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    w.sum().backward()  # the seed (ones) reaches w unchanged
    w.grad.zero_()
    (w * 1).sum().backward()
    assert w.grad.tolist() == [1.0, 1.0]


def test_in_place_through_a_recorded_view_is_refused_clearly():
    # PyTorch rewrites the base's history (CopySlices); here the change through a view, or of
    # the base under a view, is caught at backward with advice instead of a wrong gradient.
    w, x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True), tg.tensor([2.0, 2.0], requires_grad=True)
    a = w * 1
    v = a[0:2]
    v *= x
    with pytest.raises(RuntimeError, match="shares memory with a tensor that a recorded in-place"):
        a.sum().backward()
    b = w * 1
    view = b[0:2]
    b *= tg.tensor([2.0, 2.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Take the view after the change"):
        view.sum().backward()
    c = w * 1
    c *= 2
    fresh = c[0:2]  # taken after the change: fine
    fresh.sum().backward()
    assert w.grad.tolist() == [2.0, 2.0, 0.0]


def test_x_slice_plus_equals_records_through_the_item_assignment():
    # Python runs ``a[:, 0] += v`` as getitem, += on the view, then setitem on a
    w = tg.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v = tg.tensor([10.0, 20.0], requires_grad=True)
    a = w * 1
    a[:, 0] += v
    (a * a).sum().backward()
    tw = torch.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    tv = torch.tensor([10.0, 20.0], dtype=torch.float64, requires_grad=True)
    ta = tw * 1
    ta[:, 0] += tv
    (ta * ta).sum().backward()
    np.testing.assert_allclose(a.data, ta.detach().numpy())
    np.testing.assert_allclose(w.grad.data, tw.grad.numpy())
    np.testing.assert_allclose(v.grad.data, tv.grad.numpy())


def test_nothing_is_checked_when_nothing_changed_in_place(monkeypatch):
    from tinygrad_mlp.engine import inplace

    calls = []
    monkeypatch.setattr(inplace, "check_versions", lambda order: calls.append(len(order)))
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    w.grad = None
    with tg.no_grad():
        w -= 1  # before the graph is made: nothing to check afterwards
    (w.exp() * 2).sum().backward()
    assert calls == []
    a = w.exp()
    b = a * 2
    b += 1  # during the graph's life: backward looks
    b.sum().backward()
    assert calls == [4]  # exp, mul, the += and the sum


def test_the_micrograd_idiom_changes_plain_values():
    p = tg.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    if tg.Tensor.__array_ufunc__ is None:
        pytest.skip("needs the NumPy protocol (engine-ops): ndarray += Tensor")
    before = p.data
    p.data += -0.1 * p.grad
    assert p.data is before and p.is_leaf and p.requires_grad
    np.testing.assert_allclose(p.data, [0.8, 1.6])
