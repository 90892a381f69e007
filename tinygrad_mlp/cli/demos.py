"""The ``demo`` (the default command) and ``story`` commands: the library's walkthroughs.

``run_demo(args)`` runs :func:`tinygrad_mlp.demo.run`, ``run_story(args)``
:func:`tinygrad_mlp.story.run`, each after checking its output folder.
"""

from __future__ import annotations

import argparse

from .. import demo, story
from .arguments import check_output_dir

__all__ = ["run_demo", "run_story"]


def run_story(args: argparse.Namespace) -> int:
    """``story``: see ``story --help``."""
    story.run(check_output_dir(args.out, "--out") if args.out else None)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """``demo``: see ``demo --help``."""
    out = check_output_dir(args.out, "--out") if args.out else None
    demo.run(dataset=args.dataset, epochs=args.epochs, seed=args.seed, out_dir=out,
             steps=args.steps, progress=not args.quiet)
    return 0
