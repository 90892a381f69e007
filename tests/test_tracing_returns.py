"""compare.tracing with returns=True: a value a return line hands back is recorded (diagnose
finds the line that made the first inf there)."""

from __future__ import annotations

import numpy as np

from tinygrad_mlp.compare.tracing import trace


def mean_square(x):
    d = x * 2.0
    return float(np.mean(d * d))


def test_a_return_line_is_recorded_only_when_asked():
    with np.errstate(all="ignore"):
        plain = trace(lambda: mean_square(np.array([1e200])), modules={__name__})
        both = trace(lambda: mean_square(np.array([1e200])), modules={__name__}, returns=True)
    assert [a.name for a in plain.assignments] == ["d"]
    first_inf = both.first(lambda a: a.snapshot is not None and not np.all(np.isfinite(a.snapshot)))
    assert first_inf.name == "the return value" and first_inf.snapshot == np.inf
    assert first_inf.describe().endswith("in mean_square: return float(np.mean(d * d))")
    assert both.result == np.inf and both.error is None
