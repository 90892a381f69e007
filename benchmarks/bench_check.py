"""How long check_backprop takes on a learner-sized network in Andrew Ng's convention.

A 784-128-10 network (ReLU, softmax output, cross-entropy) in the L-layer form of the
catalogue (tests/conventions/ng_deep.py), a batch of 256: the time of one check, median of
a few runs. The issue asks for under 2 s on this machine; this prints it (tests never time).

    python3 benchmarks/bench_check.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from catalogue import load

from tinygrad_mlp.compare import check_backprop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ng = load("ng_deep")
    rng = np.random.default_rng(0)
    dims = [784, 128, 10]
    X = rng.standard_normal((784, 256))
    Y = np.eye(10)[rng.integers(0, 10, 256)].T
    parameters = ng.initialize_parameters_deep(dims)
    options = {"hidden": "relu", "output": "softmax"}
    call = functools.partial(
        check_backprop, parameters, X, Y,
        forward=functools.partial(ng.L_model_forward, **options),
        backward=functools.partial(ng.L_model_backward, **options),
        cost=functools.partial(ng.compute_cost, output="softmax"),
        update=ng.update_parameters, learning_rate=0.1)
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        report = call()
        times.append(time.perf_counter() - start)
    print(f"check_backprop, Ng's L-layer form, {'-'.join(map(str, dims))}, batch 256: "
          f"median {statistics.median(times):.3f} s over {args.repeat} runs "
          f"(min {min(times):.3f} s); reference: {report.method}; ok: {report.ok}")


if __name__ == "__main__":
    main()
