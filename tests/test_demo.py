"""The demo (the default command) and the plotting helpers it shares with the rest."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mlp import cli, demo, plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HAVE_DOT = shutil.which("dot") is not None
FAST = {"epochs": 3, "steps": 20, "progress": False}


def test_the_demo_trains_compares_and_writes_everything(tmp_path, capsys):
    result = demo.run(out_dir=tmp_path, **FAST)
    printed = capsys.readouterr().out
    assert result.dataset == "moons" and result.history.epochs == 3
    assert "final: train loss" in printed and "validation loss" in printed
    assert "accuracy" in printed and "agree to rounding error" in printed
    # Every file it wrote is listed at the end, and exists.
    listed = printed.split("files:")[1].split()
    assert [Path(p) for p in listed] == result.written
    assert all(p.exists() for p in result.written)
    names = {p.name for p in result.written}
    assert {"loss_curves.csv", "accuracy_curves.csv", "side_by_side.csv"} <= names
    if plots.have_matplotlib():
        for png in ("loss_curves.png", "accuracy_curves.png", "side_by_side.png"):
            assert (tmp_path / png).read_bytes()[:8] == PNG_MAGIC
    if HAVE_DOT:
        assert result.graph == tmp_path / "training_step.svg"
        assert ET.fromstring(result.graph.read_bytes()).tag.endswith("svg")
    else:
        assert result.graph == tmp_path / "training_step.dot"


def test_the_curves_hold_the_history(tmp_path):
    result = demo.run(out_dir=tmp_path, quiet=True, **FAST)
    curves = plots.read_curves(tmp_path / "loss_curves.csv")
    assert curves["epoch"] == [1.0, 2.0, 3.0]
    assert np.allclose(curves["train"], result.history.loss)
    assert np.allclose(curves["validation"], result.history.val_loss)
    accuracy = plots.read_curves(tmp_path / "accuracy_curves.csv")
    assert all(0.0 <= a <= 1.0 for a in accuracy["train"] + accuracy["validation"])
    side = plots.read_curves(tmp_path / "side_by_side.csv")
    assert side["step"] == [float(k) for k in range(20)]
    assert side["manual"][-1] < side["manual"][0]  # gradient descent made progress


def test_manual_and_autograd_agree_from_the_same_initial_weights():
    result = demo.run(out_dir=None, quiet=True, epochs=1, steps=100)
    run = result.side_by_side
    assert len(run.manual_losses) == 100
    assert result.max_weight_diff < 1e-5 and result.max_loss_diff < 1e-5  # in fact ~1e-15
    assert result.agree(rtol=1e-12)
    assert run.model[0].weight.dtype == np.float64
    assert run.manual_losses[-1] < 0.7 * run.manual_losses[0]


def test_side_by_side_starts_from_the_mlp_initial_weights():
    import tinygrad_mlp as tg
    from tinygrad_mlp import nn

    result = demo.run(out_dir=None, quiet=True, epochs=1, steps=1, seed=3)
    tg.manual_seed(3)
    fresh = nn.MLP([2, 32, 32, 2])  # what the demo built before training it
    # After one step of gradient descent the weights moved by lr * gradient: small.
    first = result.side_by_side.net.W[0]
    assert np.allclose(first[1:].T, fresh[0].weight.numpy(), atol=0.05)
    assert not np.allclose(first[1:].T, fresh[0].weight.numpy(), atol=1e-12)


def test_a_regression_dataset(tmp_path):
    result = demo.run("curve", out_dir=tmp_path, quiet=True, **FAST)
    assert result.task == "regression" and not result.history.accuracy
    assert not (tmp_path / "accuracy_curves.csv").exists()
    assert result.agree(rtol=1e-12)


def test_a_scikit_learn_dataset():
    pytest.importorskip("sklearn")
    result = demo.run("iris", out_dir=None, quiet=True, **FAST)
    assert result.dataset == "iris" and result.agree(rtol=1e-12)


def test_the_default_dataset_needs_no_scikit_learn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    assert demo.run(out_dir=None, quiet=True, **FAST).dataset == "moons"


def test_without_matplotlib_it_writes_csv_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert not plots.have_matplotlib()
    result = demo.run(out_dir=tmp_path, **FAST)
    printed = capsys.readouterr().out
    line = next(line for line in printed.splitlines() if "matplotlib is not" in line)
    assert "pip install matplotlib" in line
    assert not any(p.suffix == ".png" for p in result.written)
    assert (tmp_path / "side_by_side.csv").exists() and not list(tmp_path.glob("*.png"))


def test_without_dot_it_writes_dot_text_and_says_how_to_install(tmp_path, monkeypatch, capsys):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = demo.run(out_dir=tmp_path / "out", **FAST)
    printed = capsys.readouterr().out
    line = next(line for line in printed.splitlines() if "Graphviz's dot" in line)
    assert "apt-get install graphviz" in line and "brew install graphviz" in line
    assert result.graph == tmp_path / "out" / "training_step.dot"
    assert result.graph.read_text().startswith("digraph")
    assert not (tmp_path / "out" / "training_step.svg").exists()


def test_demo_through_the_command_line(tmp_path, capsys):
    out = tmp_path / "o"
    argv = ["demo", "--epochs", "2", "--steps", "5", "--seed", "1", "--out", str(out), "--quiet"]
    assert cli.main(argv) == 0
    assert "Wrote" in capsys.readouterr().out and (out / "loss_curves.csv").exists()
    # Options alone select the demo too.
    assert cli.main(["--epochs", "2", "--steps", "5", "--out", str(out), "--quiet"]) == 0


def test_python_dash_m_with_no_arguments_runs_the_demo(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(demo.__file__).resolve().parents[1])}
    result = subprocess.run([sys.executable, "-m", "tinygrad_mlp"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "agree to rounding error" in result.stdout
    folder = tmp_path / demo.DEFAULT_OUT
    assert (folder / "loss_curves.csv").exists() and (folder / "side_by_side.csv").exists()
    for line in result.stdout.split("files:")[1].split():
        assert (tmp_path / line).exists()


# -- plots -------------------------------------------------------------------------------------


def test_write_curves_keeps_inf_and_nan_and_pads_short_series(tmp_path):
    paths = plots.write_curves(tmp_path / "sub" / "c", {"a": [1.0, np.inf, np.nan], "b": [2.0]},
                               log=True, x_start=0)
    curves = plots.read_curves(paths[0])
    assert curves["epoch"] == [0.0, 1.0, 2.0] and curves["b"] == [2.0]
    assert curves["a"][0] == 1.0 and np.isinf(curves["a"][1]) and np.isnan(curves["a"][2])
    if plots.have_matplotlib():
        assert paths[1].read_bytes()[:8] == PNG_MAGIC


def test_write_side_by_side_columns(tmp_path):
    path = plots.write_side_by_side(tmp_path / "s", [1.0, 0.5], [1.0, 0.25], [0.0, 0.1])[0]
    curves = plots.read_curves(path)
    assert curves["loss_difference"] == [0.0, 0.25]
    assert curves["weight_difference"] == [0.0, 0.1]
