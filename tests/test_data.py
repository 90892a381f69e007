"""Tests for tinygrad_mlp.data: datasets, CSV loading, scaling, splitting, batching."""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp.data import (
    DATASETS,
    DataLoader,
    Dataset,
    Standardize,
    load_breast_cancer,
    load_csv,
    load_dataset,
    load_diabetes,
    load_digits,
    load_iris,
    load_wine,
    make_moons,
    make_regression_curve,
    make_spirals,
    train_test_split,
)

# ---------------------------------------------------------------------------
# Synthetic makers
# ---------------------------------------------------------------------------

MAKERS = [make_moons, make_spirals, make_regression_curve]


@pytest.mark.parametrize("maker", MAKERS)
def test_makers_are_deterministic_per_seed(maker):
    a, b, c = maker(seed=5), maker(seed=5), maker(seed=6)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


def test_moons_shapes_and_dtypes():
    ds = make_moons(n_samples=101, noise=0.1, seed=0)
    assert ds.X.shape == (101, 2) and ds.X.dtype == np.float64
    assert ds.y.shape == (101,) and ds.y.dtype == np.int64
    assert set(ds.y.tolist()) == {0, 1}
    counts = np.bincount(ds.y)
    assert abs(int(counts[0]) - int(counts[1])) <= 1
    assert ds.task == "classification" and ds.n_classes == 2 and ds.n_features == 2


def _distance_to_own_circle(X, y):
    centres = np.where(y[:, None] == 0, [0.0, 0.0], [1.0, 0.5])
    return np.linalg.norm(X - centres, axis=1)


def test_moons_without_noise_lie_exactly_on_their_half_circles():
    X, y = make_moons(n_samples=200, noise=0.0, seed=3)
    np.testing.assert_allclose(_distance_to_own_circle(X, y), 1.0, atol=1e-12)
    # Upper moon above its centre line, lower moon below its own.
    assert np.all(X[y == 0, 1] >= -1e-12)
    assert np.all(X[y == 1, 1] <= 0.5 + 1e-12)


def test_moons_with_noise_stay_near_their_half_circles():
    X, y = make_moons(n_samples=2000, noise=0.1, seed=0)
    gap = _distance_to_own_circle(X, y) - 1.0
    # Isotropic noise of std 0.1 moves points radially by about that much.
    assert 0.07 < gap.std() < 0.13
    assert abs(gap.mean()) < 0.03
    assert np.all(np.abs(gap) < 0.6)


def test_moons_are_not_sorted_by_class():
    y = make_moons(n_samples=100).y
    assert not (np.all(np.diff(y) >= 0) or np.all(np.diff(y) <= 0))


def test_spirals_shapes_and_classes():
    ds = make_spirals(n_samples=301, n_classes=4, noise=0.2, seed=1)
    assert ds.X.shape == (301, 2) and ds.X.dtype == np.float64
    assert ds.y.shape == (301,) and ds.y.dtype == np.int64
    assert np.bincount(ds.y).tolist() == [76, 75, 75, 75]
    assert ds.n_classes == 4 and ds.target_names == ["0", "1", "2", "3"]
    # The radius is the uniform draw, untouched by the angular noise.
    assert np.all(np.linalg.norm(ds.X, axis=1) < 1.0)


def test_spirals_without_noise_follow_their_arms():
    X, y = make_spirals(n_samples=300, n_classes=3, noise=0.0, seed=2)
    r = np.linalg.norm(X, axis=1)
    expected = 2 * np.pi * (y / 3 + r)
    angle = np.arctan2(X[:, 1], X[:, 0])
    # Compare on the circle, since arctan2 wraps angles into (-pi, pi].
    np.testing.assert_allclose(np.cos(angle - expected), 1.0, atol=1e-9)


def test_regression_curve_shapes_and_noise():
    ds = make_regression_curve(n_samples=3000, noise=0.1, seed=0)
    assert ds.X.shape == (3000, 1) and ds.y.shape == (3000, 1)
    assert ds.X.dtype == np.float64 and ds.y.dtype == np.float64
    assert ds.task == "regression" and ds.n_classes is None
    assert ds.X.min() >= -2.0 and ds.X.max() <= 2.0
    residual = ds.y - (np.sin(2 * ds.X) + 0.25 * ds.X**2)
    assert 0.09 < residual.std() < 0.11


def test_regression_curve_noise_free_is_the_documented_function():
    X, y = make_regression_curve(n_samples=50, noise=0.0)
    np.testing.assert_allclose(y, np.sin(2 * X) + 0.25 * X**2)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: make_moons(n_samples=1), ValueError),
        (lambda: make_moons(noise=-0.1), ValueError),
        (lambda: make_moons(n_samples=10.0), TypeError),
        (lambda: make_spirals(n_samples=2, n_classes=3), ValueError),
        (lambda: make_spirals(n_classes=1), ValueError),
        (lambda: make_regression_curve(n_samples=0), ValueError),
        (lambda: make_regression_curve(noise=float("nan")), ValueError),
    ],
)
def test_maker_argument_errors(call, error):
    with pytest.raises(error):
        call()


# ---------------------------------------------------------------------------
# Dataset container
# ---------------------------------------------------------------------------


def test_dataset_unpacks_and_has_length():
    ds = make_moons(n_samples=12)
    X, y = ds
    assert X is ds.X and y is ds.y
    assert len(ds) == 12
    assert "moons" in repr(ds)


def test_dataset_rejects_inconsistent_parts():
    with pytest.raises(ValueError, match="samples"):
        Dataset(np.zeros((3, 2)), np.zeros(4), ["a", "b"], ["0"], "classification", "x")
    with pytest.raises(ValueError, match="feature names"):
        Dataset(np.zeros((3, 2)), np.zeros(3), ["a"], ["0"], "classification", "x")
    with pytest.raises(ValueError, match="task"):
        Dataset(np.zeros((3, 2)), np.zeros(3), ["a", "b"], ["0"], "clustering", "x")


# ---------------------------------------------------------------------------
# scikit-learn bundled datasets
# ---------------------------------------------------------------------------


def test_digits_raw_and_scaled():
    pytest.importorskip("sklearn")
    raw, scaled = load_digits(), load_digits(scaled=True)
    assert raw.X.shape == (1797, 64) and raw.X.dtype == np.float64
    assert raw.X.max() == 16.0 and raw.X.min() == 0.0
    np.testing.assert_array_equal(scaled.X * 16.0, raw.X)
    assert raw.y.dtype == np.int64 and set(raw.y.tolist()) == set(range(10))
    assert raw.target_names == [str(k) for k in range(10)]
    assert raw.feature_names[0] == "pixel_0_0" and len(raw.feature_names) == 64


@pytest.mark.parametrize(
    ("loader", "shape", "n_classes", "first_class"),
    [
        (load_iris, (150, 4), 3, "setosa"),
        (load_wine, (178, 13), 3, "class_0"),
        (load_breast_cancer, (569, 30), 2, "malignant"),
    ],
)
def test_classification_loaders_raw_and_scaled(loader, shape, n_classes, first_class):
    datasets = pytest.importorskip("sklearn.datasets")
    raw, scaled = loader(), loader(scaled=True)
    reference = getattr(datasets, loader.__name__)()
    assert raw.X.shape == shape and raw.X.dtype == np.float64
    np.testing.assert_array_equal(raw.X, reference.data)
    np.testing.assert_array_equal(raw.y, reference.target)
    assert raw.y.dtype == np.int64
    assert raw.n_classes == n_classes and raw.target_names[0] == first_class
    assert raw.feature_names == [str(f) for f in reference.feature_names]
    np.testing.assert_allclose(np.abs(scaled.X).max(axis=0), 1.0)
    np.testing.assert_allclose(scaled.X * np.abs(reference.data).max(axis=0), raw.X)


def test_wine_raw_features_are_large():
    pytest.importorskip("sklearn")
    ds = load_wine()
    assert ds.X[:, ds.feature_names.index("proline")].max() == 1680.0


def test_diabetes_raw_vs_scaled():
    datasets = pytest.importorskip("sklearn.datasets")
    raw, scaled = load_diabetes(), load_diabetes(scaled=True)
    assert raw.X.shape == (442, 10) and raw.y.shape == (442, 1)
    assert raw.y.dtype == np.float64 and raw.task == "regression" and raw.n_classes is None
    assert raw.feature_names[:3] == ["age", "sex", "bmi"]
    age = raw.X[:, 0]
    # Raw age is in years; sklearn's scaled columns have std 1/sqrt(442) ~ 0.048.
    assert 40 < age.mean() < 60 and age.std() > 5
    assert set(raw.X[:, 1].tolist()) == {1.0, 2.0}
    np.testing.assert_allclose(scaled.X, datasets.load_diabetes().data)
    np.testing.assert_allclose(scaled.X.std(axis=0), 1 / math.sqrt(442), rtol=1e-6)
    np.testing.assert_array_equal(raw.y, scaled.y)
    np.testing.assert_array_equal(raw.y[:, 0], datasets.load_diabetes().target)


@pytest.mark.parametrize(
    "loader", [load_digits, load_iris, load_wine, load_breast_cancer, load_diabetes]
)
def test_missing_sklearn_gives_install_hint(monkeypatch, loader):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        loader()


# ---------------------------------------------------------------------------
# load_dataset registry
# ---------------------------------------------------------------------------


def test_dataset_names():
    assert DATASETS == (
        "moons",
        "spirals",
        "curve",
        "digits",
        "iris",
        "wine",
        "breast_cancer",
        "diabetes",
    )


@pytest.mark.parametrize("name", ["moons", "spirals", "curve"])
def test_load_dataset_synthetic(name):
    ds = load_dataset(name, n_samples=30, seed=4)
    assert ds.name == name and len(ds) == 30


def test_load_dataset_passes_keyword_arguments():
    a = load_dataset("moons", noise=0.0, seed=9)
    b = make_moons(noise=0.0, seed=9)
    np.testing.assert_array_equal(a.X, b.X)


@pytest.mark.parametrize("name", ["digits", "iris", "wine", "breast_cancer", "diabetes"])
def test_load_dataset_bundled(name):
    pytest.importorskip("sklearn")
    raw, scaled = load_dataset(name), load_dataset(name, scaled=True)
    assert raw.name == name and len(raw) == len(scaled)
    assert not np.allclose(raw.X, scaled.X)


def test_load_dataset_forgives_case_and_dashes():
    pytest.importorskip("sklearn")
    assert load_dataset("Breast-Cancer").name == "breast_cancer"


def test_load_dataset_unknown_name_lists_known_ones():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'") as info:
        load_dataset("mnist")
    for name in DATASETS:
        assert name in str(info.value)


# ---------------------------------------------------------------------------
# CSV loader
# ---------------------------------------------------------------------------


def _write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_target_by_name_in_middle_column(tmp_path):
    path = _write(tmp_path, "a,label,b\n1.5,2,-3\n4,1,5e2\n0,2,0.25\n")
    ds = load_csv(path, target="label")
    assert ds.feature_names == ["a", "b"]
    np.testing.assert_array_equal(ds.X, [[1.5, -3.0], [4.0, 500.0], [0.0, 0.25]])
    assert ds.X.dtype == np.float64
    assert ds.task == "classification" and ds.y.dtype == np.int64
    assert ds.y.tolist() == [1, 0, 1] and ds.target_names == ["1", "2"]
    assert ds.name == "data"


def test_csv_classes_sort_numerically_and_keep_their_text(tmp_path):
    path = _write(tmp_path, "x,y\n0,10\n1,9\n2,-1\n3,9\n4,10\n")
    ds = load_csv(path, target="y")
    assert ds.target_names == ["-1", "9", "10"]
    assert ds.y.tolist() == [2, 1, 0, 1, 2]
    assert ds.n_classes == 3


def test_csv_numerically_equal_labels_are_one_class_named_by_first_spelling(tmp_path):
    path = _write(tmp_path, "x,y\n0,2.0\n1,1\n2,2\n3,1.0\n")
    ds = load_csv(path, target="y")
    assert ds.target_names == ["1", "2.0"] and ds.y.tolist() == [1, 0, 1, 0]


def test_csv_infers_regression_for_fractional_targets(tmp_path):
    path = _write(tmp_path, "x,y\n1,0.5\n2,1\n3,1.5\n")
    ds = load_csv(path, target="y")
    assert ds.task == "regression" and ds.n_classes is None
    assert ds.y.shape == (3, 1) and ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.y[:, 0], [0.5, 1.0, 1.5])
    assert ds.target_names == ["y"]


def test_csv_infers_regression_for_many_distinct_integers(tmp_path):
    rows = "".join(f"{i},{i * 3}\n" for i in range(21))
    assert load_csv(_write(tmp_path, "x,y\n" + rows), target="y").task == "regression"
    rows = "".join(f"{i},{i % 20}\n" for i in range(40))
    assert load_csv(_write(tmp_path, "x,y\n" + rows), target="y").task == "classification"


def test_csv_explicit_task_overrides_inference(tmp_path):
    path = _write(tmp_path, "x,y\n1,3\n2,4\n3,3\n")
    ds = load_csv(path, target="y", task="regression")
    assert ds.task == "regression" and ds.y[:, 0].tolist() == [3.0, 4.0, 3.0]
    path = _write(tmp_path, "x,y\n1,0.5\n2,1.5\n3,0.5\n")
    ds = load_csv(path, target="y", task="classification")
    assert ds.y.tolist() == [0, 1, 0] and ds.target_names == ["0.5", "1.5"]


def test_csv_text_labels_with_classification(tmp_path):
    path = _write(tmp_path, "w,species\n1,versicolor\n2,setosa\n3,versicolor\n")
    ds = load_csv(path, target="species", task="classification")
    assert ds.target_names == ["setosa", "versicolor"] and ds.y.tolist() == [1, 0, 1]


def test_csv_text_labels_without_task_hint_at_classification(tmp_path):
    path = _write(tmp_path, "w,species\n1,versicolor\n2,setosa\n")
    with pytest.raises(ValueError, match="task='classification'"):
        load_csv(path, target="species")


def test_csv_other_delimiter_quotes_whitespace_and_blank_lines(tmp_path):
    path = _write(tmp_path, '"a"; b ;t\n1; 2;0\n\n"3";4 ;1\n\n')
    ds = load_csv(path, target="t", delimiter=";")
    assert ds.feature_names == ["a", "b"]
    np.testing.assert_array_equal(ds.X, [[1.0, 2.0], [3.0, 4.0]])
    assert ds.y.tolist() == [0, 1]


def test_csv_byte_order_mark_is_not_part_of_the_first_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text("a,t\n1,0\n2,1\n", encoding="utf-8-sig")
    assert load_csv(path, target="t").feature_names == ["a"]


def test_csv_parser_errors_become_value_errors(tmp_path):
    path = _write(tmp_path, "a,t\n1,0\n" + "2" * 50 + ",1\n", name="huge.csv")
    # The field size limit is global csv state, so it is put back afterwards.
    old_limit = csv.field_size_limit(10)
    try:
        with pytest.raises(ValueError, match=r"huge\.csv: line 3"):
            load_csv(path, target="t")
    finally:
        csv.field_size_limit(old_limit)


def test_csv_unknown_task_is_rejected(tmp_path):
    path = _write(tmp_path, "x,y\n1,0\n")
    with pytest.raises(ValueError, match="task"):
        load_csv(path, target="y", task="ranking")


# Each bad file, and fragments its error message must contain.
BAD_FILES = {
    "non_numeric": ("a,b,t\n1,2,0\n3,abc,1\n", "t", ["line 3", "column 2", "'b'", "'abc'"]),
    "ragged": ("a,b,t\n1,2,0\n3,4\n", "t", ["line 3", "expected 3 fields", "got 2"]),
    "too_many": ("a,b,t\n1,2,0,9\n", "t", ["line 2", "expected 3 fields", "got 4"]),
    "empty_feature": ("a,b,t\n1,2,0\n,4,1\n", "t", ["line 3", "column 1", "'a'", "empty cell"]),
    "empty_target": ("a,b,t\n1,2,0\n\n3,4, \n", "t", ["line 4", "column 3", "'t'", "empty"]),
    "non_finite": ("a,b,t\n1,nan,0\n", "t", ["line 2", "'b'", "non-finite", "'nan'"]),
    "unknown_target": ("a,b,t\n1,2,0\n", "label", ["'label'", "['a', 'b', 't']"]),
    "empty_file": ("", "t", ["empty"]),
    "blank_file": ("\n\n", "t", ["empty"]),
    "header_only": ("a,b,t\n", "t", ["header but no data rows"]),
    "duplicate": ("a,b,a,t\n1,2,3,0\n", "t", ["line 1", "duplicate", "'a'", "1 and 3"]),
    "empty_name": ("a,,t\n1,2,0\n", "t", ["line 1", "column 2", "empty column name"]),
    "only_target": ("t\n1\n", "t", ["no feature columns"]),
    "bad_regression": ("a,t\n1,0.5\n2,high\n", "t", ["line 3", "'t'", "'high'"]),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_csv_bad_files_name_file_line_and_column(tmp_path, kind):
    text, target, fragments = BAD_FILES[kind]
    path = _write(tmp_path, text, name=f"{kind}.csv")
    with pytest.raises(ValueError) as info:
        load_csv(path, target=target)
    message = str(info.value)
    assert f"{kind}.csv" in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_csv_line_numbers_count_quoted_newlines(tmp_path):
    path = _write(tmp_path, 'a,t\n"1",0\n"2\n",1\nzz,0\n')
    with pytest.raises(ValueError, match="line 5"):
        load_csv(path, target="t")
    # A bad record spanning several lines is reported at the line it starts on.
    path = _write(tmp_path, 'a,t\n1,0\n"1\n2",1\n3,0\n')
    with pytest.raises(ValueError, match="line 3"):
        load_csv(path, target="t")


# ---------------------------------------------------------------------------
# Standardize
# ---------------------------------------------------------------------------


def test_standardize_uses_training_statistics_only():
    rng = np.random.default_rng(0)
    X_train = rng.normal([3.0, -1.0], [2.0, 0.5], size=(50, 2))
    X_test = rng.normal(10.0, 4.0, size=(20, 2))
    scaler = Standardize().fit(X_train)
    expected = (X_test - X_train.mean(axis=0)) / X_train.std(axis=0)
    np.testing.assert_allclose(scaler.transform(X_test), expected)
    Z = scaler.transform(X_train)
    np.testing.assert_allclose(Z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1.0)


def test_standardize_fit_transform_matches_fit_then_transform():
    X = np.arange(12.0).reshape(4, 3) ** 2
    np.testing.assert_allclose(Standardize().fit_transform(X), Standardize().fit(X).transform(X))


@pytest.mark.parametrize("value", [0.0, 0.1, 7.3, -1e6])
def test_standardize_constant_column_maps_to_zero(value):
    X = np.column_stack([np.arange(10.0), np.full(10, value)])
    scaler = Standardize().fit(X)
    assert scaler.std_[1] == 1.0
    Z = scaler.transform(X)
    assert np.all(np.isfinite(Z))
    np.testing.assert_allclose(Z[:, 1], 0.0, atol=1e-9)


def test_standardize_works_on_regression_targets():
    y = np.array([[1.0], [2.0], [3.0], [6.0]])
    scaler = Standardize()
    z = scaler.fit_transform(y)
    assert z.shape == (4, 1)
    np.testing.assert_allclose(scaler.inverse_transform(z), y)


@settings(max_examples=50, deadline=None)
@given(
    st.integers(min_value=2, max_value=20),
    st.integers(min_value=1, max_value=5),
    st.integers(min_value=0, max_value=2**32 - 1),
)
def test_standardize_inverse_round_trip(n, f, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(rng.uniform(-100, 100, f), rng.uniform(0.01, 50, f), size=(n, f))
    scaler = Standardize().fit(X)
    np.testing.assert_allclose(scaler.inverse_transform(scaler.transform(X)), X, atol=1e-9)


def test_standardize_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardize().transform(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="not fitted"):
        Standardize().inverse_transform(np.zeros((2, 2)))
    scaler = Standardize().fit(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"3 features.*4 features"):
        scaler.transform(np.ones((2, 3)))
    with pytest.raises(ValueError, match="2-D"):
        Standardize().fit(np.arange(5.0))
    with pytest.raises(ValueError, match="NaN"):
        Standardize().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(ValueError, match="empty"):
        Standardize().fit(np.zeros((0, 2)))


# ---------------------------------------------------------------------------
# train_test_split
# ---------------------------------------------------------------------------


def _indexed(n: int):
    # Row i of X holds i, and y is a function of it, so alignment is checkable.
    X = np.column_stack([np.arange(n), -np.arange(n)])
    return X, 10 * np.arange(n)


@pytest.mark.parametrize(
    ("n", "test_size", "n_test"),
    [(100, 0.2, 20), (100, 0.07, 7), (10, 0.25, 3), (7, 0.5, 4), (50, 7, 7), (5, 1, 1)],
)
def test_split_sizes(n, test_size, n_test):
    X, y = _indexed(n)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size)
    assert len(X_te) == len(y_te) == n_test
    assert len(X_tr) == len(y_tr) == n - n_test


def test_split_is_disjoint_covering_and_aligned():
    X, y = _indexed(57)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, seed=4)
    ids = np.concatenate([X_tr[:, 0], X_te[:, 0]])
    assert sorted(ids.tolist()) == list(range(57))
    np.testing.assert_array_equal(y_tr, 10 * X_tr[:, 0])
    np.testing.assert_array_equal(y_te, 10 * X_te[:, 0])


def test_split_is_deterministic_and_seed_dependent():
    X, y = _indexed(40)
    a = train_test_split(X, y, seed=1)
    b = train_test_split(X, y, seed=1)
    c = train_test_split(X, y, seed=2)
    for left, right in zip(a, b):
        np.testing.assert_array_equal(left, right)
    assert set(a[1][:, 0].tolist()) != set(c[1][:, 0].tolist())


def test_split_actually_shuffles():
    X, y = _indexed(100)
    _, X_te, _, _ = train_test_split(X, y, test_size=0.2, seed=0)
    assert set(X_te[:, 0].tolist()) != set(range(80, 100))
    assert set(X_te[:, 0].tolist()) != set(range(20))


def test_split_stratified_keeps_class_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100).reshape(-1, 1)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=3, stratify=True)
    assert np.bincount(y_te).tolist() == [12, 6, 2]
    assert np.bincount(y_tr).tolist() == [48, 24, 8]
    np.testing.assert_array_equal(y[X_te[:, 0]], y_te)
    assert sorted(np.concatenate([X_tr[:, 0], X_te[:, 0]]).tolist()) == list(range(100))


def test_split_stratified_parts_are_not_grouped_by_class():
    y = np.repeat([0, 1], [50, 50])
    X = np.arange(100).reshape(-1, 1)
    _, _, y_tr, y_te = train_test_split(X, y, test_size=0.2, seed=0, stratify=True)
    for part in (y_tr, y_te):
        assert np.count_nonzero(np.diff(part)) > 1


def test_split_stratified_rounds_to_the_requested_total():
    y = np.repeat(["a", "b", "c"], [7, 7, 7])
    X = np.arange(21).reshape(-1, 1)
    _, X_te, _, y_te = train_test_split(X, y, test_size=5, seed=0, stratify=True)
    assert len(X_te) == 5
    _, counts = np.unique(y_te, return_counts=True)
    assert sorted(counts.tolist()) == [1, 2, 2]


def test_split_stratified_accepts_column_targets():
    y = np.repeat([0, 1], [80, 20]).reshape(-1, 1)
    X = np.zeros((100, 3))
    _, _, _, y_te = train_test_split(X, y, test_size=0.25, stratify=True)
    assert y_te.shape == (25, 1) and int(y_te.sum()) == 5


def test_split_unstratified_can_miss_the_proportions():
    # The stratified test above is only meaningful if plain splitting drifts.
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.arange(100).reshape(-1, 1)
    counts = {tuple(np.bincount(train_test_split(X, y, seed=s)[3], minlength=3)) for s in range(10)}
    assert counts != {(12, 6, 2)}


@pytest.mark.parametrize(
    ("n_y", "test_size", "error"),
    [
        (9, 0.2, ValueError),
        (10, 0.0, ValueError),
        (10, 1.0, ValueError),
        (10, 1.5, ValueError),
        (10, -0.1, ValueError),
        (10, 0, ValueError),
        (10, 10, ValueError),
        (10, 0.99, ValueError),
        (10, True, TypeError),
        (10, "0.2", TypeError),
    ],
)
def test_split_errors(n_y, test_size, error):
    with pytest.raises(error):
        train_test_split(np.zeros((10, 2)), np.zeros(n_y), test_size=test_size)


# ---------------------------------------------------------------------------
# DataLoader
# ---------------------------------------------------------------------------


def _ids(batches) -> list[int]:
    return np.concatenate([xb[:, 0] for xb, _ in batches]).tolist()


@pytest.mark.parametrize("shuffle", [False, True])
def test_loader_covers_every_sample_once_per_epoch(shuffle):
    X, y = _indexed(103)
    loader = DataLoader(X, y, batch_size=10, shuffle=shuffle, seed=0)
    for _ in range(3):
        batches = list(loader)
        assert sorted(_ids(batches)) == list(range(103))
        for xb, yb in batches:
            np.testing.assert_array_equal(yb, 10 * xb[:, 0])


def test_loader_batch_counts():
    X = np.zeros((103, 2))
    keep = DataLoader(X, batch_size=10)
    drop = DataLoader(X, batch_size=10, drop_last=True)
    assert len(keep) == 11 and len(drop) == 10
    assert [len(b) for b in keep] == [10] * 10 + [3]
    assert [len(b) for b in drop] == [10] * 10
    assert len(DataLoader(np.zeros((5, 1)), batch_size=8, drop_last=True)) == 0
    assert len(DataLoader(np.zeros((5, 1)), batch_size=8)) == 1


def test_loader_without_shuffle_yields_views_in_order():
    X, y = _indexed(25)
    batches = list(DataLoader(X, y, batch_size=8))
    assert _ids(batches) == list(range(25))
    assert all(np.shares_memory(xb, X) and np.shares_memory(yb, y) for xb, yb in batches)


def test_loader_same_seed_same_epochs_across_loaders():
    X, y = _indexed(50)
    a = DataLoader(X, y, batch_size=7, shuffle=True, seed=11)
    b = DataLoader(X, y, batch_size=7, shuffle=True, seed=11)
    epochs_a = [_ids(a) for _ in range(3)]
    epochs_b = [_ids(b) for _ in range(3)]
    assert epochs_a == epochs_b
    assert epochs_a[0] != list(range(50))


def test_loader_epochs_differ_when_shuffling():
    X, y = _indexed(50)
    loader = DataLoader(X, y, batch_size=7, shuffle=True, seed=0)
    first, second = _ids(loader), _ids(loader)
    assert first != second and sorted(first) == sorted(second)


def test_loader_different_seeds_differ():
    X, y = _indexed(50)
    a = DataLoader(X, y, batch_size=50, shuffle=True, seed=1)
    b = DataLoader(X, y, batch_size=50, shuffle=True, seed=2)
    assert _ids(a) != _ids(b)


def test_loader_without_targets_yields_arrays():
    X = np.arange(20.0).reshape(10, 2)
    batches = list(DataLoader(X, batch_size=4))
    assert all(isinstance(b, np.ndarray) for b in batches)
    np.testing.assert_array_equal(np.concatenate(batches), X)


def test_loader_keeps_column_targets_2d():
    X, y = np.zeros((9, 3)), np.arange(9.0).reshape(9, 1)
    for xb, yb in DataLoader(X, y, batch_size=4, shuffle=True, seed=0):
        assert xb.shape[1:] == (3,) and yb.shape[1:] == (1,) and len(xb) == len(yb)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"batch_size": 0}, ValueError),
        ({"batch_size": -3}, ValueError),
        ({"batch_size": 2.0}, TypeError),
        ({"batch_size": True}, TypeError),
        ({"y": np.zeros(9)}, ValueError),
    ],
)
def test_loader_validation(kwargs, error):
    with pytest.raises(error):
        DataLoader(np.zeros((10, 2)), **kwargs)


def test_loader_rejects_empty_data():
    with pytest.raises(ValueError, match="at least one sample"):
        DataLoader(np.zeros((0, 2)))


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=200),
    batch_size=st.integers(min_value=1, max_value=64),
    drop_last=st.booleans(),
    shuffle=st.booleans(),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
)
def test_loader_property_counts_and_coverage(n, batch_size, drop_last, shuffle, seed):
    X = np.arange(n).reshape(n, 1)
    loader = DataLoader(X, X[:, 0] * 2, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    batches = list(loader)
    n_full, rest = divmod(n, batch_size)
    expected_batches = n_full + (1 if rest and not drop_last else 0)
    assert len(loader) == len(batches) == expected_batches
    sizes = [len(xb) for xb, _ in batches]
    assert all(size == batch_size for size in sizes[:n_full])
    seen = _ids(batches) if batches else []
    # No sample twice; everything is seen unless it fell in a dropped last batch.
    assert len(set(seen)) == len(seen) == (n_full * batch_size if drop_last else n)
    assert set(seen) <= set(range(n))
    for xb, yb in batches:
        np.testing.assert_array_equal(yb, 2 * xb[:, 0])


def test_csv_not_utf8_names_the_file_and_the_place(tmp_path):
    path = tmp_path / "latin.csv"
    # The bad byte lies past the reader's first chunk, so its offset must still be the
    # offset in the file.
    head = "a,label\n" + "1,x\n" * 3000
    path.write_bytes((head + "2,caf\xe9\n").encode("latin-1"))
    offset, line = len(head) + 5, 3002
    with pytest.raises(ValueError, match=rf"latin\.csv: line {line}, byte 6 of the line "
                                         rf"\(offset {offset} in the file\): byte\(s\) e9 "
                                         r"are not valid utf-8.*re-save the file as UTF-8.*"
                                         r"encoding='latin-1'"):
        load_csv(path, target="label", task="classification")
    ds = load_csv(path, target="label", task="classification", encoding="latin-1")
    assert ds.target_names == ["café", "x"] and ds.y.tolist()[-2:] == [1, 0]


def test_csv_encoding_keeps_dropping_the_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text("a,t\n1,0\n2,1\n", encoding="utf-8-sig")
    for encoding in ["utf-8", "UTF8", "utf-8-sig"]:
        assert load_csv(path, target="t", encoding=encoding).feature_names == ["a"]
    path.write_text("ä,t\n1,0\n2,1\n", encoding="cp1252")
    assert load_csv(path, target="t", encoding="cp1252").feature_names == ["ä"]
