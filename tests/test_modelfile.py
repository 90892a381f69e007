"""The model and its side data as a pair (issue 14): a save that fails at any point leaves a
working pair, a rewritten pair keeps its permissions, and a malformed side file is one clear
error naming it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import modelfile, nn
from tinygrad_mlp.cli import main
from tinygrad_mlp.nn.serialize import write_npz


def model_and_side(version: str, seed: int):
    tg.manual_seed(seed)
    model = nn.MLP([2, 3, 2])
    side = {"task": "classification", "loss": "cross_entropy", "dataset": version,
            "feature_names": ["u", "v"], "class_names": [f"{version}0", f"{version}1"],
            "x_mean": np.array([0.5, -0.5]), "x_std": np.array([2.0, 3.0])}
    return model, side


def which_pair(path: Path) -> str:
    """'old' or 'new': the version of the pair that loads (model and side must agree)."""
    model, side = modelfile.load(path)
    versions = {name: model_and_side(name, seed)[0] for name, seed in (("old", 1), ("new", 2))}
    by_weights = [name for name, m in versions.items()
                  if all(np.array_equal(a.data, b.data)
                         for a, b in zip(m.parameters(), model.parameters()))]
    assert by_weights == [side["dataset"]], (by_weights, side["dataset"])
    return side["dataset"]


def save_version(version: str, seed: int, path):
    model, side = model_and_side(version, seed)
    return modelfile.save(model, path, side)


class Failure(Exception):
    pass


def fail_at(monkeypatch, k: int, error: type[BaseException]) -> list[str]:
    """Make the k-th file-system step of a save raise ``error`` (1-based); returns the log of
    the steps taken."""
    steps: list[str] = []
    for owner, name in ((os, "replace"), (os, "fsync"), (os, "chmod"),
                        (np.lib.format, "write_array")):
        real = getattr(owner, name)

        def step(*args, _real=real, _name=name, **kwargs):
            steps.append(_name)
            if len(steps) == k:
                raise error(f"injected at step {k} ({_name})")
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, step)
    return steps


def count_steps(tmp_path: Path, monkeypatch) -> int:
    path = tmp_path / "count" / "m.npz"
    path.parent.mkdir()
    save_version("old", 1, path)
    with monkeypatch.context() as patch:
        steps = fail_at(patch, 10**9, Failure)
        save_version("new", 2, path)
    return len(steps)


@pytest.mark.parametrize("error", [Failure, OSError, KeyboardInterrupt])
def test_a_save_that_fails_at_any_step_leaves_a_working_pair(tmp_path, monkeypatch, error):
    total = count_steps(tmp_path, monkeypatch)
    assert total >= 8  # several writes and renames of two files
    outcomes = []
    for k in range(1, total + 1):
        folder = tmp_path / f"{error.__name__}{k}"
        folder.mkdir()
        path = folder / "m.npz"
        save_version("old", 1, path)
        new_model, new_side = model_and_side("new", 2)
        failed = False
        with monkeypatch.context() as patch:
            fail_at(patch, k, error)
            try:
                modelfile.save(new_model, path, new_side)
            except error:
                failed = True
        # (Only a failure to make a rename durable, which is best effort, is passed over.)
        assert failed or error is OSError
        outcomes.append(which_pair(path))
        assert failed or outcomes[-1] == "new"
        assert sorted(p.name for p in folder.iterdir()) == ["m.meta.npz", "m.npz"]  # no .tmp
    assert outcomes[0] == "old" and "new" in outcomes  # failures before and after the switch


def test_the_probe_finds_a_broken_pair_when_the_pair_is_written_naively(tmp_path, monkeypatch):
    """The old way, the model and then its side file: some failure leaves no working pair (so
    the test above can fail)."""

    def naive(model, path, side):
        model.save(path)
        with open(modelfile.meta_path(path), "wb") as handle:
            np.savez(handle, **{k: np.asarray(v) for k, v in side.items()})

    broken = 0
    for k in range(1, 12):
        folder = tmp_path / str(k)
        folder.mkdir()
        path = folder / "m.npz"
        naive(*model_and_side("old", 1)[:1], path, model_and_side("old", 1)[1])
        with monkeypatch.context() as patch:
            fail_at(patch, k, Failure)
            try:
                naive(*model_and_side("new", 2)[:1], path, model_and_side("new", 2)[1])
            except Failure:
                pass
        try:
            which_pair(path)
        except (ValueError, AssertionError):
            broken += 1
    assert broken > 0


def test_a_saved_pair_loads_back_and_fits_its_model(tmp_path):
    path = tmp_path / "m.npz"
    model, side = model_and_side("old", 1)
    written = modelfile.save(model, tmp_path / "m", side)
    assert written == (path, tmp_path / "m.meta.npz")
    loaded, back = modelfile.load(path)
    assert back["class_names"] == side["class_names"] and back["task"] == "classification"
    np.testing.assert_array_equal(back["x_std"], side["x_std"])
    assert "model_sha256" not in back
    for a, b in zip(model.parameters(), loaded.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    with np.load(tmp_path / "m.meta.npz", allow_pickle=False) as npz:  # plain arrays
        assert str(npz["task"]) == "classification"


def test_resaving_keeps_the_permissions_of_both_files(tmp_path):
    path = tmp_path / "m.npz"
    save_version("old", 1, path)
    for p in (path, tmp_path / "m.meta.npz"):
        os.chmod(p, 0o600)
    save_version("new", 2, path)
    for p in (path, tmp_path / "m.meta.npz"):
        assert stat.S_IMODE(os.stat(p).st_mode) == 0o600
    assert which_pair(path) == "new"


def test_a_model_replaced_without_its_side_file_is_caught(tmp_path):
    path = tmp_path / "m.npz"
    save_version("old", 1, path)
    nn.MLP([2, 3, 2]).save(path)  # the model alone, written over
    with pytest.raises(ValueError, match=r"m\.meta\.npz' belongs to another model"):
        modelfile.load(path)


def test_a_side_file_without_a_digest_still_loads(tmp_path):
    path = nn.MLP([2, 3, 2]).save(tmp_path / "m.npz")
    write_npz(tmp_path / "m.meta.npz", {"task": np.array("regression"), "loss": np.array("mse")})
    assert modelfile.load(path)[1] == {"task": "regression", "loss": "mse"}


def test_where_a_pair_cannot_go_is_said_before_anything_is_written(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory; give a file name inside it"):
        save_version("old", 1, tmp_path)
    with pytest.raises(FileNotFoundError, match="there is no directory"):
        save_version("old", 1, tmp_path / "none" / "m.npz")
    assert list(tmp_path.iterdir()) == []


# -- malformed side files -----------------------------------------------------------------------

GOOD = {"task": np.array("classification"), "loss": np.array("cross_entropy"),
        "class_names": np.array(["a", "b"]), "feature_names": np.array(["u", "v"]),
        "x_mean": np.zeros(2), "x_std": np.ones(2)}

MALFORMED = {
    "missing x_std": ({"x_std": None}, "it has x_mean or x_std but not x_std"),
    "zero std": ({"x_std": np.array([1.0, 0.0])}, r"x_std\[1\] is 0.0: a standard deviation "
                                                  "must be above 0"),
    "nan mean": ({"x_mean": np.array([np.nan, 0.0])}, "x_mean must be a 1-d array of finite"),
    "unknown task": ({"task": np.array("ranking")}, "task must be 'classification' or "
                                                    "'regression', got 'ranking'"),
    "no task": ({"task": None}, "got nothing"),
    "numbers as class names": ({"class_names": np.array([0.0, 1.0])},
                               "class_names must be a list of names"),
    "one class name": ({"class_names": np.array(["a"])}, "1 class_names for a model of 2 "
                                                         "outputs"),
    "twice a name": ({"class_names": np.array(["a", "a"])}, "class_names names one thing twice"),
    "task and loss": ({"loss": np.array("mse")}, "loss 'mse' does not go with task "
                                                 "'classification'"),
    "unknown loss": ({"loss": np.array("hinge")}, "loss must be one of"),
    "features and means": ({"feature_names": np.array(["u"])}, "1 feature_names but 2 means"),
    "means for the model": ({"x_mean": np.zeros(3), "x_std": np.ones(3),
                             "feature_names": None}, "3 x_mean for a model of 2 inputs"),
    "text as a mean": ({"x_mean": np.array(["0", "1"])}, "x_mean must be a 1-d array"),
    "no class names": ({"class_names": None}, "needs class_names"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_a_malformed_side_file_is_one_clear_error_naming_it(tmp_path, case, capsys):
    changes, message = MALFORMED[case]
    path = nn.MLP([2, 3, 2]).save(tmp_path / "m.npz")
    arrays = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    write_npz(tmp_path / "m.meta.npz", arrays)
    with pytest.raises(ValueError, match=r"m\.meta\.npz' (is not a valid model side file|does "
                                         rf"not fit its model): .*{message}"):
        modelfile.load(path)
    csv = tmp_path / "x.csv"
    csv.write_text("u,v\n1,2\n")
    assert main(["predict", "--model", str(path), "--csv", str(csv)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "m.meta.npz" in err


def test_a_model_with_nan_weights_is_refused(tmp_path, capsys):
    model = nn.MLP([2, 3, 2])
    with tg.no_grad():
        model[0].weight.data[0, 0] = np.nan
    path = model.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match=r"m\.npz' holds a model whose 0\.weight has NaN"):
        modelfile.load(path)
    assert modelfile.load(path, finite=False)[0] is not None
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,2\n")
    assert main(["predict", "--model", str(path), "--csv", str(csv)]) == 2
    assert "NaN" in capsys.readouterr().err
