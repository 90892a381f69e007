"""The source writer: the replay function as lines of Python, and the objects they name.

A replay is written as text (``CompiledStep.source`` shows it) and compiled once. Every array,
module or number a line uses is bound to a name in the function's namespace; the NumPy
functions it calls are bound under their own names (``matmul``, ``add``, ...).

>>> import numpy as np
>>> w = Writer()
>>> a = w.name("a", np.ones(2))
>>> w.emit(f"add(x, {a}, {a})")
>>> w.emit(f"return {a}")
>>> w.function()(np.arange(2.0), None).tolist()
[1.0, 2.0]
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable
from typing import Any

import numpy as np

# What the lines call. Tests may swap an entry (a tanh off by a bit) to see a replay refused.
NAMESPACE: dict[str, Any] = {
    name: getattr(np, name)
    for name in (
        "matmul", "add", "subtract", "multiply", "divide", "maximum", "greater",
        "greater_equal", "tanh", "exp", "log", "absolute", "negative", "sqrt", "square",
        "copyto", "asarray", "zeros_like", "dot",
    )
}
NAMESPACE.update(add_reduce=np.add.reduce, max_reduce=np.maximum.reduce, sqrt_=math.sqrt,
                 isfinite=math.isfinite)


class Writer:
    """Collects the lines of the replay function and the objects they name.

    ``guard`` lines come first (is this still the model it was recorded for? ``return None``
    when not), then ``setup`` (hyperparameters read for this step), then the ``body``.
    """

    def __init__(self) -> None:
        self.ns: dict[str, Any] = dict(NAMESPACE)
        self.guard: list[str] = []
        self.setup: list[str] = []
        self.body: list[str] = []
        self._count: dict[str, int] = {}
        self._named: dict[int, str] = {}

    def name(self, prefix: str, obj: Any) -> str:
        """A fresh name ``prefix<n>`` for ``obj`` (its old one if it has one already)."""
        if id(obj) in self._named:
            return self._named[id(obj)]
        n = self._count.get(prefix, 0)
        while f"{prefix}{n}" in self.ns:
            n += 1
        self._count[prefix] = n + 1
        return self.bind(f"{prefix}{n}", obj)

    def bind(self, name: str, obj: Any) -> str:
        """Name ``obj`` exactly ``name``."""
        if name in self.ns:
            raise AssertionError(f"name {name} bound twice")
        self.ns[name] = obj
        self._named[id(obj)] = name
        return name

    def named(self, obj: Any) -> bool:
        """Whether ``obj`` has a name already."""
        return id(obj) in self._named

    def emit(self, line: str) -> None:
        self.body.append(line)

    def source(self) -> str:
        """The replay function, as shown by ``CompiledStep.source``."""
        lines = ["def replay(x, y):"]
        if self.guard:
            lines.append("    # guards: still the model, loss and optimizer this was recorded for")
        lines += [f"    {line}" for line in self.guard]
        lines += [f"    {line}" for line in self.setup]
        lines += [f"    {line}" for line in self.body]
        return "\n".join(lines) + "\n"

    def function(self) -> Callable[..., Any]:
        """Compile the replay. Its names are bound as variables of an enclosing function,
        so that each use is a closure-cell read rather than a dictionary lookup."""
        inner = "".join(f"    {line}\n" for line in self.source().splitlines())
        names = "".join(f"    {name} = _ns[{name!r}]\n" for name in self.ns)
        text = f"def _make(_ns):\n{names}{inner}    return replay\n"
        scope: dict[str, Any] = {}
        exec(builtins.compile(text, "<tinygrad_mlp.replay>", "exec"), scope)
        return scope["_make"](self.ns)
