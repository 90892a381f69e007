"""Each replay form, alone, against the eager rule it stands for; and no rule left without one.

A replay form (``tinygrad_mlp.replay.forms`` for the ops, ``.updates`` for the optimizers)
writes NumPy calls that must give, bit for bit, what the op's own forward and backward give
through the engine (``op.apply`` and ``backward``) and what ``optimizer.step()`` gives. Every
form is run here by itself on random inputs, in float32 and float64, and compared with the
engine; then the tables are held against what an ``nn.MLP`` training step really records:
an op or optimizer it uses with no form fails a test, not only a benchmark.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim
from tinygrad_mlp.engine import ops
from tinygrad_mlp.nn import functional as F
from tinygrad_mlp.nn.activations import ACTIVATIONS
from tinygrad_mlp.replay.arena import Gradients
from tinygrad_mlp.replay.forms import LAYER_FORMS, LOSS_FORMS, Layer
from tinygrad_mlp.replay.support import supported_layers
from tinygrad_mlp.replay.updates import UPDATE_FORMS, update_form, write_updates
from tinygrad_mlp.replay.workspace import Unsupported, Workspace

DTYPES = [np.float32, np.float64]
ACTIVATION_OPS = [op for op in LAYER_FORMS if op is not ops.Linear]
# What the README and the replay's docstring promise to replay (the table may offer more).
PROMISED_ACTIVATIONS = {"relu", "tanh", "sigmoid", "identity"}


def same(a: Any, b: Any) -> bool:
    """Bit for bit, shape and dtype included (NaN equals NaN, -0.0 is not 0.0)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def values(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any,
           special: bool = False) -> np.ndarray:
    """Random values, large ones included (tanh and sigmoid saturate), and with
    ``special`` also zeros of both signs, NaN and infinities."""
    a = rng.standard_normal(shape) * rng.choice([0.1, 1.0, 30.0], shape)
    if special:
        picks = np.array([0.0, -0.0, np.nan, np.inf, -np.inf])
        where = rng.random(shape) < 0.3
        a[where] = rng.choice(picks, where.sum())
    return a.astype(dtype)


# ---------------------------------------------------------------------------------------------
# Layers, each alone


def run_layer(op: type, x: np.ndarray, g: np.ndarray, *, fresh: bool, weight=None, bias=None,
              need=(True, True, True), input_name: str | None = None):
    """One layer's forward and backward as its form writes them: (out, gx, gw, gb)."""
    dtype = x.dtype
    ws = Workspace(dtype, x.shape[0], [x.shape[1], g.shape[1]])
    W = None if weight is None else tg.tensor(weight, requires_grad=need[1])
    B = None if bias is None else tg.tensor(bias, requires_grad=need[2])
    layer = Layer(None, op, W, B, recorded=True, need_x=need[0], need_w=W is not None and need[1],
                  need_b=B is not None and need[2])
    form = LAYER_FORMS[op]
    for p in (W, B):
        if p is not None:
            ws.grads[id(p)] = np.empty(p.shape, dtype, order=form.grad_order(layer, p))
    layer.input = input_name or ws.name("xin", x.copy())
    out, _ = form.write_forward(ws, layer, layer.input, fresh)
    layer.output = out
    gx = form.write_backward(ws, layer, ws.name("G", g.copy()))
    ws.emit(f"return {out}.copy(), {'None' if gx is None else gx + '.copy()'}")
    got_out, got_gx = ws.function()(x.copy(), None)
    grads = [None if p is None or not p.requires_grad else ws.grads[id(p)] for p in (W, B)]
    return got_out, got_gx, *grads


def eager_layer(op: type, x: np.ndarray, g: np.ndarray, weight=None, bias=None,
                need=(True, True, True)):
    """The same through the engine: op.apply, then backward with gradient g."""
    xt = tg.tensor(x, requires_grad=need[0])
    inputs = [xt]
    if weight is not None:
        inputs.append(tg.tensor(weight, requires_grad=need[1]))
    if bias is not None:
        inputs.append(tg.tensor(bias, requires_grad=need[2]))
    out = op.apply(*inputs)
    out.backward(tg.tensor(g))
    grads = [t.grad.data if t.requires_grad else None for t in inputs[1:]]
    grads += [None] * (2 - len(grads))
    return out.data, (xt.grad.data if need[0] else None), *grads


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("fresh", [True, False])  # the output written over the input, or not
@pytest.mark.parametrize("op", ACTIVATION_OPS, ids=lambda op: op.__name__)
@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 7), cols=st.integers(1, 9), seed=st.integers(0, 2**16),
       special=st.booleans())
def test_each_activation_form_is_its_op_bit_for_bit(op, fresh, dtype, rows, cols, seed,
                                                    special):
    rng = np.random.default_rng(seed)
    x = values(rng, (rows, cols), dtype, special)
    g = values(rng, (rows, cols), dtype, special)
    with np.errstate(all="ignore"):
        got = run_layer(op, x, g, fresh=fresh)
        want = eager_layer(op, x, g)
    assert same(got[0], want[0]), "forward"
    assert same(got[1], want[1]), "backward"


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("order", ["C", "F"])  # nn.Linear keeps large weights column-major
@pytest.mark.parametrize("need", [(True, True, True), (False, True, True), (True, False, False),
                                  (False, True, False)])
@pytest.mark.parametrize("has_bias", [True, False])
@settings(max_examples=6, deadline=None)
@given(rows=st.integers(1, 9), n_in=st.integers(1, 9), n_out=st.integers(1, 9),
       seed=st.integers(0, 2**16), from_argument=st.booleans())
def test_the_linear_form_is_ops_linear_bit_for_bit(dtype, order, need, has_bias, rows, n_in,
                                                   n_out, seed, from_argument):
    rng = np.random.default_rng(seed)
    x = values(rng, (rows, n_in), dtype)
    g = values(rng, (rows, n_out), dtype)
    weight = np.asarray(values(rng, (n_out, n_in), dtype), order=order)
    bias = values(rng, (n_out,), dtype) if has_bias else None
    got = run_layer(ops.Linear, x, g, fresh=False, weight=weight, bias=bias, need=need,
                    input_name="x" if from_argument else None)
    want = eager_layer(ops.Linear, x, g, weight, bias, need)
    for what, a, b in zip(("forward", "input grad", "weight grad", "bias grad"), got, want):
        assert (a is None) == (b is None), what
        assert a is None or same(a, b), what
    if got[2] is not None:  # the weight's gradient in the layout the eager rule gives it
        assert got[2].flags.f_contiguous == want[2].flags.f_contiguous


# ---------------------------------------------------------------------------------------------
# Losses, each alone


def run_loss(op: type, out: np.ndarray, y: np.ndarray, reduction: str):
    ws = Workspace(out.dtype, out.shape[0], [out.shape[1]])
    form = LOSS_FORMS[op]
    form.check_target(out.shape, y)
    g = form.write(ws, ws.name("out", out.copy()), y, reduction)
    ws.emit(f"return asarray(loss), {g}.copy()")
    return ws.function()(None, y)


def eager_loss(fn: Any, out: np.ndarray, y: np.ndarray, reduction: str):
    t = tg.tensor(out, requires_grad=True)
    loss = fn(t, y, reduction)
    loss.backward()
    return loss.data, t.grad.data


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@settings(max_examples=15, deadline=None)
@given(rows=st.integers(1, 9), cols=st.integers(1, 6), seed=st.integers(0, 2**16),
       target=st.sampled_from(["same", "other float", "int", "bool"]))
def test_the_mse_form_is_f_mse_loss_bit_for_bit(dtype, reduction, rows, cols, seed, target):
    rng = np.random.default_rng(seed)
    out = values(rng, (rows, cols), dtype)
    y = {"same": values(rng, (rows, cols), dtype),
         "other float": values(rng, (rows, cols), np.float64 if dtype == np.float32
                               else np.float32),
         "int": rng.integers(-3, 3, (rows, cols)),
         "bool": rng.random((rows, cols)) < 0.5}[target]
    got = run_loss(ops.MeanSquaredError, out, y, reduction)
    want = eager_loss(F.mse_loss, out, y, reduction)
    assert same(got[0], want[0]) and same(got[1], want[1])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("classes", [1, 2, 10, 64, 65, 200])  # both sides of the engine's cut
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32, np.uint8])
def test_the_cross_entropy_form_is_f_cross_entropy_bit_for_bit(dtype, reduction, classes,
                                                                index_dtype):
    if classes > 255 and index_dtype == np.uint8:
        pytest.skip("uint8 holds no class index this large")
    rng = np.random.default_rng(classes)
    for rows in (1, 7, 33):
        out = values(rng, (rows, classes), dtype)
        y = rng.integers(0, classes, rows).astype(index_dtype)
        got = run_loss(ops.CrossEntropy, out, y, reduction)
        want = eager_loss(F.cross_entropy, out, y, reduction)
        assert same(got[0], want[0]) and same(got[1], want[1]), rows


def test_the_cross_entropy_form_leaves_a_class_out_of_range_to_eager():
    out = np.zeros((3, 4), np.float32)
    for bad in (4, -1):
        y = np.array([0, bad, 1])
        assert run_loss(ops.CrossEntropy, out, y, "mean") is False  # the guard's "eager raises"
        with pytest.raises(IndexError, match="out of range"):
            F.cross_entropy(tg.tensor(out), y)


@pytest.mark.parametrize("op, y", [
    (ops.CrossEntropy, np.full((3, 4), 0.25, np.float32)),  # probabilities: eager's own way
    (ops.CrossEntropy, np.zeros((3, 1), np.int64)),
    (ops.MeanSquaredError, np.zeros((3, 2), np.float32)),
    (ops.MeanSquaredError, np.zeros((3, 4), complex)),
])
def test_loss_forms_say_which_targets_they_do_not_replay(op, y):
    with pytest.raises(Unsupported, match="target"):
        LOSS_FORMS[op].check_target((3, 4), y)


# ---------------------------------------------------------------------------------------------
# Optimizers, each alone


SETTINGS = {
    "sgd": (optim.SGD, [dict(lr=0.1)]),
    "sgd decay": (optim.SGD, [dict(lr=0.1, weight_decay=0.05)]),
    "momentum": (optim.SGD, [dict(lr=0.1, momentum=0.9)]),
    "dampening": (optim.SGD, [dict(lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.1)]),
    "nesterov": (optim.SGD, [dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)]),
    "two groups": (optim.SGD, [dict(lr=0.1, momentum=0.9), dict(lr=0.01)]),
    "adam": (optim.Adam, [dict(lr=0.01)]),
    "adam decay": (optim.Adam, [dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.9))]),
    "adamw": (optim.AdamW, [dict(lr=0.01)]),
    "adamw no decay": (optim.AdamW, [dict(lr=0.01, weight_decay=0.0)]),
    "adam groups": (optim.Adam, [dict(lr=0.01), dict(lr=0.1, weight_decay=0.1, eps=1e-3)]),
}


def make_optimizer(cls: type, groups: list[dict], params: list[tg.Tensor]) -> optim.Optimizer:
    half = (len(params) + 1) // 2
    chunks = [params] if len(groups) == 1 else [params[:half], params[half:]]
    first, *rest = [dict(g, params=chunk) for g, chunk in zip(groups, chunks)]
    opt = cls(first.pop("params"), **first)
    for group in rest:
        opt.add_param_group(group)
    return opt


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(SETTINGS))
def test_each_update_form_is_the_optimizers_step_bit_for_bit(name, dtype):
    cls, groups = SETTINGS[name]
    rng = np.random.default_rng(len(name))
    shapes, orders = [(4, 3), (4,), (2, 4), (2,), (5, 5)], ["C", "C", "F", "C", "F"]
    params = [tg.tensor(np.asarray(values(rng, s, dtype), order=o), requires_grad=True)
              for s, o in zip(shapes, orders)]
    twins = [copy.deepcopy(p) for p in params]
    opt, eager = make_optimizer(cls, groups, params), make_optimizer(cls, groups, twins)
    ws = Workspace(np.dtype(dtype), 1, [1])
    gradients = Gradients(shapes, orders, np.dtype(dtype))
    write_updates(ws, opt, gradients, params, "return 'refused'")
    ws.emit("return True")
    replay = ws.function()
    for _ in range(3):
        for view, twin in zip(gradients.grad_views, twins):
            view[...] = values(rng, view.shape, dtype)
            twin.grad = tg.tensor(view.copy(order="K"))
        assert replay(None, None) is True, "the replay's setup refused its own settings"
        eager.step()
        for p, twin in zip(params, twins):
            assert same(p.data, twin.data)
            assert opt.state[p].keys() == eager.state[twin].keys()
            for key, value in eager.state[twin].items():
                assert same(opt.state[p][key], value), key


def test_an_update_form_returns_to_eager_when_its_pattern_changes():
    """Momentum switched on, weight decay switched on: other NumPy calls, a new recording."""
    params = [tg.zeros(3, requires_grad=True)]
    opt = optim.SGD(params, lr=0.1)
    ws = Workspace(np.dtype(np.float32), 1, [1])
    write_updates(ws, opt, Gradients([(3,)], ["C"], np.dtype(np.float32)), params, "return 0")
    ws.emit("return True")
    replay = ws.function()
    assert replay(None, None) is True
    opt.param_groups[0]["lr"] = 0.5  # a value, not a pattern: still replayed
    assert replay(None, None) is True
    for key, value in (("momentum", 0.9), ("weight_decay", 0.1)):
        opt.param_groups[0][key] = value
        assert replay(None, None) is None
        opt.param_groups[0][key] = 0.0


# ---------------------------------------------------------------------------------------------
# No rule without its form


def graph_ops(loss: tg.Tensor) -> set[type]:
    """The op class of every node of the graph behind ``loss``."""
    seen, stack, found = set(), [loss.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        found.add(type(node))
        stack.extend(p.grad_fn for p in node.parents)
    return found


def claimed_activations() -> set[str]:
    supported = supported_layers()
    return {name for name, spec in ACTIVATIONS.items() if spec.module in supported}


def test_the_replay_claims_what_it_promises():
    assert PROMISED_ACTIVATIONS <= claimed_activations()
    assert nn.Linear in supported_layers()


@pytest.mark.parametrize("activation", sorted(PROMISED_ACTIVATIONS | {"relu"}))
@pytest.mark.parametrize("loss_fn", [nn.MSELoss(), nn.CrossEntropyLoss(), F.mse_loss,
                                     F.cross_entropy, nn.MSELoss(reduction="sum")],
                         ids=["MSELoss", "CrossEntropyLoss", "mse_loss", "cross_entropy", "sum"])
def test_every_op_an_mlp_step_records_has_a_replay_form(activation, loss_fn):
    tg.manual_seed(0)
    model = nn.MLP([3, 5, 4, 2], activation=activation)
    x = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
    mse = loss_fn is F.mse_loss or isinstance(loss_fn, nn.MSELoss)
    y = np.zeros((6, 2), np.float32) if mse else np.array([0, 1, 1, 0, 1, 0])
    loss = loss_fn(model(x), y)
    found = graph_ops(loss)
    assert type(loss.grad_fn) in LOSS_FORMS
    missing = found - set(LAYER_FORMS) - {type(loss.grad_fn)}
    assert not missing, f"no replay form for {sorted(op.__name__ for op in missing)}"


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam, optim.AdamW])
def test_every_optimizer_has_its_own_update_form(cls):
    opt = cls([tg.zeros(1, requires_grad=True)], lr=0.1)
    form = update_form(opt)
    assert form is UPDATE_FORMS[cls] and form.optimizer is cls


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_of_the_table_replays_or_says_why_not(name):
    """Read off the one table: each activation either replays bit for bit, or the step runs
    eager with a reason that names the layer."""
    spec = ACTIVATIONS[name]
    tg.manual_seed(1)
    model = nn.MLP([3, 6, 2], activation=name)
    twin = copy.deepcopy(model)
    opt, twin_opt = (optim.SGD(m.parameters(), lr=0.1, momentum=0.9) for m in (model, twin))
    step = tg.compile(model, nn.MSELoss(), opt)
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.standard_normal((5, 3)).astype(np.float32)
        y = rng.standard_normal((5, 2)).astype(np.float32)
        loss = step(x, y)
        twin_opt.zero_grad()
        want = nn.MSELoss()(twin(x), y)
        want.backward()
        twin_opt.step()
        assert same(loss.data, want.data)
        for p, q in zip(model.parameters(), twin.parameters()):
            assert same(p.data, q.data) and same(p.grad.data, q.grad.data)
    if name in claimed_activations():
        assert step.counts == {"replay": 2, "record": 1, "eager": 0}, step.reason
    else:
        assert step.counts["eager"] == 3
        assert spec.module.__name__ in step.reason and "layer '1'" in step.reason


@pytest.mark.parametrize("bad", [np.nan, np.inf, "overflow"])
@pytest.mark.parametrize("name", list(SETTINGS))
def test_an_update_with_a_non_finite_value_writes_nothing(name, bad):
    """All or nothing, as the optimizer's own step: a NaN or inf gradient, or a step that
    overflows, in the last parameter, and no parameter or state buffer is touched."""
    cls, groups = SETTINGS[name]
    rng = np.random.default_rng(7)
    shapes = [(3, 2), (3,), (2, 3)]
    params = [tg.tensor(values(rng, s, np.float32), requires_grad=True) for s in shapes]
    opt = make_optimizer(cls, groups, params)
    ws = Workspace(np.dtype(np.float32), 1, [1])
    gradients = Gradients(shapes, ["C"] * 3, np.dtype(np.float32))
    write_updates(ws, opt, gradients, params, "return 'refused'")
    ws.emit("return True")
    replay = ws.function()
    for view in gradients.grad_views:
        view[...] = values(rng, view.shape, np.float32)
    assert replay(None, None) is True  # a good step first: there is state to keep
    data = [p.data.copy() for p in params]
    state = [copy.deepcopy(opt.state.get(p, {})) for p in params]
    last = gradients.grad_views[-1]
    last[0, 0] = 3e38 if bad == "overflow" else bad  # lr * g, or g * g, overflows float32
    if bad == "overflow":
        for group in opt.param_groups:
            group["lr"] = 1e30 if cls is optim.SGD else group["lr"]
    with np.errstate(all="ignore"):
        assert replay(None, None) == "refused"
    assert all(same(p.data, d) for p, d in zip(params, data))
    for p, saved in zip(params, state):
        assert opt.state.get(p, {}).keys() == saved.keys()
        assert all(same(opt.state[p][k], saved[k]) for k in saved)


# ---------------------------------------------------------------------------------------------
# The layers that have no replay form: the step runs eager and says which layer


NEW_LAYERS = {
    "Dropout": lambda: nn.Dropout(0.3, generator=np.random.default_rng(5)),
    "BatchNorm1d": lambda: nn.BatchNorm1d(6),
    "LayerNorm": lambda: nn.LayerNorm(6),
    "GELU": lambda: nn.GELU(),
    "ELU": lambda: nn.ELU(),
}


@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("name", list(NEW_LAYERS))
def test_the_new_layers_run_eager_and_the_reason_names_them(name, training):
    tg.manual_seed(2)
    model = nn.Sequential(nn.Linear(3, 6), NEW_LAYERS[name](), nn.Linear(6, 2))
    twin = copy.deepcopy(model)  # a Dropout's generator too: the same masks
    model.train(training)
    twin.train(training)
    opt, twin_opt = (optim.Adam(m.parameters(), lr=0.01) for m in (model, twin))
    step = tg.compile(model, nn.MSELoss(), opt)
    rng = np.random.default_rng(2)
    for _ in range(3):
        x = rng.standard_normal((5, 3)).astype(np.float32)
        y = rng.standard_normal((5, 2)).astype(np.float32)
        loss = step(x, y)
        twin_opt.zero_grad()
        want = nn.MSELoss()(twin(x), y)
        want.backward()
        twin_opt.step()
        assert same(loss.data, want.data)
        mine, theirs = model.state_dict(), twin.state_dict()  # buffers (running stats) too
        assert mine.keys() == theirs.keys()
        assert all(same(mine[k], theirs[k]) for k in mine)
    assert step.counts == {"replay": 0, "record": 0, "eager": 3}
    assert f"layer '1' is a {name}" in step.reason and "does not replay" in step.reason


def test_every_layer_without_a_form_is_named():
    model = nn.Sequential(nn.Linear(3, 4), nn.LeakyReLU(), nn.Sequential(nn.Softplus()),
                          nn.Linear(4, 2))
    step = tg.compile(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    step(np.ones((2, 3), np.float32), np.zeros((2, 2), np.float32))
    assert "layers '1' (LeakyReLU) and '2.0' (Softplus) are not replayed" in step.reason
