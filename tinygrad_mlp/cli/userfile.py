"""Your network's file, for ``check FILE``, ``diagnose FILE`` and ``compare --network FILE``.

- ``imported(path)``: the file imported as it is (under its own name, its folder first on
  ``sys.path`` as ``python FILE`` would have it; its ``if __name__ == "__main__":`` block does
  not run), and forgotten again afterwards;
- ``UserFile``: what the commands need from it, ``open_network(args)``: the file imported,
  the network found in it by the conventions' names and signatures
  (:func:`tinygrad_mlp.compare.conventions.find_networks`; ``--name`` picks one when several
  fit) and the batch to run it on: a small seeded random batch of the right shapes, or the
  rows of ``--csv PATH --target COLUMN`` in the convention's layout.

Nothing usable found is a :class:`~.arguments.UsageError` that says what was looked for (each
convention's expected signatures) and what the file holds instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import keyword
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ..compare.check import TITLES as CHECK_TITLES
from ..compare.conventions import (
    EXPECTED,
    SIZES,
    ConventionError,
    Found,
    UserNetwork,
    find_networks,
)
from ..compare.usercode import exception_text
from .arguments import UsageError, one_line
from .training import load_csv

__all__ = ["COLUMN_LAYOUT", "UserFile", "imported", "module_name", "open_network",
           "refuse_user_options"]

# Conventions with one example per column (the others take one per row).
COLUMN_LAYOUT = ("ng", "ng-deep")
NEVER_NAMES = frozenset(sys.stdlib_module_names) | {"numpy", "tinygrad_mlp", "__main__"}
# How the reports call each convention, and the course skeleton beside them.
TITLES = {**CHECK_TITLES, "skeleton": "the course skeleton"}


def module_name(path: Path) -> str:
    """The name to import ``path`` under: its stem, unless that is taken or is a name whose
    code is never "the user's" (the standard library's, NumPy's, ours).

    >>> module_name(Path("my_net.py")), module_name(Path("random.py")), module_name(Path("a b.py"))
    ('my_net', 'user_random', 'user_a_b')
    """
    stem = path.stem
    if stem.isidentifier() and not keyword.iskeyword(stem) and stem not in NEVER_NAMES \
            and stem not in sys.modules:
        return stem
    clean = "".join(c if c.isalnum() or c == "_" else "_" for c in stem)
    name = f"user_{clean}"
    while name in sys.modules:
        name += "_"
    return name


@contextmanager
def imported(path: str) -> Iterator[ModuleType]:
    """Import the Python file at ``path`` as it is; afterwards ``sys.path`` is as it was and
    the module is gone from ``sys.modules`` (what it imported stays)."""
    file = Path(path)
    if not file.exists():
        raise UsageError(f"no file at '{path}'")
    if file.is_dir():
        raise UsageError(f"'{path}' is a folder; give the .py file that holds your network")
    if file.suffix != ".py":
        raise UsageError(f"'{path}' is not a Python file (.py); give the file that holds your "
                         "network")
    name = module_name(file)
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise UsageError(f"'{path}' cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    folder, saved_path = str(file.resolve().parent), list(sys.path)
    sys.modules[name] = module
    sys.path.insert(0, folder)
    try:
        _run(spec.loader, module, path)
        yield module
    finally:
        sys.path[:] = saved_path
        sys.modules.pop(name, None)


def _run(loader: Any, module: ModuleType, path: str) -> None:
    try:
        loader.exec_module(module)
    except SyntaxError as error:
        raise UsageError(f"{path}:{error.lineno}: {error.msg}: the file does not parse") from None
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # SystemExit too: the file's own code stopped the import
        raise UsageError(f"importing {path} raised {exception_text(error)}") from None


# -- what the file holds -----------------------------------------------------------------------


def _signature(function: Any) -> str:
    try:
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        return "(...)"


def holdings(module: ModuleType) -> list[str]:
    """The file's own public names, each with what it is (for "what it found instead")."""
    found = []
    for name, value in vars(module).items():
        if name.startswith("_") or inspect.ismodule(value):
            continue
        if inspect.isclass(value) or inspect.isfunction(value):
            if getattr(value, "__module__", None) != module.__name__:
                continue  # imported from elsewhere
        if inspect.isclass(value):
            methods = [n for n, v in vars(value).items() if callable(v) and not n.startswith("_")]
            found.append(f"class {name} (methods: {', '.join(methods) or 'none'})")
        elif inspect.isfunction(value):
            found.append(f"function {name}{_signature(value)}")
        elif isinstance(value, dict):
            keys = ", ".join(map(str, list(value)[:8]))
            found.append(f"dict {name} (keys: {keys or 'none'})")
        else:
            found.append(f"{type(value).__name__} {name}")
    return found


def nothing_found(module: ModuleType, path: str) -> UsageError:
    held = holdings(module)
    looked = "\n\n".join(EXPECTED.values())
    return UsageError(
        f"found no network in {path}.\nIt holds: {'; '.join(held) or 'no public names'}.\n"
        f"It looked for a module-level network or parameters dict, a class it can build with "
        f"sizes {SIZES}, or an initialize_parameters function, in one of these conventions:"
        f"\n\n{looked}"
    )


def pick(found: list[Found], name: str | None, module: ModuleType, path: str) -> Found:
    """The one network to use: the one ``--name`` names (its name, or the name before its
    sizes: ``Network`` for ``Network([4, 5, 3])``); else the only one, or the only one the
    file built itself (``net = Network([784, 30, 10])`` beside its class)."""
    if not found:
        raise nothing_found(module, path)
    listed = ", ".join(f"{f.name} ({TITLES.get(f.convention, f.convention)})" for f in found)
    if name is None:
        built = [f for f in found if not f.resizable]
        if len(found) == 1 or len(built) == 1:
            return found[0] if len(found) == 1 else built[0]
        raise UsageError(f"{path} holds {len(found)} networks: {listed}; pick one with "
                         "--name NAME")
    chosen = [f for f in found if name in (f.name, f.name.split("(")[0])]
    if not chosen:
        raise UsageError(f"--name {name}: no such network in {path}; it holds {listed}")
    return chosen[0]


# -- the network and its batch -----------------------------------------------------------------


@dataclass
class UserFile:
    """A network from a user's file, and the batch to run it on (``X``, ``Y`` are None for a
    free-form ``loss_fn``, which holds its own data). ``subject`` is what to hand
    ``check_backprop`` and ``diagnose``: the course skeleton's object itself (they check it
    stage by stage), else the :class:`UserNetwork`."""

    path: str
    found: Found
    network: UserNetwork
    X: Any
    Y: Any
    batch: str
    subject: Any = None
    others: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line: which network, in which convention, on what data."""
        title = TITLES.get(self.network.convention, self.network.convention)
        also = f" (the file also holds {', '.join(self.others)}: --name picks one)" \
            if self.others else ""
        return f"{self.path}: {self.found.name}, in {title}, {self.batch}{also}"


def _build(found: Found, path: str, inputs: int | None = None,
           outputs: int | None = None) -> UserNetwork:
    try:
        return found.build(inputs, outputs)
    except ConventionError as error:
        raise UsageError(f"{path}: {found.name}: {error}") from None
    except Exception as error:  # the user's class or initializer raised
        raise UsageError(f"{path}: building {found.name} raised {exception_text(error)}") \
            from None


def _random_batch(found: Found, path: str, samples: int, seed: int) -> UserFile:
    network = _build(found, path)
    if network.convention == "free-form":
        return UserFile(path, found, network, None, None, "on the data its loss_fn holds")
    try:
        X, Y = network.example_batch(samples, seed)
    except Exception as error:  # the user's forward pass raised on the batch
        raise UsageError(f"{path}: {found.name}: making a random batch of {samples} raised "
                         f"{exception_text(error)}") from None
    return UserFile(path, found, network, X, Y,
                    f"on a random batch of {samples} examples (seed {seed})")


def _csv_batch(found: Found, path: str, csv: str, target: str, samples: int | None) -> UserFile:
    if found.convention == "free-form":
        raise UsageError(f"--csv: {found.name} is a free-form loss_fn, which holds its own data; "
                         "leave out --csv")
    ds = load_csv(csv, target, None)
    if samples is not None:
        ds = type(ds)(ds.X[:samples], ds.y[:samples], ds.feature_names, ds.target_names,
                      ds.task, ds.name)
    columns = found.convention in COLUMN_LAYOUT
    if ds.task == "classification":
        outputs = 1 if columns and ds.n_classes == 2 else ds.n_classes
    else:
        outputs = ds.y.shape[1]
    network = _build(found, path, ds.n_features, outputs)
    X = ds.X.T if columns else ds.X
    Y = ds.y.T if columns and ds.y.ndim == 2 else ds.y
    _check_fits(network, found, csv, X, Y, columns)
    sized = (f", built for {ds.n_features} inputs and {outputs} output"
             f"{'s' if outputs > 1 else ''}") if found.resizable else ""
    return UserFile(path, found, network, X, Y, f"on {len(ds)} rows of {csv} (target "
                    f"{target!r}, {ds.task}){sized}")


USER_OPTIONS = ("name", "csv", "target", "samples")


def refuse_user_options(args: argparse.Namespace, why: str) -> None:
    """``--name``, ``--csv``, ``--target`` and ``--samples`` pick a network in a file and its
    data: refused where no file is given."""
    given = [f"--{o}" for o in USER_OPTIONS if getattr(args, o, None) is not None]
    if given:
        raise UsageError(f"{' and '.join(given)} apply to a network in your own file, not to "
                         f"{why}")


def _check_fits(network: UserNetwork, found: Found, csv: str, X: np.ndarray, Y: np.ndarray,
                columns: bool) -> None:
    """The CSV's columns are as many as the network's inputs, and its targets fit."""
    try:
        takes = network.example_batch(2, 0)[0].shape[0 if columns else 1]
    except Exception as error:  # the user's forward pass raised
        raise UsageError(f"{found.name}: running it on two examples raised "
                         f"{exception_text(error)}") from None
    has = X.shape[0 if columns else 1]
    if takes != has:
        raise UsageError(f"{csv} does not fit {found.name}: it has {has} feature columns, but "
                         f"the network takes {takes} inputs")
    prepare = getattr(network, "prepare", None)
    try:
        if prepare is not None:
            prepare(X, Y)
    except ValueError as error:
        raise UsageError(f"{csv} does not fit {found.name}: {one_line(error)}") from None


@contextmanager
def open_network(args: argparse.Namespace, path: str, samples: int = 16) -> Iterator[UserFile]:
    """The network in the file at ``path`` and its batch, by the command's ``--name``,
    ``--csv``, ``--target``, ``--samples`` (else ``samples`` random examples, or every row of
    the CSV) and ``--seed``."""
    if (args.csv is None) != (args.target is None):
        raise UsageError("--csv PATH and --target COLUMN go together")
    with imported(path) as module:
        candidates = find_networks(vars(module))
        found = pick(candidates, args.name, module, path)
        if args.csv is not None:
            user = _csv_batch(found, path, args.csv, args.target, args.samples)
        else:
            user = _random_batch(found, path, args.samples or samples, args.seed)
        user.subject = vars(module)[found.name] if found.convention == "skeleton" \
            else user.network
        user.others = tuple(f.name for f in candidates if f is not found)
        yield user
