"""The command line and the example scripts run as a user would run them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tinygrad_mlp import cli

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_train_on_moons_reports_test_accuracy(capsys):
    assert cli.main(["train", "--epochs", "60", "--quiet"]) == 0
    out = capsys.readouterr().out
    accuracy = float(out.split("test accuracy: ")[1].split("%")[0])
    assert accuracy >= 95.0
    assert "MLP(" in out and "Linear(in_features=2, out_features=32" in out


def test_train_saves_weights_that_load_back(tmp_path, capsys):
    from tinygrad_mlp import nn

    path = tmp_path / "moons.npz"
    assert cli.main(["train", "--epochs", "2", "--quiet", "--save", str(path)]) == 0
    model = nn.MLP([2, 32, 32, 2])
    model.load(path)
    assert "saved the weights" in capsys.readouterr().out


def test_train_on_raw_features_stops_with_advice(capsys):
    pytest.importorskip("sklearn")
    status = cli.main(["train", "--dataset", "diabetes", "--raw", "--optimizer", "sgd",
                       "--lr", "0.5", "--epochs", "20", "--quiet"])
    err = capsys.readouterr().err
    assert status == 1
    assert "epoch" in err and "learning rate" in err


def test_compare_names_the_posted_defects(capsys):
    pytest.importorskip("sklearn")
    assert cli.main(["compare"]) == 0
    assert "bias" in capsys.readouterr().out
    assert cli.main(["compare", "--network", "fixed"]) == 0
    assert "agrees with autograd" in capsys.readouterr().out.lower()


def test_diagnose_explains_the_blow_up(capsys):
    pytest.importorskip("sklearn")
    assert cli.main(["diagnose"]) == 0
    out = capsys.readouterr().out
    assert "λmax" in out


def test_draw_writes_a_picture(tmp_path, capsys):
    target = tmp_path / "graph.svg"
    status = cli.main(["draw", "--out", str(target)])
    if status == 1:  # no Graphviz `dot` here: the error says how to install it
        assert "graphviz" in capsys.readouterr().err
    else:
        assert target.read_text().lstrip().startswith(("<?xml", "<svg"))


def test_bad_arguments_are_refused_clearly(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--hidden", "16,x"])
    assert "comma-separated integers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["train", "--dataset", "nope"])


def test_default_command_tells_the_story_from_a_fresh_folder(tmp_path):
    pytest.importorskip("sklearn")
    result = run("-m", "tinygrad_mlp", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "what the student saw" in result.stdout
    assert (tmp_path / "out" / "diagnosis.txt").exists()


@pytest.mark.parametrize("script", ["nan_story.py", "train_digits.py", "draw_graph.py"])
def test_examples_run(script, tmp_path):
    if script != "draw_graph.py":
        pytest.importorskip("sklearn")
    args = [str(ROOT / "examples" / script)]
    if script != "train_digits.py":
        args += ["--out", str(tmp_path)]
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


def test_a_missing_optional_extra_is_named_not_a_traceback(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # as if scikit-learn were not installed
    assert cli.main(["diagnose"]) == 2
    err = capsys.readouterr().err
    assert "scikit-learn" in err and "Traceback" not in err


def test_the_story_without_dot_still_writes_dot_text_and_says_how_to_install(
    tmp_path, monkeypatch, capsys
):
    pytest.importorskip("sklearn")
    from tinygrad_mlp import story

    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = story.run(tmp_path / "out")
    assert "apt-get install graphviz" in capsys.readouterr().out
    names = {p.name for p in result["written"]}
    assert "first_nonfinite_graph.dot" in names and "first_nonfinite_graph.svg" not in names
