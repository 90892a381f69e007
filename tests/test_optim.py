"""Tests of tinygrad_mlp.optim: update rules against a plain NumPy re-implementation and
against PyTorch (float64, same initial weights and the same gradients every step), the
state dict round trip, and argument checks."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor, nn, optim

STEPS = 7
SHAPES = [(3, 4), (4,)]


def gradient_sequence(steps: int = STEPS, seed: int = 0) -> list[list[np.ndarray]]:
    """The same made-up gradients for every implementation: one list per step."""
    rng = np.random.default_rng(seed)
    return [[rng.normal(size=shape) for shape in SHAPES] for _ in range(steps)]


def initial_weights(seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape) for shape in SHAPES]


# -- closed-form references, written the textbook way -------------------------------------------


def reference_sgd(weights, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
                  nesterov=False):
    weights = [w.copy() for w in weights]
    buffers = [None] * len(weights)
    for step_grads in grads:
        for i, (w, g) in enumerate(zip(weights, step_grads)):
            g = g + weight_decay * w
            if momentum:
                if buffers[i] is None:
                    buffers[i] = g.copy()
                else:
                    buffers[i] = momentum * buffers[i] + (1 - dampening) * g
                g = g + momentum * buffers[i] if nesterov else buffers[i]
            weights[i] = w - lr * g
    return weights


def reference_adam(weights, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   decoupled=False):
    b1, b2 = betas
    weights = [w.copy() for w in weights]
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    for t, step_grads in enumerate(grads, start=1):
        for i, g in enumerate(step_grads):
            if decoupled:
                weights[i] = weights[i] * (1 - lr * weight_decay)
            else:
                g = g + weight_decay * weights[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            m_hat = m[i] / (1 - b1**t)
            v_hat = v[i] / (1 - b2**t)
            weights[i] = weights[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return weights


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.2, betas=(0.85, 0.95))),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for name, kw in CONFIGS]


def run_ours(name, kwargs, weights, grads):
    params = [tg.tensor(w.copy(), requires_grad=True) for w in weights]
    opt = getattr(optim, name)(params, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = Tensor(g.copy())
        opt.step()
    return [p.data for p in params]


def run_reference(name, kwargs, weights, grads):
    if name == "SGD":
        return reference_sgd(weights, grads, **kwargs)
    if name == "AdamW":
        kwargs = {"weight_decay": 1e-2, **kwargs}
    return reference_adam(weights, grads, decoupled=name == "AdamW", **kwargs)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_update_rules_match_closed_form_numpy(name, kwargs):
    weights, grads = initial_weights(), gradient_sequence()
    ours = run_ours(name, kwargs, weights, grads)
    expected = run_reference(name, kwargs, weights, grads)
    for a, b in zip(ours, expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert not all(np.allclose(a, w) for a, w in zip(ours, weights))  # they did move


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_update_rules_match_torch(name, kwargs):
    torch = pytest.importorskip("torch")
    weights, grads = initial_weights(), gradient_sequence()
    ours = run_ours(name, kwargs, weights, grads)
    params = [torch.tensor(w.copy(), requires_grad=True) for w in weights]
    opt = getattr(torch.optim, name)(params, **kwargs)
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = torch.tensor(g)
        opt.step()
    for a, b in zip(ours, params):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", [CONFIGS[3], CONFIGS[8], CONFIGS[10]], ids=[
    IDS[3], IDS[8], IDS[10]])
def test_training_with_autograd_matches_torch(name, kwargs):
    """End to end: our autograd + optimizer against torch's, on the same small MLP."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(32, 3)), rng.normal(size=(32, 1))
    model = nn.MLP([3, 5, 1], activation="tanh").double()
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 1)
    ).double()
    with torch.no_grad():
        for (_, ours), theirs in zip(model.named_parameters(), tmodel.parameters()):
            theirs.copy_(torch.tensor(ours.data))
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kwargs)
    for _ in range(STEPS):
        opt.zero_grad()
        nn.MSELoss()(model(X), y).backward()
        opt.step()
        topt.zero_grad()
        torch.nn.functional.mse_loss(tmodel(torch.tensor(X)), torch.tensor(y)).backward()
        topt.step()
    for ours, theirs in zip(model.parameters(), tmodel.parameters()):
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_state_dict_round_trip_resumes_identically(name, kwargs):
    weights, grads = initial_weights(), gradient_sequence(steps=6)

    def make():
        params = [tg.tensor(w.copy(), requires_grad=True) for w in weights]
        return params, getattr(optim, name)(params, **kwargs)

    def steps(params, opt, chunk):
        for step_grads in chunk:
            for p, g in zip(params, step_grads):
                p.grad = Tensor(g.copy())
            opt.step()

    params, opt = make()
    steps(params, opt, grads[:3])
    saved = opt.state_dict()
    weights_then = [p.data.copy() for p in params]
    saved_copy = {i: {k: np.copy(v) for k, v in s.items()} for i, s in saved["state"].items()}
    steps(params, opt, grads[3:])  # the original carries on

    resumed_params, resumed = make()
    for p, w in zip(resumed_params, weights_then):
        p._data[...] = w
    resumed.load_state_dict(saved)
    steps(resumed_params, resumed, grads[3:])

    for a, b in zip(resumed_params, params):
        np.testing.assert_array_equal(a.data, b.data)
    # Both state_dict and load_state_dict copied: no step wrote into the saved arrays.
    for i, s in saved["state"].items():
        for k, v in s.items():
            np.testing.assert_array_equal(v, saved_copy[i][k])


def test_state_dict_layout_is_pytorchs():
    w, b = tg.zeros(2, 2, requires_grad=True), tg.zeros(2, requires_grad=True)
    opt = optim.SGD([w, b], lr=0.1, momentum=0.9)
    w.grad = Tensor(np.ones((2, 2), dtype=np.float32))  # b gets no grad: no state for it
    opt.step()
    state = opt.state_dict()
    assert list(state) == ["state", "param_groups"]
    assert list(state["state"]) == [0]
    assert list(state["state"][0]) == ["momentum_buffer"]
    assert state["param_groups"] == [dict(
        lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, params=[0, 1]
    )]


def test_load_state_dict_checks_before_changing_anything():
    w = tg.zeros(2, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    w.grad = Tensor(np.ones(2, dtype=np.float32))
    opt.step()
    good = opt.state_dict()
    with pytest.raises(ValueError, match="parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    bad = opt.state_dict()
    bad["state"][0]["exp_avg"] = np.zeros(3)
    bad["param_groups"][0]["lr"] = 5.0
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        opt.load_state_dict(bad)
    assert opt.param_groups[0]["lr"] == 0.1
    np.testing.assert_array_equal(opt.state[w]["exp_avg"], good["state"][0]["exp_avg"])
    other = optim.Adam([w, tg.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="group 0"):
        other.load_state_dict(good)


def test_parameters_without_grad_are_skipped():
    a, b = tg.ones(2, requires_grad=True), tg.ones(2, requires_grad=True)
    for opt in [optim.SGD([a, b], lr=0.1, momentum=0.9), optim.Adam([a, b]), optim.AdamW([a, b])]:
        a.grad, b.grad = Tensor(np.ones(2, dtype=np.float32)), None
        opt.step()
        assert b.tolist() == [1.0, 1.0] and a.data[0] < 1.0
        assert all(p is not b for p in opt.state)  # and no state was made for it


def test_gradients_are_read_never_written():
    w = tg.ones(3, requires_grad=True)
    for opt in [optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1),
                optim.Adam([w], weight_decay=0.1), optim.AdamW([w])]:
        grad = np.array([1.0, -2.0, 3.0], dtype=np.float32)
        w.grad = Tensor(grad)
        for _ in range(3):
            opt.step()
        np.testing.assert_array_equal(grad, [1.0, -2.0, 3.0])


def test_float32_parameters_stay_float32():
    model = nn.MLP([2, 3, 1])
    for opt in [optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.1),
                optim.Adam(model.parameters(), weight_decay=0.1), optim.AdamW(model.parameters())]:
        opt.zero_grad()
        model(tg.ones(4, 2)).sum().backward()
        opt.step()
        assert all(p.dtype == np.float32 for p in model.parameters())
        assert all(v.dtype == np.float32 for s in opt.state.values() for v in s.values()
                   if isinstance(v, np.ndarray))


def test_zero_grad_sets_none():
    model = nn.Linear(2, 1)
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(tg.ones(3, 2)).sum().backward()
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model(tg.ones(3, 2)).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.data.any() for p in model.parameters())


def test_param_groups_and_changing_lr_between_steps():
    a, b = tg.ones(1, requires_grad=True), tg.ones(1, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    a.grad = b.grad = Tensor(np.ones(1, dtype=np.float32))
    opt.step()
    assert a.item() == pytest.approx(0.9) and b.item() == pytest.approx(0.5)
    opt.param_groups[0]["lr"] = 0.0
    opt.step()
    assert a.item() == pytest.approx(0.9)


def test_step_with_closure_returns_the_loss():
    w = tg.tensor([2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tg.no_grad():  # the closure records even so
        loss = opt.step(closure)
    assert loss.item() == 4.0 and w.item() == pytest.approx(1.0)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda p: optim.SGD(p, lr=-0.1), "Invalid learning rate: -0.1"),
        (lambda p: optim.SGD([], lr=0.1), "empty parameter list"),
        (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
         "zero dampening"),
        (lambda p: optim.SGD(p, lr=0.1, momentum=-1), "Invalid momentum value"),
        (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "Invalid weight_decay value"),
        (lambda p: optim.Adam(p, lr=float("nan")), "Invalid learning rate"),
        (lambda p: optim.Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
        (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
        (lambda p: optim.AdamW(p, eps=-1e-8), "Invalid epsilon value"),
        (lambda p: optim.SGD(p + p, lr=0.1), "more than once"),
        (lambda p: optim.SGD([p[0] * 2], lr=0.1), "non-leaf"),
    ],
)
def test_argument_checks(make, message):
    with pytest.raises(ValueError, match=message):
        make([tg.ones(2, requires_grad=True)])


def test_a_bare_tensor_is_refused():
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(tg.ones(2, requires_grad=True), lr=0.1)


def test_repr_lists_the_groups():
    text = repr(optim.SGD([tg.ones(1, requires_grad=True)], lr=0.1))
    assert text.startswith("SGD (\nParameter Group 0\n") and "    lr: 0.1\n" in text
    assert text.endswith(")")


def test_defaults_follow_pytorch():
    p = [tg.ones(1, requires_grad=True)]
    assert optim.Adam(p).defaults == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0)
    assert optim.AdamW(p).defaults["weight_decay"] == 1e-2
    assert optim.SGD(p).defaults["lr"] == 1e-3


# -- frozen parameters, bad gradients, casts ----------------------------------------------------

OPTIMIZERS = [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.1),
    lambda p: optim.SGD(p, lr=0.1),
    lambda p: optim.Adam(p, lr=0.1, weight_decay=0.1),
    lambda p: optim.AdamW(p, lr=0.1),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_frozen_parameters_are_accepted_and_left_alone(make):
    tg.manual_seed(0)
    model = nn.MLP([2, 3, 1])
    frozen = model[0].weight.requires_grad_(False)
    before, bias = frozen.data.copy(), model[0].bias.data.copy()
    opt = make(model.parameters())  # as torch.optim: no complaint about the frozen one
    for _ in range(2):
        opt.zero_grad()
        model(tg.ones(4, 2)).sum().backward()
        opt.step()
    assert frozen.grad is None and frozen not in opt.state
    np.testing.assert_array_equal(frozen.data, before)
    assert not np.array_equal(model[0].bias.data, bias)  # the others did train


def _force_grad(p: Tensor, value) -> None:
    """Set ``p.grad`` past any check its setter makes, as a hook or old code might."""
    slot = "_grad" if isinstance(getattr(Tensor, "grad", None), property) else "grad"
    object.__setattr__(p, slot, value)


def _snapshot(opt) -> dict:
    return {id(p): {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
            for p, s in opt.state.items()}


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_a_bad_grad_changes_nothing_and_is_named(make):
    a, b = tg.ones(2, requires_grad=True), tg.ones(2, requires_grad=True)
    b.name = "bias"
    opt = make([a, b])
    a.grad, b.grad = Tensor(np.ones(2, np.float32)), Tensor(np.ones(2, np.float32))
    opt.step()  # a good step first, so that there is state to keep
    params, state = [a.data.copy(), b.data.copy()], _snapshot(opt)
    _force_grad(b, Tensor(np.ones(3)))  # b has shape (2,)
    name = type(opt).__name__
    with pytest.raises(ValueError, match=rf"{name}.*parameter 1 \('bias'\).*shape \(3,\).*"
                                         r"shape \(2,\)"):
        opt.step()
    _force_grad(b, np.ones(2))
    with pytest.raises(TypeError, match=rf"{name}.*parameter 1 \('bias'\).*ndarray"):
        opt.step()
    np.testing.assert_array_equal(a.data, params[0])  # a comes first, and is untouched too
    np.testing.assert_array_equal(b.data, params[1])
    after = _snapshot(opt)
    assert after.keys() == state.keys()
    for key, saved in state.items():
        assert after[key].keys() == saved.keys()
        for k, v in saved.items():
            np.testing.assert_array_equal(after[key][k], v)


def test_a_bad_grad_in_a_later_group_is_found_first():
    a, b = tg.ones(2, requires_grad=True), tg.ones(2, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad = Tensor(np.ones(2, np.float32))
    _force_grad(b, Tensor(np.ones((2, 1))))
    with pytest.raises(ValueError, match=r"parameter 1 has shape \(2, 1\)"):
        opt.step()
    assert a.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_state_follows_the_parameters_when_the_model_is_cast(make):
    tg.manual_seed(0)
    model = nn.MLP([2, 3, 1])
    opt = make(model.parameters())

    def one_step(m, o):
        o.zero_grad()
        m(tg.tensor(np.full((4, 2), 0.5), dtype=m[0].weight.dtype)).sum().backward()
        o.step()

    one_step(model, opt)
    model.double()
    # The same model and state, cast by load_state_dict: what the cast one must match.
    twin = nn.MLP([2, 3, 1]).double()
    twin.load_state_dict(model.state_dict())
    twin_opt = make(twin.parameters())
    twin_opt.load_state_dict(opt.state_dict())
    for _ in range(2):
        one_step(model, opt)
        one_step(twin, twin_opt)
    buffers = [v for s in opt.state.values() for v in s.values() if isinstance(v, np.ndarray)]
    assert all(v.dtype == np.float64 for v in buffers)
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    model.float()
    one_step(model, opt)
    assert all(v.dtype == np.float32 for s in opt.state.values() for v in s.values()
               if isinstance(v, np.ndarray))
    assert all(p.dtype == np.float32 for p in model.parameters())
