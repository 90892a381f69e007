"""One MLP training step, three ways, timed in one run: what does the autograd engine cost?

A step is forward, loss, backward and an SGD update (lr 0.01), in float32, ReLU between
layers. Each case is run by

- tinygrad_mlp: ``nn.MLP`` + ``nn.MSELoss``/``nn.CrossEntropyLoss`` + ``optim.SGD``
  (``zero_grad``, ``backward``, ``step``);
- NumPy by hand, in the question's layout (``W[i]`` of shape ``(n_in + 1, n_out)`` with
  row 0 the bias, a column of ones in front of each layer's input) with the gradient of the
  *mean* loss worked out by hand: the floor, the arithmetic with no bookkeeping around it;
- PyTorch on the CPU, when it is installed.

Before any timing, the three take one step from the same initial weights and must agree on
the gradients and the updated weights to float32 round-off, so all three provably do the
same arithmetic. Timings then interleave the contestants in rounds (the order rotating from
round to round) so that machine noise hits all of them alike. For each case the report gives
the median µs per step with its spread (the interquartile range as a % of the median), the
ratios ours/NumPy and ours/PyTorch (the median over rounds of the ratio within a round), and
whether the target of issue 7 is met. Ratios carry over between machines; absolute times on
a shared machine do not.

The memory section measures the peak memory growth of one training step at the medium size
for ours and for the NumPy step (tracemalloc sees every NumPy allocation).

    python3 benchmarks/bench_mlp.py                   # all cases, memory included
    python3 benchmarks/bench_mlp.py --quick           # under a minute
    python3 benchmarks/bench_mlp.py --cases tiny,deep --threads 2 --markdown
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import itertools
import os
import platform
import shlex
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim

LR = 0.01
F32 = np.float32
# One step from identical weights: the largest difference allowed between a contestant and
# the NumPy step, relative to the largest entry of the same layer (float32 round-off; the
# gradients of a 51-layer network pile up more of it than the weights, which move by 1%).
WEIGHT_TOLERANCE = 1e-5
GRAD_TOLERANCE = 1e-3
MEMORY_TARGET = 1.5
MEMORY_CASE = "medium"


@dataclass(frozen=True)
class Case:
    name: str
    batch: int
    sizes: tuple[int, ...]
    loss: str  # "mse" or "ce"
    vs_numpy: float  # target: ours/NumPy at most this
    vs_torch: float  # target: ours/PyTorch below (strict) or at most this
    torch_strict: bool

    @property
    def network(self) -> str:
        """``784-256-128-10``; a run of equal hidden widths shortened: ``32-32x50-1``."""
        parts = [str(self.sizes[0])]
        for width, run in itertools.groupby(self.sizes[1:-1]):
            count = len(list(run))
            parts.append(f"{width}x{count}" if count > 2 else "-".join([str(width)] * count))
        return "-".join([*parts, str(self.sizes[-1])])

    @property
    def loss_name(self) -> str:
        return "MSE" if self.loss == "mse" else "CE"


CASES = [
    Case("tiny", 32, (2, 16, 16, 1), "mse", 2.5, 1.0, True),
    Case("small", 64, (64, 128, 64, 10), "ce", 1.5, 1.0, True),
    Case("medium", 128, (784, 256, 128, 10), "ce", 1.05, 1.05, False),
    Case("large", 512, (784, 1024, 1024, 10), "ce", 1.03, 1.05, False),
    Case("deep", 32, (32, *[32] * 50, 1), "mse", 2.5, 1.0, True),
]
CASE_NAMES = [case.name for case in CASES]


# ---------------------------------------------------------------------------------------------
# Data and initial weights, shared by all contestants


def make_problem(case: Case, seed: int = 0):
    """The batch (float32 inputs; float32 targets or int64 classes) and the initial weights
    in the question's layout, uniform in ±1/sqrt(n_in) as PyTorch's ``nn.Linear`` draws them."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((case.batch, case.sizes[0])).astype(F32)
    if case.loss == "mse":
        y = rng.standard_normal((case.batch, case.sizes[-1])).astype(F32)
    else:
        y = rng.integers(0, case.sizes[-1], case.batch).astype(np.int64)
    weights = []
    for n_in, n_out in itertools.pairwise(case.sizes):
        bound = 1.0 / np.sqrt(n_in)
        weights.append(rng.uniform(-bound, bound, (n_in + 1, n_out)).astype(F32))
    return x, y, weights


def _relative_diff(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> float:
    """The largest |got - want| of a layer over the largest |want| of that layer, worst layer."""
    worst = 0.0
    for a, b in zip(got, want, strict=True):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        scale = np.abs(b).max()
        worst = max(worst, float(np.abs(a - b).max() / scale) if scale else float(np.abs(a).max()))
    return worst


# ---------------------------------------------------------------------------------------------
# The contestants. Each has ``step()`` and, for the equivalence check, ``weights()`` and
# ``grads()`` in the question's layout (row 0 the bias).


class Ours:
    label = "tinygrad_mlp"

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray, weights: list[np.ndarray]):
        model = nn.MLP(list(case.sizes))
        params = list(model.parameters())
        self.pairs = list(zip(params[0::2], params[1::2]))
        for (w, b), W in zip(self.pairs, weights, strict=True):
            # Copied into the parameters' own arrays: the values of the shared weights, in the
            # memory layout nn.Linear chose, and nothing shared with another contestant.
            w.data[...] = W[1:].T  # nn.Linear's (out, in) shape
            b.data[...] = W[0]
        loss_fn = nn.MSELoss() if case.loss == "mse" else nn.CrossEntropyLoss()
        opt = optim.SGD(model.parameters(), lr=LR)

        def step() -> None:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()

        self.step = step
        self.release = opt.zero_grad

    def weights(self) -> list[np.ndarray]:
        return [np.vstack([b.data[None], w.data.T]) for w, b in self.pairs]

    def grads(self) -> list[np.ndarray]:
        return [np.vstack([b.grad.data[None], w.grad.data.T]) for w, b in self.pairs]


class ByHand:
    """The question's layout, written with care: the same gradient as the others (that of the
    mean loss, bias included) and no work that the step does not need. The only copy is the
    one the layout asks for, the batch with its column of ones; every later layer's input
    gets its column of ones by writing the ReLU straight into an array whose column 0 is
    ones, and the ReLU mask of the backward pass is read off that same array (relu(a) > 0
    exactly where a > 0). The bias gradient comes out of the one matrix product with the
    augmented input; each layer is updated once the gradient for the layer below it has been
    computed with its old weights. In-place operations wherever a temporary is not needed
    again. No loss value is computed, only its gradient."""

    label = "NumPy"

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray, weights: list[np.ndarray],
                 record: bool = False):
        self.W = [w.copy() for w in weights]
        self.recorded: list[np.ndarray] = [None] * len(weights)  # type: ignore[list-item]
        Ws, recorded = self.W, self.recorded if record else None
        n, n_features = x.shape
        last = len(Ws) - 1
        rows = np.arange(n)
        mse = case.loss == "mse"

        def step() -> None:
            # forward: the augmented input of each layer is kept for the backward pass
            a = np.empty((n, n_features + 1), F32)
            a[:, 0] = 1.0
            a[:, 1:] = x
            inputs = [a]
            for W in Ws[:last]:
                z = a @ W
                a = np.empty((n, W.shape[1] + 1), F32)
                a[:, 0] = 1.0
                np.maximum(z, 0.0, out=a[:, 1:])
                inputs.append(a)
            out = a @ Ws[last]
            # g = dL/d(out) of the mean loss
            if mse:
                out -= y
                out *= 2.0 / out.size
            else:
                out -= out.max(axis=1, keepdims=True)
                np.exp(out, out=out)
                out /= out.sum(axis=1, keepdims=True)
                out[rows, y] -= 1.0
                out *= 1.0 / n
            g = out
            # backward, updating each layer once its gradient (and the next g) is known
            for i in range(last, -1, -1):
                a = inputs[i]
                grad = a.T @ g
                if i:
                    g = g @ Ws[i][1:].T
                    g *= a[:, 1:] > 0
                if recorded is not None:
                    recorded[i] = grad.copy()
                grad *= LR
                Ws[i] -= grad

        self.step = step

    def release(self) -> None:
        """Nothing outlives a step but the weights."""

    def weights(self) -> list[np.ndarray]:
        return [w.copy() for w in self.W]

    def grads(self) -> list[np.ndarray]:
        return list(self.recorded)


class Torch:
    label = "PyTorch"

    def __init__(self, case: Case, x: np.ndarray, y: np.ndarray, weights: list[np.ndarray]):
        import torch

        layers: list[Any] = []
        self.linears = []
        for i, W in enumerate(weights):
            linear = torch.nn.Linear(W.shape[0] - 1, W.shape[1])
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(W[1:].T)))
                linear.bias.copy_(torch.from_numpy(W[0].copy()))
            self.linears.append(linear)
            layers.append(linear)
            if i < len(weights) - 1:
                layers.append(torch.nn.ReLU())
        model = torch.nn.Sequential(*layers)
        loss_fn = torch.nn.MSELoss() if case.loss == "mse" else torch.nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=LR)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)

        def step() -> None:
            opt.zero_grad()
            loss = loss_fn(model(xt), yt)
            loss.backward()
            opt.step()

        self.step = step

    def weights(self) -> list[np.ndarray]:
        return [np.vstack([m.bias.detach().numpy()[None], m.weight.detach().numpy().T])
                for m in self.linears]

    def grads(self) -> list[np.ndarray]:
        return [np.vstack([m.bias.grad.numpy()[None], m.weight.grad.numpy().T])
                for m in self.linears]


def contestants(case: Case, with_torch: bool, record: bool = False) -> dict[str, Any]:
    x, y, weights = make_problem(case)
    result: dict[str, Any] = {
        "ours": Ours(case, x, y, weights),
        "numpy": ByHand(case, x, y, weights, record=record),
    }
    if with_torch:
        result["torch"] = Torch(case, x, y, weights)
    return result


def check_same_step(case: Case, with_torch: bool) -> dict[str, tuple[float, float]]:
    """One step of each from identical weights: per contestant's label, the relative
    differences (weights, gradients) to the NumPy step. AssertionError beyond round-off."""
    racers = contestants(case, with_torch, record=True)
    for racer in racers.values():
        racer.step()
    reference = racers.pop("numpy")
    diffs = {}
    for racer in racers.values():
        dw = _relative_diff(racer.weights(), reference.weights())
        dg = _relative_diff(racer.grads(), reference.grads())
        if not (dw <= WEIGHT_TOLERANCE and dg <= GRAD_TOLERANCE):
            raise AssertionError(
                f"{case.name}: {racer.label} and the NumPy step disagree after one step from "
                f"the same weights: weights {dw:.1e} (allowed {WEIGHT_TOLERANCE:.0e}), "
                f"gradients {dg:.1e} (allowed {GRAD_TOLERANCE:.0e}) relative difference"
            )
        diffs[racer.label] = (dw, dg)
    return diffs


# ---------------------------------------------------------------------------------------------
# Timing


@dataclass
class Settings:
    rounds: int
    sample_seconds: float  # each timed sample runs about this long
    warmup_steps: int


def _seconds_per_step(step: Callable[[], None], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        step()
    return (time.perf_counter() - start) / count


def _steps_per_sample(step: Callable[[], None], seconds: float) -> int:
    """How many steps make a sample of about ``seconds`` (at least one)."""
    count, elapsed = 1, 0.0
    while True:
        elapsed = _seconds_per_step(step, count) * count
        if elapsed >= seconds / 4 or count >= 1 << 20:
            break
        count *= 2
    return max(1, round(count * seconds / max(elapsed, 1e-9)))


def race(steps: dict[str, Callable[[], None]], settings: Settings) -> dict[str, list[float]]:
    """Seconds per step of each contestant, one sample per round, in rotating order."""
    for step in steps.values():
        for _ in range(settings.warmup_steps):
            step()
    counts = {
        key: 1 if settings.sample_seconds <= 0 else _steps_per_sample(step, settings.sample_seconds)
        for key, step in steps.items()
    }
    keys = list(steps)
    samples: dict[str, list[float]] = {key: [] for key in keys}
    for r in range(settings.rounds):
        shift = r % len(keys)
        for key in keys[shift:] + keys[:shift]:
            samples[key].append(_seconds_per_step(steps[key], counts[key]))
    return samples


def spread(values: list[float]) -> float:
    """The interquartile range as a fraction of the median (0 for fewer than 2 values)."""
    if len(values) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (q3 - q1) / statistics.median(values)


def paired_ratio(a: list[float], b: list[float]) -> float:
    """Median over rounds of a/b within the same round: drift between rounds cancels."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


@dataclass
class Result:
    case: Case
    median_us: dict[str, float]
    spread: dict[str, float]
    vs_numpy: float
    vs_torch: float | None

    @property
    def numpy_met(self) -> bool:
        return self.vs_numpy <= self.case.vs_numpy

    @property
    def torch_met(self) -> bool | None:
        if self.vs_torch is None:
            return None
        if self.case.torch_strict:
            return self.vs_torch < self.case.vs_torch
        return self.vs_torch <= self.case.vs_torch


def run_case(case: Case, settings: Settings, with_torch: bool) -> Result:
    racers = contestants(case, with_torch)
    samples = race({key: racer.step for key, racer in racers.items()}, settings)
    del racers
    gc.collect()
    return Result(
        case,
        {key: statistics.median(v) * 1e6 for key, v in samples.items()},
        {key: spread(v) for key, v in samples.items()},
        paired_ratio(samples["ours"], samples["numpy"]),
        paired_ratio(samples["ours"], samples["torch"]) if "torch" in samples else None,
    )


# ---------------------------------------------------------------------------------------------
# Memory


def peak_growth(racer: Any, warmup: int = 3, repeats: int = 3) -> int:
    """Bytes: the peak of traced memory during one step minus the traced memory before it.

    Before each measured step the contestant lets go of what the previous step left behind
    (ours: the ``.grad`` arrays, dropped by ``zero_grad``, the first thing a step does
    anyway), so that the gradients count in the step that makes them, as the hand-written
    step's do. Tracing starts before the warm-up steps, so that everything a measured step
    frees was allocated under tracing and counts. The median over ``repeats`` steps."""
    gc.collect()
    tracemalloc.start()
    try:
        for _ in range(warmup):
            racer.step()
        growth = []
        for _ in range(repeats):
            racer.release()
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
            racer.step()
            growth.append(tracemalloc.get_traced_memory()[1] - before)
    finally:
        tracemalloc.stop()
    return int(statistics.median(growth))


def measure_memory(warmup: int, repeats: int) -> tuple[int, int]:
    case = next(c for c in CASES if c.name == MEMORY_CASE)
    racers = contestants(case, with_torch=False)
    return (peak_growth(racers["ours"], warmup, repeats),
            peak_growth(racers["numpy"], warmup, repeats))


# ---------------------------------------------------------------------------------------------
# The machine, and the report


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def thread_pools() -> list[str]:
    """threadpoolctl's view of the native thread pools: library and threads."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["threadpoolctl not installed: BLAS threads not controlled"]
    return [
        f"{info.get('internal_api')} ({info.get('prefix')}, {info.get('user_api')}): "
        f"{info.get('num_threads')} threads"
        for info in threadpool_info()
    ]


def limit_threads(n: int):
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n)


def import_torch(wanted: bool, threads: int):
    if not wanted:
        return None
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    return torch


def _mark(met: bool | None) -> str:
    return "-" if met is None else ("yes" if met else "NO")


def _target(value: float, strict: bool = False, markdown: bool = False) -> str:
    if strict:
        return f"<{value:g}"
    return f"{'≤' if markdown else '<='}{value:g}"


def print_table(results: list[Result], markdown: bool, caption: str = "") -> None:
    def us(r: Result, key: str) -> str:
        if key not in r.median_us:
            return "-"
        return f"{r.median_us[key]:.1f} ±{r.spread[key] * 100:.0f}%"

    rows = []
    for r in results:
        c = r.case
        vs_torch = "-" if r.vs_torch is None else f"{r.vs_torch:.2f}"
        rows.append([
            c.name, f"{c.network}, {c.batch}, {c.loss_name}",
            us(r, "ours"), us(r, "numpy"), us(r, "torch"),
            f"{r.vs_numpy:.2f}", _target(c.vs_numpy, markdown=markdown), _mark(r.numpy_met),
            vs_torch, _target(c.vs_torch, c.torch_strict, markdown), _mark(r.torch_met),
        ])
    header = ["case", "network, batch, loss", "ours µs", "NumPy µs", "PyTorch µs",
              "ours/NumPy", "target", "met", "ours/PyTorch", "target", "met"]
    if markdown and caption:
        print(caption)
        print()
    show_table(header, rows, markdown)


def show_table(header: list[str], rows: list[list[str]], markdown: bool) -> None:
    """Print a table, as markdown or as aligned text; the first two columns are text."""
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(" --- " if i < 2 else " ---: " for i in range(len(header))) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) if i < 2 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(v.ljust(w) if i < 2 else v.rjust(w)
                        for i, (v, w) in enumerate(zip(row, widths))))


def timing_parser(description: str) -> argparse.ArgumentParser:
    """The options every step benchmark here shares (modes, cases, threads, markdown)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (< 1 min)")
    parser.add_argument("--smoke", action="store_true",
                        help="one round of one step per contestant: checks that it runs")
    parser.add_argument("--rounds", type=int, help="rounds of timing (overrides the mode)")
    parser.add_argument("--cases", default=",".join(CASE_NAMES),
                        help=f"comma-separated subset of {','.join(CASE_NAMES)}")
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS (and PyTorch) threads, set with threadpoolctl (default 1)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    return parser


def checked_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse, check --cases and --threads, and put the chosen cases in ``args.chosen``."""
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in CASE_NAMES]
    if unknown or not chosen:
        parser.error(f"--cases: unknown {unknown}; choose from {','.join(CASE_NAMES)}")
    args.chosen = [c for c in CASES if c.name in chosen]
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def timing_settings(args: argparse.Namespace, quick: Settings, full: Settings) -> Settings:
    """--smoke, --quick or the full run, with --rounds overriding the count."""
    if args.smoke:
        settings = Settings(rounds=1, sample_seconds=0.0, warmup_steps=1)
    else:
        settings = replace(quick if args.quick else full)
    if args.rounds is not None:
        settings.rounds = max(1, args.rounds)
    return settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = timing_parser(__doc__.splitlines()[0])
    parser.add_argument("--memory", action="store_true",
                        help="also measure memory in --quick/--smoke mode (always done otherwise)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory section")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    return checked_args(parser, argv)


def print_header(script: str, argv: list[str] | None, threads: int, rounds: int) -> str:
    """Print what a reader needs to repeat a run (the command, the machine, the versions,
    the thread pools) and return the command."""
    command = " ".join(["python3", f"benchmarks/{script}",
                        *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    print(f"command: {command}")
    print(f"date: {now}; CPU: {cpu_model()} ({os.cpu_count()} logical CPUs); "
          f"Python {platform.python_version()}")
    print(f"NumPy {np.__version__}; tinygrad_mlp {getattr(tg, '__version__', '?')}")
    print(f"threads (--threads {threads}), as threadpoolctl sees them:")
    for pool in thread_pools():
        print(f"  {pool}")
    print(f"one training step (forward, loss, backward, SGD lr {LR}), float32, ReLU; "
          f"{rounds} rounds")
    return command


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = timing_settings(args, quick=Settings(rounds=9, sample_seconds=0.02, warmup_steps=3),
                               full=Settings(rounds=21, sample_seconds=0.05, warmup_steps=10))
    with_memory = not args.no_memory and (args.memory or not (args.quick or args.smoke))
    torch = import_torch(not args.no_torch, args.threads)

    with limit_threads(args.threads):
        command = print_header("bench_mlp.py", argv, args.threads, settings.rounds)
        torch_version = "not used" if torch is None else (
            f"{torch.__version__}, {torch.get_num_threads()} threads")
        print(f"PyTorch {torch_version}")
        print()

        print("same arithmetic: one step from identical weights, largest difference to the "
              "NumPy step relative to the layer's largest entry (weights, gradients)")
        for case in args.chosen:
            try:
                diffs = check_same_step(case, torch is not None)
            except AssertionError as error:
                print(f"FAILED: {error}", file=sys.stderr)
                return 1
            text = "; ".join(f"{key} {dw:.1e}, {dg:.1e}" for key, (dw, dg) in diffs.items())
            print(f"  {case.name}: {text}  ok")
        print()

        results = []
        for case in args.chosen:
            results.append(run_case(case, settings, torch is not None))
        blas = "BLAS thread" + ("" if args.threads == 1 else "s")
        caption = (
            f"`{command}`: {cpu_model()}, {args.threads} {blas}, NumPy {np.__version__}, "
            f"PyTorch {'-' if torch is None else torch.__version__}, {datetime.date.today()}; "
            f"median of {settings.rounds} rounds."
        )
        print_table(results, args.markdown, caption)
        print()
        print("µs: median per step ± interquartile range as % of the median; ratios: median "
              "over rounds of the ratio in the same round (< 1: tinygrad_mlp is faster).")

        if with_memory:
            warmup, repeats = (1, 1) if args.smoke else (3, 3)
            ours_bytes, numpy_bytes = measure_memory(warmup, repeats)
            ratio = ours_bytes / numpy_bytes
            met = "yes" if ratio <= MEMORY_TARGET else "NO"
            print()
            print(f"memory, peak growth of one {MEMORY_CASE} step (tracemalloc): "
                  f"ours {ours_bytes / 1024:.1f} KiB, NumPy {numpy_bytes / 1024:.1f} KiB, "
                  f"ours/NumPy {ratio:.2f} (target <={MEMORY_TARGET:g}) met: {met}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
