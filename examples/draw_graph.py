"""Pictures of the computation graph: an MLP's training step, and a NaN tracked down.

    python examples/draw_graph.py            # writes SVGs into out/draw_graph/
    python examples/draw_graph.py --out pics --format png

Four pictures:

* ``mlp_forward``: the graph that one forward pass of an MLP on the moons data records,
  before ``backward()``: every operation with its shape and dtype, each layer in its frame.
* ``mlp_graph``: the same graph after ``loss.backward()``, with the norm of every gradient.
* ``nan_graph``: a hand-written binary cross-entropy on unscaled inputs: the sigmoid
  saturates to exactly 1.0, ``log(1 - p)`` is ``-inf``, and ``0 * -inf`` is NaN. The NaN
  boxes are red and the first one is marked.
* ``nan_anomaly``: the same forward pass under ``tg.detect_anomaly()``, which stops at the
  operation that made the first inf; ``viz.draw_anomaly`` draws the graph up to it.

``docs/mlp_graph.svg`` and ``docs/nan_graph.svg`` (shown in the README) come from this script.
Where Graphviz's ``dot`` program is missing, the DOT text of each picture is written instead,
with a message saying how to install Graphviz.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from graphviz import Digraph

import tinygrad_mlp as tg
from tinygrad_mlp import nn, viz
from tinygrad_mlp.data import make_moons


def _save(dot: Digraph, path: Path, written: list[Path], missing_dot: list[str]) -> None:
    try:
        written.append(viz.save_graph(dot, path))
    except viz.DotNotFoundError as error:
        written.append(path.with_suffix(".dot"))
        if not missing_dot:  # say it once, not once per picture
            print(error)
        missing_dot.append(str(path))


def _hand_written_bce(p: tg.Tensor, y: tg.Tensor) -> tg.Tensor:
    # What a learner writes first; nn.BCELoss clamps the logs, this does not.
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean()


def main(out_dir: str | Path = "out/draw_graph", fmt: str = "svg") -> list[Path]:
    """Write the four pictures into ``out_dir`` and return their paths.

    >>> import tempfile
    >>> len(main(tempfile.mkdtemp()))
    4
    """
    out = Path(out_dir)
    written: list[Path] = []
    missing_dot: list[str] = []

    # 1 and 2: an MLP's training step, before and after backward.
    tg.manual_seed(0)
    moons = make_moons(n_samples=64, noise=0.1, seed=0)
    x = tg.tensor(moons.X, dtype=tg.float32)
    y = tg.tensor(moons.y)
    x.name = "x"
    model = nn.MLP([2, 16, 16, 2])
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.name = "loss"
    _save(viz.draw_graph(loss, params=model, title="MLP 2→16→16→2, one forward pass"),
          out / f"mlp_forward.{fmt}", written, missing_dot)
    loss.backward()
    _save(viz.draw_graph(loss, params=model,
                         title="after loss.backward(): the norm of each gradient"),
          out / f"mlp_graph.{fmt}", written, missing_dot)

    # 3: NaN. Inputs left unscaled (x 100) saturate the sigmoid to exactly 1.0 in float32.
    tg.manual_seed(1)
    classifier = nn.MLP([2, 8, 1])
    big_x = tg.tensor(moons.X[:8] * 100.0, dtype=tg.float32)
    big_x.name = "x (unscaled)"
    target = tg.tensor(moons.y[:8, None], dtype=tg.float32)
    target.name = "y"
    with np.errstate(all="ignore"):  # the point is to make, and then see, the NaN
        p = classifier(big_x).sigmoid()
        bad_loss = _hand_written_bce(p, target)
        bad_loss.name = "loss"
        bad_loss.backward(retain_graph=True)  # keep the values so the first NaN can be found
    _save(viz.draw_graph(bad_loss, params=classifier,
                         title="hand-written BCE: log(1 - p) with p == 1.0 gives -inf, then NaN"),
          out / f"nan_graph.{fmt}", written, missing_dot)

    # 4: the same under detect_anomaly, which stops at the operation that made the inf.
    classifier.zero_grad()
    try:
        with tg.detect_anomaly(), np.errstate(all="ignore"):
            _hand_written_bce(classifier(big_x).sigmoid(), target)
    except tg.AnomalyError as error:
        _save(viz.draw_anomaly(error, params=classifier,
                               title="tg.detect_anomaly() stopped here"),
              out / f"nan_anomaly.{fmt}", written, missing_dot)
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/draw_graph", help="folder for the pictures")
    parser.add_argument("--format", default="svg", help="svg (default), png or pdf")
    args = parser.parse_args()
    for path in main(args.out, args.format):
        print(path)
