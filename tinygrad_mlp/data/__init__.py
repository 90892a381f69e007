"""Datasets, CSV files, preprocessing and batching for training small networks.

Everything here works on NumPy arrays, without Tensors, so it can be used on its own. The
package's modules, and what each offers:

- ``datasets``: the ``Dataset`` container (``X``, ``y`` and their names), the synthetic
  problems (``make_moons``, ``make_spirals``, ``make_regression_curve``), the real datasets
  scikit-learn bundles (``load_digits``, ``load_iris``... imported only when called) and
  ``load_dataset`` by name (``DATASETS``).
- ``csv``: ``load_csv`` (a file as a ``Dataset``), ``read_csv`` (its features and target
  column, ``CsvColumns`` and ``TargetColumn``), ``read_model_inputs`` (the columns a saved
  model takes, for ``predict``) and ``parse_number``, the one way a cell becomes a number.
- ``preprocessing``: ``Standardize`` and ``train_test_split``.
- ``loader``: ``DataLoader``.
- ``checks``: the argument checks the others (and ``fit``) share: ``count``, ``seed``,
  ``non_negative``; every message names the function and the argument.

Example:
    >>> from tinygrad_mlp.data import make_moons, train_test_split, DataLoader
    >>> X, y = make_moons(n_samples=100, seed=0)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)
    >>> loader = DataLoader(X_train, y_train, batch_size=32, shuffle=True, seed=0)
    >>> [xb.shape[0] for xb, yb in loader]
    [32, 32, 16]
"""

from __future__ import annotations

from . import checks
from .checks import seed as check_seed
from .csv import (
    MAX_INFERRED_CLASSES,
    CsvColumns,
    TargetColumn,
    load_csv,
    parse_number,
    read_csv,
    read_model_inputs,
)
from .datasets import (
    DATASETS,
    TASKS,
    Dataset,
    load_breast_cancer,
    load_dataset,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_moons,
    make_regression_curve,
    make_spirals,
)
from .loader import DataLoader
from .preprocessing import Standardize, train_test_split

__all__ = [
    "DATASETS",
    "MAX_INFERRED_CLASSES",
    "TASKS",
    "CsvColumns",
    "DataLoader",
    "Dataset",
    "Standardize",
    "TargetColumn",
    "check_seed",
    "checks",
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
    "parse_number",
    "read_csv",
    "read_model_inputs",
    "train_test_split",
]
