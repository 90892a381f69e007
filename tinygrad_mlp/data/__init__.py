"""Datasets, preprocessing and batching for training small networks.

Everything here is plain NumPy, so the module can be used on its own, without
the rest of ``tinygrad_mlp``. The real-world loaders read the small datasets that
scikit-learn bundles with its package (no network access); scikit-learn is only
imported when one of them is called.

Example:
    >>> from tinygrad_mlp.data import make_moons, train_test_split, DataLoader
    >>> X, y = make_moons(n_samples=100, seed=0)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    >>> loader = DataLoader(X_train, y_train, batch_size=32, shuffle=True, seed=0)
    >>> [xb.shape[0] for xb, yb in loader]
    [32, 32, 16]
"""

from __future__ import annotations

import codecs
import csv
import math
import numbers
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "DATASETS",
    "DataLoader",
    "Dataset",
    "Standardize",
    "load_breast_cancer",
    "load_csv",
    "load_dataset",
    "load_diabetes",
    "load_digits",
    "load_iris",
    "load_wine",
    "make_moons",
    "make_regression_curve",
    "make_spirals",
    "train_test_split",
]

_TASKS = ("classification", "regression")

# A CSV target with more distinct integer values than this is more likely a
# count or a measurement than a set of class labels.
_MAX_INFERRED_CLASSES = 20


# ---------------------------------------------------------------------------
# Dataset container
# ---------------------------------------------------------------------------


# eq=False: the generated __eq__ would compare arrays elementwise and then fail
# when Python asks for a single truth value.
@dataclass(eq=False)
class Dataset:
    """Features, targets and their names, as returned by every loader here.

    ``X`` has shape ``(n_samples, n_features)``. For classification ``y`` holds
    int64 class indices of shape ``(n_samples,)`` and ``target_names[k]`` names
    class ``k``; for regression ``y`` is float64 of shape ``(n_samples, 1)``.

    Example:
        >>> ds = make_moons(n_samples=10)
        >>> X, y = ds
        >>> len(ds), ds.n_features, ds.n_classes, ds.task
        (10, 2, 2, 'classification')
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target_names: list[str]
    task: str
    name: str

    def __post_init__(self) -> None:
        self.X = np.asarray(self.X)
        self.y = np.asarray(self.y)
        if self.task not in _TASKS:
            raise ValueError(f"task must be one of {_TASKS}, got {self.task!r}")
        if self.X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {self.X.shape}")
        if self.y.shape[:1] != self.X.shape[:1]:
            raise ValueError(
                f"X has {self.X.shape[0]} samples but y has {self.y.shape[0] if self.y.ndim else 0}"
            )
        if len(self.feature_names) != self.X.shape[1]:
            raise ValueError(
                f"{len(self.feature_names)} feature names for {self.X.shape[1]} feature columns"
            )

    def __iter__(self) -> Iterator[np.ndarray]:
        """Yield ``X`` then ``y``, so that ``X, y = dataset`` works."""
        yield self.X
        yield self.y

    def __len__(self) -> int:
        """Return the number of samples."""
        return int(self.X.shape[0])

    def __repr__(self) -> str:
        # The default dataclass repr would print every value of X and y.
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, X.shape={self.X.shape}, "
            f"y.shape={self.y.shape}, n_classes={self.n_classes})"
        )

    @property
    def n_features(self) -> int:
        """Number of feature columns.

        Example:
            >>> load_dataset("curve").n_features
            1
        """
        return int(self.X.shape[1])

    @property
    def n_classes(self) -> int | None:
        """Number of classes, or ``None`` for a regression dataset.

        Example:
            >>> make_spirals(n_classes=4).n_classes
            4
        """
        if self.task != "classification":
            return None
        return len(self.target_names)


# ---------------------------------------------------------------------------
# Synthetic datasets
# ---------------------------------------------------------------------------


def _check_n_samples(n_samples: int, minimum: int) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral):
        raise TypeError(f"n_samples must be an int, got {type(n_samples).__name__}")
    if n_samples < minimum:
        raise ValueError(f"n_samples must be at least {minimum}, got {n_samples}")


def _check_noise(noise: float) -> None:
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")


def make_moons(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles, a classic non-linearly-separable 2-D problem.

    Class 0 lies on the upper unit half circle centred at ``(0, 0)``; class 1 on
    the lower unit half circle centred at ``(1, 0.5)``. Gaussian noise with
    standard deviation ``noise`` is added to both coordinates. The classes differ
    in size by at most one and the rows come in a random order.

    Example:
        >>> X, y = make_moons(n_samples=6, noise=0.0, seed=1)
        >>> X.shape, y.dtype.name, sorted(y.tolist())
        ((6, 2), 'int64', [0, 0, 0, 1, 1, 1])
    """
    _check_n_samples(n_samples, minimum=2)
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    n_upper = n_samples - n_samples // 2
    n_lower = n_samples // 2
    t_upper = rng.uniform(0.0, np.pi, n_upper)
    t_lower = rng.uniform(0.0, np.pi, n_lower)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    X = np.concatenate([upper, lower])
    X += rng.normal(0.0, noise, size=X.shape)
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_upper, n_lower])
    # Shuffled so that an unshuffled mini-batch never sees a single class only.
    order = rng.permutation(n_samples)
    return Dataset(X[order], y[order], ["x0", "x1"], ["0", "1"], "classification", "moons")


def make_spirals(
    n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed: int = 0
) -> Dataset:
    """Interleaved spiral arms in 2-D, one arm per class.

    A point of class ``k`` at radius ``r`` (uniform in [0, 1)) sits at angle
    ``2*pi*k/n_classes + 2*pi*r`` plus Gaussian noise of standard deviation
    ``noise`` (in radians), so each arm makes one full turn. Samples are split
    between classes as evenly as possible and the rows come in a random order.

    Example:
        >>> X, y = make_spirals(n_samples=7, n_classes=3)
        >>> X.shape, y.dtype.name, sorted(y.tolist())
        ((7, 2), 'int64', [0, 0, 0, 1, 1, 2, 2])
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral):
        raise TypeError(f"n_classes must be an int, got {type(n_classes).__name__}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    _check_n_samples(n_samples, minimum=n_classes)
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    sizes = [n_samples // n_classes + int(k < n_samples % n_classes) for k in range(n_classes)]
    y = np.repeat(np.arange(n_classes, dtype=np.int64), sizes)
    radius = rng.uniform(0.0, 1.0, n_samples)
    angle = 2.0 * np.pi * (y / n_classes + radius) + rng.normal(0.0, noise, n_samples)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    order = rng.permutation(n_samples)
    names = [str(k) for k in range(n_classes)]
    return Dataset(X[order], y[order], ["x0", "x1"], names, "classification", "spirals")


def _curve(x: np.ndarray) -> np.ndarray:
    return np.sin(2.0 * x) + 0.25 * x**2


def make_regression_curve(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """A 1-D nonlinear regression problem: ``y = sin(2x) + 0.25 x**2 + noise``.

    ``x`` is drawn uniformly from [-2, 2] (unsorted; sort by ``X[:, 0]`` before
    drawing a line plot) and the noise is Gaussian with standard deviation
    ``noise``.

    Example:
        >>> X, y = make_regression_curve(n_samples=5, noise=0.0)
        >>> X.shape, y.shape, bool(np.allclose(y, np.sin(2 * X) + 0.25 * X**2))
        ((5, 1), (5, 1), True)
    """
    _check_n_samples(n_samples, minimum=1)
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, size=(n_samples, 1))
    y = _curve(X) + rng.normal(0.0, noise, size=(n_samples, 1))
    return Dataset(X, y, ["x"], ["y"], "regression", "curve")


# ---------------------------------------------------------------------------
# Real datasets bundled with scikit-learn
# ---------------------------------------------------------------------------


def _sklearn_datasets() -> Any:
    try:
        from sklearn import datasets
    except ImportError as err:
        raise ImportError(
            "this loader reads a dataset bundled with scikit-learn, which is not installed; "
            'run `pip install scikit-learn` (or `pip install "tinygrad_mlp[datasets]"`)'
        ) from err
    return datasets


def _max_abs_scale(X: np.ndarray) -> np.ndarray:
    peak = np.abs(X).max(axis=0)
    # An all-zero column stays all zero instead of turning into NaN.
    peak[peak == 0] = 1.0
    return X / peak


def _classification_bundle(loader_name: str, name: str, scale: Callable | None) -> Dataset:
    bunch = getattr(_sklearn_datasets(), loader_name)()
    X = np.asarray(bunch.data, dtype=np.float64)
    if scale is not None:
        X = scale(X)
    y = np.asarray(bunch.target, dtype=np.int64)
    feature_names = [str(f) for f in bunch.feature_names]
    target_names = [str(t) for t in bunch.target_names]
    return Dataset(X, y, feature_names, target_names, "classification", name)


def load_digits(scaled: bool = False) -> Dataset:
    """The 8x8 handwritten digits (1797 samples, 64 pixel features, 10 classes).

    Raw pixels are integers 0..16; ``scaled=True`` divides them by 16 so they lie
    in [0, 1]. For training, standardizing with ``Standardize`` fit on the
    training split is usually the right thing. Needs scikit-learn.

    Example:
        >>> ds = load_digits(scaled=True)
        >>> ds.X.shape, float(ds.X.max()), ds.n_classes
        ((1797, 64), 1.0, 10)
    """
    # Pixels are intensities 0..16 by construction, so 16 is the natural unit.
    scale = (lambda X: X / 16.0) if scaled else None
    return _classification_bundle("load_digits", "digits", scale)


def load_iris(scaled: bool = False) -> Dataset:
    """Fisher's iris flowers (150 samples, 4 features in cm, 3 classes).

    ``scaled=True`` divides each feature by its maximum absolute value over the
    whole dataset; for training, standardizing with ``Standardize`` fit on the
    training split is the right thing (it uses no test-set information). Needs
    scikit-learn.

    Example:
        >>> ds = load_iris()
        >>> ds.X.shape, ds.target_names
        ((150, 4), ['setosa', 'versicolor', 'virginica'])
    """
    return _classification_bundle("load_iris", "iris", _max_abs_scale if scaled else None)


def load_wine(scaled: bool = False) -> Dataset:
    """Chemical analysis of wines (178 samples, 13 features, 3 cultivars).

    The raw features span very different ranges (proline reaches 1680), which
    is enough to push a naively trained network to NaN. ``scaled=True`` divides
    each feature by its maximum absolute value over the whole dataset; for
    training, standardizing with ``Standardize`` fit on the training split is the
    right thing. Needs scikit-learn.

    Example:
        >>> ds = load_wine(scaled=True)
        >>> ds.X.shape, float(ds.X.max())
        ((178, 13), 1.0)
    """
    return _classification_bundle("load_wine", "wine", _max_abs_scale if scaled else None)


def load_breast_cancer(scaled: bool = False) -> Dataset:
    """Wisconsin breast cancer diagnostics (569 samples, 30 features, 2 classes).

    Class 0 is ``'malignant'``, class 1 ``'benign'``. ``scaled=True`` divides
    each feature by its maximum absolute value over the whole dataset; for
    training, standardizing with ``Standardize`` fit on the training split is the
    right thing. Needs scikit-learn.

    Example:
        >>> ds = load_breast_cancer()
        >>> ds.X.shape, ds.target_names
        ((569, 30), ['malignant', 'benign'])
    """
    return _classification_bundle(
        "load_breast_cancer", "breast_cancer", _max_abs_scale if scaled else None
    )


def load_diabetes(scaled: bool = False) -> Dataset:
    """Diabetes progression one year after baseline (442 samples, 10 features).

    A regression dataset: ``y`` has shape ``(442, 1)``. With ``scaled=False``
    (the default here, unlike scikit-learn's) the features are raw: age in
    years, sex coded 1/2, BMI, blood pressure and six blood serum measurements.
    ``scaled=True`` returns scikit-learn's version, each column centred and
    scaled to unit Euclidean norm. For training, standardizing with
    ``Standardize`` fit on the training split is the right thing. Needs
    scikit-learn >= 1.1.

    Example:
        >>> ds = load_diabetes()
        >>> ds.X.shape, ds.y.shape, ds.feature_names[0], ds.task
        ((442, 10), (442, 1), 'age', 'regression')
    """
    datasets = _sklearn_datasets()
    try:
        bunch = datasets.load_diabetes(scaled=bool(scaled))
    except TypeError as err:
        raise ImportError(
            "load_diabetes needs scikit-learn >= 1.1 for the raw features; "
            "run `pip install --upgrade scikit-learn`"
        ) from err
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.float64).reshape(-1, 1)
    feature_names = [str(f) for f in bunch.feature_names]
    return Dataset(X, y, feature_names, ["progression"], "regression", "diabetes")


_SYNTHETIC: dict[str, Callable[..., Dataset]] = {
    "moons": make_moons,
    "spirals": make_spirals,
    "curve": make_regression_curve,
}
_BUNDLED: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits,
    "iris": load_iris,
    "wine": load_wine,
    "breast_cancer": load_breast_cancer,
    "diabetes": load_diabetes,
}

DATASETS: tuple[str, ...] = tuple(_SYNTHETIC) + tuple(_BUNDLED)
"""Names accepted by :func:`load_dataset`."""


def load_dataset(name: str, scaled: bool = False, **kwargs: Any) -> Dataset:
    """Load a built-in dataset by name (one of :data:`DATASETS`).

    Extra keyword arguments go to the maker (e.g. ``n_samples``, ``noise``,
    ``seed``). ``scaled`` applies to the scikit-learn datasets; the synthetic ones
    are already of order one, so it is accepted and ignored for them. Dashes
    and case are forgiven (``"Breast-Cancer"`` works).

    Example:
        >>> ds = load_dataset("moons", n_samples=50, seed=3)
        >>> ds.name, len(ds)
        ('moons', 50)
    """
    key = name.strip().lower().replace("-", "_")
    if key in _SYNTHETIC:
        return _SYNTHETIC[key](**kwargs)
    if key in _BUNDLED:
        return _BUNDLED[key](scaled=scaled, **kwargs)
    raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")


# ---------------------------------------------------------------------------
# CSV files
# ---------------------------------------------------------------------------


def _parse_number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def load_csv(
    path: str | os.PathLike[str],
    target: str,
    delimiter: str = ",",
    task: str | None = None,
    encoding: str = "utf-8",
) -> Dataset:
    """Load a numeric CSV file with a header row; column ``target`` becomes ``y``.

    Every other column is a feature and must hold finite numbers. Blank lines
    are skipped. With ``task=None`` the target is taken as class labels when
    every value is an integer and there are at most 20 distinct values, and as
    a regression target otherwise. Class labels become int64 indices
    ``0..k-1`` in sorted order (numeric order for numbers), with ``target_names``
    their original text; text labels need ``task="classification"``. Regression
    targets come back with shape ``(n, 1)``.

    The file is read as ``encoding`` (UTF-8 by default, with or without a
    byte-order mark; ``encoding="latin-1"`` reads any byte). Problems raise
    ``ValueError`` naming the file, line and column: bytes that are not valid
    in the encoding, empty or
    header-only files, duplicate or empty column names, an unknown target, rows
    with the wrong number of fields, and empty, non-numeric or non-finite cells.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "tiny.csv"
        ...     _ = p.write_text("a,b,label\\n1,2,5\\n3,4,7\\n0,1,5\\n")
        ...     ds = load_csv(p, target="label")
        >>> ds.X.shape, ds.y.tolist(), ds.target_names, ds.task
        ((3, 2), [0, 1, 0], ['5', '7'], 'classification')
    """
    if task is not None and task not in _TASKS:
        raise ValueError(f"task must be None or one of {_TASKS}, got {task!r}")
    path = Path(path)
    table = read_csv(path, target=target, delimiter=delimiter, encoding=encoding)
    features, feature_names = table.X, table.feature_names
    lines = [line for line, _ in table.target_cells]
    target_texts = [text for _, text in table.target_cells]
    target_col = table.target_column
    numbers_or_none = [_parse_number(text) for text in target_texts]
    if task != "classification":
        for line, text, value in zip(lines, target_texts, numbers_or_none):
            if value is None:
                hint = "; pass task='classification' for text labels" if task is None else ""
                raise _cell_error(path, line, target_col, target,
                                  f"non-numeric value {text!r}{hint}")
            if not math.isfinite(value):
                raise _cell_error(path, line, target_col, target, f"non-finite value {text!r}")
        values = np.array(numbers_or_none, dtype=np.float64)
        if task is None:
            is_integer = bool(np.all(values == np.round(values)))
            few = len(np.unique(values)) <= _MAX_INFERRED_CLASSES
            task = "classification" if is_integer and few else "regression"
        if task == "regression":
            return Dataset(
                features, values.reshape(-1, 1), feature_names, [target], "regression", path.stem
            )

    y, target_names = _encode_labels(target_texts, numbers_or_none)
    return Dataset(features, y, feature_names, target_names, "classification", path.stem)


def _cell_error(path: Path, line: int, col: int, name: str, problem: str) -> ValueError:
    return ValueError(f"{path}: line {line}, column {col + 1} ({name!r}): {problem}")


class CsvColumns(NamedTuple):
    """What :func:`read_csv` read: the features as numbers, the target's cells as text."""

    X: np.ndarray  # float64, (rows, features)
    feature_names: list[str]
    target_cells: list[tuple[int, str]]  # (line, text) of the target column; [] without one
    target_column: int  # its 0-based column, -1 without one


def read_csv(
    path: str | os.PathLike[str],
    features: Sequence[str] | None = None,
    target: str | None = None,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> CsvColumns:
    """The numeric feature columns of a CSV file with a header row, checked cell by cell.

    The features are the columns named in ``features`` (other columns are ignored) or,
    without it, every column but ``target``; the target column is kept as text, for the
    caller to read as labels or numbers. Problems raise ``ValueError`` naming the file, line
    and column, as :func:`load_csv` describes.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "tiny.csv"
        ...     _ = p.write_text("a,b,label\\n1,2,cat\\n3,4,dog\\n")
        ...     table = read_csv(p, features=["b"], target="label")
        >>> table.X.tolist(), table.feature_names, table.target_cells
        ([[2.0], [4.0]], ['b'], [(2, 'cat'), (3, 'dog')])
    """
    path = Path(path)
    where = str(path)
    # utf-8-sig drops the byte-order mark that spreadsheet exports often add,
    # which would otherwise end up inside the first column's name.
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        header, header_line, rows = _read_csv_rows(path, where, delimiter, codec)
    except UnicodeDecodeError as err:
        raise _decode_error(path, where, encoding) from err
    if header is None:
        raise ValueError(f"{where}: the file is empty (expected a header row)")
    seen: dict[str, int] = {}
    for col, col_name in enumerate(header):
        if not col_name:
            raise ValueError(f"{where}: line {header_line}, column {col + 1}: empty column name")
        if col_name in seen:
            raise ValueError(
                f"{where}: line {header_line}: duplicate column name {col_name!r} "
                f"(columns {seen[col_name] + 1} and {col + 1})"
            )
        seen[col_name] = col
    if target is not None and target not in seen:
        raise ValueError(f"{where}: no column named {target!r}; the header has {header}")
    if features is None:
        feature_cols = [col for col, name in enumerate(header) if name != target]
    else:
        missing = [name for name in features if name not in seen]
        if missing:
            raise ValueError(f"{where}: no column(s) {', '.join(map(repr, missing))} (the "
                             f"header has {', '.join(header)})")
        feature_cols = [seen[name] for name in features]
    if not feature_cols:
        raise ValueError(f"{where}: no feature columns besides the target {target!r}")
    if not rows:
        raise ValueError(f"{where}: the file has a header but no data rows")

    n_fields = len(header)
    X = np.empty((len(rows), len(feature_cols)), dtype=np.float64)
    target_cells: list[tuple[int, str]] = []
    for i, (line, row) in enumerate(rows):
        if len(row) != n_fields:
            raise ValueError(
                f"{where}: line {line}: expected {n_fields} fields (as in the header), "
                f"got {len(row)}"
            )
        for j, col in enumerate(feature_cols):
            text = row[col].strip()
            if not text:
                raise _cell_error(path, line, col, header[col], "empty cell")
            value = _parse_number(text)
            if value is None:
                raise _cell_error(path, line, col, header[col], f"non-numeric value {text!r}")
            if not math.isfinite(value):
                raise _cell_error(path, line, col, header[col], f"non-finite value {text!r}")
            X[i, j] = value
        if target is not None:
            text = row[seen[target]].strip()
            if not text:
                raise _cell_error(path, line, seen[target], target, "empty cell")
            target_cells.append((line, text))
    target_column = seen[target] if target is not None else -1
    return CsvColumns(X, [header[col] for col in feature_cols], target_cells, target_column)


def _read_csv_rows(
    path: Path, where: str, delimiter: str, encoding: str
) -> tuple[list[str] | None, int, list[tuple[int, list[str]]]]:
    """The header (None for an empty file), its line number and the numbered data rows."""
    with open(path, newline="", encoding=encoding) as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header: list[str] | None = None
        header_line = 0
        rows: list[tuple[int, list[str]]] = []
        last_line = 0
        try:
            for row in reader:
                # A record may span several physical lines (quoted newlines), so
                # it starts just after the previous one ended.
                start, last_line = last_line + 1, reader.line_num
                if not row:
                    continue
                if header is None:
                    header, header_line = [name.strip() for name in row], start
                else:
                    rows.append((start, row))
        except csv.Error as err:
            # csv.Error is not a ValueError; re-raise it as one with the location.
            raise ValueError(f"{where}: line {reader.line_num}: {err}") from err
    return header, header_line, rows


def _decode_error(path: Path, where: str, encoding: str) -> ValueError:
    """Say where ``path`` stops being valid ``encoding``: byte offset, line and column."""
    # The text reader decodes in chunks, so its error's offset is within a chunk;
    # decoding the whole file again gives the offset in the file.
    raw = path.read_bytes()
    try:
        raw.decode(encoding)
    except UnicodeDecodeError as err:
        start, bad = err.start, raw[err.start : err.end]
    else:  # not expected: the reader failed, so whole-file decoding does too
        return ValueError(f"{where}: the file is not valid {encoding} text")
    line = raw.count(b"\n", 0, start) + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    return ValueError(
        f"{where}: line {line}, byte {column} of the line (offset {start} in the file): "
        f"byte(s) {bad.hex(' ')} are not valid {encoding} text; re-save the file as UTF-8, "
        "or pass its encoding, e.g. load_csv(..., encoding='latin-1')"
    )


def _encode_labels(texts: list[str], values: list[float | None]) -> tuple[np.ndarray, list[str]]:
    """Map labels to indices 0..k-1 in sorted order; numbers sort numerically."""
    if all(v is not None and math.isfinite(v) for v in values):
        keys: list[Any] = values
    else:
        keys = texts
    first_text: dict[Any, str] = {}
    for key, text in zip(keys, texts):
        # "1" and "1.0" are one class; it is named by the spelling seen first.
        first_text.setdefault(key, text)
    ordered = sorted(first_text)
    index = {key: k for k, key in enumerate(ordered)}
    y = np.array([index[key] for key in keys], dtype=np.int64)
    return y, [first_text[key] for key in ordered]


# ---------------------------------------------------------------------------
# Preprocessing
# ---------------------------------------------------------------------------


def _as_2d_float(X: Any, what: str) -> np.ndarray:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(
            f"{what} must be 2-D (n_samples, n_features), got shape {arr.shape}; "
            "reshape a single column with x.reshape(-1, 1)"
        )
    return arr


class Standardize:
    """Shift and scale each feature to zero mean and unit variance.

    Fit on the training split only, then transform every split with those
    statistics so no information leaks from the test set. A feature that is
    constant in the training data gets ``std_`` 1, so it maps to 0 rather than
    to a division by zero. Works for features ``(n, f)`` and for regression
    targets ``(n, 1)`` alike.

    Example:
        >>> scaler = Standardize().fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
        >>> scaler.mean_.tolist(), scaler.std_.tolist()
        ([2.0, 5.0], [1.0, 1.0])
        >>> scaler.transform(np.array([[4.0, 6.0]])).tolist()
        [[2.0, 1.0]]
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def fit(self, X: np.ndarray) -> Standardize:
        """Compute per-feature mean and standard deviation of ``X``; return ``self``.

        Example:
            >>> Standardize().fit(np.array([[0.0], [2.0]])).std_.tolist()
            [1.0]
        """
        arr = _as_2d_float(X, "X")
        if arr.shape[0] == 0:
            raise ValueError("cannot fit Standardize on an empty array")
        if not np.all(np.isfinite(arr)):
            raise ValueError("X contains NaN or infinite values")
        mean = arr.mean(axis=0)
        std = arr.std(axis=0)
        # A constant column can come out with a rounding-size std (its mean is
        # not always exactly representable); dividing by that would blow the
        # column up, so anything at rounding level counts as constant.
        constant = std <= 1000.0 * np.finfo(np.float64).eps * np.abs(mean)
        std[constant] = 1.0
        self.mean_, self.std_ = mean, std
        return self

    def _checked(self, X: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.mean_ is None or self.std_ is None:
            raise RuntimeError("Standardize is not fitted yet; call fit(X_train) first")
        arr = _as_2d_float(X, what)
        if arr.shape[1] != self.mean_.shape[0]:
            raise ValueError(
                f"{what} has {arr.shape[1]} features, but Standardize was fitted on "
                f"{self.mean_.shape[0]} features"
            )
        return arr, self.mean_, self.std_

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Return ``(X - mean_) / std_`` as a new array.

        Example:
            >>> Standardize().fit(np.array([[0.0], [2.0]])).transform(np.array([[3.0]])).tolist()
            [[2.0]]
        """
        arr, mean, std = self._checked(X, "X")
        return (arr - mean) / std

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """Fit on ``X`` and return it standardized.

        Example:
            >>> Standardize().fit_transform(np.array([[1.0], [3.0]])).tolist()
            [[-1.0], [1.0]]
        """
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """Map standardized values back to the original units: ``Z * std_ + mean_``.

        Example:
            >>> s = Standardize().fit(np.array([[1.0], [3.0]]))
            >>> s.inverse_transform(np.array([[1.0]])).tolist()
            [[3.0]]
        """
        arr, mean, std = self._checked(Z, "Z")
        return arr * std + mean

    def __repr__(self) -> str:
        state = "unfitted" if self.mean_ is None else f"n_features={self.mean_.shape[0]}"
        return f"Standardize({state})"


def _n_test(test_size: float, n: int) -> int:
    if isinstance(test_size, bool):
        raise TypeError("test_size must be a float in (0, 1) or an int count, not a bool")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 1 <= n_test <= n - 1:
            raise ValueError(
                f"test_size={n_test} leaves an empty split of {n} samples; "
                f"use a count between 1 and {n - 1}"
            )
        return n_test
    if isinstance(test_size, numbers.Real):
        fraction = float(test_size)
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"a float test_size must lie strictly between 0 and 1, got {fraction}")
        # Rounding up keeps the test split non-empty; the small slack stops
        # products like 0.07 * 100 = 7.000000000000001 from rounding up to 8.
        n_test = math.ceil(fraction * n - 1e-9)
        if n_test >= n:
            raise ValueError(f"test_size={fraction} of {n} samples leaves no training samples")
        return n_test
    raise TypeError(f"test_size must be a float or an int, got {type(test_size).__name__}")


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    test_size: float = 0.2,
    seed: int = 0,
    stratify: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Randomly split ``X`` and ``y`` into train and test parts.

    ``test_size`` is a fraction in (0, 1) (rounded up to whole samples) or a
    sample count. The split depends only on ``seed`` and the data length. With
    ``stratify=True``, ``y`` holds class labels and each class is split in (as
    nearly as whole samples allow) the same proportion. Rows of both parts come
    in random order.

    Example:
        >>> X, y = np.arange(20).reshape(10, 2), np.arange(10)
        >>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, seed=0)
        >>> X_tr.shape, X_te.shape, sorted(y_tr.tolist() + y_te.tolist()) == list(range(10))
        ((7, 2), (3, 2), True)
    """
    X_arr, y_arr = np.asarray(X), np.asarray(y)
    if X_arr.ndim == 0 or y_arr.ndim == 0:
        raise ValueError("X and y must be arrays with one row per sample")
    n = X_arr.shape[0]
    if y_arr.shape[0] != n:
        raise ValueError(f"X has {n} samples but y has {y_arr.shape[0]}")
    n_test = _n_test(test_size, n)
    rng = np.random.default_rng(seed)
    if not stratify:
        order = rng.permutation(n)
        test_idx, train_idx = order[:n_test], order[n_test:]
    else:
        test_idx, train_idx = _stratified_indices(y_arr, n_test, rng)
    return X_arr[train_idx], X_arr[test_idx], y_arr[train_idx], y_arr[test_idx]


def _stratified_indices(
    y: np.ndarray, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n = y.shape[0]
    if y.ndim > 1 and int(np.prod(y.shape[1:])) != 1:
        raise ValueError(
            f"stratify=True needs one class label per sample, got y of shape {y.shape}"
        )
    _, labels, counts = np.unique(y.reshape(n), return_inverse=True, return_counts=True)
    # Largest-remainder apportionment: every class gets the floor of its exact
    # share, and the samples left over go to the classes with the largest
    # fractional parts, so the total is exactly n_test.
    share = counts * (n_test / n)
    per_class = np.floor(share).astype(np.int64)
    leftover = n_test - int(per_class.sum())
    by_remainder = np.argsort(-(share - per_class), kind="stable")
    per_class[by_remainder[:leftover]] += 1
    test_parts, train_parts = [], []
    for k, k_test in enumerate(per_class):
        members = rng.permutation(np.flatnonzero(labels == k))
        test_parts.append(members[:k_test])
        train_parts.append(members[k_test:])
    # Mixed again so that neither split comes grouped by class.
    test_idx = rng.permutation(np.concatenate(test_parts))
    train_idx = rng.permutation(np.concatenate(train_parts))
    return test_idx, train_idx


# ---------------------------------------------------------------------------
# Mini-batches
# ---------------------------------------------------------------------------


class DataLoader:
    """Iterate over ``(X_batch, y_batch)`` mini-batches, one pass per epoch.

    Without shuffling, batches are slices (views) of ``X`` and ``y`` in order.
    With ``shuffle=True`` every new iteration draws a fresh permutation from a
    generator seeded once from ``seed``, so two loaders built with the same seed
    produce the same sequence of epochs; shuffled batches are copies. With
    ``drop_last=True`` a final batch smaller than ``batch_size`` is skipped.
    When ``y`` is None the loader yields ``X_batch`` alone.

    Example:
        >>> loader = DataLoader(np.arange(10).reshape(5, 2), np.arange(5), batch_size=2)
        >>> len(loader), [yb.tolist() for _, yb in loader]
        (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray | None = None,
        batch_size: int = 32,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size}")
        self.X = np.asarray(X)
        self.y = None if y is None else np.asarray(y)
        if self.X.ndim == 0 or self.X.shape[0] == 0:
            # An empty loader would make a training loop silently do nothing.
            raise ValueError(f"X must hold at least one sample, got shape {self.X.shape}")
        if self.y is not None and (self.y.ndim == 0 or self.y.shape[0] != self.X.shape[0]):
            n_y = 0 if self.y.ndim == 0 else self.y.shape[0]
            raise ValueError(f"X has {self.X.shape[0]} samples but y has {n_y}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self._rng = np.random.default_rng(seed)

    @property
    def n_samples(self) -> int:
        """Number of samples in one full pass.

        Example:
            >>> DataLoader(np.zeros((7, 3)), batch_size=2).n_samples
            7
        """
        return int(self.X.shape[0])

    def __len__(self) -> int:
        """Return the number of batches per epoch."""
        n, size = self.n_samples, self.batch_size
        return n // size if self.drop_last else -(-n // size)

    def __iter__(self) -> Iterator[Any]:
        """Start an epoch; the shuffle permutation is drawn here, once."""
        order = self._rng.permutation(self.n_samples) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[Any]:
        # Locals keep attribute lookups out of the per-batch loop.
        X, y, size = self.X, self.y, self.batch_size
        stop = len(self) * size
        for start in range(0, stop, size):
            if order is None:
                index: Any = slice(start, start + size)
            else:
                index = order[start : start + size]
            if y is None:
                yield X[index]
            else:
                yield X[index], y[index]

    def __repr__(self) -> str:
        return (
            f"DataLoader(n_samples={self.n_samples}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, n_batches={len(self)})"
        )
