"""Datasets: the ``Dataset`` container, synthetic problems made with NumPy, the small real
datasets that scikit-learn bundles (read from its package, no network access; scikit-learn is
imported only when one of them is called) and ``load_dataset`` by name.

>>> ds = load_dataset("moons", n_samples=50, seed=3)
>>> ds.name, len(ds), ds.n_classes
('moons', 50, 2)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import checks

TASKS = ("classification", "regression")
"""What a dataset's target is: class labels or numbers."""


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
        if self.task not in TASKS:
            raise ValueError(f"Dataset: task must be one of {TASKS}, got {self.task!r}")
        if self.X.ndim != 2:
            raise ValueError(f"Dataset: X must be 2-D (n_samples, n_features), got shape "
                             f"{self.X.shape}")
        if self.y.shape[:1] != self.X.shape[:1]:
            raise ValueError(
                f"Dataset: X has {self.X.shape[0]} samples but y has "
                f"{self.y.shape[0] if self.y.ndim else 0}"
            )
        if len(self.feature_names) != self.X.shape[1]:
            raise ValueError(
                f"Dataset: {len(self.feature_names)} feature names for {self.X.shape[1]} "
                "feature columns"
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


# -- synthetic datasets -------------------------------------------------------------------------


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
    checks.count(n_samples, "n_samples", "make_moons", minimum=2)
    checks.non_negative(noise, "noise", "make_moons")
    rng = np.random.default_rng(checks.seed(seed, "make_moons"))
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
    checks.count(n_classes, "n_classes", "make_spirals", minimum=2)
    checks.count(n_samples, "n_samples", "make_spirals", minimum=n_classes)
    checks.non_negative(noise, "noise", "make_spirals")
    rng = np.random.default_rng(checks.seed(seed, "make_spirals"))
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
    checks.count(n_samples, "n_samples", "make_regression_curve")
    checks.non_negative(noise, "noise", "make_regression_curve")
    rng = np.random.default_rng(checks.seed(seed, "make_regression_curve"))
    X = rng.uniform(-2.0, 2.0, size=(n_samples, 1))
    y = _curve(X) + rng.normal(0.0, noise, size=(n_samples, 1))
    return Dataset(X, y, ["x"], ["y"], "regression", "curve")


# -- real datasets bundled with scikit-learn -----------------------------------------------------


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
    if not isinstance(name, str):
        raise TypeError(f"load_dataset: name must be a str, one of {', '.join(DATASETS)}; got "
                        f"{checks.shown(name)}")
    key = name.strip().lower().replace("-", "_")
    if key in _SYNTHETIC:
        return _SYNTHETIC[key](**kwargs)
    if key in _BUNDLED:
        return _BUNDLED[key](scaled=scaled, **kwargs)
    raise ValueError(f"load_dataset: unknown dataset {name!r}; known datasets: "
                     f"{', '.join(DATASETS)}")
