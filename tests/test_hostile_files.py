"""Hostile and malformed files, made here: loading builds nothing larger than the file holds,
refuses bombs unread, never recurses without bound, and says what is wrong in one error that
names the file. Writing is atomic and keeps the file's permissions."""

from __future__ import annotations

import json
import os
import stat
import tracemalloc
import zipfile

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn
from tinygrad_mlp.nn import architecture, serialize
from tinygrad_mlp.nn.serialize import read_npz, stage_npz, write_npz

MB = 1 << 20


def npy_member(archive: zipfile.ZipFile, name: str, header: dict, body: bytes | int) -> None:
    """Write an .npy member with ``header`` and ``body`` (bytes, or that many zero bytes)."""
    with archive.open(name, "w", force_zip64=True) as member:
        np.lib.format.write_array_header_1_0(member, header)
        if isinstance(body, int):
            chunk = bytes(MB)
            for start in range(0, body, MB):
                member.write(chunk[: min(MB, body - start)])
        else:
            member.write(body)


def with_architecture(path, description, arrays=None) -> str:
    """A state file holding ``arrays`` and ``description`` (JSON text, or a dict) as its
    architecture."""
    text = description if isinstance(description, str) else json.dumps(description)
    np.savez(path, **(arrays or {}), **{serialize.ARCHITECTURE_KEY: np.array(text)})
    return str(path)


def peak_bytes(fn) -> int:
    """The most memory Python allocated while ``fn`` ran (it may raise)."""
    tracemalloc.start()
    try:
        fn()
    except Exception:  # the error is checked by the caller; here only the memory
        pass
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


# -- bombs: a file that would inflate far beyond its size is refused unread ---------------------


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory) -> str:
    """64 MB of zeros compressed into about 65 KB, as the 4x2 model's weight."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.npz"
    n = 64 * MB // 8
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        npy_member(archive, "0.weight.npy",
                   {"descr": "<f8", "fortran_order": False, "shape": (n,)}, 64 * MB)
        npy_member(archive, "0.bias.npy", {"descr": "<f8", "fortran_order": False,
                                           "shape": (2,)}, 16)
    assert os.path.getsize(path) < MB
    return str(path)


@pytest.mark.parametrize("how", ["tg.load", "into a model", "Module.load"])
def test_a_zip_bomb_is_refused_without_being_inflated(zip_bomb, how):
    model = nn.Linear(4, 2)
    before = model.state_dict()
    call = {
        "tg.load": lambda: tg.load(zip_bomb),
        "into a model": lambda: model.load(zip_bomb),
        "Module.load": lambda: nn.Module.load(zip_bomb),
    }[how]
    with pytest.raises(ValueError, match=r"bomb\.npz' is not a valid \.npz.*zip bomb"):
        call()
    assert peak_bytes(call) < 4 * MB
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_a_member_whose_header_claims_more_than_it_holds(tmp_path):
    # A stored member of 8 bytes whose header declares a terabyte: NumPy would allocate the
    # array from the header before reading a byte.
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        npy_member(archive, "w.npy", {"descr": "<f8", "fortran_order": False,
                                      "shape": (1 << 37,)}, b"\0" * 8)
    with pytest.raises(ValueError, match=r"liar\.npz'.*'w' declares shape \(137438953472,\)"):
        peak = peak_bytes(lambda: read_npz(path))
        read_npz(path)
    assert peak < MB


def test_a_compressed_member_that_lies_about_its_size(tmp_path):
    # The zip directory says 800 bytes; the data inflates further: zipfile stops at the
    # declared size and the CRC check fails, so it is one clear error.
    path = tmp_path / "short.npz"
    np.savez_compressed(path, w=np.zeros(100))
    data = bytearray(path.read_bytes())
    info = zipfile.ZipFile(path).infolist()[0]
    declared = info.file_size
    data = data.replace(declared.to_bytes(4, "little"), (declared - 8).to_bytes(4, "little"))
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"short\.npz' is not a valid \.npz state file"):
        read_npz(path)


# -- declared architectures: checked against the stored arrays before anything is built ----------


def big_mlp_description(layers: int = 40, width: int = 30_000) -> dict:
    modules = [[str(i), {"class": "Linear", "config": {"in_features": width,
                                                       "out_features": width}}]
               for i in range(layers)]
    return {"class": "Sequential", "config": {"modules": modules}}


def test_a_huge_declared_architecture_with_small_weights_is_refused_before_allocating(tmp_path):
    # 40 layers of Linear(30000, 30000) would be 144 GB; the file holds 4x2 weights.
    arrays = {"0.weight": np.zeros((2, 4)), "0.bias": np.zeros(2)}
    path = with_architecture(tmp_path / "huge.npz", big_mlp_description(), arrays)
    assert os.path.getsize(path) < 20_000
    with pytest.raises(RuntimeError) as info:
        nn.Module.load(path)
    message = str(info.value)
    assert f"for Sequential from '{path}'" in message
    assert "size mismatch for 0.weight: copying a param with shape (2, 4)" in message
    assert 'Missing key(s) in state_dict: "1.weight"' in message
    assert peak_bytes(lambda: nn.Module.load(path)) < 4 * MB


def test_without_strict_the_unstored_weights_are_limited(tmp_path):
    path = with_architecture(tmp_path / "empty.npz", big_mlp_description(layers=2))
    with pytest.raises(ValueError, match=r"empty\.npz' has a corrupt architecture entry.*"
                                         r"does not store"):
        nn.Module.load(path, strict=False)
    # A small unstored remainder is fine: strict=False leaves it at its initial values.
    small = with_architecture(tmp_path / "small.npz",
                              {"class": "Linear", "config": {"in_features": 3,
                                                             "out_features": 2}},
                              {"weight": np.ones((2, 3))})
    layer = nn.Module.load(small, strict=False)
    np.testing.assert_array_equal(layer.weight.data, np.ones((2, 3)))


def nested(depth: int) -> dict:
    description = {"class": "ReLU", "config": {}}
    for _ in range(depth):
        description = {"class": "Sequential", "config": {"modules": [["0", description]]}}
    return description


@pytest.mark.parametrize("load", [nn.Module.load, tg.load], ids=["Module.load", "tg.load"])
def test_deeply_nested_json_is_refused_without_recursion_error(tmp_path, load):
    path = with_architecture(tmp_path / "deep.npz", "[" * 200_000 + "]" * 200_000)
    with pytest.raises(ValueError, match=r"deep\.npz' has a corrupt architecture entry: its "
                                         r"JSON nests deeper than 100 levels"):
        load(path)


def test_nesting_and_module_counts_are_limited(tmp_path):
    fine = with_architecture(tmp_path / "fine.npz", nested(architecture.MAX_NESTING))
    assert isinstance(nn.Module.load(fine), nn.Sequential)
    deep = with_architecture(tmp_path / "deep.npz", nested(architecture.MAX_NESTING + 1))
    with pytest.raises(ValueError, match="nested more than 20 deep"):
        nn.Module.load(deep)
    many = {"class": "Sequential", "config": {"modules": [
        [str(i), {"class": "ReLU", "config": {}}] for i in range(architecture.MAX_MODULES)]}}
    with pytest.raises(ValueError, match="more than 10000 modules"):
        nn.Module.load(with_architecture(tmp_path / "many.npz", many))


def test_an_architecture_text_too_long_is_refused(tmp_path):
    text = json.dumps({"class": "ReLU", "config": {}, "pad": "x" * (2 * MB)})
    with pytest.raises(ValueError, match="characters of JSON, more than"):
        tg.load(with_architecture(tmp_path / "long.npz", text))


@pytest.mark.parametrize(
    "config, reason",
    [
        ({"in_features": "3", "out_features": 2}, "in_features must be a positive int"),
        ({"in_features": 3, "out_features": 2, "bias": "yes"}, "bias must be True or False"),
        ({"in_features": 3, "out_features": 2, "colour": 1}, "unexpected keyword argument"),
        ({"in_features": 3, "out_features": 2, "dtype": "int8"}, "float dtype"),
    ],
)
def test_bad_settings_in_a_declared_layer_name_the_file(tmp_path, config, reason):
    path = with_architecture(tmp_path / "bad.npz", {"class": "Linear", "config": config},
                             {"weight": np.zeros((2, 3)), "bias": np.zeros(2)})
    with pytest.raises(ValueError) as info:
        nn.Module.load(path)
    assert f"'{path}' has a corrupt architecture entry" in str(info.value)
    assert reason in str(info.value)


@pytest.mark.parametrize("sizes", [[3], "32", [3, -1], [3, 2.5], None])
def test_bad_mlp_sizes_in_a_file(tmp_path, sizes):
    description = architecture.describe(nn.MLP([3, 2]))
    description["config"]["sizes"] = sizes
    path = with_architecture(tmp_path / "mlp.npz", description, nn.MLP([3, 2]).state_dict())
    with pytest.raises(ValueError, match=r"mlp\.npz' has a corrupt architecture entry.*sizes"):
        nn.Module.load(path)


# -- malformed archives: one ValueError naming the file and what is wrong -----------------------


def archive_with(path, write) -> str:
    with zipfile.ZipFile(path, "w") as archive:
        write(archive)
    return str(path)


@pytest.mark.parametrize(
    "write, reason",
    [
        (lambda z: z.writestr("notes.txt", "hello"), "member 'notes.txt' is not an .npy array"),
        (lambda z: (z.writestr("w.npy", b"x"), z.writestr("w.npy", b"y")),
         "two members have the same name"),
        (lambda z: z.writestr(zipfile.ZipInfo("w.npy"), b"\x93NUMPY\x03\x00" + b"\0" * 20),
         "version (3, 0) is not supported"),
        (lambda z: z.writestr("w.npy", b"not an array"), "the magic string is not correct"),
    ],
    ids=["not-npy", "duplicate", "npy-v3", "garbage"],
)
def test_malformed_members(tmp_path, write, reason):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        path = archive_with(tmp_path / "bad.npz", write)
    with pytest.raises(ValueError) as info:
        tg.load(path)
    assert f"'{path}' is not a valid .npz state file" in str(info.value)
    assert reason in str(info.value)


def test_an_unsupported_compression_is_named(tmp_path):
    path = tmp_path / "bz.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_BZIP2) as archive:
        npy_member(archive, "w.npy", {"descr": "<f8", "fortran_order": False, "shape": (1,)},
                   b"\0" * 8)
    with pytest.raises(ValueError, match=r"member 'w\.npy' uses an unsupported compression"):
        read_npz(path)


@pytest.mark.parametrize(
    "array, reason",
    [
        (np.array([{"evil": 1}], dtype=object), "never loaded (allow_pickle=False)"),
        (np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")]), "unsupported dtype"),
        (np.zeros(2, dtype=complex), "unsupported dtype complex128"),
        (np.zeros(2, dtype="datetime64[s]"), "unsupported dtype"),
    ],
    ids=["object", "structured", "complex", "datetime"],
)
def test_unsupported_dtypes_are_refused(tmp_path, array, reason):
    path = tmp_path / "odd.npz"
    np.savez(path, w=array)
    with pytest.raises(ValueError, match=r"odd\.npz' is not a valid") as info:
        read_npz(path)
    assert reason in str(info.value)


def test_text_and_numbers_pass(tmp_path):
    path = tmp_path / "ok.npz"
    np.savez(path, names=np.array(["cat", "dog"]), counts=np.arange(3, dtype=np.uint8),
             flags=np.array([True]), raw=np.array([b"ab"]), scalar=np.float32(2.5))
    loaded = read_npz(path)
    assert loaded["names"].tolist() == ["cat", "dog"] and loaded["scalar"] == 2.5
    assert loaded["counts"].dtype == np.uint8 and loaded["raw"].tolist() == [b"ab"]


def test_a_compressed_npz_of_real_weights_loads(tmp_path):
    tg.manual_seed(0)
    model = nn.MLP([3, 16, 2])
    path = tmp_path / "compressed.npz"
    np.savez_compressed(path, **serialize.state_arrays(model))
    rebuilt = nn.Module.load(path)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(rebuilt.state_dict()[name], array)


def test_what_names_the_kind_of_file(tmp_path):
    path = tmp_path / "side.npz"
    path.write_bytes(b"plain text")
    with pytest.raises(ValueError) as info:
        read_npz(path, what="model side file")
    assert str(info.value) == (
        f"'{path}' is not a valid .npz model side file (it is not a zip archive, as .npz files "
        "are); it may be truncated or corrupt"
    )
    with pytest.raises(FileNotFoundError, match="no model side file at"):
        read_npz(tmp_path / "missing.npz", what="model side file")


# -- writing: atomic, permissions kept, directories refused ---------------------------------------


def test_a_resaved_file_keeps_its_permissions(tmp_path):
    path = nn.Linear(2, 1).save(tmp_path / "m.npz")
    os.chmod(path, 0o600)
    nn.Linear(2, 1).save(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    os.chmod(path, 0o640)
    write_npz(path, {"w": [1.0]})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


def test_a_new_file_gets_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_npz(tmp_path / "new.npz", {"w": [1.0]})
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_saving_through_a_symbolic_link_keeps_the_link(tmp_path):
    real = nn.Linear(2, 1).save(tmp_path / "real.npz")
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    model = nn.Linear(2, 1)
    nn.Linear(2, 1).save(link)
    model.save(link)
    assert link.is_symlink()
    np.testing.assert_array_equal(tg.load(real)["weight"], model.weight.data)


@pytest.mark.parametrize("step", ["write_array", "fsync", "chmod", "replace"])
def test_a_failure_at_any_step_keeps_the_old_file(tmp_path, monkeypatch, step):
    old = nn.Linear(2, 1)
    path = old.save(tmp_path / "m.npz")
    os.chmod(path, 0o600)

    def crash(*args, **kwargs):
        raise OSError(f"{step} failed")

    target = {"write_array": (np.lib.format, "write_array"), "fsync": (os, "fsync"),
              "chmod": (os, "chmod"), "replace": (os, "replace")}[step]
    monkeypatch.setattr(*target, crash)
    with pytest.raises(OSError, match=f"{step} failed"):
        nn.Linear(2, 1).save(path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["m.npz"]  # no temporary file left
    np.testing.assert_array_equal(tg.load(path)["weight"], old.weight.data)


def test_a_directory_is_refused_not_written_beside(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for call in (lambda: tg.save(nn.Linear(2, 1), folder),
                 lambda: nn.Linear(2, 1).save(f"{folder}/"),
                 lambda: write_npz(folder, {"w": [1.0]})):
        with pytest.raises(IsADirectoryError, match=r"models/?' is a directory; give a file name"):
            call()
    assert sorted(os.listdir(tmp_path)) == ["models"] and os.listdir(folder) == []


def test_a_missing_directory_is_named_not_created(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"save: there is no directory '.*nowhere'"):
        nn.Linear(2, 1).save(tmp_path / "nowhere" / "m.npz")
    assert os.listdir(tmp_path) == []


def test_staged_files_are_committed_or_discarded(tmp_path):
    target = tmp_path / "pair.npz"
    first = stage_npz(target, {"a": [1.0]})
    second = stage_npz(tmp_path / "side.npz", {"b": [2.0]})
    assert sorted(os.listdir(tmp_path)) == sorted(
        [os.path.basename(first.temporary), os.path.basename(second.temporary)])
    assert first.commit() == str(target)
    second.discard()
    assert os.listdir(tmp_path) == ["pair.npz"]
    with pytest.raises(RuntimeError, match="later failure"), stage_npz(target, {"a": [9.0]}):
        raise RuntimeError("later failure")
    assert os.listdir(tmp_path) == ["pair.npz"]
    assert read_npz(target)["a"].tolist() == [1.0]


def test_write_npz_refuses_what_is_not_a_dict_of_arrays(tmp_path):
    with pytest.raises(TypeError, match="write_npz: expected a Module or a dict"):
        write_npz(tmp_path / "x.npz", [1, 2])
    with pytest.raises(TypeError, match="write_npz: entry 'x' is not a numeric array"):
        write_npz(tmp_path / "x.npz", {"x": object()})
    assert os.listdir(tmp_path) == []
