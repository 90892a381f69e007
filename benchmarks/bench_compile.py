"""A recorded training step against the eager one and against NumPy by hand.

Each case is one MLP training step (forward, loss, backward, SGD lr 0.01; float32, ReLU
between layers) run three ways in one process:

- eager: ``optimizer.zero_grad(); loss_fn(model(x), y).backward(); optimizer.step()`` on an
  ``nn.MLP`` whose layers keep the memory layout ``nn.Linear`` gives them;
- compiled: the same model, loss and optimizer through ``tg.compile``
  (``tinygrad_mlp.replay.compile_step``: recorded at the first call, then replayed);
- NumPy by hand: ``ByHand`` from ``bench_mlp.py``, the question's layout written with care
  (the floor: no loss value, no bookkeeping).

Before any timing, eager and compiled take a few steps from the same weights and must agree
bit for bit on every weight, gradient and loss (and the compiled one must really replay);
compiled and NumPy must agree to float32 round-off after one step. Timings interleave the
three in rounds, the order rotating, with single-threaded BLAS (threadpoolctl) unless
``--threads`` says otherwise; the table gives medians per step with their spread and the
median over rounds of each within-round ratio. Issue 7 aims at compiled/NumPy <= 1.0.

    python3 benchmarks/bench_compile.py            # the five cases of bench_mlp.py
    python3 benchmarks/bench_compile.py --quick    # fewer, shorter rounds
    python3 benchmarks/bench_compile.py --smoke    # one round of one step: does it run?
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench_mlp.py is a script beside this one (benchmarks/ is not a package).
from bench_mlp import (
    CASES,
    LR,
    ByHand,
    Case,
    Settings,
    checked_args,
    limit_threads,
    make_problem,
    paired_ratio,
    print_header,
    race,
    show_table,
    spread,
    timing_parser,
    timing_settings,
)

from tinygrad_mlp import nn, optim
from tinygrad_mlp.replay import compile_step

DEFAULT_CASES = [case.name for case in CASES]  # all five cases of bench_mlp.py
CASE_NAMES = [case.name for case in CASES]
TARGET = 1.0  # compiled / NumPy by hand, at most
CHECK_STEPS = 3


class Eager:
    """``nn.MLP`` + loss + ``optim.SGD``, stepped as a PyTorch loop would. The weights are
    written into the layers' own arrays, so each keeps the memory layout nn.Linear gives it."""

    label = "eager"

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray, weights: list[np.ndarray]):
        self.model = nn.MLP(list(case.sizes))
        params = list(self.model.parameters())
        self.pairs = list(zip(params[0::2], params[1::2]))
        for (w, b), W in zip(self.pairs, weights, strict=True):
            np.copyto(w.data, W[1:].T)  # (n_in + 1, n_out), row 0 the bias -> (out, in)
            np.copyto(b.data, W[0])
        self.loss_fn = nn.MSELoss() if case.loss == "mse" else nn.CrossEntropyLoss()
        self.optimizer = optim.SGD(params, lr=LR)
        self.x, self.y = x, y

    def step(self) -> None:
        self.optimizer.zero_grad()
        self.loss_fn(self.model(self.x), self.y).backward()
        self.optimizer.step()

    def weights(self) -> list[np.ndarray]:
        return [np.vstack([b.data[None], w.data.T]) for w, b in self.pairs]

    def grads(self) -> list[np.ndarray]:
        return [np.vstack([b.grad.data[None], w.grad.data.T]) for w, b in self.pairs]


class Compiled(Eager):
    """The same model, loss and optimizer, stepped through ``compile_step``."""

    label = "compiled"

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray, weights: list[np.ndarray]):
        super().__init__(case, x, y, weights)
        self.compiled = compile_step(self.model, self.loss_fn, self.optimizer)
        self.step = functools.partial(self.compiled, x, y)  # type: ignore[method-assign]


def own(weights: list[np.ndarray]) -> list[np.ndarray]:
    """A copy per contestant, so that none can change another's starting weights."""
    return [w.copy() for w in weights]


def check(case: Case) -> str:
    """Eager and compiled agree bit for bit over a few steps; compiled and NumPy to round-off
    after one. Returns a one-line summary; AssertionError otherwise."""
    x, y, weights = make_problem(case)
    eager, compiled = Eager(case, x, y, own(weights)), Compiled(case, x, y, own(weights))
    params_e = [p for pair in eager.pairs for p in pair]
    params_c = [p for pair in compiled.pairs for p in pair]
    hand = ByHand(case, x, y, own(weights), record=True)
    hand.step()
    for k in range(CHECK_STEPS):
        eager.step()
        compiled.step()
        for pe, pc in zip(params_e, params_c, strict=True):
            same = np.array_equal(pe.data, pc.data) and np.array_equal(pe.grad.data, pc.grad.data)
            if not same:
                raise AssertionError(f"{case.name}: compiled and eager differ after step {k + 1}")
        if k == 0:
            scale = max(float(np.abs(w).max()) for w in hand.weights())
            diff = max(float(np.abs(a - b).max())
                       for a, b in zip(compiled.weights(), hand.weights(), strict=True))
            if diff > 1e-5 * scale:
                raise AssertionError(f"{case.name}: compiled and NumPy differ by {diff:.1e}")
    counts = compiled.compiled.counts
    if counts["replay"] != CHECK_STEPS - 1:
        raise AssertionError(
            f"{case.name}: the compiled step did not replay: {counts}, {compiled.compiled.reason}"
        )
    return f"{CHECK_STEPS} steps bit-identical to eager, counts {counts}"


@dataclass
class Result:
    case: Case
    median_us: dict[str, float]
    spread: dict[str, float]
    vs_numpy: float
    vs_eager: float

    @property
    def met(self) -> bool:
        return self.vs_numpy <= TARGET


def run_case(case: Case, settings: Settings) -> Result:
    x, y, weights = make_problem(case)
    racers = {
        "eager": Eager(case, x, y, own(weights)),
        "compiled": Compiled(case, x, y, own(weights)),
        "numpy": ByHand(case, x, y, own(weights)),
    }
    samples = race({key: racer.step for key, racer in racers.items()}, settings)
    return Result(
        case,
        {key: statistics.median(v) * 1e6 for key, v in samples.items()},
        {key: spread(v) for key, v in samples.items()},
        paired_ratio(samples["compiled"], samples["numpy"]),
        paired_ratio(samples["compiled"], samples["eager"]),
    )


def print_table(results: list[Result], markdown: bool) -> None:
    header = ["case", "network, batch, loss", "eager µs", "compiled µs", "NumPy µs",
              "compiled/NumPy", "target", "met", "compiled/eager"]
    rows = []
    for r in results:
        c = r.case
        us = {k: f"{r.median_us[k]:.1f} ±{r.spread[k] * 100:.0f}%" for k in r.median_us}
        rows.append([c.name, f"{c.network}, {c.batch}, {c.loss_name}", us["eager"],
                     us["compiled"], us["numpy"], f"{r.vs_numpy:.2f}",
                     f"{'≤' if markdown else '<='}{TARGET:g}", "yes" if r.met else "NO",
                     f"{r.vs_eager:.2f}"])
    show_table(header, rows, markdown)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = timing_parser(__doc__.splitlines()[0])
    parser.set_defaults(cases=",".join(DEFAULT_CASES))
    return checked_args(parser, argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = timing_settings(args, quick=Settings(rounds=11, sample_seconds=0.02, warmup_steps=5),
                               full=Settings(rounds=25, sample_seconds=0.05, warmup_steps=20))
    with limit_threads(args.threads):
        print_header("bench_compile.py", argv, args.threads, settings.rounds)
        print()
        print("checks before timing:")
        for case in args.chosen:
            try:
                summary = check(case)
            except AssertionError as error:
                print(f"FAILED: {error}", file=sys.stderr)
                return 1
            print(f"  {case.name}: {summary}")
        print()
        results = [run_case(case, settings) for case in args.chosen]
        print_table(results, args.markdown)
        print()
        print("µs: median per step ± interquartile range as % of the median; ratios: median "
              "over rounds of the ratio within a round (< 1: compiled is faster).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
