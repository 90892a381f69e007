"""The notebooks of examples/notebooks run top to bottom, as a learner runs them.

Each is executed in a fresh kernel by nbclient, in a folder of its own (so the files it
writes land there); a cell that raises fails the test with the cell and its traceback. The
notebooks are committed without outputs, and the README lists each one.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "examples" / "notebooks").glob("*.ipynb"))
NEEDS_SKLEARN = {"04_why_nan.ipynb"}


def test_there_are_notebooks_and_the_readme_lists_each():
    assert len(NOTEBOOKS) >= 5
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert f"examples/notebooks/{path.name}" in readme, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_titled(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.cells[0].cell_type == "markdown"
    assert notebook.cells[0].source.startswith("# ")
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


# Run in a process of its own: the kernel's client (its event loop and sockets) stays out of
# this one, where it would change how later tests (a real SIGINT in the replay's) behave.
RUNNER = """
import sys, nbclient, nbformat
notebook = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(notebook, sys.argv[3])
"""


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_runs_top_to_bottom(path, tmp_path):
    if path.name in NEEDS_SKLEARN:
        pytest.importorskip("sklearn")
    executed = tmp_path / "executed.ipynb"
    done = subprocess.run([sys.executable, "-c", RUNNER, str(path), str(tmp_path),
                           str(executed)], capture_output=True, text=True, timeout=300)
    # nbclient's CellExecutionError names the cell that failed and its traceback
    assert done.returncode == 0, done.stderr[-4000:]
    notebook = nbformat.read(executed, as_version=4)
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any(o.get("output_type") in ("stream", "execute_result", "display_data")
               for o in outputs)
