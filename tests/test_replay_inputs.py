"""``tg.compile`` with changed, odd and bad input: it matches eager, or refuses before it changes
anything.

- Every argument of ``tg.compile`` is checked when the step is made: a bad one is a
  ``TypeError``/``ValueError`` naming ``tg.compile`` and the argument, and nothing has run
  (``tg.compile(None, ...)`` calls no ``zero_grad``).
- Each step's ``x`` and ``y`` are checked before the step changes anything; a batch the model
  or the loss refuses raises the eager step's own error, with parameters, gradients and
  optimizer state as they were.
- Under 25 and more kinds of changed batch (sizes, dtypes, layouts, Tensors, lists, NaN...)
  the compiled step gives what the eager step gives, bit for bit, or the same error.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from test_replay import OPTIMIZERS, Twins, same

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim
from tinygrad_mlp.nn import functional as F


class Snapshot:
    """Copies of every parameter's value and .grad and of the optimizer's state."""

    def __init__(self, model: nn.Module, opt: optim.Optimizer) -> None:
        self.model, self.opt = model, opt
        self.data = [p.data.copy() for p in model.parameters()]
        self.grads = [None if p.grad is None else p.grad.data.copy() for p in model.parameters()]
        self.state = copy.deepcopy({i: opt.state.get(p, {})
                                    for i, p in enumerate(model.parameters())})

    def unchanged(self, grads: bool = True) -> bool:
        """Values and state as they were (and, with ``grads``, each .grad too)."""
        params = list(self.model.parameters())
        return (
            all(same(p.data, d) for p, d in zip(params, self.data))
            and (not grads or all(
                (p.grad is None and g is None)
                or (p.grad is not None and g is not None and same(p.grad.data, g))
                for p, g in zip(params, self.grads)))
            and all(self.state[i].keys() == self.opt.state.get(p, {}).keys()
                    and all(same(v, self.opt.state[p][k]) for k, v in self.state[i].items())
                    for i, p in enumerate(params))
        )


def trained(sizes: list[int], loss_fn: Any, opt: str = "adam") -> Twins:
    """Twins that have taken two steps (the second replayed), so state and .grad exist."""
    tg.manual_seed(0)
    twins = Twins(nn.MLP(sizes), loss_fn, OPTIMIZERS[opt])
    x, y = base_batch(sizes, loss_fn)
    twins.both(x, y)
    twins.both(x, y)
    assert twins.step.last == "replay"
    return twins


def base_batch(sizes: list[int], loss_fn: Any, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, sizes[0])).astype(np.float32)
    if isinstance(loss_fn, nn.CrossEntropyLoss):
        return x, rng.integers(0, sizes[-1], n)
    return x, rng.standard_normal((n, sizes[-1])).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# tg.compile's own arguments


def test_a_missing_model_is_refused_before_zero_grad():
    model = nn.MLP([2, 3, 1])
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(np.ones((1, 2), np.float32)).sum().backward()
    with pytest.raises(TypeError, match=r"tg\.compile: model must be an nn\.Module.*NoneType"):
        tg.compile(None, nn.MSELoss(), opt)
    assert all(p.grad is not None for p in model.parameters())  # no zero_grad ran


@pytest.mark.parametrize("argument, make, error, words", [
    ("loss_fn", lambda m, o: dict(loss_fn=None), TypeError, "loss_fn must be a loss"),
    ("loss_fn", lambda m, o: dict(loss_fn="mse"), TypeError, "got str"),
    ("optimizer", lambda m, o: dict(optimizer=None), TypeError, "optimizer must be"),
    ("optimizer", lambda m, o: dict(optimizer=list(m.parameters())), TypeError, "got list"),
    ("optimizer", lambda m, o: dict(optimizer=optim.SGD(nn.Linear(2, 2).parameters(), lr=1)),
     ValueError, "none of the model's parameters"),
    ("model", lambda m, o: dict(model=42), TypeError, "model must be"),
    ("cache_size", lambda m, o: dict(cache_size=0), ValueError, "at least 1, got 0"),
    ("cache_size", lambda m, o: dict(cache_size=2.5), TypeError, "must be an int, got float"),
    ("cache_size", lambda m, o: dict(cache_size="4"), TypeError, "must be an int, got str"),
    ("cache_size", lambda m, o: dict(cache_size=True), TypeError, "must be an int, got bool"),
    ("verify", lambda m, o: dict(verify="yes"), TypeError, "verify must be True or False"),
])
def test_every_bad_argument_names_tg_compile_and_the_argument(argument, make, error, words):
    model = nn.MLP([2, 3, 1])
    opt = optim.SGD(model.parameters(), lr=0.1)
    model(np.ones((1, 2), np.float32)).sum().backward()
    before = Snapshot(model, opt)
    arguments = dict(model=model, loss_fn=nn.MSELoss(), optimizer=opt)
    options = make(model, opt)
    keywords = {k: options.pop(k) for k in ("cache_size", "verify") if k in options}
    arguments.update(options)
    with pytest.raises(error) as caught:
        tg.compile(arguments["model"], arguments["loss_fn"], arguments["optimizer"], **keywords)
    assert str(caught.value).startswith("tg.compile: ") and argument.split("_")[0] in str(
        caught.value)
    assert words in str(caught.value)
    assert before.unchanged()


def test_a_plain_function_as_model_and_a_duck_typed_optimizer_run_eager():
    class Plain:  # no optim.Optimizer, but zero_grad and step
        def __init__(self, w):
            self.w = w

        def zero_grad(self):
            self.w.grad = None

        def step(self):
            self.w.data = self.w.data - 0.1 * self.w.grad.data

    w, twin = (tg.tensor(np.ones((2, 1), np.float32), requires_grad=True) for _ in range(2))
    step = tg.compile(lambda x: x @ w, F.mse_loss, Plain(w))
    opt = Plain(twin)
    x, y = np.ones((3, 2), np.float32), np.zeros((3, 1), np.float32)
    for _ in range(2):
        step(x, y)
        opt.zero_grad()
        F.mse_loss(x @ twin, y).backward()
        opt.step()
    assert step.last == "eager" and "Module" in step.reason
    assert same(w.data, twin.data) and not same(w.data, np.ones((2, 1), np.float32))


# ---------------------------------------------------------------------------------------------
# Each step's x and y


BAD_VALUES = {
    "None": None,
    "a string": "1.0, 2.0",
    "a dict": {"x": 1},
    "strings": np.array([["a", "b"]] * 8),
    "objects": np.array([[object(), object()]] * 8, dtype=object),
    "complex": np.ones((8, 2), complex),
    "ragged": [[1.0, 2.0], [3.0]],
}


@pytest.mark.parametrize("what", list(BAD_VALUES))
@pytest.mark.parametrize("which", ["x", "y"])
def test_a_bad_x_or_y_is_refused_by_name_and_changes_nothing(which, what):
    twins = trained([2, 4, 2], nn.MSELoss())
    x, y = base_batch([2, 4, 2], nn.MSELoss())
    before = Snapshot(twins.model, twins.opt)
    batch = {"x": x, "y": y, which: BAD_VALUES[what]}
    with pytest.raises(TypeError, match=rf"tg\.compile: the step's {which} "):
        twins.step(batch["x"], batch["y"])
    assert before.unchanged()
    twins.both(x, y)  # and the step goes on as before
    assert twins.step.last == "replay"


@pytest.mark.parametrize("case", ["features", "rows", "classes", "negative", "bool", "3-D y"])
def test_a_batch_the_model_refuses_raises_eagers_error_and_changes_nothing(case):
    sizes = [3, 4, 2]
    twins = trained(sizes, nn.CrossEntropyLoss(), "momentum")
    x, y = base_batch(sizes, nn.CrossEntropyLoss())
    bad = {"features": (x[:, :2], y), "rows": (x, y[:5]), "classes": (x, np.full(8, 2)),
           "negative": (x, np.full(8, -1)), "bool": (x, y.astype(bool)),
           "3-D y": (x, y[:, None, None])}[case]
    before = Snapshot(twins.model, twins.opt)
    with pytest.raises(Exception) as want:
        twins.eager(*bad)
    with pytest.raises(type(want.value)) as got:
        twins.step(*bad)
    assert str(got.value) == str(want.value)
    assert before.unchanged()  # .grad too: the forward pass refused it before zero_grad


# ---------------------------------------------------------------------------------------------
# 25 and more kinds of changed batch


def _mse(x: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], tuple[Any, Any]]]:
    rng = np.random.default_rng(3)
    nan_x, inf_x = x.copy(), x.copy()
    nan_x[1, 0], inf_x[2, 1] = np.nan, np.inf
    frozen = x.copy()
    frozen.flags.writeable = False
    return {
        "fewer rows": lambda: (x[:5], y[:5]),
        "one row": lambda: (x[:1], y[:1]),
        "more rows": lambda: (np.tile(x, (8, 1)), np.tile(y, (8, 1))),
        "float64 x": lambda: (x.astype(np.float64), y),
        "int64 x": lambda: ((x * 3).astype(np.int64), y),
        "int32 x": lambda: ((x * 3).astype(np.int32), y),
        "bool x": lambda: (x > 0, y),
        "Tensor x": lambda: (tg.tensor(x), y),
        "int Tensor x": lambda: (tg.tensor((x * 3).astype(np.int64)), y),
        "float64 Tensor x": lambda: (tg.tensor(x.astype(np.float64)), y),
        "column-major x": lambda: (np.asfortranarray(x), y),
        "strided x": lambda: (np.tile(x, (2, 1))[::2], y),
        "reversed x": lambda: (x[::-1], y[::-1]),
        "read-only x": lambda: (frozen, y),
        "list x": lambda: (x.tolist(), y),
        "x that requires grad": lambda: (tg.tensor(x, requires_grad=True), y),
        "float64 y": lambda: (x, y.astype(np.float64)),
        "int y": lambda: (x, rng.integers(-2, 3, y.shape)),
        "Tensor y": lambda: (x, tg.tensor(y)),
        "list y": lambda: (x, y.tolist()),
        "column-major y": lambda: (x, np.asfortranarray(y)),
        "NaN in x": lambda: (nan_x, y),
        "inf in x": lambda: (inf_x, y),
        "no rows": lambda: (x[:0], y[:0]),
        "3-D batch": lambda: (np.stack([x, x]), np.stack([y, y])),
        "one sample": lambda: (x[0], y[0]),
        "wrong features": lambda: (x[:, :1], y),
        "wrong y shape": lambda: (x, y[:, :1]),
    }


def _ce(x: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], tuple[Any, Any]]]:
    rng = np.random.default_rng(4)
    many = rng.standard_normal((33, x.shape[1])).astype(np.float32)
    return {
        "int32 classes": lambda: (x, y.astype(np.int32)),
        "uint8 classes, 33 rows": lambda: (many, rng.integers(0, 3, 33).astype(np.uint8)),
        "int8 classes": lambda: (x, y.astype(np.int8)),
        "Tensor classes": lambda: (x, tg.tensor(y)),
        "probabilities": lambda: (x, rng.dirichlet(np.ones(3), len(y)).astype(np.float32)),
        "class out of range": lambda: (x, np.full_like(y, 3)),
        "negative class": lambda: (x, np.full_like(y, -1)),
        "column of classes": lambda: (x, y[:, None]),
    }


SIZES = {"mse": [2, 5, 2], "ce": [2, 5, 3]}
KINDS = [("mse", k) for k in _mse(*base_batch(SIZES["mse"], nn.MSELoss()))] + [
    ("ce", k) for k in _ce(*base_batch(SIZES["ce"], nn.CrossEntropyLoss()))]


def step_both(twins: Twins, x: Any, y: Any) -> None:
    """One step each: the same result bit for bit, or the same error with nothing changed
    by the compiled step."""
    try:
        with np.errstate(all="ignore"):
            want = twins.eager(x, y)
    except Exception as error:  # any error: the compiled step must give the same
        before = Snapshot(twins.model, twins.opt)
        with pytest.raises(type(error)) as got, np.errstate(all="ignore"):
            twins.step(x, y)
        assert str(got.value) == str(error)
        # Refused by the forward pass: nothing changed, .grad neither (the eager loop's
        # zero_grad came first, so its .grad is gone). Refused by the optimizer's step:
        # .grad holds this step's gradient, as the eager loop leaves it.
        backward_ran = any(p.grad is not None for p in twins.eager_model.parameters())
        assert before.unchanged(grads=not backward_ran)
        if backward_ran:
            twins.check()
        return
    with np.errstate(all="ignore"):
        got = twins.step(x, y)
    assert same(got.data, want.data)
    twins.check()
    if isinstance(x, tg.Tensor) and x.requires_grad:
        assert x.grad is not None


def test_there_are_at_least_25_kinds():
    assert len(KINDS) >= 25


@pytest.mark.parametrize("loss, kind", KINDS, ids=[f"{loss}: {kind}" for loss, kind in KINDS])
def test_compile_matches_eager_under_a_changed_batch(loss, kind):
    loss_fn = nn.MSELoss() if loss == "mse" else nn.CrossEntropyLoss()
    twins = trained(SIZES[loss], loss_fn, "momentum")
    x, y = base_batch(SIZES[loss], loss_fn)
    changed = (_mse if loss == "mse" else _ce)(x, y)[kind]
    for _ in range(2):  # the changed batch recorded (or refused), then met again
        step_both(twins, *changed())
        step_both(twins, x, y)
    assert twins.step.last == "replay"  # the usual batch is still replayed


# ---------------------------------------------------------------------------------------------
# A NaN or inf gradient: what the optimizer's own step does, with nothing changed if it refuses


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("bad", ["NaN in x", "inf in x", "huge x", "huge lr"])
def test_a_non_finite_gradient_meets_the_optimizers_own_rule(opt, bad):
    twins = trained([2, 5, 2], nn.MSELoss(), opt)
    x, y = base_batch([2, 5, 2], nn.MSELoss())
    wrong = x.copy()
    if bad == "huge lr":
        for o in (twins.opt, twins.eager_opt):
            o.param_groups[0]["lr"] = 3e38  # a step of a gradient over 1.2 overflows
    else:
        wrong[3, 1] = {"NaN in x": np.nan, "inf in x": np.inf, "huge x": 1e30}[bad]
    for _ in range(2):  # the first time replayed (or recorded), then again
        step_both(twins, wrong, y)
    if bad == "huge lr":
        for o in (twins.opt, twins.eager_opt):
            o.param_groups[0]["lr"] = 0.01
    step_both(twins, x, y)  # and training goes on from where it was


@pytest.mark.parametrize("opt", ["momentum", "adamw"])
def test_a_replayed_step_refuses_a_nan_gradient_as_the_optimizer_does(opt):
    twins = trained([2, 5, 2], nn.MSELoss(), opt)
    x, y = base_batch([2, 5, 2], nn.MSELoss())
    x[0, 0] = np.nan
    before = Snapshot(twins.model, twins.opt)
    with pytest.raises(optim.NonFiniteGradient) as want, np.errstate(all="ignore"):
        twins.eager(x, y)
    with pytest.raises(optim.NonFiniteGradient) as got, np.errstate(all="ignore"):
        twins.step(x, y)
    assert str(got.value) == str(want.value) and "nothing was updated" in str(got.value)
    assert got.value.index == want.value.index
    assert before.unchanged(grads=False)  # weights and moments as they were
    assert all(np.isnan(p.grad.data).any() for p in twins.model.parameters())
