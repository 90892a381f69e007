"""Saving and loading state dicts as ``.npz`` files: plain arrays, never pickle.

``save(model_or_state_dict, path)`` writes one array per parameter name; ``load(path)``
gives the ``name -> np.ndarray`` dict back, ready for ``model.load_state_dict``.

When the model can describe itself (the ``nn`` layers, ``Sequential``, ``MLP``), ``save``
also writes its architecture, as JSON text in a unicode array named ``__architecture__``, so
that ``nn.Module.load(path)`` can rebuild it. That entry is not a weight: ``load`` leaves it
out. A model of your own is saved with its weights only; its architecture is the code that
builds it.

>>> import os, tempfile
>>> import tinygrad_mlp as tg
>>> from tinygrad_mlp import nn
>>> from tinygrad_mlp.nn.serialize import save, load
>>> model = nn.MLP([2, 4, 1])
>>> path = save(model, os.path.join(tempfile.mkdtemp(), "model"))
>>> sorted(load(path))
['0.bias', '0.weight', '2.bias', '2.weight']
>>> nn.Module.load(path)[0]
Linear(in_features=2, out_features=4, bias=True)
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import zipfile
from collections.abc import Mapping
from typing import Any, NamedTuple, NoReturn

import numpy as np

from .module import Module

# The member holding the architecture: a name no parameter has (``save`` refuses it for
# weights), so it can never shadow one.
ARCHITECTURE_KEY = "__architecture__"


class _Contents(NamedTuple):
    """What a state file holds: the weights and the architecture (parsed JSON, or None)."""

    path: str
    arrays: dict[str, np.ndarray]
    architecture: Any


def _npz_path(path: str | os.PathLike) -> str:
    path = os.fspath(path)
    return path if path.endswith(".npz") else path + ".npz"


def _arrays(obj: Any) -> dict[str, np.ndarray]:
    state = obj.state_dict() if hasattr(obj, "state_dict") else obj
    if not isinstance(state, Mapping):
        raise TypeError(
            f"save: expected a Module or a dict of name -> array, got {type(obj).__name__}"
        )
    arrays = {}
    for name, value in state.items():
        if not isinstance(name, str):
            raise TypeError(f"save: names must be strings, got {name!r}")
        if name == ARCHITECTURE_KEY:
            raise ValueError(f"save: the name {name!r} is reserved for the model's architecture")
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError(
                f"save: entry {name!r} is not a numeric array (got {type(value).__name__}); "
                "save takes a Module or a flat dict of name -> array"
            )
        arrays[name] = array
    return arrays


def _architecture_text(obj: Any) -> str | None:
    """The JSON text describing ``obj``'s architecture, or None when it has none to give.

    >>> from tinygrad_mlp import nn
    >>> _architecture_text(nn.ReLU()), _architecture_text({"w": [1.0]})
    ('{"class": "ReLU", "config": {}}', None)
    """
    description = obj._architecture() if isinstance(obj, Module) else None
    if description is None:
        return None

    def plain(value: Any) -> Any:
        # A NumPy scalar set as a setting (LeakyReLU(np.float32(0.2))) becomes a number.
        if isinstance(value, np.generic):
            return value.item()
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    try:
        return json.dumps(description, default=plain)
    except (TypeError, ValueError):
        # A setting JSON cannot hold: the weights are still worth saving, and the model can
        # still be loaded into an instance, so it is saved as a custom model would be.
        return None


def save(obj: Any, path: str | os.PathLike) -> str:
    """Write a Module's ``state_dict()`` (or a dict of name -> array) to an ``.npz`` file.

    ``.npz`` is added to ``path`` when missing, as ``np.savez`` does; the path written is
    returned. A Module that can describe itself has its architecture recorded as well (see
    the module docstring), for ``nn.Module.load(path)``. The file is written to a temporary
    name first and then renamed, so a crash never leaves a half-written file behind (an older
    file stays intact).

    >>> import os, tempfile
    >>> from tinygrad_mlp.nn.serialize import save
    >>> save({"w": [1.0, 2.0]}, os.path.join(tempfile.mkdtemp(), "weights")).endswith(".npz")
    True
    """
    arrays = _arrays(obj)
    architecture = _architecture_text(obj)
    if architecture is not None:
        # A 0-d unicode array ("<U..."): text that loads with allow_pickle=False.
        arrays[ARCHITECTURE_KEY] = np.array(architecture)
    final = _npz_path(path)
    # Beside the target (a rename is only atomic within one file system); opened with
    # "x" rather than mkstemp so the file gets the usual permissions, not 0600.
    temporary = f"{final}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        with open(temporary, "xb") as file:
            # The .npz layout of np.savez, written member by member: np.savez's keyword
            # arguments would clash with parameters named "file" or "allow_pickle".
            with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                for name, array in arrays.items():
                    with archive.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, final)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return final


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an ``.npz`` state file into a dict of name -> ``np.ndarray`` (the weights only).

    ``path`` may omit the ``.npz`` that ``save`` added. Pickled content is never loaded.
    A missing file raises ``FileNotFoundError``; a truncated, corrupt or non-``.npz`` file
    raises ``ValueError`` naming the file. A recorded architecture is not returned: use
    ``nn.Module.load(path)`` to rebuild the model from it.

    >>> import os, tempfile
    >>> from tinygrad_mlp.nn.serialize import load, save
    >>> path = save({"w": [1.0, 2.0]}, os.path.join(tempfile.mkdtemp(), "weights"))
    >>> load(path)["w"].tolist()
    [1.0, 2.0]
    """
    return _read(path).arrays


def _read(path: str | os.PathLike) -> _Contents:
    """Read a state file: its path as found, its weights and its architecture (or None).

    Errors are those of ``load``; a corrupt architecture entry is a ``ValueError`` too.

    >>> import os, tempfile
    >>> from tinygrad_mlp import nn
    >>> contents = _read(nn.ReLU().save(os.path.join(tempfile.mkdtemp(), "act")))
    >>> contents.arrays, contents.architecture
    ({}, {'class': 'ReLU', 'config': {}})
    """
    given = os.fspath(path)
    if not os.path.exists(given) and os.path.exists(given + ".npz"):
        given += ".npz"
    if not os.path.isfile(given):
        what = " (that is a directory)" if os.path.isdir(given) else ""
        raise FileNotFoundError(f"no state file at '{given}'{what}")
    with open(given, "rb") as file:
        magic = file.read(6)
    # Checked first: on anything that is not a zip archive NumPy would try pickle and give
    # advice about allow_pickle, which is wrong here.
    if magic == b"\x93NUMPY":
        _invalid(given, "it holds a single .npy array, not named arrays")
    if not magic.startswith(b"PK"):
        _invalid(given, "it is not a zip archive, as .npz files are")
    try:
        with np.load(given, allow_pickle=False) as npz:
            # Every member is read now, so a damaged one fails here and not later.
            arrays = {name: npz[name] for name in npz.files}
    except Exception as error:  # whatever NumPy or zipfile met, the file is not usable
        _invalid(given, str(error) or type(error).__name__)
    text = arrays.pop(ARCHITECTURE_KEY, None)
    if text is None:
        return _Contents(given, arrays, None)
    if text.dtype.kind != "U" or text.ndim != 0:
        raise ValueError(
            f"'{given}' has a corrupt architecture entry: expected JSON text, got an array "
            f"of {text.dtype} with shape {text.shape}"
        )
    try:
        architecture = json.loads(str(text))
    except ValueError as error:
        raise ValueError(
            f"'{given}' has a corrupt architecture entry: not valid JSON ({error})"
        ) from None
    return _Contents(given, arrays, architecture)


def _invalid(path: str, reason: str) -> NoReturn:
    raise ValueError(
        f"'{path}' is not a valid .npz state file ({reason}); it may be truncated or "
        "corrupt, or was not written by save()"
    ) from None
