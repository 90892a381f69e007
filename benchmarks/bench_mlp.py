"""How much does autograd cost? One MLP training step, three ways, measured in one run.

For each size, the same step (forward, loss, backward, SGD update) is timed for
- tinygrad_mlp (``nn.MLP`` + ``optim.SGD``),
- hand-written NumPy (the same arithmetic with hand-derived gradients: the floor),
- PyTorch on the CPU, when it is installed.
Timings interleave the three in rounds so that machine noise hits all alike; the report
gives medians and the ratios ours/NumPy and ours/PyTorch, which are what carry over between
machines (absolute times on a shared machine do not).

    python benchmarks/bench_mlp.py            # all sizes
    python benchmarks/bench_mlp.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import statistics
import time
from collections.abc import Callable

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim

# (name, layer sizes, batch size, classification?)
SIZES = [
    ("tiny regression 2-16-16-1, batch 32", [2, 16, 16, 1], 32, False),
    ("moons 2-32-32-2, batch 64", [2, 32, 32, 2], 64, True),
    ("digits 64-64-10, batch 64", [64, 64, 10], 64, True),
    ("wider 64-256-256-10, batch 128", [64, 256, 256, 10], 128, True),
    ("large 784-512-512-10, batch 256", [784, 512, 512, 10], 256, True),
]
LR = 0.01


def make_batch(sizes: list[int], batch: int, classify: bool, rng: np.random.Generator):
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    if classify:
        y = rng.integers(0, sizes[-1], batch)
    else:
        y = rng.standard_normal((batch, sizes[-1])).astype(np.float32)
    return x, y


def ours(sizes, x, y, classify) -> Callable[[], None]:
    tg.manual_seed(0)
    model = nn.MLP(sizes)
    loss_fn = nn.CrossEntropyLoss() if classify else nn.MSELoss()
    opt = optim.SGD(model.parameters(), lr=LR)

    def step() -> None:
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def numpy_by_hand(sizes, x, y, classify) -> Callable[[], None]:
    """The floor: what a careful person writes with hand-derived gradients."""
    rng = np.random.default_rng(0)
    weights = [
        (rng.uniform(-1, 1, (n_out, n_in)) / np.sqrt(n_in)).astype(np.float32)
        for n_in, n_out in itertools.pairwise(sizes)
    ]
    biases = [np.zeros(n_out, np.float32) for n_out in sizes[1:]]
    n = x.shape[0]
    onehot = None
    if classify:
        onehot = np.zeros((n, sizes[-1]), np.float32)
        onehot[np.arange(n), y] = 1

    def step() -> None:
        activations = [x]
        pre = []
        for i, (w, b) in enumerate(zip(weights, biases)):
            z = activations[-1] @ w.T + b
            pre.append(z)
            activations.append(np.maximum(z, 0) if i < len(weights) - 1 else z)
        out = activations[-1]
        if classify:
            shifted = out - out.max(axis=1, keepdims=True)
            p = np.exp(shifted)
            p /= p.sum(axis=1, keepdims=True)
            g = (p - onehot) / n
        else:
            g = 2 * (out - y) / out.size
        for i in reversed(range(len(weights))):
            grad_w = g.T @ activations[i]
            grad_b = g.sum(axis=0)
            if i:
                g = (g @ weights[i]) * (pre[i - 1] > 0)
            weights[i] -= LR * grad_w
            biases[i] -= LR * grad_b

    return step


def pytorch(sizes, x, y, classify) -> Callable[[], None] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)  # like NumPy's BLAS here: see main()
    layers: list = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    loss_fn = torch.nn.CrossEntropyLoss() if classify else torch.nn.MSELoss()
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(x), torch.from_numpy(np.asarray(y))

    def step() -> None:
        opt.zero_grad()
        loss = loss_fn(model(xt), yt)
        loss.backward()
        opt.step()

    return step


def time_per_step(step: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args(argv)
    rounds = 5 if args.quick else 15
    rng = np.random.default_rng(0)
    torch_threads = "installed" if _has_torch() else "not installed"
    print(f"One training step (forward + loss + backward + SGD), median of {rounds} rounds,")
    print("single-threaded BLAS for NumPy and PyTorch alike.")
    print(f"NumPy {np.__version__}; PyTorch: {torch_threads}.\n")
    header = f"{'size':<38} {'ours/NumPy':>11} {'ours/PyTorch':>13} {'ours µs':>9}"
    print(header)
    print("-" * len(header))
    with _single_threaded():
        for name, sizes, batch, classify in SIZES:
            _race(name, sizes, batch, classify, rounds, rng)
    print("\nratios < 1 mean tinygrad_mlp is faster; µs is this machine's median, for scale only.")


def _race(name: str, sizes: list[int], batch: int, classify: bool, rounds: int,
          rng: np.random.Generator) -> None:
    """Time the three steps for one size, interleaved, and print the ratios."""
    x, y = make_batch(sizes, batch, classify, rng)
    steps = {
        "ours": ours(sizes, x, y, classify),
        "numpy": numpy_by_hand(sizes, x, y, classify),
        "torch": pytorch(sizes, x, y, classify),
    }
    steps = {k: v for k, v in steps.items() if v is not None}
    for step in steps.values():  # warm up caches and allocators
        time_per_step(step, 5)
    per_step = max(1, int(0.02 / max(time_per_step(steps["numpy"], 3), 1e-6)))
    samples: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(rounds):
        for key, step in steps.items():
            samples[key].append(time_per_step(step, per_step))
    median = {k: statistics.median(v) for k, v in samples.items()}
    vs_numpy = median["ours"] / median["numpy"]
    vs_torch = f"{median['ours'] / median['torch']:.2f}" if "torch" in median else "-"
    print(f"{name:<38} {vs_numpy:>11.2f} {vs_torch:>13} {median['ours'] * 1e6:>9.0f}")


def _single_threaded():
    """One BLAS thread for NumPy (and PyTorch): a fair race on a shared, noisy machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _has_torch() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
