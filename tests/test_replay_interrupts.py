"""Ctrl-C during a compiled step leaves the model at a whole step, as during ``optimizer.step()``.

An interrupt is sent (a real SIGINT to this process) just before each NumPy call of a
replayed step in turn. Wherever it lands, the step is either not taken (weights and optimizer
state as they were) or whole (exactly what the eager step makes): the replay holds Ctrl-C
back while it writes, with the optimizer's own deferral (``optim.INTERRUPTS``).
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from test_replay import OPTIMIZERS, Twins, same

import tinygrad_mlp as tg
from tinygrad_mlp import nn
from tinygrad_mlp.replay import writer


class Tripwire:
    """Every NumPy call a replay makes, counted; a SIGINT sent just before call ``at``."""

    def __init__(self) -> None:
        self.calls, self.at = 0, None

    def wrap(self, fn):
        def call(*args, **kwargs):
            self.calls += 1
            if self.calls == self.at:
                os.kill(os.getpid(), signal.SIGINT)
            return fn(*args, **kwargs)
        return call


def values(twins: Twins, eager: bool) -> list[np.ndarray]:
    model, opt = (twins.eager_model, twins.eager_opt) if eager else (twins.model, twins.opt)
    found = []
    for p in model.parameters():
        found.append(p.data.copy())
        found += [np.asarray(v).copy() for _, v in sorted(opt.state.get(p, {}).items())]
    return found


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="POSIX signals")
@pytest.mark.parametrize("opt", ["momentum", "adamw"])
def test_an_interrupt_anywhere_in_a_replay_leaves_a_whole_step(monkeypatch, opt):
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        pytest.skip("SIGINT is ignored in this process")
    wire = Tripwire()
    for name, fn in list(writer.NAMESPACE.items()):
        if callable(fn):
            monkeypatch.setitem(writer.NAMESPACE, name, wire.wrap(fn))
    tg.manual_seed(0)
    twins = Twins(nn.MLP([3, 4, 2]), nn.CrossEntropyLoss(), OPTIMIZERS[opt])
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 3)).astype(np.float32), rng.integers(0, 2, 6)
    twins.both(x, y)
    twins.both(x, y)  # replayed: now count the calls of one step
    wire.calls = 0
    twins.both(x, y)
    assert twins.step.last == "replay"
    per_step, outcomes = wire.calls, set()
    for at in range(1, per_step + 1):
        wire.calls, wire.at = 0, at
        before = values(twins, eager=False)
        try:
            twins.step(x, y)
            interrupted = False
        except KeyboardInterrupt:
            interrupted = True
        wire.at = None
        assert interrupted, f"the interrupt before call {at} of {per_step} was lost"
        now = values(twins, eager=False)
        if all(same(a, b) for a, b in zip(now, before)):
            outcomes.add("not taken")
        else:
            twins.eager(x, y)  # the step was taken: it must be the whole eager step
            assert all(same(a, b) for a, b in zip(now, values(twins, eager=True))), at
            outcomes.add("whole")
    assert outcomes == {"not taken", "whole"}  # both kinds of landing were tried
