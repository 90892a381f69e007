"""Saving and loading as ``.npz`` files: plain arrays, never pickle, never a half-written file.

``save(model_or_state_dict, path)`` writes one array per name; ``load(path)`` gives the
``name -> np.ndarray`` dict back, ready for ``model.load_state_dict``. When the model can
describe itself (the ``nn`` layers, ``Sequential``, ``MLP``), ``save`` also writes its
architecture, as JSON text in a unicode array named ``__architecture__``, so that
``nn.Module.load(path)`` can rebuild it; ``load`` leaves that entry out.

Two building blocks serve any file of named arrays (the command line's side data too):

- ``write_npz(path, arrays)`` writes atomically: to a temporary file beside ``path``, flushed
  to disk, then renamed over it, so a failure at any point leaves the old file as it was; a
  file written again keeps its permissions. ``stage_npz`` is its first half, for writing
  several files before committing any.
- ``read_npz(path)`` reads a file that may be hostile: before any array is read, every
  member's declared size is checked against its header and the archive's total against the
  file's own size (``MAX_INFLATION``), so a zip bomb is refused, not inflated; pickled or
  odd dtypes are refused; every problem is one ``ValueError`` naming the file.

>>> import os, tempfile
>>> from tinygrad_mlp import nn
>>> from tinygrad_mlp.nn.serialize import save, load
>>> path = save(nn.MLP([2, 4, 1]), os.path.join(tempfile.mkdtemp(), "model"))
>>> sorted(load(path))
['0.bias', '0.weight', '2.bias', '2.weight']
>>> nn.Module.load(path)[0]
Linear(in_features=2, out_features=4, bias=True)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import zipfile
from collections.abc import Mapping
from typing import Any, NamedTuple, NoReturn

import numpy as np

from . import architecture

# The member holding the architecture: a name no parameter has (``save`` refuses it for
# weights), so it can never shadow one.
ARCHITECTURE_KEY = "__architecture__"

# A compressed archive may inflate to this many times the file's size, plus
# INFLATION_ALLOWANCE bytes; beyond that it is refused unread. Weights barely compress
# (about 1.1 times); only an array of near-constant values gets past 100, and it can be
# saved uncompressed.
MAX_INFLATION = 100
INFLATION_ALLOWANCE = 1 << 24
# The architecture is a few hundred characters of JSON for a real model.
MAX_ARCHITECTURE_CHARS = 1 << 20
MAX_JSON_DEPTH = 100

# Array dtypes a file may hold: numbers, booleans and text (never objects, which need pickle).
_KINDS = "biufUS"


class StateFile(NamedTuple):
    """What a state file holds: its path as found, its weights and its architecture (the
    parsed JSON description, or None)."""

    path: str
    arrays: dict[str, np.ndarray]
    architecture: Any


def file_path(path: Any, caller: str) -> str:
    """``path`` as a string, when it is one or an ``os.PathLike`` (a ``pathlib.Path``).

    >>> import pathlib
    >>> file_path(pathlib.Path("m.npz"), "save")
    'm.npz'
    """
    if isinstance(path, bytes) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{caller}: path must be a str or an os.PathLike (such as pathlib.Path), got "
            f"{type(path).__name__}"
        )
    found = os.fspath(path)
    if not found:
        raise ValueError(f"{caller}: path is empty")
    return found


def npz_path(path: str | os.PathLike) -> str:
    """``path`` with ``.npz`` added when missing, as ``np.savez`` does.

    >>> npz_path("model"), npz_path("model.npz")
    ('model.npz', 'model.npz')
    """
    path = os.fspath(path)
    return path if path.endswith(".npz") else path + ".npz"


# -- writing -------------------------------------------------------------------------------------


def _plain_arrays(arrays: Any, caller: str) -> dict[str, np.ndarray]:
    if not isinstance(arrays, Mapping):
        raise TypeError(
            f"{caller}: expected a Module or a dict of name -> array, got {type(arrays).__name__}"
        )
    plain = {}
    for name, value in arrays.items():
        if not isinstance(name, str):
            raise TypeError(f"{caller}: names must be strings, got {name!r}")
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError(
                f"{caller}: entry {name!r} is not a numeric array (got {type(value).__name__}); "
                "a file takes a flat dict of name -> array"
            )
        plain[name] = array
    return plain


class StagedFile:
    """A file written in full under a temporary name beside its target, not yet in place.

    ``commit()`` renames it over the target (one atomic step); ``discard()`` deletes it. As
    a context manager it is discarded when the block fails before ``commit``.
    """

    def __init__(self, temporary: str, target: str) -> None:
        self.temporary, self.target = temporary, target

    def commit(self) -> str:
        """Put the file in place and return its path."""
        os.replace(self.temporary, self.target)
        with contextlib.suppress(OSError):  # the rename itself made durable, where possible
            folder = os.open(os.path.dirname(self.target) or ".", os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        return self.target

    def discard(self) -> None:
        """Delete the temporary file (the target is untouched)."""
        with contextlib.suppress(OSError):
            os.unlink(self.temporary)

    def __enter__(self) -> StagedFile:
        return self

    def __exit__(self, kind: Any, error: Any, traceback: Any) -> None:
        if os.path.exists(self.temporary):
            self.discard()


def _target(path: str | os.PathLike, caller: str) -> str:
    """The file to write for ``path``: refused if it is a directory; the real file behind a
    symbolic link, so that the link survives."""
    target = file_path(path, caller)
    if os.path.isdir(target) or target.endswith(("/", os.sep)):
        raise IsADirectoryError(
            f"{caller}: '{target}' is a directory; give a file name inside it, such as "
            f"'{os.path.join(target, 'model.npz')}'"
        )
    if os.path.islink(target):
        target = os.path.realpath(target)
    folder = os.path.dirname(target) or "."
    if not os.path.isdir(folder):
        raise FileNotFoundError(
            f"{caller}: there is no directory '{folder}' to write '{target}' in"
        )
    return target


def _stage(path: str | os.PathLike, arrays: dict[str, np.ndarray], caller: str) -> StagedFile:
    target = _target(path, caller)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    # Beside the target (a rename is only atomic within one file system); opened with "x"
    # rather than mkstemp, so that a new file gets the usual permissions, not 0600.
    temporary = f"{target}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        with open(temporary, "xb") as file:
            # The .npz layout of np.savez, written member by member: np.savez's keyword
            # arguments would clash with arrays named "file" or "allow_pickle".
            with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
                for name, array in arrays.items():
                    with archive.open(name + ".npy", "w", force_zip64=True) as member:
                        np.lib.format.write_array(member, array, allow_pickle=False)
            file.flush()
            os.fsync(file.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return StagedFile(temporary, target)


def _commit(staged: StagedFile) -> str:
    try:
        return staged.commit()
    except BaseException:
        staged.discard()
        raise


def stage_npz(path: str | os.PathLike, arrays: Mapping[str, Any]) -> StagedFile:
    """Write ``arrays`` (name -> array) as an ``.npz`` file beside ``path``, under a
    temporary name, flushed to disk and with ``path``'s permissions when it exists; nothing
    is in place until ``commit()``. ``path`` is used as given (no suffix is added); a directory,
    or a path in a directory that does not exist, is refused.

    >>> import os, tempfile
    >>> target = os.path.join(tempfile.mkdtemp(), "side.npz")
    >>> staged = stage_npz(target, {"mean": [0.5]})
    >>> os.path.exists(target), staged.commit() == target, os.path.exists(target)
    (False, True, True)
    """
    return _stage(path, _plain_arrays(arrays, "stage_npz"), "stage_npz")


def write_npz(path: str | os.PathLike, arrays: Mapping[str, Any]) -> str:
    """Write ``arrays`` (name -> array) to the ``.npz`` file ``path``, atomically: a failure
    at any point leaves an existing file as it was, and a rewritten file keeps its
    permissions. ``path`` is used as given; the path written is returned.

    >>> import os, tempfile
    >>> path = write_npz(os.path.join(tempfile.mkdtemp(), "stats.npz"), {"std": [1.0, 2.0]})
    >>> read_npz(path)["std"].tolist()
    [1.0, 2.0]
    """
    return _commit(_stage(path, _plain_arrays(arrays, "write_npz"), "write_npz"))


def architecture_text(obj: Any) -> str | None:
    """The JSON text describing ``obj``'s architecture, or None when it has none to give.

    >>> from tinygrad_mlp import nn
    >>> architecture_text(nn.ReLU()), architecture_text({"w": [1.0]})
    ('{"class": "ReLU", "config": {}}', None)
    """
    description = architecture.describe(obj)
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


def state_arrays(obj: Any) -> dict[str, np.ndarray]:
    """What ``save`` writes for ``obj`` (a Module or a dict of name -> array): its state
    and, when it can describe itself, its architecture under ``ARCHITECTURE_KEY``.

    >>> from tinygrad_mlp import nn
    >>> sorted(state_arrays(nn.Linear(2, 1)))
    ['__architecture__', 'bias', 'weight']
    """
    state = obj.state_dict() if hasattr(obj, "state_dict") else obj
    arrays = _plain_arrays(state, "save")
    if ARCHITECTURE_KEY in arrays:
        raise ValueError(
            f"save: the name {ARCHITECTURE_KEY!r} is reserved for the model's architecture"
        )
    text = architecture_text(obj)
    if text is not None:
        # A 0-d unicode array ("<U..."): text that loads with allow_pickle=False.
        arrays[ARCHITECTURE_KEY] = np.array(text)
    return arrays


def save(obj: Any, path: str | os.PathLike) -> str:
    """Write a Module's ``state_dict()`` (or a dict of name -> array) to an ``.npz`` file.

    ``.npz`` is added to ``path`` when missing, as ``np.savez`` does; the path written is
    returned. A Module that can describe itself has its architecture recorded as well (see
    the module docstring), for ``nn.Module.load(path)``. The file is written atomically by
    ``write_npz``: an older file stays intact if anything fails, and keeps its permissions.

    >>> import os, tempfile
    >>> from tinygrad_mlp.nn.serialize import save
    >>> save({"w": [1.0, 2.0]}, os.path.join(tempfile.mkdtemp(), "weights")).endswith(".npz")
    True
    """
    given = file_path(path, "save")
    arrays = state_arrays(obj)
    if os.path.isdir(given) or given.endswith(("/", os.sep)):
        _target(given, "save")  # refuses a directory (not "dir.npz" beside it)
    return _commit(_stage(npz_path(given), arrays, "save"))


# -- reading -------------------------------------------------------------------------------------


def _invalid(path: str, reason: str, what: str) -> NoReturn:
    by = ", or was not written by save()" if what == "state file" else ""
    raise ValueError(
        f"'{path}' is not a valid .npz {what} ({reason}); it may be truncated or corrupt{by}"
    ) from None


def _existing(path: str | os.PathLike, what: str, caller: str) -> str:
    given = file_path(path, caller)
    if not os.path.exists(given) and os.path.exists(given + ".npz"):
        given += ".npz"
    if not os.path.isfile(given):
        where = " (that is a directory)" if os.path.isdir(given) else ""
        raise FileNotFoundError(f"no {what} at '{given}'{where}")
    return given


def _header(member: Any) -> tuple[tuple[int, ...], np.dtype, int]:
    """The shape, dtype and header length of the ``.npy`` array ``member`` starts with."""
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f".npy format version {version} is not supported")
    return shape, dtype, member.tell()


def _checked_members(archive: zipfile.ZipFile, size: int) -> list[zipfile.ZipInfo]:
    """The archive's members, once each, after checking what they declare against the file.

    Raises ValueError with the reason; nothing is decompressed beyond the array headers.
    """
    members = archive.infolist()
    names = [info.filename for info in members]
    if len(set(names)) != len(names):
        raise ValueError("two members have the same name")
    inflated = sum(info.file_size for info in members)
    if inflated > MAX_INFLATION * size + INFLATION_ALLOWANCE:
        raise ValueError(
            f"its members declare {inflated} bytes in a file of {size} bytes, more than "
            f"{MAX_INFLATION} times its size: a zip bomb is refused unread"
        )
    for info in members:
        if not info.filename.endswith(".npy") or info.is_dir():
            raise ValueError(f"member {info.filename!r} is not an .npy array")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ValueError(f"member {info.filename!r} uses an unsupported compression")
        if info.compress_type == zipfile.ZIP_STORED and info.compress_size != info.file_size:
            raise ValueError(f"member {info.filename!r} declares two different sizes")
        with archive.open(info) as member:
            shape, dtype, header = _header(member)
        name = info.filename[:-4]
        if dtype.hasobject:
            raise ValueError(
                f"array {name!r} holds Python objects, which would need pickle: they are "
                "never loaded (allow_pickle=False)"
            )
        if dtype.kind not in _KINDS or dtype.names is not None or dtype.subdtype is not None:
            raise ValueError(f"array {name!r} has the unsupported dtype {dtype}")
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if header + nbytes != info.file_size:
            raise ValueError(
                f"array {name!r} declares shape {shape} of {dtype} ({nbytes} bytes), but its "
                f"member holds {info.file_size - header} bytes"
            )
    return members


def read_npz(path: str | os.PathLike, what: str = "state file") -> dict[str, np.ndarray]:
    """Read an ``.npz`` file of named arrays that may be hostile, as name -> ``np.ndarray``.

    ``path`` may omit a ``.npz`` suffix. Nothing is unpickled; every member is checked
    against its declared size before it is read, and the total against the file's size (see
    the module docstring). A missing file raises ``FileNotFoundError``; any other problem a
    ``ValueError`` that names the file (as a ``what``) and says what is wrong.

    >>> import os, tempfile
    >>> path = write_npz(os.path.join(tempfile.mkdtemp(), "a.npz"), {"x": [1, 2]})
    >>> read_npz(path)["x"].tolist()
    [1, 2]
    """
    given = _existing(path, what, "read_npz")
    with open(given, "rb") as file:
        magic = file.read(6)
        # Checked first: on anything that is not a zip archive NumPy would try pickle and
        # give advice about allow_pickle, which is wrong here.
        if magic == b"\x93NUMPY":
            _invalid(given, "it holds a single .npy array, not named arrays", what)
        if not magic.startswith(b"PK"):
            _invalid(given, "it is not a zip archive, as .npz files are", what)
        try:
            with zipfile.ZipFile(file) as archive:
                members = _checked_members(archive, os.fstat(file.fileno()).st_size)
                arrays = {}
                for info in members:
                    with archive.open(info) as member:
                        arrays[info.filename[:-4]] = np.lib.format.read_array(
                            member, allow_pickle=False
                        )
        except Exception as error:  # whatever zipfile or NumPy met, the file is not usable
            _invalid(given, str(error) or type(error).__name__, what)
    return arrays


def _deepest_nesting(text: str) -> int:
    """How deep the brackets of JSON ``text`` nest, strings left out (no recursion)."""
    outside = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text).encode()
    codes = np.frombuffer(outside, np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(codes, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max(initial=0))


def _architecture(text: np.ndarray, path: str) -> Any:
    def corrupt(reason: str) -> NoReturn:
        raise ValueError(f"'{path}' has a corrupt architecture entry: {reason}") from None

    if text.dtype.kind != "U" or text.ndim != 0:
        corrupt(f"expected JSON text, got an array of {text.dtype} with shape {text.shape}")
    source = str(text)
    if len(source) > MAX_ARCHITECTURE_CHARS:
        corrupt(f"{len(source)} characters of JSON, more than {MAX_ARCHITECTURE_CHARS}")
    if _deepest_nesting(source) > MAX_JSON_DEPTH:
        corrupt(f"its JSON nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(source)
    except ValueError as error:
        corrupt(f"not valid JSON ({error})")


def read_state(path: str | os.PathLike, caller: str = "load") -> StateFile:
    """Read a state file: its path as found, its weights and its architecture (or None).

    Errors are those of ``read_npz``; a corrupt architecture entry is a ``ValueError`` too;
    a path that is no path is a ``TypeError`` naming ``caller``.

    >>> import os, tempfile
    >>> from tinygrad_mlp import nn
    >>> contents = read_state(nn.ReLU().save(os.path.join(tempfile.mkdtemp(), "act")))
    >>> contents.arrays, contents.architecture
    ({}, {'class': 'ReLU', 'config': {}})
    """
    given = _existing(path, "state file", caller)
    arrays = read_npz(given)
    text = arrays.pop(ARCHITECTURE_KEY, None)
    found = None if text is None else _architecture(text, given)
    return StateFile(given, arrays, found)


def load(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read an ``.npz`` state file into a dict of name -> ``np.ndarray`` (the weights only).

    ``path`` may omit the ``.npz`` that ``save`` added. Pickled content is never loaded and
    a hostile file is refused unread (see ``read_npz``). A missing file raises
    ``FileNotFoundError``; a truncated, corrupt or non-``.npz`` file raises ``ValueError``
    naming the file. A recorded architecture is not returned: use ``nn.Module.load(path)``
    to rebuild the model from it.

    >>> import os, tempfile
    >>> from tinygrad_mlp.nn.serialize import load, save
    >>> path = save({"w": [1.0, 2.0]}, os.path.join(tempfile.mkdtemp(), "weights"))
    >>> load(path)["w"].tolist()
    [1.0, 2.0]
    """
    return read_state(path).arrays
