""""The user's line" is found by module name (engine/frames.py), never by file name.

Anomaly reports name the line of the user's code that created an operation. These tests put
frames of every kind on the stack (the user's, NumPy's, the standard library's, the package's
own, code compiled with a misleading file name) and check which one is named.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn
from tinygrad_mlp.engine import frames

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN made on purpose

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE_DIR = os.path.join(ROOT, "tinygrad_mlp")


def run_as(module_name: str, source: str, filename: str, **names):
    """Define the code of ``source`` as if it were module ``module_name``, file ``filename``."""
    namespace = {"__name__": module_name, "tg": tg, "nn": nn, "frames": frames, **names}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def test_a_frame_belongs_to_the_module_its_globals_name():
    mine = sys._getframe()
    assert frames.module_of(mine) == __name__
    assert frames.is_user_frame(mine) and not frames.is_library_frame(mine)
    assert frames.user_frame() is mine
    for name in ("tinygrad_mlp", "tinygrad_mlp.viz", "tinygrad_mlp.engine.ops"):
        frame = run_as(name, "import sys\nhere = sys._getframe()", "x.py")["here"]
        assert frames.is_library_frame(frame) and not frames.is_user_frame(frame)
    for name in ("numpy", "numpy.linalg", "functools", "runpy", "importlib._bootstrap"):
        frame = run_as(name, "import sys\nhere = sys._getframe()", "x.py")["here"]
        assert not frames.is_user_frame(frame) and not frames.is_library_frame(frame), name
    # a name that merely starts like the package's is someone else's module
    frame = run_as("tinygrad_mlp_notes", "import sys\nhere = sys._getframe()", "x.py")["here"]
    assert frames.is_user_frame(frame)


def test_user_code_in_a_file_inside_the_package_directory_is_still_the_users():
    # Judged by file names, anything under the package's folder was "library": a notebook or
    # a script kept there (or in a folder whose name starts like it) was never named.
    filename = os.path.join(PACKAGE_DIR, "my_experiment.py")
    code = "def make(x):\n    return x.sqrt()  # the user's line\n"
    make = run_as("my_experiment", code, filename)["make"]
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as info:
        make(tg.tensor([-1.0], requires_grad=True))
    assert f"{filename}:2 in make" in str(info.value)


def test_library_code_under_another_file_name_is_not_the_users():
    # and the reverse: package code is known by its module, whatever its file is called
    code = "def make(x):\n    return x.sqrt()\n"
    make = run_as("tinygrad_mlp.helpers", code, "/tmp/user_looking_file.py")["make"]
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as info:
        make(tg.tensor([-1.0], requires_grad=True))  # this line is named
    assert "user_looking_file" not in str(info.value)
    assert "make(tg.tensor([-1.0], requires_grad=True))  # this line is named" in str(info.value)


def test_numpy_and_standard_library_frames_are_skipped():
    x = tg.tensor([[np.nan]], requires_grad=True)
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as info:
        np.squeeze(x)  # NumPy's own Python code calls the Tensor's method
    assert "np.squeeze(x)  # NumPy's own Python code" in str(info.value)

    dispatch = functools.singledispatch(lambda t: None)
    dispatch.register(tg.Tensor, tg.Tensor.sqrt)
    with tg.detect_anomaly(), pytest.raises(tg.AnomalyError) as info:
        dispatch(tg.tensor([-1.0], requires_grad=True))  # functools' wrapper calls sqrt
    assert "dispatch(tg.tensor([-1.0], requires_grad=True))" in str(info.value)


def test_when_the_whole_stack_is_the_packages_the_code_outside_the_core_is_named(tmp_path):
    # As under the command line: a thread's stack is threading's (standard library) and then
    # only the package's. The line outside the engine and nn (the command) is named, not
    # the line inside nn.Linear.forward.
    code = (
        "def command(box):\n"
        "    layer = nn.Linear(1, 1)\n"
        "    layer.weight.data[...] = float('nan')\n"
        "    with tg.detect_anomaly():\n"
        "        try:\n"
        "            layer(tg.ones(2, 1))  # the command's line\n"
        "        except FloatingPointError as error:\n"
        "            box.append(str(error))\n"
        "        box.append(frames.describe(frames.user_frame()))\n"
    )
    source = tmp_path / "fake_cli.py"
    source.write_text(code)
    command = run_as("tinygrad_mlp.cli.fake", code, str(source))["command"]
    box: list[str] = []
    thread = threading.Thread(target=command, args=(box,))
    thread.start()
    thread.join(30)
    assert f"created at {source}:6 in command: layer(tg.ones(2, 1))" in box[0]
    assert box[1].startswith(f"{source}:9 in command")


def test_python_dash_m_names_the_users_module_not_runpy(tmp_path):
    (tmp_path / "learner.py").write_text(
        "import tinygrad_mlp as tg\n"
        "x = tg.tensor([0.0], requires_grad=True)\n"
        "with tg.detect_anomaly():\n"
        "    try:\n"
        "        y = x.log()\n"
        "    except FloatingPointError as error:\n"
        "        print(error)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, str(tmp_path)])}
    result = subprocess.run([sys.executable, "-W", "ignore", "-m", "learner"], cwd=tmp_path,
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "learner.py:5 in <module>: y = x.log()" in result.stdout


def test_describe_writes_file_line_function_and_code():
    frame = sys._getframe()
    text = frames.describe(frame)
    assert text.startswith(f"{__file__}:")
    assert text.endswith("in test_describe_writes_file_line_function_and_code: "
                         "text = frames.describe(frame)")
    assert frames.describe(None) == "<unknown>"
