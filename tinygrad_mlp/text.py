"""Text that the tools' reports share: paragraphs filled to the report's width.

Used by :mod:`~tinygrad_mlp.compare`, :mod:`~tinygrad_mlp.diagnose` and the story.
"""

from __future__ import annotations

import textwrap


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
