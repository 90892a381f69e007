"""The default command: train an MLP, run the hand-derived network beside it, draw both.

``python -m tinygrad_mlp`` (or ``tinygrad-mlp demo``) runs :func:`run`, in about ten seconds
on a laptop CPU and with NumPy alone (scikit-learn, tqdm, matplotlib and Graphviz only make
it nicer):

1. trains an ``nn.MLP`` with Adam on a built-in dataset (two moons by default), with a
   progress bar, and prints the final loss and accuracy on the training and validation
   splits;
2. starts the hand-derived network of :mod:`tinygrad_mlp.manual` from the same initial
   weights as that MLP and trains it by full-batch gradient descent beside its autograd
   twin (:func:`tinygrad_mlp.convert.train_side_by_side`), printing how closely the two
   agree;
3. writes into the output folder the computation graph of one training step (SVG, or DOT
   text when Graphviz's ``dot`` is missing), two steppers to open in a browser (that step,
   and one tanh neuron micrograd style, each stepped forward and backward node by node), the
   loss curves and the side-by-side run (CSV, and PNG with matplotlib), and lists every file
   it wrote.

    python -m tinygrad_mlp                           # files in ./tinygrad_mlp_out
    python -m tinygrad_mlp demo --dataset spirals --epochs 100 --out DIR
"""

from __future__ import annotations

import copy
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import data, nn, optim, viz
from .convert import SideBySide, from_mlp, train_side_by_side
from .engine.tensor import Tensor, manual_seed
from .plots import MATPLOTLIB_MISSING, have_matplotlib, write_curves, write_side_by_side
from .train import History, fit

__all__ = ["DEFAULT_OUT", "DemoResult", "run"]

DEFAULT_OUT = "tinygrad_mlp_out"
"""Where :func:`run` writes its files unless told otherwise."""

# Samples drawn for the synthetic datasets: enough for a smooth boundary, few enough to be
# quick. The datasets bundled with scikit-learn come at their own size.
_SYNTHETIC = {
    "moons": {"n_samples": 400, "noise": 0.2},
    "spirals": {"n_samples": 600},
    "curve": {"n_samples": 300},
}
_TITLES = {"moons": "two moons", "spirals": "three spirals", "curve": "a 1-D curve"}
_INSTALL_DOT = "apt-get install graphviz, or brew install graphviz"


@dataclass
class DemoResult:
    """What :func:`run` did: the data set, the ``fit`` history, the side-by-side run, how
    closely the two networks agreed and the files written.

    ``max_weight_diff`` is the largest weight difference over all steps, relative to the
    largest weight; ``max_loss_diff`` the largest ``|manual - autograd|`` loss difference.

    >>> DemoResult("moons", "classification", History(loss=[0.3]), None, 0.0, 0.0).agree()
    True
    """

    dataset: str
    task: str
    history: History
    side_by_side: SideBySide | None
    max_weight_diff: float
    max_loss_diff: float
    graph: Path | None = None
    written: list[Path] = field(default_factory=list)

    def agree(self, rtol: float = 1e-9) -> bool:
        """True when the hand-derived network and autograd stayed within ``rtol``.

        >>> DemoResult("moons", "classification", History(), None, 1e-3, 0.0).agree()
        False
        """
        return self.max_weight_diff <= rtol and self.max_loss_diff <= rtol


def _say(text: str, quiet: bool, wrap: bool = True) -> None:
    """Print ``text`` wrapped to 92 columns, continuation lines indented under a step."""
    if quiet:
        return
    if wrap:
        text = textwrap.fill(text, width=92, subsequent_indent="   ", break_long_words=False,
                             break_on_hyphens=False)
    print(text, flush=True)


def _load(name: str, seed: int) -> data.Dataset:
    """A built-in dataset by name; the synthetic ones are drawn from ``seed``."""
    key = name.strip().lower().replace("-", "_")
    if key in _SYNTHETIC:
        return data.load_dataset(key, seed=seed, **_SYNTHETIC[key])
    return data.load_dataset(key, scaled=False)


def _fmt_metrics(history: History, which: str) -> str:
    prefix = "" if which == "train" else "val_"
    text = f"loss {getattr(history, prefix + 'loss')[-1]:.4f}"
    accuracy = getattr(history, prefix + "accuracy")
    if accuracy:
        text += f", accuracy {accuracy[-1]:.1%}"
    return text


def _graph_of_one_step(model: nn.Module, loss_fn: Any, X: np.ndarray, y: np.ndarray,
                       out: Path, quiet: bool) -> tuple[Path, Path]:
    """One forward/backward step of ``model`` on 8 samples: the stepper page (made before
    backward, so that it holds every value), then the picture (SVG, or DOT without ``dot``)."""
    loss = loss_fn(model(X[:8]), y[:8])
    page = viz.stepper(loss, params=model,
                       title="one training step of the MLP, forward and backward (8 samples)")
    stepped = page.save(out / "training_step_stepper.html")
    model.zero_grad()
    loss.backward()
    picture = viz.draw_graph(loss, params=model,
                             title="one training step: forward, loss and backward (8 samples)")
    model.zero_grad()
    try:
        return viz.save_graph(picture, out / "training_step.svg"), stepped
    except viz.DotNotFoundError:  # save_graph wrote the DOT text beside the SVG's name
        dot_path = out / "training_step.dot"
        _say(f"   Graphviz's dot program is not installed, so the graph was written as DOT "
             f"text to {dot_path}; for the SVG picture: {_INSTALL_DOT}", quiet, wrap=False)
        return dot_path, stepped


def neuron_stepper(out: Path) -> Path:
    """The stepper of one tanh neuron on numbers, micrograd style: ``tanh(x1·w1 + x2·w2 + b)``
    (the weights of micrograd's own example, which make ``∂o/∂n`` exactly 0.5).

    >>> import tempfile
    >>> neuron_stepper(Path(tempfile.mkdtemp())).name
    'neuron_stepper.html'
    """
    x1, x2 = Tensor(2.0, dtype=np.float64), Tensor(0.0, dtype=np.float64)
    w1 = Tensor(-3.0, requires_grad=True, dtype=np.float64)
    w2 = Tensor(1.0, requires_grad=True, dtype=np.float64)
    b = Tensor(6.8813735870195432, requires_grad=True, dtype=np.float64)
    for tensor, name in ((x1, "x1"), (x2, "x2"), (w1, "w1"), (w2, "w2"), (b, "b")):
        tensor.name = name
    n = x1 * w1 + x2 * w2 + b
    n.name = "n"
    o = n.tanh()
    o.name = "o"
    page = viz.stepper(o, title="one neuron: o = tanh(x1·w1 + x2·w2 + b)")
    return page.save(out / "neuron_stepper.html")


@dataclass
class _Problem:
    """The data set, split and standardized, and the MLP's layer sizes."""

    ds: data.Dataset
    X_train: np.ndarray
    X_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    sizes: list[int]

    @property
    def classify(self) -> bool:
        return self.ds.task == "classification"


def _problem(dataset: str, seed: int, hidden: tuple[int, ...]) -> _Problem:
    """Load ``dataset``, split it, standardize on the training split only."""
    ds = _load(dataset, seed)
    classify = ds.task == "classification"
    X_train, X_val, y_train, y_val = data.train_test_split(
        ds.X, ds.y, test_size=0.25, seed=seed, stratify=classify
    )
    scaler = data.Standardize().fit(X_train)  # fit on the training split only
    X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    if not classify:
        target_scaler = data.Standardize().fit(y_train)
        y_train, y_val = target_scaler.transform(y_train), target_scaler.transform(y_val)
    n_out = ds.n_classes if classify else ds.y.shape[1]
    return _Problem(ds, X_train, X_val, y_train, y_val, [ds.n_features, *hidden, n_out])


def _train(problem: _Problem, epochs: int, lr: float, seed: int, progress: bool,
           quiet: bool) -> tuple[nn.MLP, Any, dict[str, Any], History]:
    """Step 1: the MLP trained with Adam; returns it, its loss, its initial weights and the
    history."""
    sizes, what = problem.sizes, _TITLES.get(problem.ds.name, problem.ds.name)
    manual_seed(seed)
    model = nn.MLP(sizes, activation="relu")
    initial = copy.deepcopy(model.state_dict())
    loss_fn: Any = nn.CrossEntropyLoss() if problem.classify else nn.MSELoss()
    _say(f"tinygrad_mlp demo: an autograd MLP on {what}, and a hand-derived network beside it",
         quiet)
    _say("", quiet)
    _say(f"1. Training nn.MLP({sizes}) with Adam (lr {lr:g}) for {epochs} epochs: "
         f"{len(problem.X_train)} training and {len(problem.X_val)} validation samples, "
         f"{problem.ds.n_features} standardized features", quiet)
    history = fit(model, loss_fn, optim.Adam(model.parameters(), lr=lr),
                  (problem.X_train, problem.y_train), epochs=epochs,
                  val_data=(problem.X_val, problem.y_val), batch_size=32, seed=seed,
                  progress=progress and not quiet)
    _say(f"   final: train {_fmt_metrics(history, 'train')}; "
         f"validation {_fmt_metrics(history, 'val')}", quiet)
    return model, loss_fn, initial, history


def _beside(problem: _Problem, initial: dict[str, Any], steps: int, gd_lr: float,
            quiet: bool) -> tuple[SideBySide, float, float]:
    """Step 2: the hand-derived network beside its autograd twin, from the same weights;
    returns the run and the largest weight and loss differences."""
    classify = problem.classify
    # The twin ends in a softmax so that the manual network's cross-entropy (which takes
    # probabilities) computes exactly the loss the MLP was trained with on its logits.
    twin = nn.MLP(problem.sizes, activation="relu",
                  output_activation=nn.Softmax(dim=-1) if classify else None)
    twin.load_state_dict(initial)
    twin.double()
    net = from_mlp(twin, loss="cross_entropy" if classify else "mse", learning_rate=gd_lr)
    _say("", quiet)
    _say(f"2. The hand-derived network (tinygrad_mlp.manual) from the same initial weights: "
         f"{steps} steps of full-batch gradient descent (lr {gd_lr:g}) beside its autograd "
         "twin, in float64", quiet)
    with np.errstate(all="ignore"):
        side = train_side_by_side(net, problem.X_train, problem.y_train, steps)
    weight_diff = max(side.max_weight_diff, default=0.0)
    loss_diff = max((abs(a - b) for a, b in zip(side.manual_losses, side.mlp_losses)),
                    default=0.0)
    _say(f"   loss {side.manual_losses[0]:.4f} -> {side.manual_losses[-1]:.4f} (manual), "
         f"{side.mlp_losses[0]:.4f} -> {side.mlp_losses[-1]:.4f} (autograd)", quiet)
    _say(f"   largest weight difference (relative): {weight_diff:.1e}; largest loss "
         f"difference: {loss_diff:.1e}", quiet)
    agreed = weight_diff <= 1e-9 and loss_diff <= 1e-9
    _say("   they agree to rounding error" if agreed
         else "   they DISAGREE: the hand-derived gradients differ from autograd's", quiet)
    return side, weight_diff, loss_diff


def _write(out: Path, problem: _Problem, model: nn.MLP, loss_fn: Any, history: History,
           side: SideBySide, result: DemoResult, quiet: bool) -> None:
    """Step 3: the pictures and numbers, each file listed."""
    out.mkdir(parents=True, exist_ok=True)
    what = _TITLES.get(problem.ds.name, problem.ds.name)
    _say("", quiet)
    _say(f"3. Pictures and numbers in {out}", quiet)
    result.graph, stepped = _graph_of_one_step(model, loss_fn, problem.X_train,
                                               problem.y_train, out, quiet)
    written = [result.graph, stepped, neuron_stepper(out)]
    loss_name = "cross-entropy" if problem.classify else "MSE (standardized targets)"
    written += write_curves(out / "loss_curves",
                            {"train": history.loss, "validation": history.val_loss},
                            title=f"nn.MLP on {what}: loss per epoch", ylabel=loss_name)
    if problem.classify:
        written += write_curves(out / "accuracy_curves",
                                {"train": history.accuracy, "validation": history.val_accuracy},
                                title=f"nn.MLP on {what}: accuracy per epoch",
                                ylabel="accuracy")
    written += write_side_by_side(out / "side_by_side", side.manual_losses, side.mlp_losses,
                                  side.max_weight_diff)
    if not have_matplotlib():
        _say("   " + MATPLOTLIB_MISSING, quiet, wrap=False)
    result.written = written
    _say("", quiet)
    _say(f"Wrote {len(written)} files:", quiet)
    for path in written:
        _say(f"   {path}", quiet)


def run(
    dataset: str = "moons",
    epochs: int = 60,
    seed: int = 0,
    out_dir: str | Path | None = DEFAULT_OUT,
    steps: int = 200,
    hidden: tuple[int, ...] = (32, 32),
    lr: float = 0.01,
    gd_lr: float = 0.5,
    progress: bool = True,
    quiet: bool = False,
) -> DemoResult:
    """Train, compare with the hand-derived network, draw; return what happened.

    ``dataset`` is a name from :data:`tinygrad_mlp.data.DATASETS` (the scikit-learn ones
    need scikit-learn); ``epochs`` of Adam (``lr``) train the ``nn.MLP`` with ``hidden``
    layers; ``steps`` of full-batch gradient descent (``gd_lr``) train the hand-derived
    network and its autograd twin from the MLP's initial weights, in float64. Files go to
    ``out_dir`` (None: no files). ``seed`` fixes the data, the split, the initial weights
    and the shuffling. ``progress`` shows fit's progress bar; ``quiet`` prints nothing.

    >>> result = run(epochs=2, steps=5, out_dir=None, quiet=True)
    >>> result.dataset, result.history.epochs, result.agree(rtol=1e-12)
    ('moons', 2, True)
    """
    problem = _problem(dataset, seed, hidden)
    model, loss_fn, initial, history = _train(problem, epochs, lr, seed, progress, quiet)
    side, weight_diff, loss_diff = _beside(problem, initial, steps, gd_lr, quiet)
    result = DemoResult(problem.ds.name, problem.ds.task, history, side, weight_diff,
                        loss_diff)
    if out_dir is not None:
        _write(Path(out_dir), problem, model, loss_fn, history, side, result, quiet)
    return result
