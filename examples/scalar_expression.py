"""One neuron, by hand and by autograd: o = tanh(w1·x1 + w2·x2 + b) on 0-d Tensors.

    python examples/scalar_expression.py          # picture: out/scalar_expression/neuron.svg
    python examples/scalar_expression.py --out pics --format png

Five numbers go in, one comes out. ``o.backward()`` fills the ``.grad`` of every input, and
the script prints each value and gradient beside the derivative worked out on paper
(tanh'(n) = 1 - tanh(n)², then the chain rule through the sum and the products), and
checks that the two agree. The bias is chosen so that o = 1/√2, where the slope
1 - o² is exactly 1/2, which makes the closed forms easy to check by eye.

Then it draws the graph the engine recorded, with every value and gradient in its box.
The picture needs Graphviz's ``dot`` program; without it the DOT text is written instead
(``neuron.dot``) and the script says how to install Graphviz.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import tinygrad_mlp as tg
from tinygrad_mlp import viz


def scalar(value: float, name: str) -> tg.Tensor:
    """A 0-d float64 Tensor that collects its gradient (float64: exact to ~1e-16)."""
    t = tg.tensor(value, dtype=tg.float64, requires_grad=True)
    t.name = name
    return t


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out/scalar_expression", help="folder for the picture")
    parser.add_argument("--format", default="svg", choices=["svg", "png", "pdf"])
    args = parser.parse_args(argv)

    # The inputs and weights. b puts the pre-activation at atanh(1/√2), so o = 1/√2.
    x1, x2, w1, w2 = 2.0, 0.0, -3.0, 1.0
    b = math.atanh(1 / math.sqrt(2)) - (w1 * x1 + w2 * x2)
    leaves = {name: scalar(v, name) for name, v in
              [("x1", x1), ("x2", x2), ("w1", w1), ("w2", w2), ("b", b)]}

    n = leaves["w1"] * leaves["x1"] + leaves["w2"] * leaves["x2"] + leaves["b"]
    n.name = "n"
    o = n.tanh()
    o.name = "o"
    (do_dn,) = tg.grad(o, [n], retain_graph=True)  # the gradient at an inner node
    o.backward(retain_graph=True)  # keep the values so the picture can show them

    # The same derivatives on paper: do/dn = 1 - o², then one chain-rule step per input.
    slope = 1 - o.item() ** 2
    closed_form = {
        "x1": (slope * w1, "(1 - o²)·w1"),
        "x2": (slope * w2, "(1 - o²)·w2"),
        "w1": (slope * x1, "(1 - o²)·x1"),
        "w2": (slope * x2, "(1 - o²)·x2"),
        "b": (slope, "(1 - o²)"),
    }
    print(f"n = w1·x1 + w2·x2 + b = {n.item():.6f}")
    print(f"o = tanh(n)           = {o.item():.6f}   (1/√2 = {1 / math.sqrt(2):.6f})")
    print(f"do/dn: autograd {do_dn.item():.6f}, closed form 1 - o² = {slope:.6f}")
    print()
    print(f"{'input':<6}{'value':>10}{'autograd do/d·':>17}{'closed form':>14}   formula")
    worst = abs(do_dn.item() - slope)
    for name, leaf in leaves.items():
        expected, formula = closed_form[name]
        got = leaf.grad.item()
        worst = max(worst, abs(got - expected))
        print(f"{name:<6}{leaf.item():>10.6f}{got:>17.6f}{expected:>14.6f}   {formula}")
    if worst > 1e-12:
        print(f"MISMATCH: autograd and the closed form differ by {worst:.2e}")
        return 1
    print(f"\nautograd matches the closed form for every gradient (largest difference "
          f"{worst:.1e})")

    picture = viz.draw_graph(o, show_values=True,
                             title="o = tanh(w1·x1 + w2·x2 + b): values and gradients")
    path = Path(args.out) / f"neuron.{args.format}"
    try:
        print(f"graph: {viz.save_graph(picture, path)}")
    except viz.DotNotFoundError as error:  # the DOT text is written all the same
        print(f"graph: {path.with_suffix('.dot')} (DOT text only)\n{error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
