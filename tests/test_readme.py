"""The README's Python examples run as written, in order, in a fresh folder."""

from __future__ import annotations

import re
from pathlib import Path

import tinygrad_mlp as tg

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_examples_run(tmp_path, monkeypatch, capsys):
    blocks = python_blocks()
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert "False" in out and "bias" in out          # check_backprop found the planted bug
    assert namespace["report"].ok is False
    accuracy = namespace["history"].val_accuracy[-1]
    assert accuracy >= 0.95, accuracy
    assert (tmp_path / "moons.npz").exists()
    model, restored = namespace["model"], namespace["restored"]
    assert repr(restored) == repr(model)
    saved = tg.load(tmp_path / "moons.npz")  # the README's own loop trains `model` further
    for name, array in restored.state_dict().items():
        assert (saved[name] == array).all(), name
    assert namespace["graph"].source.startswith("digraph")
    step = namespace["step"]  # tg.compile replayed the loop (a plan per batch shape)
    assert step.compiled and step.counts["replay"] > 0 and step.counts["eager"] == 0


def quickstart_commands() -> list[str]:
    """The command lines of the Quickstart's first code block, comments dropped."""
    text = README.read_text()
    block = text.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_readme_quickstart_is_two_commands_and_ci_runs_the_second():
    demo, tests = quickstart_commands()
    assert demo.endswith("python3 -m tinygrad_mlp") and "pip install" in demo
    assert tests.endswith("python3 -m pytest") and "pip install" in tests
    ci = (README.parent / ".ci" / "run").read_text()
    assert tests in ci.splitlines(), "CI must run exactly the README's test command"
