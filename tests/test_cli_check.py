"""``check FILE``, ``diagnose FILE`` and ``compare --network FILE`` on a learner's own file.

Every network here is a file written to a fresh temporary folder outside the repository: the
checker's catalogue (tests/conventions/*.py) copied there as it is, or with one line changed
the way a learner gets it wrong. The command imports the file unchanged and must say 0 (the
gradients are right), 1 (one is wrong, named with the line of the file that computed it) or
2 (nothing usable found, saying what it looked for and what it found).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mlp import cli
from tinygrad_mlp.compare.conventions import find_networks

CATALOGUE = Path(__file__).resolve().parent / "conventions"
REPOSITORY = Path(__file__).resolve().parents[1]
TITLES = {
    "ng_planar": "Ng's 2-layer form", "ng_deep": "Ng's L-layer form",
    "nielsen_network": "Nielsen's network.py", "nielsen_network2": "Nielsen's network2.py",
    "freeform_cs231n": "free form", "freeform_layers": "free form",
}
# One line of each file as a learner gets it wrong: (the line as written, as changed).
DEFECTS = {
    "ng_planar": ("    dW2 = (1 / m) * np.dot(dZ2, A1.T)", "    dW2 = np.dot(dZ2, A1.T)"),
    "ng_deep": ("    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)",
                "    db = np.sum(dZ, axis=1, keepdims=True)"),
    "nielsen_network": ("return (output_activations - y)", "return (y - output_activations)"),
    "nielsen_network2": ("        nabla_b[-1] = delta", "        nabla_b[-1] = -delta"),
    "freeform_cs231n": ("    db2 = np.sum(dscores, axis=0)", "    db2 = -np.sum(dscores, axis=0)"),
}
SKELETON = '''\
"""A network in the course skeleton's convention, built at module level."""
from tinygrad_mlp import manual

net = manual.{cls}(3, [4, 2], [manual.Tanh(), manual.Identity()], manual.MSE())
'''


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    assert REPOSITORY not in tmp_path.resolve().parents  # outside the repository
    return tmp_path


def copy(folder: Path, name: str, defect: bool = False, as_name: str | None = None) -> Path:
    source = (CATALOGUE / f"{name}.py").read_text()
    if defect:
        old, new = DEFECTS[name]
        assert source.count(old) == 1, (name, old)
        source = source.replace(old, new)
    target = folder / f"{as_name or name}.py"
    target.write_text(source)
    return target


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    status = cli.main(argv)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err, captured.err
    return status, captured.out, captured.err


def line_pointed_at(report: str, path: Path) -> str:
    """The source of the line of ``path`` the report says computed the first wrong part."""
    found = re.search(rf"{re.escape(path.name)}:(\d+)", report)
    assert found, report
    return path.read_text().splitlines()[int(found.group(1)) - 1].strip()


# -- check -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TITLES))
def test_a_correct_network_in_each_convention_passes_unedited(name, folder, capsys):
    path = copy(folder, name)
    before = path.read_bytes()
    status, out, _ = run_cli(["check", str(path)], capsys)
    assert status == 0, out
    assert out.startswith(f"checking {path}") and TITLES[name] in out.splitlines()[0]
    assert "FIRST MISMATCH" not in out
    assert path.read_bytes() == before


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_a_planted_defect_exits_1_naming_the_line_of_the_file(name, folder, capsys):
    path = copy(folder, name, defect=True, as_name="my_net")
    status, out, _ = run_cli(["check", str(path)], capsys)
    assert status == 1, out
    assert "FIRST MISMATCH" in out
    mistake = out[out.index("FIRST MISMATCH"):]
    line = line_pointed_at(mistake, path)
    assert line in mistake  # the source is quoted
    assert line == DEFECTS[name][1].strip() or name.startswith("nielsen"), mistake


def test_the_course_skeleton_at_module_level(folder, capsys):
    right, posted = folder / "right.py", folder / "posted.py"
    right.write_text(SKELETON.format(cls="NeuralNetwork"))
    posted.write_text(SKELETON.format(cls="PostedNeuralNetwork"))
    assert run_cli(["check", str(right)], capsys)[0] == 0
    status, out, _ = run_cli(["check", str(posted)], capsys)
    assert status == 1 and "course skeleton" in out.splitlines()[0]


def test_nothing_usable_exits_2_saying_what_it_looked_for_and_found(folder, capsys):
    path = folder / "not_a_net.py"
    path.write_text("import numpy as np\n\nclass Model:\n    def fit(self, X):\n"
                    "        pass\n\ndef helper(a, b=2):\n    return a\n\nconfig = {'lr': 1}\n")
    status, out, err = run_cli(["check", str(path)], capsys)
    assert status == 2 and out == ""
    first, *rest = err.splitlines()
    assert first.endswith(f"error: found no network in {path}.")
    held = rest[0]
    assert "class Model (methods: fit)" in held and "function helper(a, b=2)" in held
    assert "dict config (keys: lr)" in held and "np" not in held.split(":", 1)[1].split()
    for expected in ("forward_pass", "backprop(x, y)", "L-layer", "check_gradients"):
        assert expected in err


def test_several_networks_need_name(folder, capsys):
    path = copy(folder, "nielsen_network", as_name="two")
    with open(path, "a") as handle:
        handle.write("\nnet = Network([3, 4, 2])\n")
    status, out, _ = run_cli(["check", str(path)], capsys)  # the one the file built itself
    assert status == 0 and ": net, in Nielsen's network.py" in out
    assert "also holds Network([4, 5, 3]): --name picks one" in out.splitlines()[0]
    assert run_cli(["check", str(path), "--name", "Network"], capsys)[0] == 0
    with open(path, "a") as handle:
        handle.write("other = Network([2, 2, 2])\n")
    status, _, err = run_cli(["check", str(path)], capsys)
    assert status == 2 and "--name" in err and "net (" in err and "other (" in err
    status, out, _ = run_cli(["check", str(path), "--name", "other"], capsys)
    assert status == 0 and ": other, in" in out
    status, _, err = run_cli(["check", str(path), "--name", "nope"], capsys)
    assert status == 2 and "--name nope: no such network" in err


def test_an_error_in_the_users_code_is_one_line_naming_it(folder, capsys):
    path = copy(folder, "nielsen_network", as_name="raising")
    source = path.read_text().replace("    def feedforward(self, a):\n",
                                      "    def feedforward(self, a):\n"
                                      "        raise ValueError('not written yet')\n")
    path.write_text(source)
    line = source.splitlines().index("        raise ValueError('not written yet')") + 1
    for command in ("check", "diagnose"):
        status, out, err = run_cli([command, str(path), "--epochs" if command == "diagnose"
                                    else "--seed", "3"], capsys)
        assert status == 1, (out, err)
        assert len(err.splitlines()) == 1
        assert f"your code raised ValueError: not written yet (at raising.py:{line}" in err


@pytest.mark.parametrize("name", ["ng_planar", "ng_deep", "nielsen_network", "nielsen_network2"])
def test_csv_data_in_the_conventions_layout(name, folder, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    labels = np.where(X[:, 0] > 0, "yes", "no")
    data = folder / "data.csv"
    data.write_text("a,b,c,answer\n" + "".join(f"{a},{b},{c},{k}\n"
                                               for (a, b, c), k in zip(X, labels)))
    path = copy(folder, name)
    status, out, _ = run_cli(["check", str(path), "--csv", str(data), "--target", "answer"],
                             capsys)
    assert status == 0, out
    assert "on 30 rows of" in out and "built for 3 inputs" in out
    assert re.search(r"\b30 examples\b", out) or "first 8 examples" in out
    status, out, _ = run_cli(["check", str(copy(folder, name, defect=True, as_name="bad")),
                              "--csv", str(data), "--target", "answer", "--samples", "12"],
                             capsys)
    assert status == 1 and "on 12 rows" in out


def test_csv_that_does_not_fit_a_module_level_network(folder, capsys):
    path = folder / "fixed_size.py"
    path.write_text(SKELETON.format(cls="NeuralNetwork"))
    data = folder / "wide.csv"
    data.write_text("a,b,y\n1,2,0.5\n3,4,1.5\n2,2,1.0\n")
    status, _, err = run_cli(["check", str(path), "--csv", str(data), "--target", "y"], capsys)
    assert status == 2 and "does not fit net" in err and len(err.splitlines()) == 1
    status, _, err = run_cli(["check", str(copy(folder, "freeform_cs231n")), "--csv",
                              str(data), "--target", "y"], capsys)
    assert status == 2 and "holds its own data" in err
    assert run_cli(["check", str(path), "--csv", str(data)], capsys)[0] == 2


def test_files_that_cannot_be_used(folder, capsys):
    raises, broken = folder / "raises.py", folder / "broken.py"
    raises.write_text("import numpy as np\n\nweights = np.load('missing.npy')\n")
    broken.write_text("def f(:\n    pass\n")
    (folder / "notes.txt").write_text("hello")
    cases = {
        str(raises): "raises.py:3",
        str(broken): "broken.py:1",
        str(folder / "missing.py"): "no file at",
        str(folder): "is a folder",
        str(folder / "notes.txt"): "not a Python file",
    }
    for path, words in cases.items():
        status, out, err = run_cli(["check", path], capsys)
        assert status == 2 and out == "", (path, err)
        assert len(err.splitlines()) == 1 and words in err, err


def test_the_file_is_imported_as_it_is_and_forgotten_after(folder, capsys):
    path = copy(folder, "ng_planar", as_name="random")  # a standard library module's name
    with open(path, "a") as handle:
        handle.write("\nif __name__ == '__main__':\n    open('RAN', 'w').write('main ran')\n")
    saved_path, saved_modules = list(sys.path), set(sys.modules)
    assert run_cli(["check", str(path)], capsys)[0] == 0
    assert not (folder / "RAN").exists() and not Path("RAN").exists()
    assert sys.path == saved_path
    assert not {m for m in set(sys.modules) - saved_modules if "random" in m}
    import random

    assert hasattr(random, "shuffle")  # the real one, untouched


def test_resizing_what_the_finder_builds(folder):
    import importlib.util

    spec = importlib.util.spec_from_file_location("resize_me", copy(folder, "ng_deep"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    (found,) = find_networks(vars(module))
    assert found.resizable
    shapes = {k: v.shape for k, v in found.build(7, 2).parameters().items()}
    assert shapes["W1"] == (5, 7) and shapes["W3"] == (2, 3)
    assert found.build().parameters()["W1"].shape == (5, 4)


# -- compare and diagnose ----------------------------------------------------------------------


def test_compare_network_file_is_check(folder, capsys):
    path = copy(folder, "ng_planar", defect=True, as_name="mine")
    out_dir = folder / "report"
    status, out, _ = run_cli(["compare", "--network", str(path), "--out", str(out_dir)], capsys)
    assert status == 1 and "FIRST MISMATCH: dW2" in out
    assert "FIRST MISMATCH: dW2" in (out_dir / "backprop_report.txt").read_text()
    status, _, err = run_cli(["compare", "--network", "mine"], capsys)
    assert status == 2 and "compare --network my_net.py" in err and "check my_net.py" in err
    status, _, err = run_cli(["compare", "--name", "x"], capsys)
    assert status == 2 and "--name apply to a network in your own file" in err


def test_diagnose_a_file_stable_and_blowing_up(folder, capsys):
    path = copy(folder, "ng_planar", as_name="planar")
    out_dir = folder / "dg"
    status, out, _ = run_cli(["diagnose", str(path), "--epochs", "40", "--out", str(out_dir)],
                             capsys)
    assert status == 0, out
    assert out.startswith(f"diagnosing {path}") and "Diagnosis: Ng's 2-layer form" in out
    assert (out_dir / "diagnosis.txt").read_text().startswith("Diagnosis:")
    assert (out_dir / "loss.csv").exists() and (out_dir / "layer_growth.csv").exists()
    status, out, _ = run_cli(["diagnose", str(path), "--epochs", "40", "--lr", "500"], capsys)
    assert status == 1 and "λmax" in out


def test_diagnose_a_file_refusals(folder, capsys):
    path = copy(folder, "freeform_cs231n")
    status, _, err = run_cli(["diagnose", str(path)], capsys)
    assert status == 2 and f"check {path}" in err
    status, _, err = run_cli(["diagnose", str(path), "--network", "fixed"], capsys)
    assert status == 2 and "not both" in err
    assert run_cli(["diagnose", str(folder / "none.py")], capsys)[0] == 2


# -- as a user runs it -----------------------------------------------------------------------


def test_python_dash_m_check_exit_codes(folder):
    env = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    right, wrong = copy(folder, "nielsen_network"), copy(folder, "nielsen_network", True, "bad")
    empty = folder / "empty.py"
    empty.write_text("x = 1\n")
    for path, expected in ((right, 0), (wrong, 1), (empty, 2)):
        result = subprocess.run([sys.executable, "-m", "tinygrad_mlp", "check", path.name],
                                cwd=folder, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == expected, result.stderr
        assert "Traceback" not in result.stderr
    assert "int x" in result.stderr
