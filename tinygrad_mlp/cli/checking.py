"""The commands that hold a hand-written network's backprop up to the truth.

- ``run_check(args)``: ``check FILE``: the network in your file (see :mod:`.userfile`) checked
  by the backprop checker; exit 0 when every gradient is right, 1 when one is wrong (or your
  code raised), 2 when nothing usable was found.
- ``run_compare(args)``: the posted network of the question (or the fixed one) checked on
  the diabetes data, with ``--out`` a side-by-side run against autograd; ``--network FILE``
  is ``check FILE``.
- ``run_diagnose(args)``: why a network blows up: the posted one (or the fixed one), or the
  one in ``FILE``, trained by its own step on a copy; for a file, exit 1 when the run blows
  up or a gradient is wrong.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .. import compare, diagnose
from ..compare.conventions import ConventionError
from ..compare.usercode import exception_text, user_traceback_frame
from ..convert import train_side_by_side
from ..plots import MATPLOTLIB_MISSING, have_matplotlib, write_curves, write_side_by_side
from ..scenario import setup
from .arguments import RunFailed, UsageError, check_output_dir
from .userfile import open_network, refuse_user_options

__all__ = ["DEMO_NETWORKS", "run_check", "run_compare", "run_diagnose"]

DEMO_NETWORKS = ("posted", "fixed")


def _out(args: argparse.Namespace) -> Path | None:
    return check_output_dir(args.out, "--out") if args.out else None


def _write_report(out: Path, name: str, report: Any) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    path.write_text(str(report) + "\n", encoding="utf-8")
    return path


def _print_written(written: list[Path]) -> None:
    if not have_matplotlib() and any(p.suffix == ".csv" for p in written):
        print(MATPLOTLIB_MISSING)
    for path in written:
        print(f"wrote {path}")


def run_users_code(where: str, call: Callable[[], Any]) -> Any:
    """``call()``, which runs the user's code: an error of theirs that the tool did not turn
    into its report is one line naming their line (status 1); signatures other than the
    convention's are a usage error showing the expected ones (status 2)."""
    try:
        return call()
    except ConventionError as error:
        raise UsageError(f"{where}: {error}") from None
    except Exception as error:
        if user_traceback_frame(error.__traceback__) is None:
            raise  # ours: main reports it as unexpected
        raise RunFailed(f"{where}: your code raised {exception_text(error)}") from None


# -- check ---------------------------------------------------------------------------------------


def check_file(args: argparse.Namespace, path: str, out: Path | None) -> int:
    """The backprop check of the network in ``path``: 0 right, 1 wrong."""
    with open_network(args, path) as user:
        print(f"checking {user.describe()}\n")
        report = run_users_code(user.path, lambda: compare.check_backprop(
            user.subject, user.X, user.Y))
    print(report)
    if out is not None:
        _print_written([_write_report(out, "backprop_report.txt", report)])
    return 0 if report.ok else 1


def run_check(args: argparse.Namespace) -> int:
    """``check FILE``: see ``check --help``."""
    return check_file(args, args.file, _out(args))


# -- compare -------------------------------------------------------------------------------------


def _side_by_side(args: argparse.Namespace, out: Path, report: Any) -> list[Path]:
    net, X, y = setup(args.network)
    with np.errstate(all="ignore"):  # the posted network overflows on purpose
        run = train_side_by_side(net, X, y, args.steps)
    written = [_write_report(out, "backprop_report.txt", report), *write_side_by_side(
        out / "side_by_side", run.manual_losses, run.mlp_losses, run.max_weight_diff,
        title=f"The {args.network} network's own backprop vs autograd, same weights",
    )]
    print(f"\n{args.steps} steps side by side: largest weight difference (relative) "
          f"{max(run.max_weight_diff):.3g}")
    return written


def run_compare(args: argparse.Namespace) -> int:
    """``compare``: see ``compare --help``."""
    out = _out(args)
    if args.network not in DEMO_NETWORKS:
        if not (args.network.endswith(".py") or Path(args.network).is_file()):
            raise UsageError(f"--network {args.network}: give posted, fixed, or the .py file "
                             "that holds your own network (compare --network my_net.py is "
                             "check my_net.py)")
        return check_file(args, args.network, out)
    refuse_user_options(args, f"the {args.network} network of the question")
    report = compare.demo(network=args.network)
    print(report)
    if out is not None:
        _print_written(_side_by_side(args, out, report))
    return 0 if report.ok or args.network == "posted" else 1


# -- diagnose ------------------------------------------------------------------------------------


def _curves(out: Path, report: Any, what: str) -> list[Path]:
    written = write_curves(out / "loss", {"training loss": report.losses},
                           title=f"{what}: loss per epoch", ylabel="loss", x_start=0, log=True)
    key, label = (("max_abs_A", "max |A| (pre-activation)") if "max_abs_A" in report.history
                  else ("max_abs_W", "max |W|"))
    if key in report.history:
        growth = {name: report.history[key][:, i] for i, name in enumerate(report.layer_labels)}
        written += write_curves(out / "layer_growth", growth,
                                title=f"{what}: how each layer grows", ylabel=label,
                                x_start=0, log=True)
    return written


def _diagnose_file(args: argparse.Namespace) -> tuple[Any, str, int]:
    with open_network(args, args.file, samples=32) as user:
        if user.X is None:
            raise UsageError(f"{args.file}: {user.found.name} is a free-form loss_fn, which "
                             f"has no training step to watch; check it with: check {args.file}")
        print(f"diagnosing {user.describe()}\n")
        report = run_users_code(args.file, lambda: diagnose.diagnose(
            user.subject, user.X, user.Y, epochs=args.epochs or 300, learning_rate=args.lr))
    wrong = report.backprop is not None and not report.backprop.ok
    return report, f"{user.found.name} of {args.file}", 1 if report.blew_up or wrong else 0


def run_diagnose(args: argparse.Namespace) -> int:
    """``diagnose``: see ``diagnose --help``."""
    out = _out(args)
    if args.file is not None:
        if args.network is not None:
            raise UsageError(f"give either --network {args.network} or a file, not both")
        report, what, status = _diagnose_file(args)
    else:
        network = args.network or "posted"
        refuse_user_options(args, f"the {network} network of the question")
        report = diagnose.demo(network=network, epochs=args.epochs, learning_rate=args.lr)
        what, status = f"The {network} network", 0
    print(report)
    if out is not None:
        _print_written([_write_report(out, "diagnosis.txt", report), *_curves(out, report, what)])
    return status

