"""``tg.compile`` (``tinygrad_mlp.replay``): a recorded step replays bit for bit as the eager one.

Every comparison runs two copies of one model side by side, one stepped eagerly
(``zero_grad``, loss, ``backward``, ``step``) and one through ``compile_step``, and asserts
that losses, parameters, gradients and optimizer state are identical to the last bit.
"""

from __future__ import annotations

import copy
import gc
import os
import subprocess
import sys
import tracemalloc
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim
from tinygrad_mlp.nn import functional as F
from tinygrad_mlp.replay import CompiledStep, compile_step

ROOT = Path(__file__).resolve().parent.parent

OPTIMIZERS: dict[str, Callable[[Any], optim.Optimizer]] = {
    "sgd": lambda p: optim.SGD(p, lr=0.05),
    "momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
    "nesterov": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "dampening": lambda p: optim.SGD(p, lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1),
    "decay": lambda p: optim.SGD(p, lr=0.05, weight_decay=0.1),
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adam_decay": lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1),
    "adamw": lambda p: optim.AdamW(p, lr=0.01),
}


def same(a: Any, b: Any) -> bool:
    """Bit for bit (NaN equal to NaN, -0.0 not equal to 0.0), shape and dtype included."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


class Twins:
    """One model stepped eagerly and a deep copy of it stepped through ``compile_step``."""

    def __init__(self, model: Any, loss_fn: Any, make_optimizer: Callable[[Any], Any],
                 **options: Any) -> None:
        self.eager_model, self.model = model, copy.deepcopy(model)
        self.loss_fn = loss_fn
        self.eager_opt = make_optimizer(self.eager_model.parameters())
        self.opt = make_optimizer(self.model.parameters())
        self.step = compile_step(self.model, loss_fn, self.opt, **options)

    def eager(self, x: Any, y: Any) -> Any:
        self.eager_opt.zero_grad()
        loss = self.loss_fn(self.eager_model(x), y)
        loss.backward()
        self.eager_opt.step()
        return loss

    def both(self, x: Any, y: Any) -> None:
        """One step each; everything must agree exactly."""
        want = self.eager(x, y)
        got = self.step(x, y)
        assert isinstance(got, tg.Tensor) and got.grad_fn is None and not got.requires_grad
        assert same(got.data, want.data), (got, want)
        self.check()

    def check(self) -> None:
        pairs = zip(self.eager_model.parameters(), self.model.parameters(), strict=True)
        for p, q in pairs:
            assert same(p.data, q.data)
            assert (p.grad is None) == (q.grad is None)
            if p.grad is not None:
                assert isinstance(q.grad, tg.Tensor) and same(p.grad.data, q.grad.data)
            mine, theirs = self.eager_opt.state.get(p, {}), self.opt.state.get(q, {})
            assert mine.keys() == theirs.keys()
            for key in mine:
                assert same(mine[key], theirs[key]), key


def batch(rng: np.random.Generator, n: int, sizes: list[int], loss: str, dtype: Any = np.float32):
    x = (rng.standard_normal((n, sizes[0])) * 3).astype(dtype)
    if loss == "mse":
        return x, rng.standard_normal((n, sizes[-1])).astype(dtype)
    return x, rng.integers(0, sizes[-1], n)


def make(sizes: list[int], activation: str = "relu", loss: str = "mse", opt: str = "sgd",
         dtype: Any = np.float32, seed: int = 0, **options: Any) -> Twins:
    tg.manual_seed(seed)
    model = nn.MLP(sizes, activation=activation)
    if dtype == np.float64:
        model.double()
    loss_fn = nn.MSELoss() if loss == "mse" else nn.CrossEntropyLoss()
    return Twins(model, loss_fn, OPTIMIZERS[opt], **options)


# ---------------------------------------------------------------------------------------------
# Bit-identity


@pytest.mark.parametrize("opt", list(OPTIMIZERS))
@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_steps_are_bit_identical(activation, loss, opt):
    sizes = [4, 8, 8, 3]
    twins = make(sizes, activation, loss, opt)
    rng = np.random.default_rng(1)
    for _ in range(4):
        twins.both(*batch(rng, 16, sizes, loss))
    assert twins.step.counts == {"replay": 3, "record": 1, "eager": 0}, twins.step.reason
    assert twins.step.compiled and twins.step.reason is None


@pytest.mark.parametrize("loss", ["mse", "ce"])
@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
def test_float64_models(loss, opt):
    sizes = [3, 6, 4]
    twins = make(sizes, "tanh", loss, opt, dtype=np.float64)
    rng = np.random.default_rng(2)
    for _ in range(3):
        twins.both(*batch(rng, 10, sizes, loss, np.float64))
    assert twins.step.counts["replay"] == 2, twins.step.reason
    assert twins.model[0].weight.grad.dtype == np.float64


@pytest.mark.parametrize("classes", [1, 2, 64, 65, 130])
def test_cross_entropy_with_few_and_many_classes(classes):
    # The engine may treat few-class logits differently (column-major): both sides of it.
    sizes = [5, 12, classes]
    twins = make(sizes, "relu", "ce", "momentum")
    rng = np.random.default_rng(classes)
    for n in (9, 9, 9, 4, 4):
        twins.both(*batch(rng, n, sizes, "ce"))
    assert twins.step.counts == {"replay": 3, "record": 2, "eager": 0}, twins.step.reason


@settings(max_examples=20, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    n=st.integers(1, 9),
    activation=st.sampled_from(["relu", "tanh", "sigmoid"]),
    loss=st.sampled_from(["mse", "ce"]),
    opt=st.sampled_from(sorted(OPTIMIZERS)),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_random_small_mlps(sizes, n, activation, loss, opt, dtype, seed):
    twins = make(sizes, activation, loss, opt, dtype, seed)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        twins.both(*batch(rng, n, sizes, loss, dtype))
    assert twins.step.counts["replay"] == 2, twins.step.reason


def test_hand_built_sequential_and_functional_losses():
    # Nested Sequentials, Identity, a Linear without bias, an activation after the last layer,
    # the functional loss, a sum reduction, C-ordered weights set through .data.
    tg.manual_seed(3)
    model = nn.Sequential(
        nn.Identity(),
        nn.Sequential(nn.Linear(5, 7), nn.Tanh()),
        nn.Linear(7, 6, bias=False), nn.ReLU(), nn.Sigmoid(),
        nn.Linear(6, 4), nn.Sigmoid(),
    )
    model[2].weight.data = np.ascontiguousarray(model[2].weight.data)
    rng = np.random.default_rng(3)
    for loss_fn in (F.cross_entropy, nn.CrossEntropyLoss(reduction="sum"), F.mse_loss,
                    nn.MSELoss(reduction="sum")):
        twins = Twins(model, loss_fn, OPTIMIZERS["momentum"])
        loss = "mse" if loss_fn in (F.mse_loss,) or isinstance(loss_fn, nn.MSELoss) else "ce"
        for _ in range(3):
            twins.both(*batch(rng, 6, [5, 4], loss))
        assert twins.step.counts["replay"] == 2, twins.step.reason


def test_a_bare_linear_layer_and_mixed_input_dtypes():
    tg.manual_seed(4)
    twins = Twins(nn.Linear(3, 2), nn.MSELoss(), OPTIMIZERS["sgd"])
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3))  # float64 batch, float32 model: cast as eager casts it
    y = rng.integers(-2, 2, (5, 2))  # integer targets
    for _ in range(3):
        twins.both(x, y)
        twins.both(tg.tensor(x.astype(np.float32)), tg.tensor(y))
        twins.both(tg.tensor(np.ones((5, 3), np.int64)), y.astype(np.float32))
    assert twins.step.counts["replay"] >= 6, twins.step.reason


def test_frozen_layers_and_optimizer_only_parameters():
    tg.manual_seed(5)
    model = nn.MLP([3, 5, 5, 2])
    model[0].weight.requires_grad_(False)
    model[0].bias.requires_grad_(False)
    stray = tg.zeros(2, requires_grad=True)
    stray.grad = tg.ones(2)

    def make_opt(params):
        return optim.SGD([*params, copy.deepcopy(stray)], lr=0.1, momentum=0.5)

    twins = Twins(model, nn.CrossEntropyLoss(), make_opt)
    rng = np.random.default_rng(5)
    for _ in range(3):
        twins.both(*batch(rng, 8, [3, 2], "ce"))
    assert twins.step.counts["replay"] == 2, twins.step.reason
    assert twins.model[0].weight.grad is None
    assert twins.opt.param_groups[0]["params"][-1].grad is None  # zero_grad() did that


def test_nan_and_signed_zeros_stay_bit_identical():
    twins = make([2, 4, 1], "relu", "mse")
    # (No NaN or inf in x: optimizer.step refuses the NaN gradients they make, issue 14.)
    x = np.array([[0.0, -0.0], [-0.0, 1.0], [0.0, 2.0]], np.float32)
    y = np.zeros((3, 1), np.float32)
    with np.errstate(all="ignore"):
        for _ in range(3):
            twins.both(x, y)
    assert twins.step.counts["replay"] == 2, twins.step.reason


# ---------------------------------------------------------------------------------------------
# What a replayed step leaves behind


def test_parameters_stay_the_same_arrays_and_grads_are_tensors():
    twins = make([3, 4, 2], "relu", "ce", "momentum")
    arrays = [p.data for p in twins.model.parameters()]
    rng = np.random.default_rng(6)
    for _ in range(3):
        twins.both(*batch(rng, 5, [3, 2], "ce"))
    assert all(p.data is a for p, a in zip(twins.model.parameters(), arrays))
    for p in twins.model.parameters():
        assert isinstance(p.grad, tg.Tensor) and p.grad.shape == p.shape
        assert twins.opt.state[p]["momentum_buffer"].shape == p.shape
    # The optimizer still works on its own, eager, after replays.
    twins.opt.step()
    twins.eager_opt.step()
    twins.check()


def test_learning_rate_and_momentum_changes_are_honoured():
    twins = make([3, 5, 2], "tanh", "mse", "sgd")
    rng = np.random.default_rng(7)
    schedule = [0.1, 0.1, 0.01, 0.5, 0.0]
    for lr in schedule:
        for opt in (twins.opt, twins.eager_opt):
            opt.param_groups[0]["lr"] = lr
        twins.both(*batch(rng, 4, [3, 2], "mse"))
    assert twins.step.counts == {"replay": 4, "record": 1, "eager": 0}
    for momentum in (0.9, 0.8, 0.0):  # turning momentum on calls for other NumPy calls
        for opt in (twins.opt, twins.eager_opt):
            opt.param_groups[0]["momentum"] = momentum
        twins.both(*batch(rng, 4, [3, 2], "mse"))
    assert twins.step.counts["record"] == 3  # on, (0.8: the same calls), off again


def test_a_new_batch_shape_is_recorded_and_cached():
    twins = make([3, 4, 2], "relu", "ce", "adam", cache_size=2)
    rng = np.random.default_rng(8)
    for n in (8, 8, 3, 8, 3, 8, 5, 8, 3):  # an epoch's last smaller batch, and a third shape
        twins.both(*batch(rng, n, [3, 2], "ce"))
    # 8 and 3 record once and then replay; 5 evicts 3 (8 was used since), so 8 still
    # replays and 3 records again.
    assert twins.step.counts == {"replay": 5, "record": 4, "eager": 0}


@pytest.mark.parametrize("opt", ["momentum", "adam"])
def test_model_cast_to_float64_and_replaced_arrays_are_noticed(opt):
    # The optimizer's float32 buffers are cast too, at the first step after (as eager does).
    twins = make([3, 4, 2], "relu", "mse", opt)
    rng = np.random.default_rng(9)
    twins.both(*batch(rng, 4, [3, 2], "mse"))
    twins.both(*batch(rng, 4, [3, 2], "mse"))
    twins.model.double()
    twins.eager_model.double()
    for _ in range(2):
        twins.both(*batch(rng, 4, [3, 2], "mse"))
    assert twins.step.counts == {"replay": 2, "record": 2, "eager": 0}
    assert twins.model[0].weight.dtype == np.float64
    for model in (twins.model, twins.eager_model):
        model[0].weight.data = np.full((4, 3), 0.5)
    twins.both(*batch(rng, 4, [3, 2], "mse"))
    assert twins.step.last == "record"


def test_a_layer_replaced_or_added_is_noticed():
    twins = make([3, 4, 2], "relu", "mse", "momentum")
    rng = np.random.default_rng(19)
    for _ in range(2):
        twins.both(*batch(rng, 4, [3, 2], "mse"))
    for model in (twins.model, twins.eager_model):
        model[1] = nn.Tanh()  # a Sequential's child replaced under its own name
    twins.both(*batch(rng, 4, [3, 2], "mse"))
    assert twins.step.last == "record"
    for model in (twins.model, twins.eager_model):
        model.add_module("3", nn.Sigmoid())
    for _ in range(2):
        twins.both(*batch(rng, 4, [3, 2], "mse"))
    assert twins.step.counts == {"replay": 2, "record": 3, "eager": 0}


def test_a_parameter_outside_the_optimizer_runs_eager():
    twins = make([3, 4, 2], "relu", "mse")
    rng = np.random.default_rng(10)
    twins.both(*batch(rng, 4, [3, 2], "mse"))
    for model in (twins.model, twins.eager_model):
        model[2].weight = nn.Parameter(np.ones((2, 4), np.float32))
    for _ in range(3):  # its .grad accumulates from step to step, in both
        twins.both(*batch(rng, 4, [3, 2], "mse"))
    assert twins.step.last == "eager" and "not in the optimizer" in twins.step.reason


# ---------------------------------------------------------------------------------------------
# Eager fallbacks


class Doubler(nn.Module):
    def forward(self, x):
        return x * 2


class NoisySGD(optim.SGD):
    def _update(self, group):
        super()._update(group)


@pytest.mark.parametrize("case", ["module", "leaky", "loss", "lambda", "optimizer", "none"])
def test_unsupported_pieces_run_eager_with_a_reason(case):
    tg.manual_seed(11)
    layers = [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)]
    loss_fn: Any = nn.MSELoss()
    make_opt = OPTIMIZERS["sgd"]
    if case == "module":
        layers.insert(1, Doubler())
    elif case == "leaky":
        layers[1] = nn.LeakyReLU(0.1)
    elif case == "loss":
        loss_fn = nn.BCEWithLogitsLoss()
    elif case == "lambda":
        loss_fn = lambda out, y: ((out - y) ** 2).mean()  # noqa: E731
    elif case == "optimizer":
        make_opt = lambda p: NoisySGD(p, lr=0.1)  # noqa: E731
    else:
        loss_fn = nn.MSELoss(reduction="none")
    twins = Twins(nn.Sequential(*layers), loss_fn, make_opt)
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((5, 3)).astype(np.float32), rng.random((5, 2)).astype(np.float32)
    if case == "none":  # reduction="none": eager refuses to backward a non-scalar loss
        with pytest.raises(RuntimeError, match="one-element"):
            twins.step(x, y)
        assert "reduction" in twins.step.reason
        return
    for _ in range(3):
        twins.both(x, y)
    assert twins.step.counts == {"replay": 0, "record": 0, "eager": 3}
    assert not twins.step.compiled and not twins.step.supported
    assert twins.step.reason == twins.step.unsupported_reason and twins.step.reason


def test_unsupported_inputs_run_eager():
    twins = make([3, 4, 2], "relu", "ce")
    rng = np.random.default_rng(12)
    x, y = batch(rng, 5, [3, 2], "ce")
    twins.both(x.tolist(), y.tolist())  # lists: eager converts them
    assert twins.step.last == "eager" and "NumPy arrays or Tensors" in twins.step.reason
    probs = rng.dirichlet(np.ones(2), 5).astype(np.float32)  # probability targets
    for _ in range(2):
        twins.both(x, probs)
    assert twins.step.last == "eager" and "class indices" in twins.step.reason
    assert twins.step.supported
    twins.both(x, y)
    assert twins.step.last == "record"


def test_input_that_requires_grad_runs_eager_and_gets_its_grad():
    twins = make([3, 4, 2], "relu", "mse")
    x = tg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    x_eager = tg.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    y = np.zeros((2, 2), np.float32)
    twins.eager(x_eager, y)
    twins.step(x, y)
    twins.check()
    assert twins.step.last == "eager" and same(x.grad.data, x_eager.grad.data)


def test_no_grad_and_anomaly_modes_run_eager():
    twins = make([3, 4, 2], "relu", "mse")
    x, y = np.ones((2, 3), np.float32), np.zeros((2, 2), np.float32)
    twins.both(x, y)
    twins.both(x, y)
    with tg.no_grad(), pytest.raises(RuntimeError, match="does not require grad"):
        twins.step(x, y)
    assert "no_grad" in twins.step.reason
    with tg.detect_anomaly():
        twins.eager(x, y)
        twins.step(x, y)
    twins.check()
    assert "detect_anomaly" in twins.step.reason


def test_a_replay_that_differs_is_caught_and_the_eager_result_kept(monkeypatch):
    from tinygrad_mlp.replay import writer

    # A tanh that is off in the last bit, as a changed engine rule would be.
    def off_by_a_bit(x, out):
        np.tanh(x, out)
        return np.nextafter(out, np.inf, out=out)

    monkeypatch.setitem(writer.NAMESPACE, "tanh", off_by_a_bit)
    twins = make([3, 4, 2], "tanh", "mse", "adam")
    rng = np.random.default_rng(13)
    for _ in range(3):
        twins.both(*batch(rng, 4, [3, 2], "mse"))
    assert twins.step.counts == {"replay": 0, "record": 0, "eager": 3}
    assert "differed from the eager step" in twins.step.reason


def test_without_the_check_a_recording_costs_one_eager_step():
    twins = make([3, 4, 2], "sigmoid", "ce", "nesterov", verify=False)
    rng = np.random.default_rng(14)
    for _ in range(3):
        twins.both(*batch(rng, 4, [3, 2], "ce"))
    assert twins.step.counts == {"replay": 2, "record": 1, "eager": 0}


# ---------------------------------------------------------------------------------------------
# Errors: the eager step's, with nothing changed


def errors_match(twins: Twins, x: Any, y: Any, kind: type[Exception]) -> str:
    before = [p.data.copy() for p in twins.model.parameters()]
    with pytest.raises(kind) as want:
        twins.eager(x, y)
    with pytest.raises(kind) as got:
        twins.step(x, y)
    assert str(got.value) == str(want.value)
    assert all(same(p.data, b) for p, b in zip(twins.model.parameters(), before))
    return str(got.value)


def test_bad_input_gives_the_eager_error_and_changes_nothing():
    twins = make([3, 4, 2], "relu", "ce", "momentum")
    rng = np.random.default_rng(15)
    x, y = batch(rng, 6, [3, 2], "ce")
    twins.both(x, y)
    twins.both(x, y)  # now replaying
    message = errors_match(twins, x[:, :2], y, ValueError)  # two features instead of three
    assert "features" in message
    errors_match(twins, x, y.astype(bool), TypeError)  # boolean targets
    errors_match(twins, x, y[:4], ValueError)  # too few targets
    bad = y.copy()
    bad[0] = 2
    assert "out of range" in errors_match(twins, x, bad, IndexError)  # only the data is wrong
    bad[0] = -1
    errors_match(twins, x, bad, IndexError)
    twins.both(x, y)
    assert twins.step.last == "replay"


# ---------------------------------------------------------------------------------------------
# Looking inside, and memory


def test_source_and_repr_show_the_replay():
    twins = make([3, 4, 2], "relu", "ce")
    assert twins.step.source is None
    twins.both(*batch(np.random.default_rng(16), 4, [3, 2], "ce"))
    source = twins.step.source
    assert source.startswith("def replay(x, y):") and "matmul(x, w0_T" in source
    assert "CompiledStep(Sequential" in repr(twins.step) or "CompiledStep(MLP" in repr(twins.step)
    twins.step.clear()
    twins.both(*batch(np.random.default_rng(16), 4, [3, 2], "ce"))
    assert twins.step.last == "record"
    with pytest.raises(ValueError, match="cache_size"):
        CompiledStep(twins.model, twins.loss_fn, twins.opt, cache_size=0)


def test_no_memory_growth_over_many_replays():
    tg.manual_seed(17)
    model = nn.MLP([8, 16, 4])
    step = compile_step(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()))
    x = np.random.default_rng(17).standard_normal((32, 8)).astype(np.float32)
    y = np.arange(32) % 4
    for _ in range(20):
        step(x, y)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(300):
            step(x, y)
        gc.collect()
        growth = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert step.counts["replay"] == 319
    assert growth < 4096, growth


def test_the_step_holds_nothing_once_dropped():
    tg.manual_seed(18)
    model = nn.MLP([3, 4, 2])
    opt = optim.SGD(model.parameters(), lr=0.1)
    step = compile_step(model, nn.MSELoss(), opt)
    x, y = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    for _ in range(3):
        step(x, y)
    refs = [weakref.ref(obj) for obj in (model, opt, step)]
    del model, opt, step
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_benchmark_smoke_run():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_compile.py"), "--smoke"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for name in ("tiny", "small", "medium", "deep"):
        assert f"{name}: 3 steps bit-identical to eager" in done.stdout
        row = next(line for line in done.stdout.splitlines() if line.startswith(name + " "))
        assert row.split()[-2] in ("yes", "NO"), row
