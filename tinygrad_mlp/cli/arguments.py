"""What every command shares: the one-line errors, the argument types, the output checks.

- ``UsageError``: a bad argument found after parsing; ``main`` prints it on one line and
  exits with status 2 (``RunFailed``, the user's own code raised: status 1). ``one_line`` puts
  any message on one line.
- ``Parser``: an ``ArgumentParser`` whose own errors are one line too.
- argument types (each raises ``ArgumentTypeError``, which argparse reports on one line):
  ``positive_int``, ``positive_float``, ``non_negative_float``, ``fraction``, ``seed``,
  ``samples``,
  ``sizes``, ``dataset_name``, ``train_dataset_name``, ``picture_path``.
- output locations, checked before any work starts: ``check_output_file`` (a file to write:
  not a directory, no file in the way of its folder, a folder we may write in),
  ``check_output_dir`` (a folder to write into) and ``make_parent`` (creates the missing
  folders of a file's path and says so).
- ``check_fits_in_memory``: an MLP (and batch) whose training could not fit in this machine's
  memory is refused before anything is allocated.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from .. import data

__all__ = [
    "PICTURE_SUFFIXES", "Parser", "RunFailed", "UsageError", "check_fits_in_memory",
    "check_output_dir", "check_output_file", "dataset_name", "fraction", "make_parent",
    "non_negative_float", "one_line", "picture_path", "positive_float", "positive_int",
    "samples", "seed", "sizes", "train_dataset_name",
]

PICTURE_SUFFIXES = (".svg", ".png", ".pdf", ".dot", ".gv", ".html")


class UsageError(Exception):
    """A bad argument found after parsing (a file, a combination): one line, exit status 2.

    >>> str(UsageError("--csv needs --target")), UsageError.status
    ('--csv needs --target', 2)
    """

    status = 2


class RunFailed(UsageError):
    """A run that could not finish (the user's own code raised): one line, exit status 1.

    >>> RunFailed.status
    1
    """

    status = 1


def one_line(error: BaseException | str) -> str:
    """The message of ``error`` on one line (some messages carry advice on further lines).

    >>> one_line(ValueError("first\\n  second"))
    'first second'
    """
    return " ".join(str(error).split()) or type(error).__name__


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr (no usage block), status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {one_line(message)} (see {self.prog} --help)\n")


def _number(convert: Callable[[str], Any], fits: Callable[[Any], bool],
            wanted: str) -> Callable[[str], Any]:
    """An argparse ``type=`` that converts a number and checks its range, naming ``wanted``."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not fits(value):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


positive_int = _number(int, lambda v: v >= 1, "a positive integer")
positive_float = _number(float, lambda v: math.isfinite(v) and v > 0,
                         "a positive finite number")
non_negative_float = _number(float, lambda v: math.isfinite(v) and v >= 0,
                             "a finite number >= 0")
seed = _number(int, lambda v: v >= 0, "a seed: an integer >= 0")
MAX_SAMPLES = 1_000_000
samples = _number(int, lambda v: 1 <= v <= MAX_SAMPLES,
                  f"a number of examples from 1 to {MAX_SAMPLES}")


def fraction(text: str) -> float:
    """A fraction strictly between 0 and 1.

    >>> fraction("0.25")
    0.25
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction strictly between 0 and 1, "
                                         f"got {text!r}")
    return value


def sizes(text: str) -> list[int]:
    """Comma-separated positive layer sizes, e.g. ``64,32`` (empty: no hidden layer).

    >>> sizes("64, 32"), sizes("")
    ([64, 32], [])
    """
    try:
        found = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 64,32, got {text!r}"
        ) from None
    if any(n <= 0 for n in found):
        raise argparse.ArgumentTypeError(f"layer sizes must be positive, got {text!r}")
    return found


def dataset_name(text: str) -> str:
    """A built-in dataset's name (``-`` may stand for ``_``)."""
    key = text.strip().lower().replace("-", "_")
    if key not in data.DATASETS:
        raise argparse.ArgumentTypeError(
            f"unknown dataset {text!r}; built-in datasets: {', '.join(data.DATASETS)}"
        )
    return key


def train_dataset_name(text: str) -> str:
    """A built-in dataset's name; the error also names ``--csv``."""
    try:
        return dataset_name(text)
    except argparse.ArgumentTypeError as error:
        raise argparse.ArgumentTypeError(f"{error} (or --csv PATH --target COLUMN)") from None


def picture_path(text: str) -> Path:
    """A file whose suffix picks a picture's format (``.html``: the stepper page)."""
    path = Path(text)
    if path.suffix.lower() not in PICTURE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"the output's suffix picks the format: use one of {', '.join(PICTURE_SUFFIXES)}, "
            f"got {text!r}"
        )
    return path


# -- output locations ------------------------------------------------------------------------


def _nearest_existing(path: Path) -> Path:
    for folder in (path, *path.parents):
        if folder.exists():
            return folder
    return Path(".")


def _check_folder(folder: Path, option: str, given: str) -> None:
    """``folder`` (which may not exist yet) can be made and written into."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise UsageError(f"{option} {given}: '{existing}' is a file, not a folder, so nothing "
                         "can be written under it")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {given}: the folder '{existing}' is not writable")


def check_output_file(given: str | os.PathLike[str], option: str,
                      example: str = "model.npz") -> Path:
    """The file ``option`` names, checked before any work: not a directory, no file in the
    way of its folder, a folder we may write in (missing folders are made later, by
    :func:`make_parent`).

    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> check_output_file(folder, "--save")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    tinygrad_mlp.cli.arguments.UsageError: --save ...: it is a folder; give a file name ...
    """
    text = os.fspath(given)
    path = Path(text)
    if path.is_dir() or text.endswith(("/", os.sep)):
        raise UsageError(f"{option} {text}: it is a folder; give a file name inside it, such "
                         f"as {path / example}")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{option} {text}: the file is not writable")
    _check_folder(path.parent, option, text)
    return path


def check_output_dir(given: str | os.PathLike[str], option: str) -> Path:
    """The folder ``option`` names, checked before any work: a folder, or a path where one
    can be made.

    >>> import tempfile
    >>> check_output_dir(tempfile.mkdtemp(), "--out").is_dir()
    True
    """
    text = os.fspath(given)
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {text}: it is a file, and {option} needs a folder to "
                         "write into")
    _check_folder(path, option, text)
    return path


def make_parent(path: Path) -> str | None:
    """Make the missing folders of ``path``; a line saying which were made, or None.

    >>> import tempfile
    >>> make_parent(Path(tempfile.mkdtemp()) / "runs" / "m.npz").startswith("created the folder")
    True
    """
    folder = path.parent
    if folder.is_dir():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    return f"created the folder {folder}"


# -- sizes that fit ----------------------------------------------------------------------------

# Each float32 weight lives about five times over while training: itself, its gradient, Adam's
# two moments and a temporary of the update.
BYTES_PER_WEIGHT = 4 * 5


def memory_bytes() -> int | None:
    """This machine's physical memory, when the system says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits_in_memory(layer_sizes: Sequence[int], option: str, batch: int = 1) -> None:
    """Refuse an MLP of ``layer_sizes`` whose training state could not fit in memory.

    >>> check_fits_in_memory([2, 32, 2], "--hidden")
    >>> check_fits_in_memory([2, 10**10, 2], "--hidden")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    tinygrad_mlp.cli.arguments.UsageError: --hidden: an MLP of [2, 10000000000, 2] has 5e+10 ...
    """
    weights = sum((a + 1) * b for a, b in itertools.pairwise(layer_sizes))
    needed = weights * BYTES_PER_WEIGHT + batch * sum(layer_sizes) * 4 * 3
    available = memory_bytes() or 1 << 40
    if needed > available:
        smaller = "a smaller --batch-size" if option == "--batch-size" else "smaller layers"
        raise UsageError(f"{option}: an MLP of {list(layer_sizes)} has {weights:.3g} weights; "
                         f"training it on batches of {batch} needs about {needed / 1e9:.3g} GB, "
                         f"more than this machine's {available / 1e9:.3g} GB of memory; choose "
                         f"{smaller}")
