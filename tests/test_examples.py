"""The scripts in examples/ run as a user runs them, with tiny settings, and say what they should.

Each test starts a fresh interpreter on one script (``cwd`` a temporary folder, outputs
there too) and checks its exit code, the lines that carry its point and the files it
writes. ``@covers`` records which scripts a test runs, and the last test fails when a
script in examples/ is run by none of them, so a new example cannot rot unnoticed.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HAVE_DOT = shutil.which("dot") is not None
HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

COVERED: set[str] = set()

# Runs a script with some modules hidden, as if they were not installed.
_HIDING_RUNNER = """
import runpy, sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def covers(*scripts: str) -> Callable:
    """Mark a test as one that runs ``scripts`` (file names in examples/)."""
    def mark(test: Callable) -> Callable:
        COVERED.update(scripts)
        return test
    return mark


def run_example(script: str, *args: str, cwd: Path, hide: tuple[str, ...] = (),
                path: str | None = None) -> subprocess.CompletedProcess:
    """``python examples/<script> args`` from ``cwd``; ``hide`` modules, replace ``PATH``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    if path is not None:
        env["PATH"] = path
    command = [sys.executable, str(EXAMPLES / script), *args]
    if hide:
        command = [sys.executable, "-c", _HIDING_RUNNER, ",".join(hide), *command[1:]]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=120)
    return result


def ok(result: subprocess.CompletedProcess) -> str:
    """The stdout of a run that must have succeeded."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def number_after(pattern: str, text: str) -> float:
    """The number printed right after the first match of the regular expression ``pattern``."""
    match = re.search(pattern + r"\s*([-+0-9.eE]+)", text)
    assert match, f"no {pattern!r} in:\n{text}"
    return float(match.group(1))


# --- scalar_expression.py ----------------------------------------------------------------------


@covers("scalar_expression.py")
def test_scalar_expression_prints_gradients_equal_to_the_closed_form(tmp_path):
    out = ok(run_example("scalar_expression.py", "--out", str(tmp_path / "pics"), cwd=tmp_path))
    # o = tanh(n) is 1/√2 by construction, so 1 - o² = 1/2 and every gradient is known.
    assert number_after(r"o = tanh\(n\)\s*=", out) == pytest.approx(2 ** -0.5, abs=1e-6)
    # do/dx1 = (1 - o²)·w1, do/dx2 = (1 - o²)·w2, do/dw1 = (1 - o²)·x1, ..., do/db = 1 - o²
    expected = {"x1": -1.5, "x2": 0.5, "w1": 1.0, "w2": 0.0, "b": 0.5}
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in expected:
            rows[parts[0]] = (float(parts[2]), float(parts[3]))
    assert rows.keys() == expected.keys(), out
    for name, (autograd, closed_form) in rows.items():
        assert autograd == closed_form == pytest.approx(expected[name], abs=1e-6), name
    assert "autograd matches the closed form for every gradient" in out

    picture = tmp_path / "pics" / ("neuron.svg" if HAVE_DOT else "neuron.dot")
    assert picture.exists() and str(picture) in out
    text = picture.read_text()
    assert ("<svg" in text) if HAVE_DOT else text.startswith("digraph")
    assert "tanh" in text


@covers("scalar_expression.py")
def test_scalar_expression_without_dot_writes_dot_text_and_says_how_to_install(tmp_path):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    out = ok(run_example("scalar_expression.py", "--out", "pics", cwd=tmp_path, path=str(empty)))
    assert "apt-get install graphviz" in out and "brew install graphviz" in out
    assert (tmp_path / "pics" / "neuron.dot").read_text().startswith("digraph")
    assert not (tmp_path / "pics" / "neuron.svg").exists()


# --- two_moons.py -------------------------------------------------------------------------------

MOONS_TINY = ("--epochs", "3", "--samples", "80", "--grid", "12")


@covers("two_moons.py")
def test_two_moons_reports_accuracy_and_draws_the_boundary(tmp_path):
    out = ok(run_example("two_moons.py", *MOONS_TINY, "--out", "moons", cwd=tmp_path))
    assert 0.5 <= number_after("test accuracy:", out) <= 1.0  # tiny, but better than chance
    assert 0.0 <= number_after("train accuracy", out) <= 1.0
    if HAVE_MATPLOTLIB:
        png = tmp_path / "moons" / "decision_boundary.png"
        assert png.read_bytes().startswith(PNG_MAGIC)
    else:
        assert (tmp_path / "moons" / "decision_boundary.csv").exists()


@covers("two_moons.py")
def test_two_moons_without_matplotlib_writes_the_probability_grid(tmp_path):
    result = run_example("two_moons.py", *MOONS_TINY, "--out", "moons", cwd=tmp_path,
                         hide=("matplotlib",))
    out = ok(result)
    assert "matplotlib is missing" in out and "pip install matplotlib" in out
    table = tmp_path / "moons" / "decision_boundary.csv"
    assert table.read_text().splitlines()[0] == "x0,x1,p_class1"
    grid = np.loadtxt(table, delimiter=",", skiprows=1)
    assert grid.shape == (12 * 12, 3)
    assert np.all((grid[:, 2] >= 0) & (grid[:, 2] <= 1))
    assert not (tmp_path / "moons" / "decision_boundary.png").exists()


# --- real_dataset.py ------------------------------------------------------------------------------


@covers("real_dataset.py")
def test_real_dataset_trains_saves_and_reloads(tmp_path):
    pytest.importorskip("sklearn")
    out = ok(run_example("real_dataset.py", "--epochs", "3", "--quiet", "--out", "model",
                         cwd=tmp_path))
    assert "breast_cancer: 455 training and 114 test samples, 30 features" in out
    assert 0.5 <= number_after("test accuracy:", out) <= 1.0
    assert "gives the same predictions on all 114 test samples" in out
    saved = tmp_path / "model" / "model.npz"
    assert saved.read_bytes().startswith(b"PK")  # .npz is a zip archive
    from tinygrad_mlp import nn

    restored = nn.Module.load(saved)
    assert (restored[0].in_features, restored[-1].out_features) == (30, 2)
    with np.load(tmp_path / "model" / "standardize.npz") as stats:
        assert stats["mean"].shape == stats["std"].shape == (30,)


@covers("real_dataset.py")
def test_real_dataset_without_scikit_learn_says_what_to_install(tmp_path):
    result = run_example("real_dataset.py", "--epochs", "1", cwd=tmp_path, hide=("sklearn",))
    assert result.returncode == 2
    assert "pip install scikit-learn" in result.stderr and "Traceback" not in result.stderr


# --- manual_vs_autograd.py ----------------------------------------------------------------------


@covers("manual_vs_autograd.py")
def test_manual_and_autograd_agree_and_the_posted_defects_are_named(tmp_path):
    out = ok(run_example("manual_vs_autograd.py", "--epochs", "6", "--every", "1",
                         "--samples", "40", "--out", "side", cwd=tmp_path))
    printed = [line.split() for line in out.split("Part 2")[0].splitlines()]
    rows = [[float(v) for v in parts] for parts in printed
            if len(parts) == 4 and parts[0].isdigit()]
    assert [int(r[0]) for r in rows] == list(range(6))
    for _, manual_loss, autograd_loss, weight_diff in rows:
        assert manual_loss == pytest.approx(autograd_loss, rel=1e-9)
        assert weight_diff < 1e-12
    assert rows[-1][1] < rows[0][1]  # it learns

    losses = np.loadtxt(tmp_path / "side" / "losses.csv", delimiter=",", skiprows=1)
    assert losses.shape == (6, 4)
    assert np.allclose(losses[:, 1], losses[:, 2], rtol=1e-12, atol=0)

    assert "FIRST MISMATCH: loss, dL/dyhat" in out
    assert "The defects found: factor_n, zero_bias_column" in out
    assert "The corrected network" in out and "Agrees with autograd at every stage" in out


# --- nan_story.py -------------------------------------------------------------------------------


@covers("nan_story.py")
def test_nan_story_blows_up_is_explained_and_the_fix_trains(tmp_path):
    pytest.importorskip("sklearn")
    out = ok(run_example("nan_story.py", "--fixed-epochs", "60", "--out", "story",
                         cwd=tmp_path))
    inf_at = int(number_after("the loss becomes inf at epoch", out))
    nan_at = int(number_after("and NaN at epoch", out))
    assert 0 < inf_at < nan_at < 300
    assert "The steps are too large for the curvature of the loss" in out
    assert "[loss, dL/dyhat]" in out and "[update, layer 0, bias row]" in out  # both defects
    assert re.search(r"average \+ standardize\s+-\s+\S+\s+\S+\s+yes", out), out
    assert re.search(r"standardize inputs and targets\s+\d+\s+\S+\s+nan\s+no", out), out
    assert "every loss finite: True" in out
    rmse, baseline = re.search(r"test RMSE ([0-9.]+) against ([0-9.]+)", out).groups()
    assert float(rmse) < float(baseline)
    assert (tmp_path / "story" / "diagnosis.txt").read_text().startswith("Diagnosis:")


@covers("nan_story.py")
def test_nan_story_without_scikit_learn_says_what_to_install(tmp_path):
    result = run_example("nan_story.py", cwd=tmp_path, hide=("sklearn",))
    assert result.returncode == 2
    assert "scikit-learn" in result.stderr and "Traceback" not in result.stderr


# --- draw_graph.py ------------------------------------------------------------------------------


@covers("draw_graph.py")
def test_draw_graph_writes_its_four_pictures(tmp_path):
    out = ok(run_example("draw_graph.py", "--out", "pics", cwd=tmp_path))
    suffix = ".svg" if HAVE_DOT else ".dot"
    for stem in ("mlp_forward", "mlp_graph", "nan_graph", "nan_anomaly"):
        picture = tmp_path / "pics" / (stem + suffix)
        assert str(picture.relative_to(tmp_path)) in out
        text = picture.read_text()
        assert ("<svg" in text) if HAVE_DOT else text.startswith("digraph")


# --- the examples as a set ----------------------------------------------------------------------

SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_example_says_what_it_shows_and_how_to_run_it(script):
    tree = ast.parse((EXAMPLES / script).read_text(encoding="utf-8"))
    doc = ast.get_docstring(tree)
    assert doc, f"{script} has no module docstring"
    assert f"python examples/{script}" in doc, f"{script}'s docstring does not show how to run it"
    assert any(isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
               for node in tree.body), f"{script} has no `if __name__ == '__main__':`"


def test_every_example_is_run_by_a_test():
    assert SCRIPTS, "examples/ is empty"
    missing = sorted(set(SCRIPTS) - COVERED)
    assert not missing, f"no test runs {missing}: add one to tests/test_examples.py (@covers)"
    stale = sorted(COVERED - set(SCRIPTS))
    assert not stale, f"tests cover examples that no longer exist: {stale}"
