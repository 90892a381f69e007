"""The command line, in process through ``cli.main`` and as a user runs it (``python -m``)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mlp import cli, data, nn
from tinygrad_mlp.plots import have_matplotlib, read_curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HAVE_DOT = shutil.which("dot") is not None


def run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300, env=env
    )


def check_curves(folder: Path, stem: str, columns: set[str], low: float, high: float) -> None:
    """``stem.csv`` parses, holds ``columns`` with finite numbers in [low, high]; the PNG
    is a PNG when matplotlib is installed."""
    curves = read_curves(folder / f"{stem}.csv")
    assert columns <= set(curves)
    for name in columns:
        values = np.array(curves[name])
        assert values.size and np.isfinite(values).all()
        assert (low <= values).all() and (values <= high).all(), (name, values)
    png = folder / f"{stem}.png"
    if have_matplotlib():
        assert png.read_bytes()[:8] == PNG_MAGIC
    else:
        assert not png.exists()


def write_csv(path: Path, header: list[str], rows: list[list]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def moons_csv(path: Path, n: int = 200, target: bool = True, seed: int = 0) -> Path:
    """Two moons as a CSV with text labels ("upper"/"lower") in a column named "side"."""
    X, y = data.make_moons(n_samples=n, noise=0.15, seed=seed)
    names = np.array(["upper", "lower"])
    rows = [[*x, names[k]] if target else list(x) for x, k in zip(X, y)]
    return write_csv(path, ["x0", "x1", "side"] if target else ["x0", "x1"], rows)


def main_status(argv: list[str]) -> int:
    status = cli.main(argv)
    assert isinstance(status, int)
    return status


# -- train -----------------------------------------------------------------------------------


def test_train_on_moons_reports_metrics_and_writes_curves(tmp_path, capsys):
    out = tmp_path / "run"
    assert main_status(["train", "--epochs", "40", "--quiet", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Linear(in_features=2, out_features=32" in printed
    validation = next(line for line in printed.splitlines() if line.startswith("validation:"))
    accuracy = float(validation.split("accuracy ")[1].rstrip("%"))
    assert accuracy >= 90.0
    assert printed.count("wrote ") == (4 if have_matplotlib() else 2)
    check_curves(out, "loss_curves", {"train", "validation"}, 0.0, 5.0)
    check_curves(out, "accuracy_curves", {"train", "validation"}, 0.0, 1.0)
    assert len(read_curves(out / "loss_curves.csv")["epoch"]) == 40


def test_train_prints_metrics_per_epoch_without_tqdm(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    assert main_status(["train", "spirals", "--epochs", "3", "--hidden", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 3 and all("val_accuracy" in line for line in epochs)


def test_dataset_as_positional_or_option(capsys):
    assert main_status(["train", "curve", "--epochs", "2", "--quiet"]) == 0
    positional = capsys.readouterr().out
    assert main_status(["train", "--dataset", "curve", "--epochs", "2", "--quiet"]) == 0
    assert capsys.readouterr().out == positional
    assert "standardized targets" in positional and "accuracy" not in positional


def test_save_writes_the_model_and_its_preprocessing(tmp_path, capsys):
    path = tmp_path / "models" / "moons.npz"
    argv = ["train", "--epochs", "2", "--quiet", "--hidden", "16,8", "--save", str(path)]
    assert main_status(argv) == 0
    assert f"wrote {path}" in capsys.readouterr().out
    model = nn.Module.load(path)
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [16, 8, 2]
    with np.load(tmp_path / "models" / "moons.meta.npz", allow_pickle=False) as meta:
        assert str(meta["task"]) == "classification" and str(meta["loss"]) == "cross_entropy"
        assert meta["x_mean"].shape == (2,) and (meta["x_std"] > 0).all()
        assert meta["class_names"].tolist() == ["0", "1"]


def test_no_standardize_saves_no_scaler(tmp_path):
    path = tmp_path / "raw.npz"
    argv = ["train", "--no-standardize", "--epochs", "1", "--quiet", "--save", str(path)]
    assert main_status(argv) == 0
    assert "x_mean" not in cli.load_meta(path)
    assert main_status(["train", "--raw", "--epochs", "1", "--quiet"]) == 0  # the old spelling


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_other_optimizers_and_bce(optimizer, capsys):
    argv = ["train", "--optimizer", optimizer, "--loss", "bce", "--epochs", "30", "--quiet",
            "--momentum", "0.9", "--activation", "tanh"]
    assert main_status(argv) == 0
    printed = capsys.readouterr().out
    assert "loss bce" in printed and "out_features=1, bias=True)\n)" in printed
    accuracy = float(printed.split("validation: ")[1].split("accuracy ")[1].split("%")[0])
    assert accuracy >= 80.0


def test_divergence_exits_1_with_advice_and_keeps_the_curves_so_far(tmp_path, capsys):
    out = tmp_path / "diverged"
    argv = ["train", "curve", "--optimizer", "sgd", "--lr", "3", "--momentum", "0.9",
            "--epochs", "20", "--quiet", "--out", str(out)]
    status = main_status(argv)
    err = capsys.readouterr().err
    assert status == 1
    assert "training diverged" in err and "learning rate" in err and "Traceback" not in err
    epoch = int(err.split(" at epoch ")[1].split("/")[0])
    if epoch > 1:  # the epochs that finished before the blow-up are kept
        assert len(read_curves(out / "loss_curves.csv")["train"]) == epoch - 1
        assert "the epochs before the blow-up" in err


# -- predict ---------------------------------------------------------------------------------


def big_moons_csv(path: Path, n: int, seed: int) -> tuple[Path, np.ndarray, np.ndarray]:
    """Moons shifted and scaled far from mean 0 and std 1, with text labels."""
    X, y = data.make_moons(n_samples=n, noise=0.15, seed=seed)
    big, labels = X * 1000.0 + 5000.0, np.array(["upper", "lower"])[y]
    write_csv(path, ["x0", "x1", "side"], [[*x, k] for x, k in zip(big, labels)])
    return path, big, labels


def test_train_on_a_csv_then_predict_with_the_same_standardization(tmp_path, capsys):
    # Predictions on such features are only right if predict applies the training statistics.
    train_csv, _, _ = big_moons_csv(tmp_path / "train.csv", 300, seed=0)
    model = tmp_path / "m.npz"
    argv = ["train", "--csv", str(train_csv), "--target", "side", "--epochs", "60", "--quiet",
            "--save", str(model)]
    assert main_status(argv) == 0
    capsys.readouterr()
    _, big, labels = big_moons_csv(tmp_path / "unused.csv", 100, seed=1)
    # Columns in another order, plus one the model does not use: matched by name.
    new = write_csv(tmp_path / "new.csv", ["side", "x1", "note", "x0"],
                    [[k, x[1], 7, x[0]] for x, k in zip(big, labels)])
    output = tmp_path / "preds" / "p.csv"
    argv = ["predict", "--model", str(model), "--csv", str(new), "--output", str(output)]
    assert main_status(argv) == 0
    with open(output, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 100 and set(rows[0]) == {"predicted", "p_lower", "p_upper"}
    predicted = np.array([row["predicted"] for row in rows])
    assert np.mean(predicted == labels) >= 0.9
    p_sum = np.array([float(r["p_lower"]) + float(r["p_upper"]) for r in rows])
    assert np.allclose(p_sum, 1.0, atol=1e-5)


def test_predict_with_target_reports_accuracy_and_prints_csv(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main_status(["train", "--csv", str(moons_csv(tmp_path / "t.csv", 300)), "--target",
                        "side", "--epochs", "40", "--quiet", "--save", str(model)]) == 0
    capsys.readouterr()
    test_csv = moons_csv(tmp_path / "test.csv", 80, seed=5)
    assert main_status(["predict", "--model", str(model), "--csv", str(test_csv),
                        "--target", "side"]) == 0
    captured = capsys.readouterr()
    rows = list(csv.reader(captured.out.splitlines()))
    assert rows[0][0] == "predicted" and len(rows) == 81
    accuracy = float(captured.err.split("accuracy ")[1].split("%")[0])
    assert accuracy >= 85.0 and "cross-entropy" in captured.err
    # The same features without the target column give the same predictions.
    features = moons_csv(tmp_path / "features.csv", 80, target=False, seed=5)
    assert main_status(["predict", "--model", str(model), "--csv", str(features)]) == 0
    assert capsys.readouterr().out == captured.out


def test_predict_regression_returns_original_units(tmp_path, capsys):
    X, y = data.make_regression_curve(n_samples=300, noise=0.05, seed=0)
    rows = [[x[0], 100.0 + 50.0 * t[0]] for x, t in zip(X, y)]
    path = write_csv(tmp_path / "curve.csv", ["x", "target"], rows)
    model = tmp_path / "curve.npz"
    argv = ["train", "--csv", str(path), "--target", "target", "--epochs", "150", "--quiet",
            "--save", str(model)]
    assert main_status(argv) == 0
    assert main_status(["predict", "--model", str(model), "--csv", str(path), "--target",
                        "target", "--output", str(tmp_path / "p.csv")]) == 0
    printed = capsys.readouterr().out
    rmse = float(printed.split("RMSE ")[1].split()[0])
    assert rmse < 0.3 * np.std([r[1] for r in rows])  # in the target's own units
    predictions = read_curves(tmp_path / "p.csv")["predicted_target"]
    assert 50.0 < np.mean(predictions) < 200.0


def test_predict_without_side_file_uses_features_as_they_are(tmp_path, capsys):
    model = nn.MLP([2, 4, 2])
    path = model.save(tmp_path / "bare.npz")
    features = moons_csv(tmp_path / "f.csv", 10, target=False)
    assert main_status(["predict", "--model", path, "--csv", str(features)]) == 0
    captured = capsys.readouterr()
    assert "without standardization" in captured.err
    assert len(captured.out.splitlines()) == 11


# -- graph -----------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["graph", "draw"])
def test_graph_writes_dot_text_for_sizes(command, tmp_path, capsys):
    target = tmp_path / "g.dot"
    assert main_status([command, "--sizes", "3,5,2", "--out", str(target)]) == 0
    text = target.read_text()
    assert text.startswith("digraph") and "0.weight" in text
    assert str(target) in capsys.readouterr().out


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")
def test_graph_of_a_saved_model_as_svg(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main_status(["train", "iris" if _has_sklearn() else "spirals", "--epochs", "1",
                        "--quiet", "--save", str(model)]) == 0
    target = tmp_path / "g.svg"
    assert main_status(["graph", "--model", str(model), "--out", str(target)]) == 0
    root = ET.fromstring(target.read_bytes())
    assert root.tag.endswith("svg")
    assert "cross_entropy" in capsys.readouterr().out


def test_graph_without_dot_writes_dot_and_says_how_to_install(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    status = main_status(["graph", "--out", str(tmp_path / "g.svg")])
    err = capsys.readouterr().err
    assert status == 1
    assert len(err.strip().splitlines()) == 1 and "apt-get install graphviz" in err
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


def _has_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


# -- compare, diagnose, story ----------------------------------------------------------------


def test_compare_names_the_posted_defects_and_plots_side_by_side(tmp_path, capsys):
    pytest.importorskip("sklearn")
    out = tmp_path / "cmp"
    assert main_status(["compare", "--out", str(out), "--steps", "20"]) == 0
    assert "bias" in capsys.readouterr().out
    assert (out / "backprop_report.txt").read_text().strip()
    curves = read_curves(out / "side_by_side.csv")
    assert len(curves["step"]) == 20 and curves["weight_difference"][-1] > 1e-3
    assert main_status(["compare", "--network", "fixed", "--out", str(out), "--steps", "20"]) == 0
    assert "agrees with autograd" in capsys.readouterr().out.lower()
    check_curves(out, "side_by_side", {"manual", "autograd", "weight_difference"}, 0.0, 10.0)
    assert max(read_curves(out / "side_by_side.csv")["weight_difference"]) < 1e-12


def test_diagnose_explains_the_blow_up_and_plots_it(tmp_path, capsys):
    pytest.importorskip("sklearn")
    out = tmp_path / "dg"
    assert main_status(["diagnose", "--epochs", "60", "--out", str(out)]) == 0
    assert "λmax" in capsys.readouterr().out
    assert (out / "diagnosis.txt").read_text().startswith("Diagnosis:")
    assert len(read_curves(out / "loss.csv")["training loss"]) == 60
    assert (out / "layer_growth.csv").exists()


def test_story_is_a_subcommand_now(tmp_path, capsys):
    pytest.importorskip("sklearn")
    assert main_status(["story", "--out", str(tmp_path)]) == 0
    assert "what the student saw" in capsys.readouterr().out
    check_curves(tmp_path, "loss_curves", {"fixed NeuralNetwork"}, 1.0, 1e5)
    posted = np.array(read_curves(tmp_path / "loss_curves.csv")["posted (raw features)"])
    assert np.isinf(posted).any() and np.isnan(posted[-1])  # written as they are
    assert (tmp_path / "layer_growth.csv").exists()


# -- bad arguments ---------------------------------------------------------------------------


def bad_inputs(tmp_path: Path, write: bool = True) -> dict[str, list[str]]:
    """Each bad command line by name; with ``write`` the files they refer to are made."""
    bad_cell, good, not_npz = tmp_path / "bad.csv", tmp_path / "good.csv", tmp_path / "m.npz"
    if write:
        write_csv(bad_cell, ["a", "b", "y"], [[1, 2, 0], [3, "x", 1]])
        moons_csv(good, 20)
        not_npz.write_text("not a model")
    return {
        "unknown dataset": ["train", "nope"],
        "unknown dataset option": ["train", "--dataset", "nope"],
        "two datasets": ["train", "moons", "--dataset", "spirals"],
        "malformed hidden": ["train", "--hidden", "16,x"],
        "negative hidden": ["train", "--hidden", "16,-2"],
        "zero epochs": ["train", "--epochs", "0"],
        "negative lr": ["train", "--lr", "-0.1"],
        "nan lr": ["train", "--lr", "nan"],
        "zero batch size": ["train", "--batch-size", "0"],
        "test size 1": ["train", "--test-size", "1"],
        "unknown optimizer": ["train", "--optimizer", "rmsprop"],
        "missing csv": ["train", "--csv", str(tmp_path / "missing.csv"), "--target", "y"],
        "csv without target": ["train", "--csv", str(good)],
        "target without csv": ["train", "--target", "y"],
        "csv bad cell": ["train", "--csv", str(bad_cell), "--target", "y"],
        "csv unknown column": ["train", "--csv", str(good), "--target", "nope"],
        "csv and dataset": ["train", "moons", "--csv", str(good), "--target", "side"],
        "mse on classes": ["train", "--loss", "mse"],
        "cross entropy on regression": ["train", "curve", "--loss", "cross_entropy"],
        "bce on three classes": ["train", "spirals", "--loss", "bce"],
        "graph bad suffix": ["graph", "--out", str(tmp_path / "g.txt")],
        "graph one size": ["graph", "--sizes", "3"],
        "graph missing model": ["graph", "--model", str(tmp_path / "none.npz")],
        "graph sizes and model": ["graph", "--sizes", "2,1", "--model", str(not_npz)],
        "predict corrupt model": ["predict", "--model", str(not_npz), "--csv", str(good)],
        "predict missing csv": ["predict", "--model", str(not_npz), "--csv", "nowhere.csv"],
        "predict without model": ["predict", "--csv", str(good)],
        "demo unknown dataset": ["demo", "--dataset", "nope"],
        "demo zero steps": ["--steps", "0"],
        "unknown command": ["bogus"],
        "diagnose zero lr": ["diagnose", "--lr", "0"],
        "compare unknown network": ["compare", "--network", "mine"],
    }


BAD_CASES = list(bad_inputs(Path("unused"), write=False))


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_arguments_give_one_line_and_status_2(case, tmp_path, capsys):
    argv = bad_inputs(tmp_path)[case]
    status = main_status(argv)
    captured = capsys.readouterr()
    assert status == 2, captured
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "error" in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""


def test_the_bad_cell_is_named(tmp_path, capsys):
    assert main_status(bad_inputs(tmp_path)["csv bad cell"]) == 2
    assert "line 3, column 2 ('b'): non-numeric value 'x'" in capsys.readouterr().err


def test_a_missing_optional_extra_is_named_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if scikit-learn were not installed
    assert main_status(["diagnose"]) == 2
    err = capsys.readouterr().err
    assert "scikit-learn" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert main_status(["train", "iris"]) == 2


def test_help_for_every_command(capsys):
    assert main_status(["--help"]) == 0
    top = capsys.readouterr().out
    for command in ("demo", "train", "predict", "graph", "check", "compare", "diagnose", "story"):
        assert command in top
        assert main_status([command, "--help"]) == 0
        assert capsys.readouterr().out.startswith("usage:")
    assert main_status(["train", "--help"]) == 0
    assert "meta.npz" in capsys.readouterr().out


# -- as a user runs it -----------------------------------------------------------------------


def test_python_dash_m_train_and_a_bad_argument(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(cli.__file__).resolve().parents[1])}
    result = run("-m", "tinygrad_mlp", "train", "moons", "--epochs", "3", "--quiet",
                 "--save", "m.npz", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert "validation: loss" in result.stdout and (tmp_path / "m.meta.npz").exists()
    result = run("-m", "tinygrad_mlp", "train", "--hidden", "8,,x", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("python -m tinygrad_mlp train: error:")
