"""CSV files at scale and the ones that go wrong (issue 14): NumPy's parser and the careful
reader agree on every file both can read; a million rows load in little more memory than the
numbers; an unterminated quote and a file split by another delimiter are named as such; the
target column is read as numbers or class labels with the place of a bad cell."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp.data import csv as csvfile
from tinygrad_mlp.data import load_csv, read_csv, read_model_inputs


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def careful_only(monkeypatch) -> None:
    """Make every read go to the careful reader, as a file NumPy's parser refuses does."""
    monkeypatch.setattr(csvfile, "_fast_rows", lambda source, header: None)


# -- the two readers agree -----------------------------------------------------------------------

NUMBER = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=64).map(repr),
    st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: f"{v:.3e}"),
    st.sampled_from(["0", "-0", "+1.5", ".5", "5.", "1e-3", "1E3"]),
)
CELL = st.tuples(NUMBER, st.sampled_from(["", " ", "  "]), st.booleans()).map(
    lambda t: f'"{t[1]}{t[0]}{t[1]}"' if t[2] else f"{t[1]}{t[0]}{t[1]}"
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=1, max_size=12),
    delimiter=st.sampled_from([",", ";", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
    blank_every=st.integers(0, 4),
)
def test_numpys_parser_and_the_careful_reader_agree(tmp_path_factory, rows, delimiter, newline,
                                                     blank_every):
    lines = [delimiter.join(["a", "b", "t"])]
    for i, row in enumerate(rows):
        lines.append(delimiter.join(row))
        if blank_every and i % blank_every == 0:
            lines.append("")
    path = write(tmp_path_factory.mktemp("csv"), newline.join(lines) + newline)
    fast = read_csv(path, target="t")
    assert fast.target.values is not None  # it did take the fast way
    expected = np.array([[float(c.strip(' "')) for c in row] for row in rows])
    np.testing.assert_array_equal(fast.X, expected[:, :2])
    np.testing.assert_array_equal(fast.target.numbers(), expected[:, 2])
    with pytest.MonkeyPatch.context() as patch:
        careful_only(patch)
        slow = read_csv(path, target="t")
    assert slow.target.values is None
    np.testing.assert_array_equal(slow.X, fast.X)
    np.testing.assert_array_equal(slow.target.numbers(), fast.target.numbers())


@pytest.mark.parametrize("text", [
    "a,t\n1,0\n2,1\n3,0\n",
    "a,t\n1,1.0\n2,1\n3,0\n4,2\n",
    "x,y\n0,10\n1,9\n2,-1\n3,9\n4,10\n",
])
def test_both_readers_name_the_classes_alike(tmp_path, monkeypatch, text):
    path = write(tmp_path, text)
    fast = load_csv(path, target=path.read_text().split("\n")[0].split(",")[1])
    careful_only(monkeypatch)
    slow = load_csv(path, target=path.read_text().split("\n")[0].split(",")[1])
    assert fast.target_names == slow.target_names and fast.y.tolist() == slow.y.tolist()


@pytest.mark.parametrize("text,fragments", [
    ("a,t\n1,0\n2,1,5\n", ["line 3", "expected 2 fields", "got 3"]),
    ("a,t\n1,0\n   \n2\n", ["line 4", "expected 2 fields", "got 1"]),
    ("a,t\n1,0\n1_000,1\n", None),  # Python's float reads it, NumPy's parser does not
    ("a,t\n1,0\n2,1\n" + "3,4,5\n" * 2, ["line 4", "expected 2 fields", "got 3"]),
    ("a,b,t\n1,2,0\n3,4,1\n5,6,7,8\n", ["line 4", "got 4"]),
])
def test_what_numpys_parser_cannot_read_goes_to_the_careful_reader(tmp_path, text, fragments):
    path = write(tmp_path, text)
    if fragments is None:
        assert read_csv(path, target="t").X[:, 0].tolist() == [1.0, 1000.0]
        return
    with pytest.raises(ValueError) as info:
        read_csv(path, target="t")
    for fragment in fragments:
        assert fragment in str(info.value)


def test_rows_wider_than_the_header_everywhere_are_refused(tmp_path):
    """NumPy's parser would take three columns throughout; the header has two."""
    path = write(tmp_path, "a,t\n1,0,9\n2,1,9\n")
    with pytest.raises(ValueError, match="line 2: expected 2 fields"):
        read_csv(path, target="t")


# -- quotes and delimiters -----------------------------------------------------------------------


@pytest.mark.parametrize("text,line", [
    ('a,t\n1,0\n2,"1\n', 3),          # on the last line: NumPy's parser would read it
    ('a,t\n1,0\n"2,1\n3,0\n', 3),     # in the middle: it swallows the rest of the file
    ('a,"t\n1,0\n', 1),               # in the header
])
def test_an_unterminated_quote_is_reported_as_such(tmp_path, text, line):
    path = write(tmp_path, text, "quote.csv")
    with pytest.raises(ValueError, match=rf"quote\.csv: line {line}: a quoted cell that opens "
                                         r"on this line is never closed \(an unterminated \"\)"):
        load_csv(path, target="t")


def test_a_quoted_cell_may_end_on_the_last_line(tmp_path):
    path = write(tmp_path, 'a,t\n1,0\n2,"1\n"\n')  # odd quotes on the last line, but closed
    assert load_csv(path, target="t").y.tolist() == [0, 1]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_the_delimiter_is_found(tmp_path, delimiter):
    text = delimiter.join(["height", "weight", "label"]) + "\n" + "\n".join(
        delimiter.join([f"{i}.5", str(i * 2), str(i % 2)]) for i in range(5)) + "\n"
    ds = load_csv(write(tmp_path, text), target="label")
    assert ds.feature_names == ["height", "weight"] and ds.X.shape == (5, 2)


def test_a_wrong_delimiter_is_named_in_the_error(tmp_path):
    path = write(tmp_path, "height;weight;label\n1;2;0\n3;4;1\n")
    with pytest.raises(ValueError, match=r"no column named 'label'; the header has "
                                         r"\['height;weight;label'\]; the header is one column "
                                         r"'height;weight;label': is the file separated by "
                                         r"';'\? pass delimiter=';'"):
        load_csv(path, target="label", delimiter=",")


def test_a_comma_file_with_semicolons_in_its_cells_stays_a_comma_file(tmp_path):
    path = write(tmp_path, 'a,b,t\n1,2,"x;y"\n3,4,"z;w"\n')
    ds = load_csv(path, target="t", task="classification")
    assert ds.target_names == ["x;y", "z;w"]


def test_a_bad_delimiter_argument_is_named(tmp_path):
    with pytest.raises(ValueError, match="read_csv: delimiter must be one character"):
        read_csv(write(tmp_path, "a,t\n1,0\n"), target="t", delimiter=",,")


# -- the target column ---------------------------------------------------------------------------


def test_target_numbers_name_the_first_bad_cell(tmp_path):
    path = write(tmp_path, "a,t\n1,0.5\n2,high\n3,low\n", "t.csv")
    column = read_csv(path, target="t").target
    with pytest.raises(ValueError, match=r"t\.csv: line 3, column 2 \('t'\): non-numeric "
                                         "value 'high'"):
        column.numbers()


def test_target_classes_match_names_and_list_strangers(tmp_path):
    path = write(tmp_path, "a,t\n1,1.0\n2,0\n3,1\n", "t.csv")
    assert read_csv(path, target="t").target.classes(["0", "1"]).tolist() == [1, 0, 1]
    path = write(tmp_path, "a,t\n1,cat\n2,dog\n3,emu\n4,gnu\n", "u.csv")
    column = read_csv(path, target="t").target
    assert column.classes(["dog", "cat", "emu", "gnu"]).tolist() == [1, 0, 2, 3]
    with pytest.raises(ValueError, match=r"u\.csv: label\(s\) 'emu', 'gnu' in column 't' are "
                                         r"not among the classes the model knows \(cat, dog\)"):
        column.classes(["cat", "dog"])
    numeric = read_csv(write(tmp_path, "a,t\n1,3\n2,0\n", "v.csv"), target="t").target
    with pytest.raises(ValueError, match=r"label\(s\) '3' in column 't'"):
        numeric.classes(["0", "1"])


def test_read_model_inputs_checks_the_file_and_the_count(tmp_path):
    with pytest.raises(FileNotFoundError, match="no CSV file at"):
        read_model_inputs(tmp_path / "none.csv", None, 2)
    path = write(tmp_path, "a,b,c\n1,2,3\n", "three.csv")
    with pytest.raises(ValueError, match=r"three\.csv: 3 feature columns, but the model takes 2"):
        read_model_inputs(path, None, 2)
    with pytest.raises(ValueError, match=r"no column\(s\) 'z'"):
        read_model_inputs(path, ["a", "z"], 2)
    assert read_model_inputs(path, ["c", "a"], 2, target="b").X.tolist() == [[3.0, 1.0]]


# -- a million rows ------------------------------------------------------------------------------


def million_row_file(path: Path, rows: int = 1_000_000) -> int:
    """A numeric CSV of ``rows`` rows (about 97 MB for a million): five features of 13
    significant digits and a class label. Returns the bytes of the numbers as float64."""
    rng = np.random.default_rng(0)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("f0,f1,f2,f3,f4,label\n")
        for start in range(0, rows, 100_000):
            block = rng.normal(size=(min(100_000, rows - start), 5))
            labels = rng.integers(0, 3, len(block))
            np.savetxt(handle, np.column_stack([block, labels]), delimiter=",",
                       fmt=["%.12e"] * 5 + ["%d"])
    return rows * 6 * 8


@pytest.mark.slow
def test_a_million_rows_load_in_about_twice_the_memory_of_their_numbers(tmp_path):
    path = tmp_path / "million.csv"
    numbers = million_row_file(path)
    size_mb = path.stat().st_size / 1e6
    tracemalloc.start()
    try:
        start = time.perf_counter()
        ds = load_csv(path, target="label")
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert ds.X.shape == (1_000_000, 5) and ds.n_classes == 3
    print(f"\n{size_mb:.0f} MB, {ds.X.shape[0]} rows: {seconds:.2f} s (under tracemalloc), "
          f"peak {peak / 1e6:.0f} MB for {numbers / 1e6:.0f} MB of numbers")
    assert peak <= 2.0 * numbers
