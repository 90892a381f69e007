"""Tests of saving and loading state dicts as .npz files (tinygrad_mlp.nn.serialize)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn
from tinygrad_mlp.nn import architecture, serialize
from tinygrad_mlp.nn.serialize import load, save


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


# -- rebuilding a model from the file: nn.Module.load(path) / nn.MLP.load(path) --------------


def assert_rebuilt(original: nn.Module, rebuilt: nn.Module, in_features: int) -> None:
    """Same class, same printout, same weights (dtype too) and the same outputs."""
    assert type(rebuilt) is type(original) and rebuilt is not original
    assert repr(rebuilt) == repr(original)
    assert_same(rebuilt, original.state_dict())
    x = tg.randn(5, in_features)
    np.testing.assert_array_equal(rebuilt(x).data, original(x).data)


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.MLP([3, 8, 2]),
        lambda: nn.MLP([3, 8, 4, 1], activation="tanh", output_activation="sigmoid"),
        lambda: nn.MLP([3, 5, 2], activation=nn.LeakyReLU(0.2), bias=False),
        lambda: nn.MLP([3, 6, 2], activation=nn.Softplus(beta=2.0), output_activation="identity"),
    ],
    ids=["default", "tanh-sigmoid", "leaky-0.2-no-bias", "softplus"],
)
def test_an_mlp_is_rebuilt_through_the_class(tmp_path, make):
    tg.manual_seed(0)
    model = make()
    path = model.save(tmp_path / "mlp")
    for cls in (nn.MLP, nn.Sequential, nn.Module):
        rebuilt = cls.load(path)
        assert_rebuilt(model, rebuilt, 3)
        assert rebuilt.sizes == model.sizes


def test_a_custom_activation_instance_survives(tmp_path):
    model = nn.MLP([2, 4, 1], activation=nn.LeakyReLU(0.2))
    rebuilt = nn.MLP.load(model.save(tmp_path / "leaky"))
    assert rebuilt[1].negative_slope == 0.2
    assert "LeakyReLU(negative_slope=0.2)" in repr(rebuilt)


def test_an_edited_mlp_keeps_its_layer_stack(tmp_path):
    model = nn.MLP([3, 4, 2])
    model[1] = nn.Tanh()
    model.append(nn.Softmax(dim=1))
    assert_rebuilt(model, nn.MLP.load(model.save(tmp_path / "edited")), 3)


def test_a_sequential_is_rebuilt(tmp_path):
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2, bias=False))
    path = model.save(tmp_path / "seq")
    rebuilt = nn.Module.load(path)
    assert repr(rebuilt) == repr(model) and type(rebuilt) is nn.Sequential
    x = tg.randn(5, 2, 3)
    np.testing.assert_array_equal(rebuilt(x).data, model(x).data)
    assert_same(nn.Sequential.load(path), model.state_dict())


def test_named_and_nested_children_keep_their_names(tmp_path):
    model = nn.Sequential(
        {"body": nn.Sequential(nn.Linear(3, 4), nn.Sigmoid()), "head": nn.Linear(4, 1)}
    )
    rebuilt = nn.Module.load(model.save(tmp_path / "nested"))
    assert list(rebuilt.state_dict()) == ["body.0.weight", "body.0.bias", "head.weight",
                                          "head.bias"]
    assert_rebuilt(model, rebuilt, 3)


def test_every_activation_keeps_its_settings(tmp_path):
    model = nn.Sequential(
        nn.Linear(3, 3), nn.ReLU(), nn.LeakyReLU(0.3), nn.Tanh(), nn.Sigmoid(),
        nn.Softplus(beta=0.5, threshold=10.0), nn.Identity(), nn.Flatten(0, -1), nn.Softmax(0),
    )
    assert_rebuilt(model, nn.Module.load(model.save(tmp_path / "acts")), 3)


def test_a_single_linear_is_rebuilt(tmp_path):
    model = nn.Linear(3, 2)
    path = model.save(tmp_path / "linear")
    rebuilt = nn.Linear.load(path)
    assert_rebuilt(model, rebuilt, 3)
    assert repr(nn.Module.load(path)) == "Linear(in_features=3, out_features=2, bias=True)"


@pytest.mark.parametrize(
    "make", [lambda: nn.MLP([3, 4, 2]), lambda: nn.Linear(3, 2, bias=False)],
    ids=["mlp", "linear"],
)
def test_double_models_come_back_in_float64(tmp_path, make):
    model = make().double()
    rebuilt = nn.Module.load(model.save(tmp_path / "double"))
    assert all(p.dtype == np.float64 for p in rebuilt.parameters())
    assert_rebuilt(model, rebuilt, 3)


def test_rebuilding_draws_nothing_from_the_generator(tmp_path):
    path = nn.MLP([3, 16, 2]).save(tmp_path / "mlp")
    tg.manual_seed(1)
    expected = tg.randn(3).data
    tg.manual_seed(1)
    nn.Module.load(path)
    np.testing.assert_array_equal(tg.randn(3).data, expected)


def test_loading_on_an_instance_is_unchanged_and_on_a_class_makes_a_new_model(tmp_path):
    tg.manual_seed(0)
    model = make_model()
    path = model.save(tmp_path / "m")
    target = make_model()
    assert target.load(path) is target and target.load(path, strict=True) is target
    assert_same(target, model.state_dict())
    first, second = nn.MLP.load(path), nn.MLP.load(path)
    assert first is not second and first[0].weight is not second[0].weight


def test_the_recorded_class_must_be_the_class_called_on_or_below_it(tmp_path):
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU()).save(tmp_path / "seq")
    expected = r"seq\.npz' holds a model of class Sequential, not of class MLP"
    with pytest.raises(TypeError, match=expected):
        nn.MLP.load(seq)
    linear = nn.Linear(2, 3).save(tmp_path / "linear")
    with pytest.raises(TypeError, match="class Linear, not of class MLP"):
        nn.MLP.load(linear)
    with pytest.raises(TypeError, match="class Linear, not of class Sequential"):
        nn.Sequential.load(linear)
    assert type(nn.Module.load(seq)) is nn.Sequential
    assert type(nn.Module.load(linear)) is nn.Linear


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(3, 4)
        self.second = nn.Linear(4, 2)

    def forward(self, x):
        return self.second(self.first(x).relu())


def test_a_custom_model_is_saved_with_weights_only(tmp_path):
    tg.manual_seed(0)
    model = TwoLayer()
    path = model.save(tmp_path / "custom")
    assert np.load(path).files == list(model.state_dict())  # no architecture entry
    for cls in (TwoLayer, nn.Module):
        with pytest.raises(TypeError) as info:
            cls.load(path)
        message = str(info.value)
        assert f"'{path}' holds weights only" in message
        assert f"{cls.__name__}.load cannot rebuild it" in message
        assert "model.load(path)" in message
    fresh = TwoLayer()
    assert fresh.load(path) is fresh
    assert_same(fresh, model.state_dict())


def test_a_subclass_of_an_nn_class_is_not_described_as_its_base(tmp_path):
    class Scaled(nn.Linear):
        def forward(self, x):
            return super().forward(x) * 2

    path = save(nn.Sequential(Scaled(2, 2)), tmp_path / "scaled")
    with pytest.raises(TypeError, match="weights only"):
        nn.Module.load(path)


def test_the_architecture_is_not_a_weight(tmp_path):
    model = make_model()
    path = tg.save(model, tmp_path / "m")
    assert serialize.ARCHITECTURE_KEY in np.load(path).files
    assert set(tg.load(path)) == set(load(path)) == set(model.state_dict())
    assert serialize.ARCHITECTURE_KEY not in model.state_dict()
    assert repr(make_model().load(path, strict=True).load_state_dict(load(path))) == (
        "<All keys matched successfully>"
    )
    with np.load(path, allow_pickle=False) as npz:  # plain text, no pickle needed
        entry = npz[serialize.ARCHITECTURE_KEY]
    assert entry.dtype.kind == "U" and entry.shape == ()
    assert json.loads(str(entry))["class"] == "MLP"


def test_the_architecture_name_is_reserved(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        save({serialize.ARCHITECTURE_KEY: np.zeros(1)}, tmp_path / "bad")
    assert os.listdir(tmp_path) == []


def write_with_architecture(path, entry) -> str:
    """A state file of make_model()'s weights with ``entry`` as its architecture member."""
    state = make_model().state_dict()
    np.savez(path, **state, **{serialize.ARCHITECTURE_KEY: entry})
    return str(path)


@pytest.mark.parametrize(
    "entry, reason",
    [
        (np.array("{not json"), "not valid JSON"),
        (np.array('{"class": "Pickle", "config": {}}'), "unknown module class 'Pickle'"),
        (np.array('{"class": "MLP"}'), "expected"),
        (np.array('["MLP"]'), "expected"),
        (
            np.array('{"class": "Linear", "config": {"in_features": -1, "out_features": 2}}'),
            "positive int",
        ),
        (np.array('{"class": "Sequential", "config": {"modules": [["0", {"class": "os"}]]}}'),
         "expected"),
        (np.array('{"class": "Sequential", "config": {"modules": [["0", '
                  '{"class": "Nope", "config": {}}]]}}'), "unknown module class 'Nope'"),
        (np.array('{"class": "ReLU", "config": {"inplace": true}}'), "TypeError"),
        (np.arange(3.0), "expected JSON text"),
    ],
)
def test_a_corrupt_architecture_entry_names_the_file(tmp_path, entry, reason):
    path = write_with_architecture(tmp_path / "corrupt.npz", entry)
    with pytest.raises(ValueError) as info:
        nn.Module.load(path)
    message = str(info.value)
    assert f"'{path}' has a corrupt architecture entry" in message and reason in message


def test_weights_that_do_not_fit_the_recorded_architecture(tmp_path):
    path = write_with_architecture(
        tmp_path / "mismatch.npz",
        np.array(json.dumps(architecture.describe(nn.MLP([3, 5, 2])))),
    )
    with pytest.raises(RuntimeError, match=r"(?s)for MLP from '.*mismatch\.npz'.*size mismatch"):
        nn.MLP.load(path)
