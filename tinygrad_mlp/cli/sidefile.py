"""The model's side file (moving to the library's modelfile)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .arguments import one_line

__all__ = ["load_meta", "meta_path", "save_meta"]


def meta_path(model_path: str | Path) -> Path:
    """Where ``train --save`` puts the preprocessing of a model saved at ``model_path``.

    >>> meta_path("runs/model.npz").as_posix(), meta_path("model").as_posix()
    ('runs/model.meta.npz', 'model.meta.npz')
    """
    path = Path(model_path)
    stem = path.name[: -len(".npz")] if path.name.endswith(".npz") else path.name
    return path.with_name(stem + ".meta.npz")


def save_meta(model_path: str | Path, info: dict[str, Any]) -> Path:
    """Write ``info`` (strings, lists of strings and arrays of numbers) beside a model.

    Text is stored as unicode arrays, so the file loads with ``allow_pickle=False``. A
    value of None is left out.

    >>> import tempfile, os
    >>> path = save_meta(os.path.join(tempfile.mkdtemp(), "m.npz"),
    ...                  {"task": "classification", "class_names": ["a", "b"], "x_mean": None})
    >>> load_meta(path.with_name("m.npz"))
    {'class_names': ['a', 'b'], 'task': 'classification'}
    """
    arrays = {}
    for key, value in info.items():
        if value is None:
            continue
        if isinstance(value, str):
            arrays[key] = np.array(value)
        elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            arrays[key] = np.array(list(value), dtype=str)
        else:
            arrays[key] = np.asarray(value, dtype=np.float64)
    path = meta_path(model_path)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def load_meta(model_path: str | Path) -> dict[str, Any] | None:
    """Read the side file of a model (see :func:`save_meta`); None when there is none.

    0-d text comes back as ``str``, 1-d text as a list of ``str``, numbers as float arrays.
    A file that is not a valid ``.npz`` raises ``ValueError`` naming it.

    >>> load_meta("no/such/model.npz") is None
    True
    """
    path = meta_path(model_path)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except Exception as error:  # whatever NumPy or zipfile met, the file is not usable
        raise ValueError(f"'{path}' is not a valid model side file ({one_line(error)})") from None
    info: dict[str, Any] = {}
    for key, array in sorted(arrays.items()):
        if array.dtype.kind == "U":
            info[key] = str(array) if array.ndim == 0 else [str(v) for v in array]
        else:
            info[key] = array
    return info
