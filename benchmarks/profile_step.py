"""Where does a small training step spend its time? cProfile over many steps of tinygrad_mlp.

The step is the one ``bench_mlp.py`` times (``zero_grad``, forward, loss, ``backward``, SGD),
by default for the tiny case (2-16-16-1, batch 32, MSE), where nearly all of the time is the
engine's Python rather than arithmetic. The report gives the µs per step without and with
the profiler, the time per source file (the engine's modules, NumPy, C built-ins), and the
top functions by own time (tottime) and by cumulative time, all per step.

    python3 benchmarks/profile_step.py                  # 5000 steps of the tiny case
    python3 benchmarks/profile_step.py --quick          # 1000 steps
    python3 benchmarks/profile_step.py --case small --top 40
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from collections import defaultdict
from pathlib import Path

from bench_mlp import CASE_NAMES, CASES, Ours, limit_threads, make_problem


def _where(filename: str) -> str:
    """A short name for a source file: from the package's folder on, else the file's name."""
    parts = Path(filename).parts
    for package in ("tinygrad_mlp", "numpy", "torch"):
        if package in parts:
            index = len(parts) - 1 - parts[::-1].index(package)
            return "/".join(parts[index:])
    return parts[-1] if parts else filename


def _builtin(name: str) -> str:
    """``{method 'reduce' of 'numpy.ufunc' objects}`` -> ``method 'reduce'``."""
    name = name.strip("{}<>").split(" of ")[0]
    return name.removeprefix("built-in method ")


def per_file(raw: dict) -> list[tuple[str, float, int]]:
    """(file, own seconds, calls) summed per source file, C functions one by one."""
    seconds: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)
    for (filename, _line, name), (_cc, nc, tt, _ct, _callers) in raw.items():
        where = f"C: {_builtin(name)}" if filename == "~" else _where(filename)
        seconds[where] += tt
        calls[where] += nc
    return sorted(((k, seconds[k], calls[k]) for k in seconds), key=lambda r: -r[1])


def top_functions(raw: dict, key: int, count: int) -> list[tuple[str, int, float, float]]:
    """(function, calls, own seconds, cumulative seconds), largest ``raw[...][key]`` first."""
    rows = []
    for (filename, line, name), entry in raw.items():
        label = _builtin(name) if filename == "~" else f"{_where(filename)}:{line}({name})"
        rows.append((label, entry[1], entry[2], entry[3], entry[key]))
    rows.sort(key=lambda r: -r[4])
    return [r[:4] for r in rows[:count]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", default="tiny", choices=CASE_NAMES, help="which network")
    parser.add_argument("--steps", type=int, help="steps to profile (default 5000)")
    parser.add_argument("--quick", action="store_true", help="1000 steps")
    parser.add_argument("--smoke", action="store_true", help="50 steps: checks that it runs")
    parser.add_argument("--top", type=int, default=25, help="functions listed per ordering")
    args = parser.parse_args(argv)
    steps = args.steps or (50 if args.smoke else 1000 if args.quick else 5000)
    case = next(c for c in CASES if c.name == args.case)

    with limit_threads(1):
        x, y, weights = make_problem(case)
        step = Ours(case, x, y, weights).step
        for _ in range(min(steps, 100)):  # warm up
            step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        plain = (time.perf_counter() - start) / steps

        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.enable()
        for _ in range(steps):
            step()
        profiler.disable()
        profiled = (time.perf_counter() - start) / steps

    print(f"case {case.name}: {case.network}, batch {case.batch}, {case.loss_name}; "
          f"{steps} training steps of tinygrad_mlp")
    print(f"µs per step: {plain * 1e6:.1f} without the profiler, {profiled * 1e6:.1f} with it")
    print()
    raw = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    print("own time per source file: µs per step, % of the profiled time, calls per step")
    for where, seconds, calls in per_file(raw)[: args.top]:
        print(f"  {where:<44} {seconds / steps * 1e6:9.2f}  {seconds / total * 100:5.1f}%"
              f"  {calls / steps:7.1f}")
    for title, key in (("own time (tottime)", 2), ("cumulative time (cumtime)", 3)):
        print()
        print(f"top {args.top} functions by {title}, per step:")
        print(f"  {'calls':>7}  {'own µs':>9}  {'cum µs':>9}  {'own %':>6}  function")
        for label, calls, own, cumulative in top_functions(raw, key, args.top):
            print(f"  {calls / steps:7.1f}  {own / steps * 1e6:9.2f}  "
                  f"{cumulative / steps * 1e6:9.2f}  {own / total * 100:5.1f}%  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
