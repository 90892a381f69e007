"""The command line: ``tinygrad-mlp [command]``, or ``python -m tinygrad_mlp [command]``.

    tinygrad-mlp                 the demo (the default): train an MLP, run the hand-derived
                                 network beside it, write pictures to ./tinygrad_mlp_out
    tinygrad-mlp train           train an MLP on a built-in dataset or a CSV file
    tinygrad-mlp predict         apply a model saved by ``train --save`` to a CSV file
    tinygrad-mlp graph           draw the computation graph of one training step (alias: draw)
    tinygrad-mlp check FILE      check the backprop of the network in your own .py file
    tinygrad-mlp compare         hold a hand-derived network's backprop against autograd
    tinygrad-mlp diagnose [FILE] explain why a network blows up to NaN
    tinygrad-mlp story           the NaN story on real data

Every command has ``--help``. Bad arguments (an unknown dataset, a malformed number or list,
a missing or malformed file) give one line on stderr and exit status 2; a training run that
diverges to NaN/inf exits with status 1 and says what to check.

A model saved by ``train --save model.npz`` is two files: ``model.npz`` (the weights and the
architecture, loadable with ``nn.Module.load``) and ``model.meta.npz`` beside it, holding
what ``predict`` needs to treat new data exactly as the training data was treated: the
feature names, the task and loss, the class names, and the mean and standard deviation of
the standardization (features, and targets for regression). Both are plain ``.npz`` files
that load with ``np.load(path, allow_pickle=False)``.

The package, each module importing only those above it:

=============  ==============================================================================
``arguments``  ``UsageError`` and the one-line errors, the argument types, the output checks
``training``   the ``train`` and ``predict`` commands; loading datasets, CSV files and models
``graph``      the ``graph`` command
``userfile``   a user's .py file imported as it is, the network found in it, its batch
``checking``   the ``check``, ``compare`` and ``diagnose`` commands
``demos``      the ``demo`` and ``story`` commands
``parser``     ``build_parser``: each command's arguments and the function it runs
=============  ==============================================================================
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from ..modelfile import load_side as load_meta
from ..modelfile import meta_path
from ..modelfile import save_side as save_meta
from .arguments import UsageError, one_line
from .parser import build_parser

__all__ = ["UsageError", "build_parser", "load_meta", "main", "meta_path", "save_meta"]

# Set to show the traceback of an unexpected error instead of its one line.
DEBUG = "TINYGRAD_MLP_DEBUG"


def _prog() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return "tinygrad-mlp" if name.startswith("tinygrad-mlp") else "python -m tinygrad_mlp"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0, 1 for a failed run, 2 for bad input).

    With no command (or only options) the demo runs. Never raises ``SystemExit``: ``--help``
    returns 0 and a bad argument 2, after argparse has printed what it prints.

    >>> import os, tempfile
    >>> main(["graph", "--sizes", "2,3,1", "--out", os.path.join(tempfile.mkdtemp(), "g.dot")])
    drew one training step of [2, 3, 1] (forward, mse loss, backward) to ...g.dot
    0
    >>> main(["train", "--epochs", "1", "--quiet"])  # doctest: +SKIP
    0
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "demo")
    parser = build_parser(_prog())
    try:
        args = parser.parse_args(args_list)
    except SystemExit as stop:  # --help (0) or a usage error (2, already reported)
        return stop.code if isinstance(stop.code, int) else 2
    where = f"{parser.prog} {args.command}"
    try:
        return args.run(args)
    except UsageError as error:
        print(f"{where}: error: {error}", file=sys.stderr)
        return error.status
    except ImportError as error:  # an optional extra (scikit-learn) this command needs
        print(f"{where}: error: {one_line(error)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of our output went away (| head): nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # e.g. an output folder that cannot be written
        print(f"{where}: error: {one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # a bug of ours, or a failure nothing above foresaw
        if os.environ.get(DEBUG):
            raise
        print(f"{where}: error: {type(error).__name__}: {one_line(error)} (unexpected: set "
              f"{DEBUG}=1 to see the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
