"""What :mod:`~tinygrad_mlp.compare`, :mod:`~tinygrad_mlp.diagnose` and
:mod:`~tinygrad_mlp.convert` share: recognising activations and losses by name, and text."""

from __future__ import annotations

import os
import re
import textwrap

import numpy as np

# Frames inside NumPy are never the line to show the user.
NUMPY_DIR = os.path.dirname(os.path.abspath(np.__file__))


def wrap(text: str, first: str = "  ", rest: str | None = None, width: int = 96) -> str:
    """``text`` filled to ``width`` columns after ``first``, later lines after ``rest``
    (default: ``first``). Words and hyphenated names (``leaky-relu``) are never split.

    >>> print(wrap("one two three", "- ", "  ", width=9))
    - one two
      three
    """
    return textwrap.fill(text, width=width, initial_indent=first,
                         subsequent_indent=first if rest is None else rest,
                         break_long_words=False, break_on_hyphens=False)


def name_keys(obj: object) -> list[str]:
    """Normalised names to recognise an activation or loss by: its ``.name``, its class.

    >>> class LeakyReLU: name = "leaky_relu"
    >>> name_keys(LeakyReLU())
    ['leakyrelu', 'leakyrelu']
    """
    names = []
    name = getattr(obj, "name", None)
    if isinstance(name, str):
        names.append(name)
    names.append(type(obj).__name__)
    return [re.sub(r"[^a-z]", "", n.lower()) for n in names]
