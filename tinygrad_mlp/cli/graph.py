"""The ``graph`` command (alias ``draw``): one training step of an MLP, drawn.

``run_graph(args)`` builds the MLP of ``--sizes`` (or loads ``--model``), runs one forward and
backward pass on a seeded random batch, and writes the picture ``viz.draw_graph`` makes, in
the format of ``--out``'s suffix; ``.html`` writes the stepper page ``viz.stepper`` makes
instead (step through the forward and backward pass in a browser).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, viz
from ..engine.tensor import manual_seed
from .arguments import UsageError, check_fits_in_memory, check_output_file, one_line
from .training import linear_sizes, load_model

__all__ = ["INSTALL_DOT", "run_graph"]

INSTALL_DOT = "apt-get install graphviz, or brew install graphviz"


def _model(args: argparse.Namespace) -> tuple[Any, int, int, str, str]:
    """The model to draw, its inputs and outputs, its loss's name and what to call it."""
    if args.model is not None:
        model, meta = load_model(args.model, finite=False)  # NaN weights are drawn too
        n_in, n_out = linear_sizes(model, args.model, "draw")
        check_fits_in_memory([n_in, n_out], "--batch-size", args.batch_size)
        return model, n_in, n_out, (meta or {}).get("loss", "mse"), args.model
    if len(args.sizes) < 2:
        raise UsageError("--sizes needs at least two sizes (inputs and outputs), e.g. 2,8,1")
    check_fits_in_memory(args.sizes, "--sizes", args.batch_size)
    model = nn.MLP(args.sizes, activation=args.activation)
    return model, args.sizes[0], args.sizes[-1], "mse", f"{args.sizes}"


def _step(args: argparse.Namespace, model: Any, n_in: int, n_out: int, loss_name: str) -> Any:
    """One forward and backward pass on a seeded random batch: the loss."""
    rng = np.random.default_rng(args.seed)
    dtype = next(iter(model.parameters())).dtype
    x = rng.standard_normal((args.batch_size, n_in)).astype(dtype)
    if loss_name == "cross_entropy":
        loss_fn, y = nn.CrossEntropyLoss(), rng.integers(0, n_out, args.batch_size)
    elif loss_name == "bce":
        loss_fn = nn.BCEWithLogitsLoss()
        y = rng.integers(0, 2, (args.batch_size, 1)).astype(dtype)
    else:
        loss_fn, y = nn.MSELoss(), rng.standard_normal((args.batch_size, n_out)).astype(dtype)
    loss = loss_fn(model(x), y)
    loss.backward()
    return loss


def _write(args: argparse.Namespace, loss: Any, model: Any) -> Path | None:
    """The picture (or the stepper page) written; None when Graphviz's dot is missing."""
    try:
        if args.out.suffix.lower() == ".html":
            return viz.stepper(loss, params=model, rankdir=args.rankdir).save(args.out)
        return viz.save_graph(viz.draw_graph(loss, params=model, rankdir=args.rankdir), args.out)
    except viz.DotNotFoundError:  # save_graph wrote the DOT text beside the picture's name
        dot_path = args.out.with_suffix(".dot")
        print(f"Graphviz's dot program is not installed, so {args.out} could not be drawn; "
              f"the DOT text is in {dot_path} ({INSTALL_DOT})", file=sys.stderr)
        return None
    except (OSError, ValueError) as error:
        raise UsageError(f"cannot write '{args.out}': {one_line(error)}") from None


def run_graph(args: argparse.Namespace) -> int:
    """``graph``: see ``graph --help``."""
    check_output_file(args.out, "--out", "graph.svg")
    manual_seed(args.seed)
    model, n_in, n_out, loss_name, what = _model(args)
    loss = _step(args, model, n_in, n_out, loss_name)
    written = _write(args, loss, model)
    if written is None:
        return 1
    page = "stepped through" if args.out.suffix.lower() == ".html" else "drew"
    print(f"{page} one training step of {what} (forward, {loss_name} loss, backward) to "
          f"{written}")
    return 0
