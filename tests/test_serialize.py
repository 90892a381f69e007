"""Tests of saving and loading state dicts as .npz files (tinygrad_mlp.serialize)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, serialize
from tinygrad_mlp.serialize import load, save


def make_model(hidden: int = 8) -> nn.MLP:
    return nn.MLP([3, hidden, 2])


def snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


def assert_same(model: nn.Module, expected: dict[str, np.ndarray]) -> None:
    state = model.state_dict()
    assert list(state) == list(expected)
    for name, value in state.items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
        assert value.dtype == expected[name].dtype


def test_round_trip_through_a_file(tmp_path):
    tg.manual_seed(0)
    model = make_model()
    path = save(model, tmp_path / "model.npz")
    assert path == str(tmp_path / "model.npz") and os.path.isfile(path)
    loaded = load(path)
    assert list(loaded) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert_same(model, loaded)
    fresh = make_model()
    assert fresh.load(path) is fresh
    assert_same(fresh, model.state_dict())
    x = tg.randn(4, 3)
    np.testing.assert_array_equal(fresh(x).data, model(x).data)


def test_model_save_and_dtypes_are_kept(tmp_path):
    model = make_model().double()
    path = model.save(tmp_path / "double")
    assert path.endswith("double.npz")
    assert all(v.dtype == np.float64 for v in load(path).values())
    target = make_model()  # float32: loading casts to the parameters' dtype
    target.load(path)
    assert all(p.dtype == np.float32 for p in target.parameters())
    np.testing.assert_allclose(target[0].weight.data, model[0].weight.data, rtol=1e-6)


def test_npz_suffix_is_added_and_may_be_left_out_when_loading(tmp_path):
    path = save(make_model(), tmp_path / "weights")
    assert path == str(tmp_path / "weights.npz")
    assert sorted(os.listdir(tmp_path)) == ["weights.npz"]  # and no temporary file is left
    assert list(load(tmp_path / "weights")) == list(load(path))


def test_plain_dicts_of_arrays_and_tensors_are_saved(tmp_path):
    path = save({"a": np.arange(3), "b": tg.tensor([[1.5]]), "c": [1.0, 2.0]}, tmp_path / "d")
    loaded = load(path)
    assert loaded["a"].tolist() == [0, 1, 2] and loaded["b"].tolist() == [[1.5]]
    assert loaded["c"].tolist() == [1.0, 2.0]
    assert np.load(path).files == ["a", "b", "c"]  # an ordinary .npz for NumPy too


def test_names_that_np_savez_would_swallow_are_kept(tmp_path):
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.file = nn.Parameter([1.0])
            self.allow_pickle = nn.Parameter([2.0])

    loaded = load(Odd().save(tmp_path / "odd"))
    assert sorted(loaded) == ["allow_pickle", "file"]
    assert loaded["file"].tolist() == [1.0] and loaded["allow_pickle"].tolist() == [2.0]


def test_objects_are_refused_when_saving(tmp_path):
    with pytest.raises(TypeError, match="not a numeric array"):
        save({"x": np.array([{}], dtype=object)}, tmp_path / "bad")
    with pytest.raises(TypeError, match="expected a Module or a dict"):
        save([1, 2], tmp_path / "bad")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("problem", ["missing", "extra", "shape"])
def test_strict_load_from_a_mismatched_file_lists_the_problem(tmp_path, problem):
    state = make_model().state_dict()
    if problem == "missing":
        del state["2.bias"]
        expected = 'Missing key(s) in state_dict: "2.bias".'
    elif problem == "extra":
        state["3.weight"] = np.zeros((2, 2))
        expected = 'Unexpected key(s) in state_dict: "3.weight".'
    else:
        state["0.weight"] = np.zeros((5, 3))
        expected = (
            "size mismatch for 0.weight: copying a param with shape (5, 3) from checkpoint, "
            "the shape in current model is (8, 3)."
        )
    path = save(state, tmp_path / "mismatch")
    model = make_model()
    before = snapshot(model)
    with pytest.raises(RuntimeError) as info:
        model.load(path)
    message = str(info.value)
    assert f"Error(s) in loading state_dict for MLP from '{path}':" in message
    assert expected in message
    assert_same(model, before)


def test_every_mismatch_is_listed_at_once_and_non_strict_loads_the_rest(tmp_path):
    state = make_model().state_dict()
    del state["2.bias"]
    state["extra"] = np.ones(1)
    path = save(state, tmp_path / "partial")
    model = make_model()
    with pytest.raises(RuntimeError, match=r'(?s)Missing key.*"2\.bias".*Unexpected.*"extra"'):
        model.load(path)
    model.load(path, strict=False)
    np.testing.assert_array_equal(model[0].weight.data, state["0.weight"])
    result = model.load_state_dict(load(path), strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra"]


def test_truncated_file(tmp_path):
    path = save(make_model(), tmp_path / "model")
    data = open(path, "rb").read()
    with open(path, "wb") as file:
        file.write(data[: len(data) // 2])
    model = make_model()
    before = snapshot(model)
    with pytest.raises(ValueError) as info:
        model.load(path)
    assert f"'{path}' is not a valid .npz state file" in str(info.value)
    assert "truncated" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert_same(model, before)


def test_corrupt_member_is_detected_on_load(tmp_path):
    path = save({"w": np.arange(1000.0)}, tmp_path / "model")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF  # flip bits inside the stored array
    open(path, "wb").write(bytes(data))
    with pytest.raises(ValueError, match=r"not a valid \.npz state file"):
        load(path)


@pytest.mark.parametrize("content", [b"", b"hello, I am text\n", b"\x80\x04K\x01."])
def test_not_an_npz_file(tmp_path, content):
    path = tmp_path / "notes.npz"
    path.write_bytes(content)
    model = make_model()
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"notes\.npz' is not a valid \.npz state file"):
        model.load(path)
    assert_same(model, before)


def test_a_single_npy_array_is_not_a_state_file(tmp_path):
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"single \.npy array"):
        load(tmp_path / "array.npy")


def test_pickled_content_is_never_loaded(tmp_path):
    np.savez(tmp_path / "objects.npz", w=np.array([{"evil": 1}], dtype=object))
    with pytest.raises(ValueError, match=r"not a valid \.npz state file.*allow_pickle=False"):
        load(tmp_path / "objects.npz")


def test_missing_file(tmp_path):
    model = make_model()
    before = snapshot(model)
    with pytest.raises(FileNotFoundError, match=r"no state file at .*nowhere"):
        model.load(tmp_path / "nowhere.npz")
    with pytest.raises(FileNotFoundError, match="directory"):
        load(tmp_path)
    assert_same(model, before)


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    tg.manual_seed(0)
    old = make_model()
    path = save(old, tmp_path / "model")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    with pytest.raises(OSError, match="disk full"):
        save(make_model(), path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["model.npz"]  # the temporary file was removed
    assert_same(make_model().load(path), old.state_dict())


def test_module_is_importable_as_documented():
    assert serialize.save is save and serialize.load is load


def test_top_level_names(tmp_path):
    path = tg.save(make_model(), tmp_path / "m")
    assert set(tg.load(path)) == {"0.weight", "0.bias", "2.weight", "2.bias"}
