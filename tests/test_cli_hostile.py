"""The command line against hostile arguments and files: never a traceback, one line on
stderr, a status that says what happened, and nothing done before the arguments are known
to be usable (no training before an output location is refused)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mlp import cli, nn
from tinygrad_mlp.cli import arguments, training


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    status = cli.main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return status, captured.out, captured.err


def one_error(argv: list[str], capsys, status: int = 2) -> str:
    """Run ``argv``; it must fail with ``status`` before any work (nothing on stdout) and one
    line on stderr, which is returned."""
    got, out, err = run_cli(argv, capsys)
    assert got == status, (argv, out, err)
    assert out == "", (argv, out)
    assert len(err.strip().splitlines()) == 1 and "error" in err, err
    return err


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A model trained for two epochs and saved with its side file."""
    folder = tmp_path_factory.mktemp("saved")
    assert cli.main(["train", "--epochs", "2", "--quiet", "--save", str(folder / "m.npz")]) == 0
    return folder


@pytest.fixture
def features(tmp_path: Path) -> Path:
    path = tmp_path / "x.csv"
    path.write_text("x0,x1\n0.1,0.2\n0.3,-0.4\n")
    return path


# -- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["graph", "--seed", "-1"], ["demo", "--seed", "-1"], ["train", "--seed", "-3"],
    ["check", "x.py", "--seed", "-1"], ["train", "--seed", "1.5"],
    ["check", "x.py", "--samples", "0"], ["check", "x.py", "--samples", "10000000"],
    ["graph", "--batch-size", "-2"],
])
def test_bad_numbers_are_refused_by_name(argv, capsys):
    err = one_error(argv, capsys)
    assert f"argument {argv[-2]}" in err


def test_sizes_that_cannot_fit_in_memory_are_refused_before_allocating(capsys, monkeypatch):
    def no_mlp(*args, **kwargs):
        raise AssertionError("an MLP was built")

    monkeypatch.setattr(nn, "MLP", no_mlp)
    err = one_error(["train", "--hidden", "10000000000", "--quiet"], capsys)
    assert "--hidden" in err and "GB" in err and "memory" in err
    err = one_error(["graph", "--sizes", "2,3000000,3000000,1", "--out", "g.dot"], capsys)
    assert "--sizes" in err and "memory" in err


def test_a_batch_that_cannot_fit_is_refused(saved, capsys):
    err = one_error(["graph", "--model", str(saved / "m.npz"), "--batch-size", "10000000000",
                     "--out", "g.dot"], capsys)
    assert "--batch-size" in err and "a smaller --batch-size" in err
    status, out, _ = run_cli(["train", "--batch-size", "1000000000", "--epochs", "1", "--quiet"],
                             capsys)
    assert status == 0 and "validation:" in out  # a batch larger than the data is the data


def test_the_memory_estimate_against_a_tiny_machine(monkeypatch):
    monkeypatch.setattr(arguments, "memory_bytes", lambda: 10_000)
    arguments.check_fits_in_memory([2, 8, 1], "--hidden")  # 33 weights: fine
    with pytest.raises(arguments.UsageError, match="more than this machine's"):
        arguments.check_fits_in_memory([2, 1000, 1], "--hidden")


# -- output locations, checked before any work -------------------------------------------------


def output_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    a_file = tmp_path / "a_file"
    a_file.write_text("in the way")
    folder = tmp_path / "folder.svg"
    folder.mkdir()
    return {
        "train --out FILE": (["train", "--quiet", "--out", str(a_file)], "needs a folder"),
        "train --save FILE/m.npz": (["train", "--quiet", "--save", str(a_file / "m.npz")],
                                    "is a file, not a folder"),
        "train --save DIR": (["train", "--quiet", "--save", str(tmp_path)],
                             "give a file name inside it"),
        "train --save DIR/": (["train", "--quiet", "--save", f"{tmp_path / 'new'}/"],
                              "give a file name inside it"),
        "story --out FILE": (["story", "--out", str(a_file)], "needs a folder"),
        "compare --out FILE": (["compare", "--out", str(a_file)], "needs a folder"),
        "demo --out FILE": (["demo", "--out", str(a_file)], "needs a folder"),
        "diagnose --out FILE": (["diagnose", "--out", str(a_file)], "needs a folder"),
        "check --out FILE": (["check", "x.py", "--out", str(a_file)], "needs a folder"),
        "graph --out DIR.svg": (["graph", "--out", str(folder)], "graph.svg"),
        "graph --out FILE/g.svg": (["graph", "--out", str(a_file / "g.svg")], "not a folder"),
        "predict --output DIR": (["predict", "--model", "m.npz", "--csv", "x.csv", "--output",
                                  str(tmp_path)], "predictions.csv"),
    }


CASES = ["train --out FILE", "train --save FILE/m.npz", "train --save DIR", "train --save DIR/",
         "story --out FILE", "compare --out FILE", "demo --out FILE", "diagnose --out FILE",
         "check --out FILE", "graph --out DIR.svg", "graph --out FILE/g.svg",
         "predict --output DIR"]


@pytest.mark.parametrize("case", CASES)
def test_an_unusable_output_is_refused_before_any_work(case, tmp_path, capsys, monkeypatch):
    argv, words = output_cases(tmp_path)[case]
    monkeypatch.chdir(tmp_path)
    err = one_error(argv, capsys)
    assert words in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "folder.svg"]


def test_an_unwritable_folder_is_refused_up_front(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root may write anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    err = one_error(["train", "--quiet", "--save", str(locked / "m.npz")], capsys)
    assert "not writable" in err


def test_missing_folders_of_save_are_created_and_named(tmp_path, capsys):
    target = tmp_path / "runs" / "today" / "m.npz"
    status, out, _ = run_cli(["train", "--epochs", "1", "--quiet", "--save", str(target)], capsys)
    assert status == 0
    assert f"created the folder {target.parent}" in out
    assert target.exists() and target.with_name("m.meta.npz").exists()
    status, out, _ = run_cli(["train", "--epochs", "1", "--quiet", "--save", str(target)], capsys)
    assert status == 0 and "created the folder" not in out
    assert cli.main(["train", "--help"]) == 0
    assert "missing folders on the way are created" in " ".join(capsys.readouterr().out.split())


# -- saved models and their side files ---------------------------------------------------------


def side_variant(saved: Path, tmp_path: Path, change) -> Path:
    """A copy of the saved pair whose side file has ``change`` made to its arrays."""
    folder = tmp_path / "variant"
    shutil.copytree(saved, folder)
    with np.load(folder / "m.meta.npz", allow_pickle=False) as npz:
        side = {k: npz[k] for k in npz.files}
    change(side)
    np.savez(folder / "m.meta.npz", **side)
    return folder / "m.npz"


SIDE_DEFECTS = {
    "missing x_std": (lambda s: s.pop("x_std"), "x_std"),
    "x_mean and x_std of another length": (
        lambda s: s.update(x_mean=np.zeros(5), x_std=np.ones(5)), "m.meta.npz"),
    "x_mean shorter than x_std": (lambda s: s.update(x_mean=np.zeros(1)), "x_mean"),
    "too few class names": (lambda s: s.update(class_names=np.array(["a"])), "class_names"),
    "a zero std": (lambda s: s.update(x_std=np.array([1.0, 0.0])), "x_std"),
    "an unknown task": (lambda s: s.update(task=np.array("ranking")), "task"),
    "a loss against the task": (lambda s: s.update(loss=np.array("mse")), "m.meta.npz"),
}


@pytest.mark.parametrize("defect", sorted(SIDE_DEFECTS))
def test_a_malformed_side_file_is_one_line(defect, saved, tmp_path, features, capsys):
    change, words = SIDE_DEFECTS[defect]
    model = side_variant(saved, tmp_path, change)
    err = one_error(["predict", "--model", str(model), "--csv", str(features)], capsys)
    assert words in err and "m.meta.npz" in err, err


def test_a_corrupt_side_file_and_nan_weights(saved, tmp_path, features, capsys):
    model = side_variant(saved, tmp_path, lambda s: None)
    model.with_name("m.meta.npz").write_bytes(b"PK\x03\x04 truncated")
    err = one_error(["predict", "--model", str(model), "--csv", str(features)], capsys)
    assert "m.meta.npz" in err
    broken = nn.MLP([2, 3, 2])
    for p in broken.parameters():
        p._data[...] = np.nan
    path = broken.save(tmp_path / "nan.npz")
    err = one_error(["predict", "--model", str(path), "--csv", str(features)], capsys)
    assert "NaN" in err
    status, out, _ = run_cli(["graph", "--model", str(path), "--out", str(tmp_path / "n.dot")],
                             capsys)
    assert status == 0 and "drew" in out  # drawing a broken model is allowed: it shows why


def test_the_side_file_given_as_the_model(saved, features, capsys):
    err = one_error(["predict", "--model", str(saved / "m.meta.npz"), "--csv", str(features)],
                    capsys)
    assert "side file" in err and "not the model" in err and str(saved / "m.npz") in err
    assert "model.load" not in err


# -- advice in this command's words ------------------------------------------------------------


def test_divergence_advice_names_the_flags(tmp_path, capsys):
    argv = ["train", "curve", "--optimizer", "sgd", "--lr", "3", "--momentum", "0.9",
            "--epochs", "20", "--quiet", "--save", str(tmp_path / "m.npz")]
    status, _, err = run_cli(argv, capsys)
    assert status == 1
    assert "--lr 3" in err and "--lr 0.3" in err and "--clip-grad-norm 1.0" in err
    assert "clip_grad_norm=" not in err and ".state_dict" not in err and "fit" not in err
    assert "Nothing was saved" in err and not (tmp_path / "m.npz").exists()
    status, _, err = run_cli([*argv[:-2], "--no-standardize", "--clip-grad-norm", "5", "--lr",
                              "1e8"], capsys)
    assert status == 1
    assert "leave out --no-standardize" in err and "--clip-grad-norm 5 caps finite" in err


# -- anything else -----------------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_and_status_1(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(training, "plan_training", broken)
    err = one_error(["train", "--quiet"], capsys, status=1)
    assert "ZeroDivisionError: a bug" in err and cli.DEBUG in err
    monkeypatch.setenv(cli.DEBUG, "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["train", "--quiet"])


def test_interrupted_is_130(monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "plan_training", interrupted)
    assert cli.main(["train", "--quiet"]) == 130
    assert "interrupted" in capsys.readouterr().err


# -- the stepper -------------------------------------------------------------------------------


def test_graph_to_html_writes_the_stepper(tmp_path, capsys):
    target = tmp_path / "step.html"
    status, out, _ = run_cli(["graph", "--sizes", "2,3,1", "--out", str(target)], capsys)
    assert status == 0 and f"to {target}" in out
    page = target.read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "0.weight" in page and "backward" in page.lower()
    assert cli.main(["graph", "--help"]) == 0
    assert ".html (a page that steps through" in " ".join(capsys.readouterr().out.split())
