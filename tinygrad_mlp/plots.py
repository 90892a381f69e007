"""Curves as files: always a CSV of the numbers, and a PNG when matplotlib is installed.

One mechanism for every picture of numbers the package draws (the demo, the story and the
command line): :func:`write_curves` for a few series over epochs or steps on one axis, and
:func:`write_side_by_side` for a hand-derived network trained beside its autograd twin
(both losses, and how far apart they are). The CSV comes first and needs nothing but the
standard library; the PNG is drawn with ``matplotlib.figure.Figure`` directly, without
``pyplot``, so no global backend is chosen and nothing is shown on screen.

>>> import tempfile
>>> from pathlib import Path
>>> folder = Path(tempfile.mkdtemp())
>>> written = write_curves(folder / "loss", {"train": [0.9, 0.5, 0.3]}, title="Loss")
>>> written[0].name, written[0].read_text().splitlines()[:2]
('loss.csv', ['epoch,train', '1,0.9'])
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "MATPLOTLIB_MISSING",
    "have_matplotlib",
    "read_curves",
    "write_curves",
    "write_side_by_side",
]

MATPLOTLIB_MISSING = (
    "matplotlib is not installed, so the curves were written as CSV only "
    "(pip install matplotlib for the PNG pictures)"
)
"""The one line to print when :func:`have_matplotlib` is False."""


def _figure_class() -> Any:
    """``matplotlib.figure.Figure``, or None when matplotlib cannot be imported."""
    try:
        # The package first: a blocked ``matplotlib`` (None in sys.modules) must count as
        # missing even when ``matplotlib.figure`` was imported earlier.
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError:
        return None
    return Figure


def have_matplotlib() -> bool:
    """True when matplotlib can be imported, i.e. when PNG pictures will be written.

    >>> isinstance(have_matplotlib(), bool)
    True
    """
    return _figure_class() is not None


def _as_floats(values: Sequence[float] | np.ndarray) -> list[float]:
    return [float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def _write_csv(
    path: Path, xlabel: str, series: Mapping[str, list[float]], x_start: int
) -> Path:
    """One row per x (``x_start``, ``x_start + 1``...), one column per series; a shorter
    series leaves its cells empty. Numbers are written with ``repr``, so they read back
    exactly, ``inf`` and ``nan`` included."""
    length = max((len(v) for v in series.values()), default=0)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([xlabel, *series])
        for i in range(length):
            row = [str(x_start + i)]
            row += [repr(values[i]) if i < len(values) else "" for values in series.values()]
            writer.writerow(row)
    return path


def read_curves(path: str | Path) -> dict[str, list[float]]:
    """Read a CSV written by :func:`write_curves` back: the x column and each series.

    Empty cells (a series shorter than the others) are left out of that series.

    >>> import tempfile
    >>> from pathlib import Path
    >>> stem = Path(tempfile.mkdtemp()) / "curve"
    >>> path = write_curves(stem, {"a": [1.0, 2.0], "b": [3.0]}, png=False)[0]
    >>> read_curves(path)
    {'epoch': [1.0, 2.0], 'a': [1.0, 2.0], 'b': [3.0]}
    """
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    columns: dict[str, list[float]] = {name: [] for name in header}
    for row in body:
        for name, cell in zip(header, row):
            if cell != "":
                columns[name].append(float(cell))
    return columns


def _draw_axis(
    ax: Any,
    series: Mapping[str, list[float]],
    x_start: int,
    xlabel: str,
    ylabel: str,
    log: bool,
    styles: Mapping[str, str],
) -> None:
    """Plot every series on ``ax``; with ``log`` the values are log10'd on a linear axis.

    Matplotlib's log scale cannot place ticks on curves reaching 1e300, which blown-up
    losses do, so ``log`` plots ``log10(value)`` instead (positive values only). Where a
    series first turns inf or NaN a dotted line of its colour marks the spot.
    """
    marks: dict[int, list[tuple[str, float, str]]] = {}  # x -> (name, value, colour)
    for name, values in series.items():
        array = np.asarray(values, dtype=np.float64)
        x = np.arange(x_start, x_start + len(array))
        finite = np.isfinite(array)
        keep = finite & (array > 0) if log else finite
        # What cannot be drawn becomes NaN: a gap in the line, not a line across it.
        y = np.full(len(array), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            y[keep] = np.log10(array[keep]) if log else array[keep]
        style = styles.get(name, "-")
        (line,) = ax.plot(x, y, style, label=name, markersize=3)
        if not finite.all():
            first = int(np.flatnonzero(~finite)[0])
            marks.setdefault(int(x[first]), []).append((name, array[first], line.get_color()))
    for at, found in marks.items():
        # One line per place: curves that break down together share it.
        name, value, colour = found[0]
        if len(found) == 1:
            ax.axvline(at, color=colour, linestyle=":", label=f"{name}: {value} ({xlabel} {at})")
        else:
            ax.axvline(at, color="0.4", linestyle=":",
                       label=f"{len(found)} curves: inf/nan ({xlabel} {at})")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"log10 {ylabel}" if log and ylabel else ylabel)
    if series:
        ax.legend()


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return path


def write_curves(
    path_stem: str | Path,
    series: Mapping[str, Sequence[float] | np.ndarray],
    title: str = "",
    ylabel: str = "loss",
    xlabel: str = "epoch",
    x_start: int = 1,
    log: bool = False,
    styles: Mapping[str, str] | None = None,
    png: bool = True,
) -> list[Path]:
    """Write ``series`` (name -> values per epoch) as ``<stem>.csv``, and ``<stem>.png``.

    The CSV always: a header ``xlabel,name1,name2...`` and one row per epoch, the first
    numbered ``x_start``. The PNG (one line per series, titled ``title``) when ``png`` is
    True and matplotlib is installed; check :func:`have_matplotlib` to tell the user when it
    is not. ``log=True`` plots ``log10`` of the values (for curves spanning many decades);
    ``styles`` maps a name to a matplotlib format string (``"C3--"``). Inf and NaN are
    written to the CSV as they are, and marked on the picture where they first appear. The
    folder is created when missing. Returns the paths written, CSV first.

    >>> import tempfile
    >>> from pathlib import Path
    >>> stem = Path(tempfile.mkdtemp()) / "run" / "loss"
    >>> paths = write_curves(stem, {"train": [1.0, 0.5], "validation": [1.2, 0.7]})
    >>> [p.suffix for p in paths] == ([".csv", ".png"] if have_matplotlib() else [".csv"])
    True
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    floats = {str(name): _as_floats(values) for name, values in series.items()}
    written = [_write_csv(stem.with_name(stem.name + ".csv"), xlabel, floats, x_start)]
    figure = _figure_class() if png else None
    if figure is not None:
        fig = figure(figsize=(7, 4))
        ax = fig.subplots()
        _draw_axis(ax, floats, x_start, xlabel, ylabel, log, styles or {})
        ax.set_title(title)
        written.append(_save(fig, stem.with_name(stem.name + ".png")))
    return written


def write_side_by_side(
    path_stem: str | Path,
    manual_losses: Sequence[float],
    autograd_losses: Sequence[float],
    weight_diff: Sequence[float],
    title: str = "Hand-derived network vs autograd, same initial weights",
    png: bool = True,
) -> list[Path]:
    """Write a side-by-side run as ``<stem>.csv`` and a two-panel ``<stem>.png``.

    The CSV has one row per step (from 0: the loss before that step's update) with the
    columns ``manual``, ``autograd``, ``loss_difference`` (``|manual - autograd|``) and
    ``weight_difference`` (the largest weight difference after the step, relative to the
    largest weight, as :func:`tinygrad_mlp.convert.train_side_by_side` measures it). The
    picture shows both losses on top and the two differences (log10) below. The arguments
    are the fields of a :class:`~tinygrad_mlp.convert.SideBySide`.

    >>> import tempfile
    >>> from pathlib import Path
    >>> stem = Path(tempfile.mkdtemp()) / "side"
    >>> path = write_side_by_side(stem, [1.0, 0.5], [1.0, 0.5], [0.0, 1e-16], png=False)[0]
    >>> sorted(read_curves(path))
    ['autograd', 'loss_difference', 'manual', 'step', 'weight_difference']
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    manual, auto = _as_floats(manual_losses), _as_floats(autograd_losses)
    gap = [abs(a - b) if math.isfinite(a) and math.isfinite(b) else math.nan
           for a, b in zip(manual, auto)]
    losses = {"manual": manual, "autograd": auto}
    differences = {"loss_difference": gap, "weight_difference": _as_floats(weight_diff)}
    written = [_write_csv(stem.with_name(stem.name + ".csv"), "step",
                          {**losses, **differences}, 0)]
    figure = _figure_class() if png else None
    if figure is not None:
        fig = figure(figsize=(7, 6))
        top, bottom = fig.subplots(2, 1, sharex=True)
        # log10 when the losses span decades (a blow-up), else as they are.
        finite = [v for v in manual + auto if math.isfinite(v) and v > 0]
        spread = max(finite) / min(finite) if finite else 1.0
        _draw_axis(top, losses, 0, "step", "loss", spread > 1e3,
                   {"manual": "C0-", "autograd": "C1--"})
        top.set_title(title)
        top.set_xlabel("")  # the panel below names the shared axis
        gap_name, drift_name = "|manual - autograd| loss", "max weight difference (relative)"
        _draw_axis(bottom, {gap_name: gap, drift_name: differences["weight_difference"]},
                   0, "step", "difference", True, {gap_name: "C2.", drift_name: "C3.-"})
        bottom.set_title("how far apart (exact zeros are not drawn)", fontsize="medium")
        written.append(_save(fig, stem.with_name(stem.name + ".png")))
    return written
