"""Buffers (state that is saved but never optimised) and the argument checks of nn: every bad
argument is refused with a message naming the function and the argument, and changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim
from tinygrad_mlp.nn import checks


class Counter(nn.Module):
    """A module with a parameter, a float buffer, an int buffer and a non-persistent one."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(np.ones(2, dtype=np.float32))
        self.register_buffer("mean", tg.zeros(2))
        self.register_buffer("steps", tg.tensor(np.array(0, dtype=np.int64)))
        self.register_buffer("scratch", tg.zeros(3), persistent=False)

    def forward(self, x):
        return x * self.weight + self.mean


def test_buffers_are_state_but_not_parameters():
    model = nn.Sequential(Counter(), nn.Linear(2, 1))
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "1.weight", "1.bias"]
    assert [name for name, _ in model.named_buffers()] == ["0.mean", "0.steps", "0.scratch"]
    assert list(model.state_dict()) == ["0.weight", "0.mean", "0.steps", "1.weight", "1.bias"]
    assert model.state_dict()["0.steps"].dtype == np.int64
    assert not any(b.requires_grad for b in model.buffers())


def test_buffers_are_loaded_saved_and_cast(tmp_path):
    source, target = Counter(), Counter()
    source.mean.data[...] = [1.5, -2.0]
    source.steps.data[...] = 7
    target.load(source.save(tmp_path / "counter"))
    np.testing.assert_array_equal(target.mean.data, [1.5, -2.0])
    assert int(target.steps.item()) == 7
    target.double()
    assert target.mean.dtype == np.float64 and target.steps.dtype == np.int64
    with pytest.raises(RuntimeError, match="size mismatch for mean"):
        target.load_state_dict({**source.state_dict(), "mean": np.zeros(3)})


def test_an_optimizer_never_changes_a_buffer():
    model = Counter()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    (model(tg.ones(2)) ** 2).sum().backward()
    optimizer.step()
    np.testing.assert_array_equal(model.mean.data, [0.0, 0.0])
    assert not np.array_equal(model.weight.data, [1.0, 1.0])


def test_assigning_to_a_buffer_replaces_it_and_checks_the_kind():
    model = Counter()
    model.mean = tg.ones(2)
    assert model.state_dict()["mean"].tolist() == [1.0, 1.0]
    model.scratch = tg.ones(1)
    assert "scratch" not in model.state_dict()  # still not persistent
    with pytest.raises(TypeError, match="cannot assign 'ndarray' object to buffer 'mean'"):
        model.mean = np.zeros(2)
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        model.register_buffer("weight", tg.zeros(2))
    with pytest.raises(TypeError, match="cannot assign 'Parameter' object to buffer"):
        model.register_buffer("other", nn.Parameter([1.0]))
    del model.mean
    assert "mean" not in model.state_dict()


@pytest.mark.parametrize(
    "state, error, message",
    [
        (None, TypeError, "load_state_dict: state_dict must be a dict of name -> array, got "
                          "NoneType"),
        ([1, 2], TypeError, "got list"),
    ],
)
def test_load_state_dict_refuses_what_is_not_a_dict(state, error, message):
    model = nn.Linear(2, 1)
    with pytest.raises(error, match=message):
        model.load_state_dict(state)
    with pytest.raises(TypeError, match="strict must be True or False"):
        model.load_state_dict(model.state_dict(), strict="yes")


def test_an_empty_state_dict_is_all_missing():
    with pytest.raises(RuntimeError, match=r'Missing key.*"weight", "bias"'):
        nn.Linear(2, 1).load_state_dict({})


# -- MLP sizes -------------------------------------------------------------------------------------


@pytest.mark.parametrize("sizes", [np.array([2, 8, 1]), (2, 8, 1), range(2, 5), [np.int32(2), 8]])
def test_mlp_takes_any_list_of_ints(sizes):
    model = nn.MLP(sizes)
    assert model.sizes == tuple(int(n) for n in sizes)
    assert all(type(n) is int for n in model.sizes)


@pytest.mark.parametrize(
    "sizes, message",
    [
        (np.array([[2, 8, 1]]), "sizes must list at least two layer widths"),
        (np.array([2.0, 8.0]), r"sizes\[0\] must be a positive int, got np.float64\(2.0\)"),
        ([2, 0], r"sizes\[1\] must be a positive int, got 0"),
        ([2, True], r"sizes\[1\] must be a positive int, got True"),
        ([2, [3]], r"sizes\[1\] must be a positive int, got \[3\]"),
        ("28", "sizes must list at least two layer widths"),
        ([4], "sizes must list at least two"),
        (5, "sizes must list"),
    ],
)
def test_mlp_refuses_bad_sizes_clearly(sizes, message):
    state = tg.engine.tensor.default_rng().bit_generator.state
    with pytest.raises(ValueError, match=f"MLP: {message}"):
        nn.MLP(sizes)
    assert tg.engine.tensor.default_rng().bit_generator.state == state  # nothing drawn


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: nn.Linear(0, 2), "Linear: in_features must be a positive int, got 0"),
        (lambda: nn.Linear(2, 2.0), "Linear: out_features must be a positive int, got 2.0"),
        (lambda: nn.Linear(2, 2, bias="no"), "Linear: bias must be True or False, got 'no'"),
        (lambda: nn.Linear(2, 2, dtype=np.int32), "Linear: parameters must have a float dtype"),
        (lambda: nn.Linear(2, 2, dtype="nope"), "Linear: parameters must have a float dtype"),
        (lambda: nn.MLP([2, 1], bias=None), "MLP: bias must be True or False"),
        (lambda: nn.Flatten(1.5), "Flatten: start_dim must be an int, got 1.5"),
    ],
)
def test_layer_settings_are_checked(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


def test_settings_are_checked_when_set_later_too():
    layer = nn.Flatten()
    with pytest.raises(TypeError, match="Flatten: end_dim must be an int"):
        layer.end_dim = "last"
    assert layer.end_dim == -1


# -- clip_grad_norm_ ----------------------------------------------------------------------------


def param_with_grad() -> nn.Parameter:
    p = nn.Parameter(np.zeros(2))
    p.grad = tg.tensor(np.array([3.0, 4.0]))
    return p


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_norm": -1.0}, "max_norm must be a number of 0 or more"),
        ({"max_norm": float("nan")}, "max_norm must be a number of 0 or more"),
        ({"max_norm": "1"}, "max_norm must be a number of 0 or more"),
        ({"max_norm": 1.0, "norm_type": 0}, "norm_type must be a positive number or"),
        ({"max_norm": 1.0, "norm_type": -2}, "norm_type must be a positive number or"),
        ({"max_norm": 1.0, "norm_type": "fro"}, "norm_type must be a positive number or"),
        ({"max_norm": 1.0, "error_if_nonfinite": 1}, "error_if_nonfinite must be True or"),
    ],
)
def test_clip_grad_norm_refuses_bad_arguments_and_changes_nothing(kwargs, message):
    p = param_with_grad()
    with pytest.raises((TypeError, ValueError), match=f"clip_grad_norm_: {message}"):
        nn.utils.clip_grad_norm_([p], **kwargs)
    assert p.grad.tolist() == [3.0, 4.0]


@pytest.mark.parametrize("parameters, message", [
    (None, "parameters must be a Tensor or an iterable of Tensors"),
    (3.0, "parameters must be a Tensor or an iterable"),
    ([np.zeros(2)], r"parameters\[0\] is a ndarray, not a Tensor"),
])
def test_clip_grad_norm_refuses_what_is_not_parameters(parameters, message):
    with pytest.raises(TypeError, match=f"clip_grad_norm_: {message}"):
        nn.utils.clip_grad_norm_(parameters, 1.0)


def test_clip_grad_norm_still_takes_inf_norms_and_caps():
    p = param_with_grad()
    assert float(nn.utils.clip_grad_norm_([p], float("inf"))) == 5.0
    assert p.grad.tolist() == [3.0, 4.0]
    assert float(nn.utils.clip_grad_norm_(p, 1.0, norm_type=float("inf"))) == 4.0
    assert float(nn.utils.clip_grad_norm_([p], 0.0)) > 0 and p.grad.tolist() == [0.0, 0.0]


# -- the checks themselves ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "check, value, error",
    [
        (checks.positive_int, 1.0, ValueError), (checks.positive_int, False, ValueError),
        (checks.integer, 2.0, TypeError), (checks.finite, float("inf"), ValueError),
        (checks.finite, "1", TypeError), (checks.positive, 0.0, ValueError),
        (checks.positive, float("nan"), ValueError), (checks.probability, 1.01, ValueError),
        (checks.probability, float("nan"), ValueError), (checks.flag, 0, TypeError),
        (checks.shape, [], ValueError), (checks.shape, [2, 0], ValueError),
        (checks.shape, "ab", ValueError), (checks.shape, [[2]], ValueError),
    ],
)
def test_each_check_refuses_and_names_the_argument(check, value, error):
    with pytest.raises(error, match=r"^Layer: size "):
        check(value, "size", "Layer")


def test_each_check_passes_a_good_value_as_a_plain_python_value():
    assert type(checks.positive_int(np.int64(3), "n", "L")) is int
    assert type(checks.finite(np.float32(0.5), "x", "L")) is float
    assert checks.probability(1, "p", "L") == 1.0 and checks.flag(np.bool_(True), "b", "L")
    assert checks.shape(np.array([2, 3]), "s", "L") == (2, 3)
    assert checks.choice("mean", "reduction", "L", checks.REDUCTIONS) == "mean"


# -- the other nn functions: bad arguments name the function and the argument --------------------


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: nn.init.uniform_(tg.zeros(3), "a", 1), TypeError, "uniform_: a must be a number"),
        (lambda: nn.init.uniform_(tg.zeros(3), 2, 1), ValueError, r"uniform_: expects a <= b"),
        (lambda: nn.init.normal_(tg.zeros(3), 0, "x"), TypeError, "normal_: std must be a number"),
        (lambda: nn.init.normal_(tg.zeros(3), 0, -1), ValueError, "normal_: std must be >= 0"),
        (lambda: nn.init.constant_(tg.zeros(3), "x"), TypeError, "constant_: val must be a number"),
        (lambda: nn.init.zeros_(np.zeros(3)), TypeError, "constant_: expected a Tensor to fill, "
                                                         "got ndarray"),
        (lambda: nn.init.uniform_(tg.zeros(3), generator=5), TypeError,
         "uniform_: generator must be a np.random.Generator"),
        (lambda: nn.init.normal_(tg.zeros(3), rng=np.random.default_rng(),
                                 generator=np.random.default_rng()), ValueError,
         "normal_: give generator= or rng=, not both"),
        (lambda: nn.init.xavier_uniform_(tg.zeros(3)), ValueError,
         "xavier_uniform_: Fan in and fan out can not be computed"),
        (lambda: nn.init.xavier_normal_(tg.zeros(3, 3), gain="x"), TypeError,
         "xavier_normal_: gain must be a number"),
        (lambda: nn.init.kaiming_uniform_(tg.zeros(3, 3), a=float("nan")), ValueError,
         "kaiming_uniform_: a must be a finite number"),
        (lambda: nn.init.calculate_gain("leaky_relu", "x"), TypeError,
         "calculate_gain: param must be a number"),
        (lambda: nn.init.calculate_gain(None), ValueError, "unsupported nonlinearity None"),
        (lambda: nn.functional.softmax(tg.ones(2, 2), dim="x"), TypeError,
         "softmax: dim must be an int, got 'x'"),
        (lambda: nn.functional.log_softmax(tg.ones(2, 2), dim=1, axis=1), TypeError,
         "log_softmax: give dim or axis, not both"),
        (lambda: nn.Softmax(dim=1, axis=1), TypeError, "Softmax: give dim or axis, not both"),
        (lambda: nn.functional.leaky_relu(tg.ones(2), "x"), TypeError,
         "leaky_relu: negative_slope must be a number"),
        (lambda: nn.functional.softplus(tg.ones(2), beta=0), ValueError,
         "softplus: beta must be a positive number"),
        (lambda: nn.functional.softplus(tg.ones(2), threshold=float("nan")), ValueError,
         "softplus: threshold must be a finite number"),
        (lambda: nn.Module.load(None), TypeError, "Module.load: path must be a str or an "
                                                  "os.PathLike"),
        (lambda: nn.Linear(2, 2).load(3), TypeError, "Linear.load: path must be a str"),
        (lambda: nn.MLP.load("m.npz", strict="yes"), TypeError, "MLP.load: strict must be True"),
        (lambda: tg.save(nn.Linear(2, 2), 5), TypeError, "save: path must be a str"),
        (lambda: tg.load(""), ValueError, "load: path is empty"),
    ],
)
def test_bad_arguments_of_nn_functions_name_the_function_and_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_checks_do_not_change_what_good_arguments_give():
    x = tg.tensor(np.linspace(-2, 2, 5))
    assert nn.functional.softmax(x, axis=0).tolist() == nn.functional.softmax(x, dim=0).tolist()
    assert nn.functional.softmax(x).tolist() == nn.functional.softmax(x, dim=-1).tolist()
    np.testing.assert_allclose(nn.functional.softplus(x, beta=2.0).data,
                               np.log1p(np.exp(2 * x.data)) / 2)
    w = nn.init.uniform_(tg.zeros(100), -0.5, 0.5, rng=np.random.default_rng(0))
    assert float(w.abs().max().item()) <= 0.5
