"""A trained model and the side data that goes with it, saved as a pair of files.

``save(model, "model.npz", side)`` writes the model (weights and architecture, in ``nn``'s own
format: ``nn.Module.load`` reads it) and ``model.meta.npz`` beside it: what ``predict`` needs
to treat new data as the training data was treated (the feature names, the task and loss, the
class names, the mean and standard deviation of the standardization). Both are plain ``.npz``
files that ``np.load(path, allow_pickle=False)`` reads. ``load("model.npz")`` gives both back,
checked.

The pair is written so that a failure at any point leaves a working pair, old or new: both
files are written in full under temporary names first (``nn.serialize.stage_npz``), then the
side file, then the model, each renamed into place. The side file names the model it belongs
to by a SHA-256 digest of the model file and, until the model is in place, keeps the old
model's side data too, so that in between the old model still finds its own. A rewritten
file keeps its permissions.

>>> import os, tempfile
>>> from tinygrad_mlp import nn
>>> path = os.path.join(tempfile.mkdtemp(), "m.npz")
>>> _ = save(nn.MLP([2, 3, 2]), path, {"task": "classification", "loss": "cross_entropy",
...                                     "class_names": ["no", "yes"]})
>>> model, side = load(path)
>>> side["class_names"], side["task"]
(['no', 'yes'], 'classification')
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from .nn.layers import Linear
from .nn.module import Module
from .nn.serialize import npz_path, read_npz, stage_npz, state_arrays

TASKS = ("classification", "regression")
LOSSES = {"cross_entropy": "classification", "bce": "classification", "mse": "regression"}
TEXT_KEYS = ("task", "loss", "dataset", "target")
NAME_KEYS = ("feature_names", "class_names")
NUMBER_KEYS = ("x_mean", "x_std", "y_mean", "y_std")
DIGEST = "model_sha256"  # the model file this side data belongs to
PREVIOUS = "previous."  # prefix of the side data of the model being replaced


def meta_path(model_path: str | os.PathLike[str]) -> Path:
    """Where the side data of a model saved at ``model_path`` goes.

    >>> meta_path("runs/model.npz").as_posix(), meta_path("model").as_posix()
    ('runs/model.meta.npz', 'model.meta.npz')
    """
    path = Path(model_path)
    stem = path.name[: -len(".npz")] if path.name.endswith(".npz") else path.name
    return path.with_name(stem + ".meta.npz")


def check_destination(path: str | os.PathLike[str]) -> Path:
    """The model file ``save`` would write for ``path`` (``.npz`` added), checked before any
    work is done: not a directory, in a directory that exists.

    >>> import tempfile
    >>> check_destination(os.path.join(tempfile.mkdtemp(), "m")).name
    'm.npz'
    """
    given = os.fspath(path)
    target = Path(npz_path(given))
    if os.path.isdir(given) or given.endswith(("/", os.sep)) or target.is_dir():
        raise IsADirectoryError(f"modelfile.save: '{given}' is a directory; give a file name "
                                f"inside it, such as '{os.path.join(given, 'model.npz')}'")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"modelfile.save: there is no directory '{target.parent}' to "
                                f"write '{target}' in")
    return target


def _digest(path: str | os.PathLike[str]) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _arrays(side: dict[str, Any], prefix: str = "") -> dict[str, np.ndarray]:
    """The side data as arrays: text as unicode arrays (no pickle), numbers as float64."""
    arrays = {}
    for key, value in side.items():
        if value is None:
            continue
        if isinstance(value, str):
            arrays[prefix + key] = np.array(value)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            arrays[prefix + key] = np.array(list(value), dtype=str)
        else:
            arrays[prefix + key] = np.asarray(value, dtype=np.float64)
    return arrays


def _as_read(side: dict[str, Any]) -> dict[str, Any]:
    """``side`` as it will read back from its file (for checking it before it is written)."""
    return _entries(_arrays(side), "")


def _entries(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, Any]:
    """The side data with ``prefix`` back from arrays: 0-d text as ``str``, 1-d text as a
    list of ``str``, numbers as float64 arrays."""
    info: dict[str, Any] = {}
    for key, array in sorted(arrays.items()):
        if not key.startswith(prefix) or (not prefix and key.startswith(PREVIOUS)):
            continue
        if array.dtype.kind == "U":
            value: Any = str(array) if array.ndim == 0 else [str(v) for v in array]
        else:
            value = array
        info[key[len(prefix):]] = value
    return info


def check_side(side: dict[str, Any], where: str) -> dict[str, Any]:
    """``side`` when it is side data ``predict`` can use; else one ``ValueError`` naming
    ``where`` (the file) and what is wrong. Checks each entry's kind, the task and loss (an
    unknown task is refused, never taken for regression), the class names, and that a mean
    comes with a finite, positive standard deviation of the same length.

    >>> check_side({"task": "ranking"}, "m.meta.npz")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    ValueError: 'm.meta.npz' is not a valid model side file: task must be ... got 'ranking'
    """
    def bad(problem: str) -> ValueError:
        return ValueError(f"'{where}' is not a valid model side file: {problem}")

    for key in (*TEXT_KEYS, DIGEST):
        if key in side and not isinstance(side[key], str):
            raise bad(f"{key} must be text, got {_kind(side[key])}")
    for key in NAME_KEYS:
        value = side.get(key)
        if key in side and not (isinstance(value, list) and value
                                and all(isinstance(v, str) and v for v in value)):
            raise bad(f"{key} must be a list of names, got {_kind(value)}")
        if key in side and len(set(value)) != len(value):
            raise bad(f"{key} names one thing twice: {value}")
    task = side.get("task")
    if task not in TASKS:
        raise bad("task must be 'classification' or 'regression', got "
                  + (repr(task) if "task" in side else "nothing (the key is missing)"))
    loss = side.get("loss")
    if loss is not None and loss not in LOSSES:
        raise bad(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if loss is not None and LOSSES[loss] != task:
        raise bad(f"loss {loss!r} does not go with task {task!r} (known losses: "
                  f"{', '.join(k for k, t in LOSSES.items() if t == task)})")
    if task == "classification" and "class_names" not in side:
        raise bad("a classification model's side file needs class_names")
    _check_scales(side, "x", bad)
    _check_scales(side, "y", bad)
    names = side.get("feature_names")
    if names is not None and "x_mean" in side and len(names) != len(side["x_mean"]):
        raise bad(f"{len(names)} feature_names but {len(side['x_mean'])} means")
    return side


def _kind(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of {value.dtype} with shape {value.shape}"
    return repr(value)


def _check_scales(side: dict[str, Any], axis: str, bad: Any) -> None:
    mean, std = side.get(f"{axis}_mean"), side.get(f"{axis}_std")
    if mean is None and std is None:
        return
    if mean is None or std is None:
        missing = f"{axis}_std" if std is None else f"{axis}_mean"
        raise bad(f"it has {axis}_mean or {axis}_std but not {missing}")
    for key, value in ((f"{axis}_mean", mean), (f"{axis}_std", std)):
        if not (isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.ndim == 1
                and value.size and np.isfinite(value).all()):
            raise bad(f"{key} must be a 1-d array of finite numbers, got {_kind(value)}")
    if mean.shape != std.shape:
        raise bad(f"{axis}_mean has {mean.size} entries but {axis}_std {std.size}")
    if not (std > 0).all():
        k = int(np.argmax(~(std > 0)))
        raise bad(f"{axis}_std[{k}] is {std[k]}: a standard deviation must be above 0")


def check_against(side: dict[str, Any], model: Any, where: str) -> None:
    """Raise ``ValueError`` naming ``where`` unless ``side`` fits ``model``'s inputs and
    outputs (feature names and means per input; class names or target scales per output)."""
    linears = [m for m in model.modules() if isinstance(m, Linear)] \
        if isinstance(model, Module) else []
    if not linears:
        return
    n_in, n_out = linears[0].in_features, linears[-1].out_features
    problems = []
    for key in ("feature_names", "x_mean"):
        if key in side and len(side[key]) != n_in:
            problems.append(f"{len(side[key])} {key} for a model of {n_in} inputs")
    classes = side.get("class_names")
    if classes is not None:
        wanted = 2 if side.get("loss") == "bce" else n_out
        if len(classes) != wanted or (side.get("loss") == "bce" and n_out != 1):
            problems.append(f"{len(classes)} class_names for a model of {n_out} outputs"
                            + (" (bce: one output, two classes)" if side.get("loss") == "bce"
                               else ""))
    if "y_mean" in side and len(side["y_mean"]) != n_out:
        problems.append(f"{len(side['y_mean'])} y_mean for a model of {n_out} outputs")
    if problems:
        raise ValueError(f"'{where}' does not fit its model: {'; '.join(problems)}")


def _read_side(path: Path) -> dict[str, np.ndarray] | None:
    if not path.is_file():
        return None
    return read_npz(path, "model side file")


def load_side(model_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The side data saved with the model at ``model_path``, checked (see :func:`check_side`),
    or None when there is no side file. When the side file names its model (by digest), the
    model file must be that one, or the one it is replacing.

    >>> load_side("no/such/model.npz") is None
    True
    """
    path = meta_path(model_path)
    arrays = _read_side(path)
    if arrays is None:
        return None
    side = _entries(arrays, "")
    previous = _entries(arrays, PREVIOUS)
    if DIGEST in side and os.path.isfile(npz_path(model_path)):
        digest = _digest(npz_path(model_path))
        if side[DIGEST] != digest:
            if previous.get(DIGEST) != digest:
                raise ValueError(f"'{path}' belongs to another model than "
                                 f"'{npz_path(model_path)}' (the model file was replaced "
                                 "without it): save the model and its side data together again")
            side = previous
    side = check_side(side, str(path))
    side.pop(DIGEST, None)
    return side


def load(
    path: str | os.PathLike[str], finite: bool = True
) -> tuple[Module, dict[str, Any] | None]:
    """The model saved at ``path`` (rebuilt by ``nn.Module.load``) and its side data (None
    when there is no side file), checked together. With ``finite`` (the default) a model whose
    weights hold NaN or inf is refused: it could only predict nonsense.

    Errors: ``FileNotFoundError`` without a model file; one ``ValueError`` naming the file
    for anything malformed in either file (see ``nn.serialize.read_npz`` and
    :func:`check_side`).
    """
    model = Module.load(path)
    if finite:
        for name, value in model.state_dict().items():
            array = np.asarray(value)
            if array.dtype.kind == "f" and not np.isfinite(array).all():
                raise ValueError(f"'{npz_path(path)}' holds a model whose {name} has NaN or "
                                 "inf in it: it cannot predict (was it saved after training "
                                 "diverged?)")
    side = load_side(path)
    if side is not None:
        check_against(side, model, str(meta_path(path)))
    return model, side


def save(model: Any, path: str | os.PathLike[str], side: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``model`` to ``path`` (``.npz`` added when missing) and ``side`` beside it (see
    :func:`meta_path`), as a pair: a failure at any point leaves the old pair working (see the
    module docstring). ``side`` holds text, lists of text and arrays of numbers (a value of
    None is left out) and is checked first (:func:`check_side`). Returns both paths.
    """
    target = check_destination(path)
    side_target = meta_path(target)
    check_side(_as_read(side), str(side_target))
    previous = _previous(target)
    with stage_npz(target, state_arrays(model)) as staged_model:
        arrays = {**_arrays(side), DIGEST: np.array(_digest(staged_model.temporary))}
        with stage_npz(side_target, {**arrays, **previous}) as staged_side:
            staged_side.commit()  # the old model still finds its side data under PREVIOUS
        staged_model.commit()
    if previous:  # both in place: the old model's entries can go
        with stage_npz(side_target, arrays) as staged_side:
            staged_side.commit()
    return target, side_target


def _previous(target: Path) -> dict[str, np.ndarray]:
    """The side data of the pair being replaced, under ``PREVIOUS``, bound to the model file
    that is there now (nothing when there is no working pair to keep)."""
    if not target.is_file():
        return {}
    try:
        side = load_side(target)
    except ValueError:  # not a working pair: nothing worth keeping
        return {}
    if side is None:
        return {}
    return {**_arrays(side, PREVIOUS), PREVIOUS + DIGEST: np.array(_digest(target))}


def save_side(model_path: str | os.PathLike[str], side: dict[str, Any]) -> Path:
    """Write ``side`` beside the model already saved at ``model_path`` (bound to it by its
    digest), atomically; returns the side file's path.

    >>> import tempfile
    >>> from tinygrad_mlp import nn
    >>> path = nn.Linear(2, 1).save(os.path.join(tempfile.mkdtemp(), "m.npz"))
    >>> save_side(path, {"task": "regression", "loss": "mse"}).name
    'm.meta.npz'
    """
    target = Path(npz_path(model_path))
    side_target = meta_path(target)
    check_side(_as_read(side), str(side_target))
    arrays = {**_arrays(side), DIGEST: np.array(_digest(target))}
    with stage_npz(side_target, arrays) as staged:
        staged.commit()
    return side_target
