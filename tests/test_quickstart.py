"""The README's Quickstart, as a newcomer meets it: a fresh clone, the two lines, nothing else.

The clone gets a virtual environment of its own (seeing this machine's packages, so nothing
large is downloaded), and each Quickstart line runs in it through the shell, as written. The
second line runs the whole test suite of the clone, this file included: the inner run skips
this test (``INNER`` in its environment) so that it does not clone again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_readme import quickstart_commands

ROOT = Path(__file__).resolve().parent.parent
INNER = "TINYGRAD_MLP_QUICKSTART_INNER"

pytestmark = pytest.mark.slow


def _shell(command: str, cwd: Path, env: dict[str, str], timeout: float):
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.skipif(bool(os.environ.get(INNER)), reason="already inside the Quickstart's run")
@pytest.mark.skipif(not (ROOT / ".git").exists() or shutil.which("git") is None,
                    reason="needs a git checkout to clone")
def test_the_two_quickstart_lines_work_in_a_fresh_clone(tmp_path):
    clone = tmp_path / "tinygrad_mlp"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True)
    env = {**os.environ, INNER: "1", "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
           "VIRTUAL_ENV": str(venv), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    demo, tests = quickstart_commands()

    result = _shell(demo, clone, env, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = clone / "tinygrad_mlp_out"
    written = {p.name for p in out.iterdir()}
    assert {"loss_curves.csv", "side_by_side.csv"} <= written
    assert "training_step.svg" in written or "training_step.dot" in written
    assert "agree" in result.stdout
    where = _shell('python3 -c "import tinygrad_mlp; print(tinygrad_mlp.__file__)"', clone, env,
                   timeout=60)
    assert Path(where.stdout.strip()).is_relative_to(clone), where.stdout  # the clone's code

    result = _shell(tests, clone, env, timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and " failed" not in result.stdout
