"""What one operation costs the engine: a chain of small elementwise ops, forward and backward.

On a (4, 4) float32 tensor the arithmetic is next to nothing, so the time per operation is
the engine's bookkeeping: making the Tensor, recording the node, and in backward visiting it
and calling its rule. The same chain runs

- in tinygrad_mlp, from a leaf with ``requires_grad=True`` (forward records the graph;
  forward+backward ends with ``.sum().backward()``);
- in plain NumPy (forward: the ufuncs alone; forward+backward: the forward keeping what the
  backward needs, then the chain rule by hand, op by op, in reverse);
- in PyTorch on the CPU, when it is installed (one thread).

Each chain is N of one kind of operation (``mixed`` cycles add, mul, tanh, relu). The report
gives µs per operation (the chain's median time over N, ± its interquartile range as a % of
the median), measured in interleaved rounds as in ``bench_mlp.py``.

    python3 benchmarks/bench_ops.py            # N = 1000
    python3 benchmarks/bench_ops.py --quick    # N = 300, a few seconds
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_mlp import Settings, import_torch, limit_threads, race, spread

import tinygrad_mlp as tg

SHAPE = (4, 4)
KINDS = ["add", "add number", "mul", "relu", "tanh", "mixed"]
MIXED = ["add", "mul", "tanh", "relu"]
NUMBER = 0.001


def pattern(kind: str, n: int) -> list[str]:
    return [MIXED[i % len(MIXED)] for i in range(n)] if kind == "mixed" else [kind] * n


class Operands:
    """The chain's start and constants: values stay of order one along any chain (adding
    ±0.01 and multiplying by 0.9 to 1.1 is a slow random walk; tanh and relu bound it)."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.x = rng.uniform(-1, 1, SHAPE).astype(np.float32)
        self.b = rng.uniform(-0.01, 0.01, SHAPE).astype(np.float32)
        self.c = rng.uniform(0.9, 1.1, SHAPE).astype(np.float32)


def autograd_chain(x: Any, fns: list[Callable[[Any], Any]], backward: bool) -> Callable[[], None]:
    """The chain on an autograd engine (ours or PyTorch): forward, and backward from the sum."""

    def run() -> None:
        t = x
        for f in fns:
            t = f(t)
        if backward:
            x.grad = None
            t.sum().backward()

    return run


def ours(kinds: list[str], o: Operands, backward: bool) -> Callable[[], None]:
    x = tg.tensor(o.x, requires_grad=True)
    b, c = tg.tensor(o.b), tg.tensor(o.c)
    forward = {
        "add": lambda t: t + b,
        "add number": lambda t: t + NUMBER,
        "mul": lambda t: t * c,
        "relu": lambda t: t.relu(),
        "tanh": lambda t: t.tanh(),
    }
    return autograd_chain(x, [forward[k] for k in kinds], backward)


def numpy_chain(kinds: list[str], o: Operands, backward: bool) -> Callable[[], None]:
    x, b, c = o.x, o.b, o.c
    forward = {
        "add": lambda v: v + b,
        "add number": lambda v: v + NUMBER,
        "mul": lambda v: v * c,
        "relu": lambda v: np.maximum(v, 0.0),
        "tanh": np.tanh,
    }
    # The gradient of the input from that of the output g, the input v and the output w.
    chain_rule = {
        "add": lambda g, v, w: g,
        "add number": lambda g, v, w: g,
        "mul": lambda g, v, w: g * c,
        "relu": lambda g, v, w: g * (v > 0),
        "tanh": lambda g, v, w: g * (1.0 - w * w),
    }
    fns = [forward[k] for k in kinds]
    pairs = list(zip(fns, (chain_rule[k] for k in kinds)))
    reverse = [rule for _, rule in reversed(pairs)]

    def run_forward() -> None:
        v = x
        for f in fns:
            v = f(v)

    def run_both() -> None:
        values = [x]
        v = x
        for f in fns:
            v = f(v)
            values.append(v)
        g = np.ones_like(v)
        i = len(fns)
        for rule in reverse:
            g = rule(g, values[i - 1], values[i])
            i -= 1

    return run_both if backward else run_forward


def torch_chain(torch: Any, kinds: list[str], o: Operands, backward: bool) -> Callable[[], None]:
    x = torch.tensor(o.x, requires_grad=True)
    b, c = torch.tensor(o.b), torch.tensor(o.c)
    forward = {
        "add": lambda t: t + b,
        "add number": lambda t: t + NUMBER,
        "mul": lambda t: t * c,
        "relu": torch.relu,
        "tanh": torch.tanh,
    }
    return autograd_chain(x, [forward[k] for k in kinds], backward)


COLUMNS = [
    ("ours", "fwd"), ("ours", "fwd+bwd"), ("NumPy", "fwd"), ("NumPy", "fwd+bwd"),
    ("PyTorch", "fwd"), ("PyTorch", "fwd+bwd"),
]


def measure(kind: str, n: int, settings: Settings, torch: Any) -> dict[str, list[float]]:
    kinds, operands = pattern(kind, n), Operands()
    runs: dict[str, Callable[[], None]] = {}
    for backward, phase in ((False, "fwd"), (True, "fwd+bwd")):
        runs[f"ours {phase}"] = ours(kinds, operands, backward)
        runs[f"NumPy {phase}"] = numpy_chain(kinds, operands, backward)
        if torch is not None:
            runs[f"PyTorch {phase}"] = torch_chain(torch, kinds, operands, backward)
    samples = race(runs, settings)
    return {key: [s / n * 1e6 for s in values] for key, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter chains, fewer rounds")
    parser.add_argument("--smoke", action="store_true", help="tiny chains, one round")
    parser.add_argument("-n", "--length", type=int, help="operations per chain")
    parser.add_argument("--rounds", type=int, help="rounds of timing (overrides the mode)")
    parser.add_argument("--no-torch", action="store_true", help="leave PyTorch out")
    args = parser.parse_args(argv)
    if args.smoke:
        n, settings = 20, Settings(rounds=1, sample_seconds=0.0, warmup_steps=1)
    elif args.quick:
        n, settings = 300, Settings(rounds=5, sample_seconds=0.01, warmup_steps=2)
    else:
        n, settings = 1000, Settings(rounds=15, sample_seconds=0.05, warmup_steps=5)
    n = args.length or n
    if args.rounds is not None:
        settings.rounds = max(1, args.rounds)
    torch = import_torch(not args.no_torch, 1)
    torch_version = "not used" if torch is None else torch.__version__
    versions = f"NumPy {np.__version__}; PyTorch {torch_version}"
    print(f"chains of {n} elementwise operations on a {SHAPE} float32 tensor; {versions}; "
          f"{settings.rounds} rounds")
    print("µs per operation, median ± interquartile range as % of the median")
    print()
    header = ["op", *(f"{who} {phase}" for who, phase in COLUMNS),
              "ours/NumPy fwd+bwd", "ours/PyTorch fwd+bwd"]
    rows = []
    with limit_threads(1):
        for kind in KINDS:
            per_op = measure(kind, n, settings, torch)
            row = [kind]
            for who, phase in COLUMNS:
                values = per_op.get(f"{who} {phase}")
                row.append("-" if values is None else
                           f"{statistics.median(values):.2f} ±{spread(values) * 100:.0f}%")
            ours_both = statistics.median(per_op["ours fwd+bwd"])
            row.append(f"{ours_both / statistics.median(per_op['NumPy fwd+bwd']):.1f}")
            torch_both = per_op.get("PyTorch fwd+bwd")
            row.append("-" if torch_both is None else
                       f"{ours_both / statistics.median(torch_both):.2f}")
            rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(header, widths)))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                        for i, (v, w) in enumerate(zip(row, widths))))
    print()
    print("fwd records the graph (the input requires grad); fwd+bwd adds .sum().backward() "
          "(NumPy: the chain rule by hand).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
