"""CSV files: ``load_csv`` reads a file with a header row as a ``Dataset``; ``read_csv`` reads
its numeric feature columns and keeps its target column for the caller to read as numbers or
as class labels (the ``predict`` command does, with ``TargetColumn.numbers`` and
``TargetColumn.classes``); ``parse_number`` is the one way a cell becomes a number.

A file is read twice at most. First NumPy's C parser reads the rows (``np.loadtxt``), which
takes a million rows in a second or two and no more memory than the numbers themselves; that
only works for a file whose every column is a finite number, so anything else (a text label,
an empty or malformed cell, a ragged row, an unterminated quote) sends the file to the second
reader, Python's ``csv`` module, which checks every cell and names the file, line and column
of the first problem. Both read what ``float()`` reads, so a file that both can read gives the
same numbers either way.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as d:
...     p = Path(d) / "tiny.csv"
...     _ = p.write_text("a;b;label\\n1;2;cat\\n3;4;dog\\n")   # the ';' is found by itself
...     table = read_csv(p, features=["b"], target="label")
>>> table.X.tolist(), table.feature_names, table.target.classes(["dog", "cat"]).tolist()
([[2.0], [4.0]], ['b'], [1, 0])
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import warnings
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .datasets import TASKS, Dataset

# A CSV target with more distinct integer values than this is more likely a count or a
# measurement than a set of class labels.
MAX_INFERRED_CLASSES = 20

# What a delimiter may be when it is not given: tried in this order.
DELIMITERS = (",", ";", "\t", "|")
QUOTE = '"'


def parse_number(text: str) -> float | None:
    """The number a cell holds (as ``float()`` reads it: surrounding spaces are fine), or None.

    >>> parse_number(" 2.5e3 "), parse_number("n/a"), parse_number("nan")
    (2500.0, None, nan)
    """
    try:
        return float(text)
    except ValueError:
        return None


def _cell_error(where: str, line: int, col: int, name: str, problem: str) -> ValueError:
    return ValueError(f"{where}: line {line}, column {col + 1} ({name!r}): {problem}")


# -- the file: its encoding, its delimiter, its records ------------------------------------------


@dataclass
class _Source:
    """A CSV file as it is read: where it is, its text encoding and its delimiter."""

    path: Path
    encoding: str  # as the caller named it, for messages
    codec: str  # as it is opened
    delimiter: str

    @property
    def where(self) -> str:
        return str(self.path)

    def open(self) -> io.TextIOWrapper:
        return open(self.path, newline="", encoding=self.codec)

    def records(self, handle: Any) -> Iterator[tuple[int, list[str]]]:
        """The records that are not blank, each with the line it starts on (a quoted cell
        may hold newlines); a malformed record is a ``ValueError`` saying where."""
        reader = csv.reader(handle, delimiter=self.delimiter, quotechar=QUOTE, strict=True)
        last_line = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as err:  # not a ValueError: re-raised as one, with the place
                start = last_line + 1
                if "unexpected end of data" in str(err):
                    raise ValueError(
                        f"{self.where}: line {start}: a quoted cell that opens on this line is "
                        f"never closed (an unterminated {QUOTE})") from None
                raise ValueError(f"{self.where}: line {reader.line_num}: {err}") from None
            start, last_line = last_line + 1, reader.line_num
            if row and not (len(row) == 1 and not row[0].strip()):
                yield start, row


def _decode_error(source: _Source) -> ValueError:
    """Say where the file stops being valid text in its encoding: byte offset, line, column."""
    # The text reader decodes in chunks, so its error's offset is within a chunk;
    # decoding the whole file again gives the offset in the file.
    raw = source.path.read_bytes()
    try:
        raw.decode(source.encoding)
    except UnicodeDecodeError as err:
        start, bad = err.start, raw[err.start : err.end]
    else:  # not expected: the reader failed, so whole-file decoding does too
        return ValueError(f"{source.where}: the file is not valid {source.encoding} text")
    line = raw.count(b"\n", 0, start) + 1
    column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
    return ValueError(
        f"{source.where}: line {line}, byte {column} of the line (offset {start} in the file): "
        f"byte(s) {bad.hex(' ')} are not valid {source.encoding} text; re-save the file as "
        "UTF-8, or pass its encoding, e.g. load_csv(..., encoding='latin-1')"
    )


def _detect_delimiter(path: Path, codec: str) -> str:
    """The first of ``DELIMITERS`` that splits the first records into two or more columns,
    the same number in each; ``','`` when none does."""
    with open(path, newline="", encoding=codec) as handle:
        sample = handle.read(1 << 16)
    lines = sample.splitlines(keepends=True)
    if len(sample) == 1 << 16 and len(lines) > 1:
        lines.pop()  # probably cut short
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(lines[:20], delimiter=delimiter) if r]
        except csv.Error:
            continue
        if rows and len(rows[0]) > 1 and all(len(r) == len(rows[0]) for r in rows):
            return delimiter
    return ","


def _source(path: str | os.PathLike[str], delimiter: str | None, encoding: str) -> _Source:
    path = Path(path)
    # utf-8-sig drops the byte-order mark that spreadsheet exports often add, which would
    # otherwise end up inside the first column's name.
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    if delimiter is None:
        try:
            delimiter = _detect_delimiter(path, codec)
        except UnicodeDecodeError:
            delimiter = ","  # the reader says where the text goes wrong
    elif not (isinstance(delimiter, str) and len(delimiter) == 1):
        raise ValueError(f"read_csv: delimiter must be one character or None (to detect it), "
                         f"got {delimiter!r}")
    return _Source(path, encoding, codec, delimiter)


# -- the header ---------------------------------------------------------------------------------


class _Header(NamedTuple):
    names: list[str]
    line: int
    feature_cols: list[int]
    target_col: int  # -1 without a target


def _delimiter_hint(source: _Source, names: list[str]) -> str:
    if len(names) != 1:
        return ""
    other = next((d for d in DELIMITERS if d != source.delimiter and d in names[0]), None)
    if other is None:
        return ""
    return (f"; the header is one column {names[0]!r}: is the file separated by {other!r}? "
            f"pass delimiter={other!r} (or delimiter=None to detect it)")


def _header(
    source: _Source, handle: Any, features: Sequence[str] | None, target: str | None
) -> _Header:
    where = source.where
    first = next(source.records(handle), None)
    if first is None:
        raise ValueError(f"{where}: the file is empty (expected a header row)")
    line, names = first[0], [name.strip() for name in first[1]]
    seen: dict[str, int] = {}
    for col, name in enumerate(names):
        if not name:
            raise ValueError(f"{where}: line {line}, column {col + 1}: empty column name")
        if name in seen:
            raise ValueError(f"{where}: line {line}: duplicate column name {name!r} "
                             f"(columns {seen[name] + 1} and {col + 1})")
        seen[name] = col
    hint = _delimiter_hint(source, names)
    if target is not None and target not in seen:
        raise ValueError(f"{where}: no column named {target!r}; the header has {names}{hint}")
    if features is None:
        feature_cols = [col for col, name in enumerate(names) if name != target]
    else:
        missing = [name for name in features if name not in seen]
        if missing:
            raise ValueError(f"{where}: no column(s) {', '.join(map(repr, missing))} (the "
                             f"header has {', '.join(names)}){hint}")
        feature_cols = [seen[name] for name in features]
    if not feature_cols:
        raise ValueError(f"{where}: no feature columns besides the target {target!r}{hint}")
    return _Header(names, line, feature_cols, seen[target] if target is not None else -1)


# -- reading the rows: NumPy's parser first, Python's csv module where it cannot -----------------


def _quotes_and_lines(path: Path) -> tuple[bool, int]:
    """Whether the file holds a quote at all, and how many line breaks (a bound on its
    rows), from its bytes read in blocks."""
    quote, quoted, breaks = QUOTE.encode(), False, 0
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            quoted = quoted or quote in block
            breaks += block.count(b"\n")
    return quoted, breaks


def _last_line_opens_a_quote(path: Path) -> bool:
    """Whether the file's last line holds an odd number of quotes: a quote NumPy's parser
    would let run to the end of the file (or, harmlessly, a quoted cell ending there)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - (1 << 16)))
        tail = handle.read().rstrip()
    return tail[tail.rfind(b"\n") + 1 :].count(QUOTE.encode()) % 2 == 1


def _parse(lines: Any, delimiter: str) -> np.ndarray:
    with warnings.catch_warnings():  # rows of blank lines only: reported by the caller
        warnings.simplefilter("ignore", UserWarning)
        return np.loadtxt(lines, delimiter=delimiter, dtype=np.float64, comments=None,
                          quotechar=QUOTE, ndmin=2)


def _loadtxt(source: _Source, handle: Any, width: int) -> np.ndarray:
    """The rest of the file as a (rows, width) array: without quotes in the file, block by
    block of lines into one array sized by the file's line breaks (memory: the numbers and
    one block); with quotes, whose cells may span lines, all at once (NumPy's parser then
    grows its array as it goes, to about twice the numbers at the end)."""
    quoted, breaks = _quotes_and_lines(source.path)
    if quoted:
        rows = _parse(handle, source.delimiter)
        return rows if rows.shape[1] == width or rows.shape[0] == 0 else rows[:0]
    out = np.empty((breaks + 1, width))
    filled = 0
    while True:
        text = handle.read(_BLOCK_CHARS)
        if not text:
            return out[:filled]
        if not text.endswith("\n"):
            text += handle.readline()  # whole lines only
        block = _parse(io.StringIO(text), source.delimiter)
        del text
        if block.shape[0] == 0:
            continue
        if block.shape[1] != width:
            return out[:0]
        out[filled : filled + len(block)] = block
        filled += len(block)


_BLOCK_CHARS = 1 << 22


def _fast_rows(source: _Source, header: _Header) -> np.ndarray | None:
    """Every cell of every row as float64 when each is a finite number; None when the file
    needs the careful reader (that includes every file with a problem to report)."""
    with source.open() as handle:
        next(source.records(handle))  # the header, as _header read it
        try:
            rows = _loadtxt(source, handle, len(header.names))
        except UnicodeDecodeError:
            raise
        except (ValueError, TypeError, IndexError):
            return None
    used = header.feature_cols + ([header.target_col] if header.target_col >= 0 else [])
    # Column by column: rows[:, used] would copy them all.
    if (rows.shape[0] == 0 or not all(np.isfinite(rows[:, j]).all() for j in set(used))
            or _last_line_opens_a_quote(source.path)):
        return None
    return rows


def _careful_rows(
    source: _Source, header: _Header
) -> tuple[np.ndarray, np.ndarray, TargetColumn | None]:
    """Every row checked cell by cell: the features, each row's first line, the target."""
    where, names, cols = source.where, header.names, header.feature_cols
    values, starts, codes = array("d"), array("q"), array("q")
    labels: dict[str, int] = {}
    with source.open() as handle:
        records = source.records(handle)
        next(records)  # the header
        for line, row in records:
            if len(row) != len(names):
                raise ValueError(f"{where}: line {line}: expected {len(names)} fields (as in "
                                 f"the header), got {len(row)}")
            for col in cols:
                text = row[col].strip()
                value = parse_number(text)
                if value is None or not math.isfinite(value):
                    problem = ("empty cell" if not text else f"non-numeric value {text!r}"
                               if value is None else f"non-finite value {text!r}")
                    raise _cell_error(where, line, col, names[col], problem)
                values.append(value)
            if header.target_col >= 0:
                text = row[header.target_col].strip()
                if not text:
                    raise _cell_error(where, line, header.target_col, names[header.target_col],
                                      "empty cell")
                codes.append(labels.setdefault(text, len(labels)))
            starts.append(line)
    if not starts:
        raise ValueError(f"{where}: the file has a header but no data rows")
    X = np.frombuffer(values, dtype=np.float64).reshape(len(starts), len(cols))
    lines = np.frombuffer(starts, dtype=np.int64)
    target = None
    if header.target_col >= 0:
        target = TargetColumn(source, header, None, np.frombuffer(codes, dtype=np.int64),
                              list(labels), lines)
    return X, lines, target


def _cells(source: _Source, header: _Header, rows: set[int], col: int) -> dict[int, str]:
    """The text of column ``col`` in the given data rows (counted from 0): read by going
    through the file until the last of them (for names and messages, never for the data)."""
    found: dict[int, str] = {}
    with source.open() as handle:
        records = source.records(handle)
        next(records)
        for i, (_, row) in enumerate(records):
            if i in rows:
                found[i] = row[col].strip()
                if len(found) == len(rows):
                    break
    return found


def _line_of(source: _Source, row: int) -> int:
    with source.open() as handle:
        records = source.records(handle)
        next(records)
        for i, (line, _) in enumerate(records):
            if i == row:
                return line
    raise IndexError(row)  # not reached: the row was read from this file


# -- the target column ---------------------------------------------------------------------------


@dataclass(eq=False)
class TargetColumn:
    """The target column of a CSV file, for its reader to take as numbers or class labels.

    Held either as numbers (``values``, when every cell is one; float64 per row) or as
    ``codes`` per row into ``texts`` (the distinct cells, in the order first seen). Its
    methods check the cells and name the file, line and column of the first bad one.
    """

    source: _Source
    header: _Header
    values: np.ndarray | None
    codes: np.ndarray | None
    texts: list[str] | None
    lines: np.ndarray | None  # each row's first line, when known

    @property
    def name(self) -> str:
        """The column's name in the header."""
        return self.header.names[self.header.target_col]

    def __len__(self) -> int:
        """The number of rows."""
        return len(self.values if self.values is not None else self.codes)

    def _line(self, row: int) -> int:
        return int(self.lines[row]) if self.lines is not None else _line_of(self.source, row)

    def _error(self, row: int, problem: str) -> ValueError:
        return _cell_error(self.source.where, self._line(row), self.header.target_col,
                           self.name, problem)

    def numbers(self, hint: str = "") -> np.ndarray:
        """Every cell as a finite float64 number, or a ``ValueError`` naming the first cell
        that is not one (``hint`` is added to a non-numeric one's message)."""
        if self.values is not None:
            return self.values
        parsed = [parse_number(text) for text in self.texts]
        bad = [k for k, v in enumerate(parsed) if v is None or not math.isfinite(v)]
        if bad:
            row = int(np.argmax(np.isin(self.codes, bad)))
            text = self.texts[int(self.codes[row])]
            value = parsed[int(self.codes[row])]
            problem = f"non-numeric value {text!r}{hint}" if value is None else \
                f"non-finite value {text!r}"
            raise self._error(row, problem)
        return np.array(parsed, dtype=np.float64)[self.codes]

    def distinct(self) -> int:
        """How many different values (or, for text, spellings) the column holds."""
        if self.values is not None:
            return len(np.unique(self.values))
        return len(self.texts)

    def encode(self) -> tuple[np.ndarray, list[str]]:
        """Class indices 0..k-1 in sorted order (numeric order when every cell is a finite
        number, "1" and "1.0" being one class) and each class's name, as first spelled."""
        if self.values is not None:
            classes = np.unique(self.values)
            y = np.searchsorted(classes, self.values).astype(np.int64, copy=False)
            first = [int(np.argmax(self.values == c)) for c in classes]
            spelled = _cells(self.source, self.header, set(first), self.header.target_col)
            return y, [spelled[i] for i in first]
        numbers = [parse_number(text) for text in self.texts]
        keys: list[Any] = numbers if all(v is not None and math.isfinite(v) for v in numbers) \
            else self.texts
        first_text: dict[Any, str] = {}
        for key, text in zip(keys, self.texts):  # texts come in the order first seen
            first_text.setdefault(key, text)
        ordered = sorted(first_text)
        index = {key: k for k, key in enumerate(ordered)}
        remap = np.array([index[key] for key in keys], dtype=np.int64)
        return remap[self.codes], [first_text[key] for key in ordered]

    def classes(self, class_names: Sequence[str]) -> np.ndarray:
        """The index of each cell among ``class_names`` (a model's classes), matching "1"
        with "1.0"; a ``ValueError`` lists the labels that are none of them.

        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "t.csv"
        ...     _ = p.write_text("x,y\\n1,1\\n2,0.0\\n")
        ...     read_csv(p, target="y").target.classes(["0", "1"]).tolist()
        [1, 0]
        """
        def key(text: str) -> Any:
            number = parse_number(text)
            return text.strip() if number is None else number

        index = {key(name): k for k, name in enumerate(class_names)}
        if self.values is not None:
            distinct, per_row = np.unique(self.values, return_inverse=True)
            found = [index.get(v) for v in distinct.tolist()]
            labels = [f"{v:g}" for v in distinct.tolist()]
        else:
            found = [index.get(key(text)) for text in self.texts]
            labels, per_row = self.texts, self.codes
        unknown = sorted({label for label, k in zip(labels, found) if k is None})
        if unknown:
            raise ValueError(
                f"{self.source.where}: label(s) {', '.join(map(repr, unknown[:5]))} in column "
                f"{self.name!r} are not among the classes the model knows "
                f"({', '.join(class_names)})")
        return np.array(found, dtype=np.int64)[per_row]


# -- the public readers --------------------------------------------------------------------------


class CsvColumns(NamedTuple):
    """What :func:`read_csv` read: the features as numbers, the target column (or None)."""

    X: np.ndarray  # float64, (rows, features)
    feature_names: list[str]
    target: TargetColumn | None


def read_csv(
    path: str | os.PathLike[str],
    features: Sequence[str] | None = None,
    target: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
) -> CsvColumns:
    """The numeric feature columns of a CSV file with a header row, checked cell by cell.

    The features are the columns named in ``features`` (other columns are ignored) or,
    without it, every column but ``target``; the target column is kept for the caller to
    read as numbers or labels (:class:`TargetColumn`). ``delimiter=None`` finds it among
    ``, ; tab |``. Blank lines are skipped. Problems raise ``ValueError`` naming the file,
    line and column, as :func:`load_csv` describes.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "tiny.csv"
    ...     _ = p.write_text("a,b,label\\n1,2,5\\n3,4,7\\n")
    ...     table = read_csv(p, target="label")
    >>> table.X.tolist(), table.feature_names, table.target.numbers().tolist()
    ([[1.0, 2.0], [3.0, 4.0]], ['a', 'b'], [5.0, 7.0])
    """
    source = _source(path, delimiter, encoding)
    try:
        with source.open() as handle:
            header = _header(source, handle, features, target)
        rows = _fast_rows(source, header)
        if rows is None:
            X, _, column = _careful_rows(source, header)
        else:
            X, column = _columns_of(rows, source, header)
    except UnicodeDecodeError as err:
        raise _decode_error(source) from err
    return CsvColumns(X, [header.names[col] for col in header.feature_cols], column)


def _columns_of(
    rows: np.ndarray, source: _Source, header: _Header
) -> tuple[np.ndarray, TargetColumn | None]:
    cols = header.feature_cols
    if cols == list(range(cols[0], cols[0] + len(cols))):
        X = rows[:, cols[0] : cols[0] + len(cols)]  # a view: no copy of a big file's numbers
    else:
        X = rows[:, cols]
    column = None
    if header.target_col >= 0:
        values = rows[:, header.target_col].copy()
        column = TargetColumn(source, header, values, None, None, None)
    return X, column


def read_model_inputs(
    path: str | os.PathLike[str], feature_names: Sequence[str] | None, n_features: int,
    target: str | None = None,
) -> CsvColumns:
    """The columns a model takes, from a CSV file: those named ``feature_names`` (the names
    it was trained with) or, without names, every column but ``target``; a ``ValueError``
    when the file has not ``n_features`` of them, and ``FileNotFoundError`` without a file.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = Path(d) / "new.csv"
    ...     _ = p.write_text("id,b,a\\n7,2,1\\n")
    ...     read_model_inputs(p, ["a", "b"], 2).X.tolist()
    [[1.0, 2.0]]
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"no CSV file at '{path}'")
    table = read_csv(path, features=feature_names, target=target)
    if table.X.shape[1] != n_features:
        raise ValueError(f"{path}: {table.X.shape[1]} feature columns, but the model takes "
                         f"{n_features}")
    return table


def load_csv(
    path: str | os.PathLike[str],
    target: str,
    delimiter: str | None = None,
    task: str | None = None,
    encoding: str = "utf-8",
) -> Dataset:
    """Load a numeric CSV file with a header row; column ``target`` becomes ``y``.

    Every other column is a feature and must hold finite numbers. Blank lines are skipped;
    ``delimiter=None`` (the default) finds the delimiter among ``, ; tab |``. With
    ``task=None`` the target is taken as class labels when every value is an integer and
    there are at most 20 distinct values, and as a regression target otherwise. Class labels
    become int64 indices ``0..k-1`` in sorted order (numeric order for numbers), with
    ``target_names`` their original text; text labels need ``task="classification"``.
    Regression targets come back with shape ``(n, 1)``.

    The file is read as ``encoding`` (UTF-8 by default, with or without a byte-order mark;
    ``encoding="latin-1"`` reads any byte). Problems raise ``ValueError`` naming the file,
    line and column: bytes that are not valid in the encoding, empty or header-only files,
    duplicate or empty column names, an unknown target (with a word about the delimiter when
    the header looks split by another one), rows with the wrong number of fields, a quote
    that is never closed, and empty, non-numeric or non-finite cells.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as d:
        ...     p = Path(d) / "tiny.csv"
        ...     _ = p.write_text("a,b,label\\n1,2,5\\n3,4,7\\n0,1,5\\n")
        ...     ds = load_csv(p, target="label")
        >>> ds.X.shape, ds.y.tolist(), ds.target_names, ds.task
        ((3, 2), [0, 1, 0], ['5', '7'], 'classification')
    """
    if task is not None and task not in TASKS:
        raise ValueError(f"load_csv: task must be None or one of {TASKS}, got {task!r}")
    path = Path(path)
    table = read_csv(path, target=target, delimiter=delimiter, encoding=encoding)
    column = table.target
    assert column is not None  # a target was asked for
    if task != "classification":
        hint = "; pass task='classification' for text labels" if task is None else ""
        values = column.numbers(hint)
        if task is None:
            is_integer = bool(np.all(values == np.round(values)))
            few = column.distinct() <= MAX_INFERRED_CLASSES
            task = "classification" if is_integer and few else "regression"
        if task == "regression":
            return Dataset(table.X, values.reshape(-1, 1), table.feature_names, [target],
                           "regression", path.stem)
    y, target_names = column.encode()
    return Dataset(table.X, y, table.feature_names, target_names, "classification", path.stem)
