"""Ctrl-C at any point of ``optimizer.step()`` or of ``fit`` leaves the model at a whole step
(issue 14). A SIGINT is raised at a chosen line of the library's own code (a trace hook counts
the lines the call executes and raises the signal at the k-th, for k drawn at random), and
what the interrupted call left behind must be exactly (bit for bit) the state before some step
or after it, parameters and optimizer state together."""

from __future__ import annotations

import signal
import sys
import threading

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor, nn, optim
from tinygrad_mlp.optim import commit
from tinygrad_mlp.train import fit

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(),
    reason="signals reach the main thread only",
)

OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.1),
    "momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
    "adam": lambda p: optim.Adam(p, lr=0.05),
    "adamw": lambda p: optim.AdamW(p, lr=0.05, weight_decay=0.1),
}


def is_ours(frame) -> bool:
    return frame.f_globals.get("__name__", "").startswith("tinygrad_mlp")


def run_interrupted(call, at_line: int | None):
    """Run ``call()`` with a SIGINT raised at its ``at_line``-th line of library code (None:
    none). Returns (lines executed, whether KeyboardInterrupt came out)."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if not is_ours(frame):
            return None
        if event == "line":
            count += 1
            if count == at_line:
                signal.raise_signal(signal.SIGINT)
        return tracer

    interrupted = False
    sys.settrace(tracer)
    try:
        call()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        sys.settrace(None)
    return count, interrupted


def state_of(params, opt):
    values = [p.data.tobytes() for p in params]
    state = []
    for p in params:
        entries = opt.state.get(p) or {}
        state.append({k: (v.tobytes() if isinstance(v, np.ndarray) else v)
                      for k, v in entries.items()})
    return values, state


def make_step_setup(name):
    rng = np.random.default_rng(0)
    params = [tg.tensor(rng.normal(size=s).astype(np.float32), requires_grad=True)
              for s in [(4, 3), (3,), (3, 2)]]
    opt = OPTIMIZERS[name](params)

    def set_grads(seed):
        r = np.random.default_rng(seed)
        for p in params:
            p.grad = Tensor(r.normal(size=p.shape).astype(np.float32))

    set_grads(1)
    opt.step()  # so that there is state to tear
    set_grads(2)
    return params, opt


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_an_interrupted_step_is_either_not_taken_or_whole(name):
    params, opt = make_step_setup(name)
    before = state_of(params, opt)
    lines, interrupted = run_interrupted(opt.step, None)
    after = state_of(params, opt)
    assert not interrupted and after != before and lines > 10
    outcomes = set()
    for at_line in range(1, lines + 1):  # every line of the step, each in its own run
        params, opt = make_step_setup(name)
        _, interrupted = run_interrupted(opt.step, at_line)
        assert interrupted, f"the interrupt at line {at_line} was lost"
        now = state_of(params, opt)
        assert now in (before, after), f"a torn step after an interrupt at line {at_line}"
        outcomes.add(now == after)
    assert outcomes == {False, True}  # some interrupts came before the commit, some during


def test_the_check_finds_a_torn_step_when_nothing_holds_the_interrupt_back(monkeypatch):
    """The same probe, with the commit done without deferring Ctrl-C: it must catch the tear
    (so the test above can fail)."""
    monkeypatch.setattr(commit.INTERRUPTS, "main", -1)  # as if this were another thread
    params, opt = make_step_setup("adam")
    before = state_of(params, opt)
    lines, _ = run_interrupted(opt.step, None)
    after = state_of(params, opt)
    torn = 0
    for at_line in range(1, lines + 1):
        params, opt = make_step_setup("adam")
        run_interrupted(opt.step, at_line)
        torn += state_of(params, opt) not in (before, after)
    assert torn > 0


def test_an_interrupt_outside_a_step_still_interrupts():
    opt = make_step_setup("sgd")[1]
    opt.step()  # the handler is installed by now
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_the_handler_chains_to_the_one_it_replaced(monkeypatch):
    seen = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    try:
        deferral = commit.InterruptDeferral()
        monkeypatch.setattr(commit, "INTERRUPTS", deferral)
        make_step_setup("momentum")  # its steps install the new deferral
        assert deferral.ready and signal.getsignal(signal.SIGINT) == deferral.handle
        signal.raise_signal(signal.SIGINT)
        assert seen == [signal.SIGINT]
        deferral.committing = True
        signal.raise_signal(signal.SIGINT)  # held back...
        assert seen == [signal.SIGINT] and deferral.caught is not None
        deferral.committing = False
        deferral.release()  # ...and handed on once the step is whole
        assert seen == [signal.SIGINT, signal.SIGINT]
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_handler_put_over_ours_is_chained_to_at_the_next_step(monkeypatch):
    """A notebook kernel or test runner may install its own SIGINT handler after ours: the
    next step puts ours back in front of it, and the interrupt still reaches it."""
    seen = []
    deferral = commit.InterruptDeferral()
    monkeypatch.setattr(commit, "INTERRUPTS", deferral)
    previous = signal.getsignal(signal.SIGINT)
    try:
        make_step_setup("sgd")
        assert deferral.ready
        signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
        assert not deferral.ready and not deferral.tried
        make_step_setup("adam")  # its steps install ours again
        assert deferral.ready
        signal.raise_signal(signal.SIGINT)
        assert seen == [signal.SIGINT]
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # ignored: nothing to defer
        assert deferral.tried
        make_step_setup("adam")
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def test_steps_in_another_thread_need_no_handler(monkeypatch):
    deferral = commit.InterruptDeferral()
    monkeypatch.setattr(commit, "INTERRUPTS", deferral)
    errors = []

    def work():
        try:
            make_step_setup("adam")[1].step()
        except BaseException as error:  # reported below
            errors.append(error)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert errors == [] and not deferral.tried


# -- fit ----------------------------------------------------------------------------------------


def fit_setup(name):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(24, 2))
    y = (X[:, :1] * 2 - X[:, 1:]).astype(np.float64)
    tg.manual_seed(0)
    model = nn.MLP([2, 3, 1])
    return model, OPTIMIZERS[name](model.parameters()), X, y


def run_fit(model, opt, X, y):
    fit(model, nn.MSELoss(), opt, (X, y), epochs=2, batch_size=8, progress=False)


def reference_states(name):
    """The model and optimizer state before every step of the run, and after the last."""
    model, opt, X, y = fit_setup(name)
    params = list(model.parameters())
    states = [state_of(params, opt)]
    step = opt.step

    def recording_step(closure=None):
        result = step(closure)
        states.append(state_of(params, opt))
        return result

    opt.step = recording_step
    run_fit(model, opt, X, y)
    return states


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_an_interrupted_fit_leaves_the_model_at_a_whole_step(name):
    states = reference_states(name)
    assert len(states) == 7  # 2 epochs of 3 batches, and the start
    model, opt, X, y = fit_setup(name)
    lines, _ = run_interrupted(lambda: run_fit(model, opt, X, y), None)
    assert state_of(list(model.parameters()), opt) == states[-1]
    rng = np.random.default_rng(0)
    reached = set()
    for at_line in rng.choice(np.arange(1, lines + 1), size=120, replace=False):
        model, opt, X, y = setup = fit_setup(name)
        _, interrupted = run_interrupted(lambda s=setup: run_fit(*s), int(at_line))
        assert interrupted
        now = state_of(list(model.parameters()), opt)
        assert now in states, f"fit interrupted at line {at_line} left a torn step"
        reached.add(states.index(now))
        assert model.training  # the mode fit found is restored
    assert len(reached) >= 4  # the interrupts landed all over the run
