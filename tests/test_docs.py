"""Every docstring example in the package runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import tinygrad_mlp

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(tinygrad_mlp.__path__, "tinygrad_mlp.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", ["tinygrad_mlp", *MODULES])
def test_docstring_examples(name):
    if name in {"tinygrad_mlp.data", "tinygrad_mlp.scenario"} or name.startswith(
            ("tinygrad_mlp.compare", "tinygrad_mlp.diagnose")):
        pytest.importorskip("sklearn")
    if name == "tinygrad_mlp.nn.bridge":
        pytest.importorskip("torch")
    module = importlib.import_module(name)
    with np.errstate(all="ignore"):  # examples that show inf/NaN on purpose
        result = doctest.testmod(
            module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
        )
    assert result.failed == 0
