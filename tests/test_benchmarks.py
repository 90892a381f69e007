"""The benchmark scripts run (in their ``--smoke`` mode: one round of one step) and report
every case with numbers that parse. Timings themselves are never asserted."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
CASES = ["tiny", "small", "medium", "large", "deep"]
OPS = ["add", "add number", "mul", "relu", "tanh", "mixed"]
HAS_TORCH = importlib.util.find_spec("torch") is not None

MICROSECONDS = re.compile(r"^\d+\.\d+ ±\d+%$")  # "179.8 ±3%": median ± IQR
RATIO = re.compile(r"^\d+\.\d+$")


def run(script: str, *args: str, expect: int = 0) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == expect, done.stdout + done.stderr
    return done.stdout + done.stderr if expect else done.stdout


def table_rows(output: str, names: list[str]) -> dict[str, list[str]]:
    """The plain-text table's rows by their first cell; cells are 2+ spaces apart."""
    rows = {}
    for line in output.splitlines():
        cells = re.split(r" {2,}", line.strip())
        if cells[0] in names and len(cells) > 2:
            rows[cells[0]] = cells
    return rows


def check_mlp_row(cells: list[str], with_torch: bool) -> None:
    # case, network, ours µs, NumPy µs, PyTorch µs, ours/NumPy, target, met,
    # ours/PyTorch, target, met
    assert len(cells) == 11, cells
    assert MICROSECONDS.match(cells[2]) and MICROSECONDS.match(cells[3]), cells
    assert RATIO.match(cells[5]) and float(cells[5]) > 0, cells
    assert re.match(r"^(<|<=|≤)\d+(\.\d+)?$", cells[6]) and cells[7] in ("yes", "NO"), cells
    if with_torch:
        assert MICROSECONDS.match(cells[4]) and RATIO.match(cells[8]), cells
        assert cells[10] in ("yes", "NO"), cells
    else:
        assert cells[4] == cells[8] == cells[10] == "-", cells


@pytest.mark.slow
def test_bench_mlp_smoke_reports_every_case_and_memory():
    out = run("bench_mlp.py", "--smoke", "--memory")
    rows = table_rows(out, CASES)
    assert sorted(rows) == sorted(CASES), out
    for cells in rows.values():
        check_mlp_row(cells, HAS_TORCH)
    for case in CASES:  # the three contestants agreed on one step before any timing
        assert re.search(rf"^  {case}: .*\bok$", out, re.MULTILINE), out
    assert "threadpoolctl" in out and re.search(r"NumPy \d+\.\d+", out)
    memory = re.search(r"ours ([\d.]+) KiB, NumPy ([\d.]+) KiB, ours/NumPy ([\d.]+)", out)
    assert memory, out
    assert all(float(v) > 0 for v in memory.groups())


def test_bench_mlp_cases_filter_and_markdown():
    out = run("bench_mlp.py", "--smoke", "--no-torch", "--cases", "tiny,deep", "--markdown")
    lines = [line for line in out.splitlines() if line.startswith("| ")]
    header, rule, *body = lines
    assert set(rule.replace("|", "").split()) <= {"---", "---:"}
    assert header.startswith("| case | network, batch, loss |")
    assert [line.split(" | ")[0] for line in body] == ["| tiny", "| deep"]
    for line in body:
        check_mlp_row([cell.strip() for cell in line.strip("|").split("|")], with_torch=False)
    command = "python3 benchmarks/bench_mlp.py --smoke --no-torch --cases tiny,deep --markdown"
    assert f"`{command}`" in out
    assert "memory" not in out  # not asked for in --smoke mode


def test_bench_mlp_rejects_an_unknown_case():
    out = run("bench_mlp.py", "--smoke", "--cases", "tiny,huge", expect=2)
    assert "huge" in out


def test_bench_ops_smoke_reports_every_op():
    out = run("bench_ops.py", "--smoke")
    rows = table_rows(out, OPS)
    assert sorted(rows) == sorted(OPS), out
    for cells in rows.values():
        # op, 6 × µs per op (ours, NumPy, PyTorch; fwd and fwd+bwd), 2 ratios
        assert len(cells) == 9, cells
        for cell in cells[1:5]:
            assert MICROSECONDS.match(cell), cells
        assert RATIO.match(cells[7]), cells
        if HAS_TORCH:
            assert MICROSECONDS.match(cells[5]) and MICROSECONDS.match(cells[6]), cells
            assert RATIO.match(cells[8]), cells


def test_profile_step_smoke_lists_where_the_time_goes():
    out = run("profile_step.py", "--smoke", "--top", "10")
    assert re.search(r"µs per step: [\d.]+ without the profiler, [\d.]+ with it", out), out
    row = r"^  tinygrad_mlp/engine/function\.py +[\d.]+ +[\d.]+% +[\d.]+$"
    assert re.search(row, out, re.MULTILINE)
    for title in ("own time (tottime)", "cumulative time (cumtime)"):
        section = out.split(f"functions by {title}, per step:")[1]
        rows = section.splitlines()[2:12]
        assert len(rows) == 10, out
        for row in rows:
            calls, own, cumulative, share, _function = row.split(maxsplit=4)
            assert float(calls) > 0 and float(own) >= 0 and float(cumulative) >= float(own)
            assert share.endswith("%")
