"""Tests of tinygrad_mlp.nn: modules, layers, losses, init and clip_grad_norm_.

Values are checked against closed-form NumPy, gradients against finite differences, and,
when PyTorch is installed, both against PyTorch (the oracle the API is modelled on).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor, nn
from tinygrad_mlp.nn import functional as F

REDUCTIONS = ["mean", "sum", "none"]


def reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return losses.mean()
    return losses.sum() if reduction == "sum" else losses


def np_log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


class Block(nn.Module):
    """A nested module for the naming tests: own parameter, a Sequential and a head."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(np.ones(3, dtype=np.float32))
        self.layers = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))
        self.head = nn.Linear(3, 1, bias=False)

    def forward(self, x):
        return self.head(self.layers(x * self.scale))


# -- Parameter and Module ------------------------------------------------------------------------


def test_parameter_requires_grad_copies_and_is_float32_for_lists():
    data = np.array([1.0, 2.0])
    p = nn.Parameter(data)
    p._data += 1
    assert data.tolist() == [1.0, 2.0]  # the caller's array is untouched
    assert p.requires_grad and p.is_leaf and isinstance(p, Tensor)
    assert p.dtype == np.float64  # an array keeps its dtype
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32
    assert repr(nn.Parameter([1.0])).startswith("Parameter containing:\ntensor(")


def test_named_parameters_use_dotted_pytorch_names():
    names = [name for name, _ in Block().named_parameters()]
    assert names == [
        "scale", "layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
        "head.weight",
    ]
    assert [n for n, _ in nn.MLP([2, 3, 1]).named_parameters()] == [
        "0.weight", "0.bias", "2.weight", "2.bias",
    ]


def test_named_parameters_match_torch():
    torch = pytest.importorskip("torch")

    class TorchBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(3))
            self.layers = torch.nn.Sequential(
                torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3)
            )
            self.head = torch.nn.Linear(3, 1, bias=False)

    ours = [(n, p.shape) for n, p in Block().named_parameters()]
    theirs = [(n, tuple(p.shape)) for n, p in TorchBlock().named_parameters()]
    assert ours == theirs


def test_shared_parameters_and_modules_come_once():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(model.parameters())) == 2
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]
    assert len(list(model.children())) == 2
    # state_dict lists a shared parameter under every name, as PyTorch does.
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_children_and_modules():
    block = Block()
    assert [n for n, _ in block.named_children()] == ["layers", "head"]
    assert [type(m).__name__ for m in block.modules()] == [
        "Block", "Sequential", "Linear", "ReLU", "Linear", "Linear",
    ]


def test_repr_prints_the_tree_like_pytorch():
    assert repr(nn.MLP([2, 16, 1])) == (
        "MLP(\n"
        "  (0): Linear(in_features=2, out_features=16, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=16, out_features=1, bias=True)\n"
        ")"
    )
    assert repr(Block()) == (
        "Block(\n"
        "  (layers): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=4, bias=True)\n"
        "    (1): ReLU()\n"
        "    (2): Linear(in_features=4, out_features=3, bias=True)\n"
        "  )\n"
        "  (head): Linear(in_features=3, out_features=1, bias=False)\n"
        ")"
    )
    assert repr(nn.Sequential()) == "Sequential()"


def test_repr_matches_torch_for_every_layer():
    torch = pytest.importorskip("torch")
    ours = nn.Sequential(
        nn.Linear(2, 3), nn.LeakyReLU(), nn.LeakyReLU(0.2), nn.Tanh(), nn.Sigmoid(),
        nn.Softplus(), nn.Identity(), nn.Softmax(dim=1), nn.Flatten(), nn.ReLU(),
        nn.Sequential(nn.Tanh()), nn.MSELoss(), nn.CrossEntropyLoss(), nn.BCELoss(),
        nn.BCEWithLogitsLoss(),
    )
    tn = torch.nn
    theirs = tn.Sequential(
        tn.Linear(2, 3), tn.LeakyReLU(), tn.LeakyReLU(0.2), tn.Tanh(), tn.Sigmoid(),
        tn.Softplus(), tn.Identity(), tn.Softmax(dim=1), tn.Flatten(), tn.ReLU(),
        tn.Sequential(tn.Tanh()), tn.MSELoss(), tn.CrossEntropyLoss(), tn.BCELoss(),
        tn.BCEWithLogitsLoss(),
    )
    assert repr(ours) == repr(theirs)


def test_call_tags_the_output_node_with_the_innermost_module():
    model = nn.MLP([2, 3, 1])
    out = model(tg.ones(4, 2))
    assert out.grad_fn.module is model[2]
    assert model[1](model[0](tg.ones(4, 2))).grad_fn.module is model[1]
    with tg.no_grad():
        assert model(tg.ones(1, 2)).grad_fn is None


def test_assignment_registers_and_rejects_wrong_types():
    m = nn.Module()
    m.w = nn.Parameter([1.0])
    m.sub = nn.ReLU()
    m.plain = 3
    assert [n for n, _ in m.named_parameters()] == ["w"]
    assert list(m._modules) == ["sub"]
    with pytest.raises(TypeError, match="parameter 'w'"):
        m.w = tg.tensor([2.0])
    m.w = None
    assert m.w is None and list(m.parameters()) == []
    del m.sub
    assert list(m.children()) == []

    class Forgot(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Forgot()
    with pytest.raises(KeyError, match="must not contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_zero_grad_sets_none_or_zeros():
    tg.manual_seed(0)
    model = nn.MLP([2, 3, 1], activation="tanh")  # no dead ReLU: every gradient is nonzero
    model(tg.ones(4, 2)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    grads = [p.grad._data for p in model.parameters()]
    model.zero_grad(set_to_none=False)
    assert all(not p.grad._data.any() for p in model.parameters())
    assert all(g.any() for g in grads)  # new arrays: the old buffers were not written into
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_train_and_eval_reach_every_module():
    model = Block()
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_double_and_float_cast_in_place():
    model = nn.MLP([2, 3, 1])
    params = list(model.parameters())
    assert all(p.dtype == np.float32 for p in params)
    assert model.double() is model
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert all(a is b for a, b in zip(params, model.parameters()))  # the same Parameters
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_double_model_trains_in_float64_end_to_end():
    from tinygrad_mlp import optim

    tg.manual_seed(0)
    model = nn.MLP([2, 8, 1]).double()
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x = np.random.default_rng(0).normal(size=(16, 2))
    y = x[:, :1] * x[:, 1:]
    out = model(x)
    loss = nn.MSELoss()(out, y)
    assert out.dtype == np.float64 and loss.dtype == np.float64
    loss.backward()
    assert all(p.grad.dtype == np.float64 for p in model.parameters())
    opt.step()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert all(s["exp_avg"].dtype == np.float64 for s in opt.state.values())


def test_state_dict_holds_copies():
    model = nn.Linear(2, 3)
    state = model.state_dict()
    assert list(state) == ["weight", "bias"]
    assert all(isinstance(v, np.ndarray) for v in state.values())
    state["weight"][...] = 42.0
    assert not (model.weight.data == 42.0).any()
    before = state["bias"].copy()
    model.bias._data += 1.0
    np.testing.assert_array_equal(state["bias"], before)


def test_load_state_dict_round_trip_casts_to_the_parameter_dtype():
    a, b = nn.MLP([2, 3, 1]), nn.MLP([2, 3, 1])
    state = {k: v.astype(np.float64) for k, v in a.state_dict().items()}
    assert repr(b.load_state_dict(state)) == "<All keys matched successfully>"
    for (name, p), q in zip(b.named_parameters(), a.parameters()):
        assert p.dtype == np.float32, name
        np.testing.assert_array_equal(p.data, q.data)


def _snapshot(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in model.state_dict().items()}


def _assert_unchanged(model: nn.Module, snapshot: dict[str, np.ndarray]) -> None:
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, snapshot[name], err_msg=name)


def test_strict_load_lists_every_problem_at_once_and_changes_nothing():
    model = nn.MLP([2, 3, 1])
    before = _snapshot(model)
    bad = nn.MLP([2, 4, 1]).state_dict()
    del bad["2.bias"]
    bad["extra.weight"] = np.zeros(2)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(bad)
    message = str(info.value)
    assert message.startswith("Error(s) in loading state_dict for MLP:")
    assert 'Missing key(s) in state_dict: "2.bias".' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in message
    assert "size mismatch for 0.weight: copying a param with shape (4, 2)" in message
    assert "size mismatch for 0.bias" in message and "size mismatch for 2.weight" in message
    _assert_unchanged(model, before)


@pytest.mark.parametrize("problem", ["missing", "unexpected", "shape"])
def test_strict_load_each_kind_of_mismatch(problem):
    model = nn.Linear(2, 3)
    before = _snapshot(model)
    state = nn.Linear(2, 3).state_dict()
    if problem == "missing":
        del state["bias"]
        expected = 'Missing key(s) in state_dict: "bias".'
    elif problem == "unexpected":
        state["scale"] = np.ones(1)
        expected = 'Unexpected key(s) in state_dict: "scale".'
    else:
        state["weight"] = np.ones((3, 3))
        expected = "size mismatch for weight"
    with pytest.raises(RuntimeError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        model.load_state_dict(state)
    _assert_unchanged(model, before)


def test_non_strict_load_returns_the_keys_and_loads_what_matches():
    model = nn.MLP([2, 3, 1])
    source = nn.MLP([2, 3, 1]).state_dict()
    del source["2.bias"]
    source["extra"] = np.zeros(1)
    result = model.load_state_dict(source, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra"]
    assert result == (["2.bias"], ["extra"])
    np.testing.assert_array_equal(model[0].weight.data, source["0.weight"])
    # A shape mismatch is an error even when not strict (as in PyTorch), and loads nothing.
    before = _snapshot(model)
    source["0.bias"] = np.zeros(5)
    source["0.weight"] = np.zeros((3, 2))
    with pytest.raises(RuntimeError, match=r"size mismatch for 0\.bias"):
        model.load_state_dict(source, strict=False)
    _assert_unchanged(model, before)


# -- containers -----------------------------------------------------------------------------------


def test_sequential_indexing_len_iteration_append():
    first, act = nn.Linear(2, 3), nn.ReLU()
    seq = nn.Sequential(first, act)
    assert len(seq) == 2 and seq[0] is first and seq[-1] is act
    assert list(seq) == [first, act]
    tail = seq[1:]
    assert isinstance(tail, nn.Sequential) and len(tail) == 1 and tail[0] is act
    last = nn.Linear(3, 1)
    assert seq.append(last) is seq and seq[2] is last
    assert seq(tg.ones(5, 2)).shape == (5, 1)
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    with pytest.raises(TypeError, match="not a Module subclass"):
        nn.Sequential(lambda x: x)
    named = nn.Sequential({"fc": nn.Linear(2, 2), "act": nn.ReLU()})
    assert [n for n, _ in named.named_parameters()] == ["fc.weight", "fc.bias"]


def test_module_list_registers_its_modules():
    layers = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2)])
    layers.append(nn.ReLU())
    assert len(layers) == 3 and isinstance(layers[-1], nn.ReLU)
    assert [n for n, _ in layers.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias",
    ]


# -- layers ---------------------------------------------------------------------------------------


def test_linear_shapes_dtype_and_init_bounds():
    tg.manual_seed(0)
    layer = nn.Linear(400, 300)
    w, b = layer.weight.data, layer.bias.data
    assert w.shape == (300, 400) and b.shape == (300,)
    assert w.dtype == np.float32 and b.dtype == np.float32
    bound = np.float32(1 / math.sqrt(400))
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # Uniform on [-bound, bound]: spread to the ends, mean 0, std bound / sqrt(3).
    assert np.abs(w).max() > 0.999 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    assert nn.Linear(2, 3, bias=False).bias is None
    assert nn.Linear(2, 3, dtype=np.float64).weight.dtype == np.float64


def test_linear_init_follows_manual_seed():
    tg.manual_seed(7)
    a = nn.Linear(3, 2).weight.data.copy()
    tg.manual_seed(7)
    b = nn.Linear(3, 2).weight.data.copy()
    np.testing.assert_array_equal(a, b)


def test_linear_forward_is_x_w_transpose_plus_b_in_one_node():
    layer = nn.Linear(3, 2).double()
    x = np.random.default_rng(0).normal(size=(5, 3))
    out = layer(x)
    np.testing.assert_allclose(out.data, x @ layer.weight.data.T + layer.bias.data)
    assert type(out.grad_fn).__name__ == "Linear"
    no_bias = nn.Linear(3, 2, bias=False).double()
    np.testing.assert_allclose(no_bias(x).data, x @ no_bias.weight.data.T)


def test_linear_rejects_bad_sizes():
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 2)
    with pytest.raises(TypeError, match="float dtype"):
        nn.Linear(2, 2, dtype=np.int64)


def test_activation_modules_match_functions():
    x = tg.tensor(np.linspace(-3, 3, 13))
    cases = [
        (nn.ReLU(), np.maximum(x.data, 0)),
        (nn.LeakyReLU(0.1), np.where(x.data > 0, x.data, 0.1 * x.data)),
        (nn.Tanh(), np.tanh(x.data)),
        (nn.Sigmoid(), 1 / (1 + np.exp(-x.data))),
        (nn.Softplus(), np.log1p(np.exp(x.data))),
        (nn.Softplus(beta=2.0), np.log1p(np.exp(2 * x.data)) / 2),
        (nn.Identity(), x.data),
    ]
    for module, expected in cases:
        np.testing.assert_allclose(module(x).data, expected, rtol=1e-12, err_msg=repr(module))
    z = np.random.default_rng(0).normal(size=(2, 3))
    e = np.exp(z)
    np.testing.assert_allclose(nn.Softmax(dim=0)(z).data, e / e.sum(axis=0))
    np.testing.assert_allclose(nn.Softmax(axis=0)(z).data, e / e.sum(axis=0))
    assert nn.Softmax(axis=0).dim == 0 and nn.Softmax().dim == -1
    assert nn.Flatten()(tg.zeros(4, 2, 3)).shape == (4, 6)
    assert nn.Flatten(0, 1)(tg.zeros(4, 2, 3)).shape == (8, 3)


def test_softplus_threshold_matches_torch():
    torch = pytest.importorskip("torch")
    values = np.array([-30.0, -1.0, 0.0, 5.0, 10.5, 25.0, 40.0])
    for beta, threshold in [(1.0, 20.0), (2.0, 20.0), (1.0, 3.0)]:
        x = tg.tensor(values, requires_grad=True)
        F.softplus(x, beta, threshold).sum().backward()
        tx = torch.tensor(values, requires_grad=True)
        torch.nn.functional.softplus(tx, beta, threshold).sum().backward()
        np.testing.assert_allclose(F.softplus(values, beta, threshold).data,
                                   torch.nn.functional.softplus(tx, beta, threshold).detach())
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12)


def test_mlp_structure_and_activations():
    model = nn.MLP([4, 8, 8, 3], activation="tanh", output_activation="sigmoid", bias=False)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "Tanh", "Linear", "Tanh", "Linear", "Sigmoid"]
    assert isinstance(model, nn.Sequential) and model.sizes == (4, 8, 8, 3)
    assert all(layer.bias is None for layer in model if isinstance(layer, nn.Linear))
    assert [type(m).__name__ for m in nn.MLP([2, 3, 1], activation=nn.LeakyReLU)] == [
        "Linear", "LeakyReLU", "Linear",
    ]
    shared = nn.LeakyReLU(0.2)
    model = nn.MLP([2, 3, 3, 1], activation=shared)
    assert model[1] is not model[3] and model[1].negative_slope == 0.2
    assert len(nn.MLP([2, 1])) == 1
    assert nn.MLP([2, 5, 3])(tg.ones(7, 2)).shape == (7, 3)


@pytest.mark.parametrize(
    "sizes", [[3], [], [2, 0, 1], [2, -1], [2.0, 3], "23", [2, True], 5],
)
def test_mlp_rejects_bad_sizes(sizes):
    with pytest.raises(ValueError, match="MLP: sizes"):
        nn.MLP(sizes)


def test_mlp_unknown_activation_lists_the_valid_names():
    with pytest.raises(ValueError) as info:
        nn.MLP([2, 3, 1], activation="relu6")
    message = str(info.value)
    for name in ["relu", "tanh", "sigmoid", "leaky_relu", "softplus", "identity"]:
        assert repr(name) in message
    assert "'relu6'" in message
    with pytest.raises(ValueError, match="output_activation"):
        nn.MLP([2, 3, 1], output_activation="softmaxx")
    with pytest.raises(TypeError, match="activation must be"):
        nn.MLP([2, 3, 1], activation=3)


# -- nn.init --------------------------------------------------------------------------------------


def _big(shape=(400, 600)) -> Tensor:
    return tg.zeros(*shape, dtype=np.float64)


def test_uniform_and_normal_fill_in_place_with_the_given_generator():
    t = _big()
    data = t.data
    assert nn.init.uniform_(t, -2, 3, generator=np.random.default_rng(0)) is t
    assert t.data is data  # in place
    assert t.data.min() >= -2 and t.data.max() < 3
    assert t.data.mean() == pytest.approx(0.5, abs=0.02)
    nn.init.normal_(t, mean=1.0, std=0.5, rng=np.random.default_rng(0))
    assert t.data.mean() == pytest.approx(1.0, abs=0.005)
    assert t.data.std() == pytest.approx(0.5, rel=0.01)
    a = nn.init.normal_(tg.zeros(5), generator=np.random.default_rng(3)).data
    b = nn.init.normal_(tg.zeros(5), generator=np.random.default_rng(3)).data
    np.testing.assert_array_equal(a, b)
    assert nn.init.zeros_(tg.ones(3)).tolist() == [0, 0, 0]
    assert nn.init.ones_(tg.zeros(2)).tolist() == [1, 1]
    w = nn.Parameter(np.zeros(3))
    nn.init.ones_(w)
    assert w.grad_fn is None and w.is_leaf  # nothing recorded


def test_xavier_formulas():
    fan_out, fan_in = 400, 600
    t = _big((fan_out, fan_in))
    nn.init.xavier_uniform_(t, gain=2.0, generator=np.random.default_rng(0))
    bound = 2.0 * math.sqrt(6.0 / (fan_in + fan_out))
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.999 * bound
    nn.init.xavier_normal_(t, generator=np.random.default_rng(0))
    assert t.data.std() == pytest.approx(math.sqrt(2.0 / (fan_in + fan_out)), rel=0.01)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0.0), ("leaky_relu", 0.2), ("tanh", 0.0)])
def test_kaiming_formulas(mode, nonlinearity, a):
    t = _big((400, 600))
    fan = 600 if mode == "fan_in" else 400
    gain = {"relu": math.sqrt(2), "leaky_relu": math.sqrt(2 / (1 + a * a)), "tanh": 5 / 3}
    std = gain[nonlinearity] / math.sqrt(fan)
    rng = np.random.default_rng(0)
    nn.init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nonlinearity, generator=rng)
    bound = math.sqrt(3) * std
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.999 * bound
    nn.init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nonlinearity, generator=rng)
    assert t.data.std() == pytest.approx(std, rel=0.01)


def test_init_defaults_and_errors():
    t = _big((300, 500))
    nn.init.kaiming_uniform_(t, generator=np.random.default_rng(0))  # leaky_relu with a=0
    assert np.abs(t.data).max() <= math.sqrt(6 / 500)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(tg.zeros(5))
    with pytest.raises(ValueError, match="mode must be"):
        nn.init.kaiming_normal_(t, mode="fan_avg")
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        nn.init.kaiming_normal_(t, nonlinearity="swish")


def test_init_uses_the_default_generator():
    tg.manual_seed(5)
    a = nn.init.uniform_(tg.zeros(4)).data.copy()
    tg.manual_seed(5)
    b = nn.init.uniform_(tg.zeros(4)).data.copy()
    np.testing.assert_array_equal(a, b)


def test_calculate_gain_matches_torch():
    torch = pytest.importorskip("torch")
    for name, param in [("linear", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        expected = torch.nn.init.calculate_gain(name, param)
        assert nn.init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-12)


# -- losses: values against closed-form NumPy -----------------------------------------------------

N, C = 6, 4


def _inputs():
    rng = np.random.default_rng(0)
    return {
        "pred": rng.normal(size=(N, 3)),
        "target": rng.normal(size=(N, 3)),
        "logits": rng.normal(size=(N, C)) * 3,
        "classes": rng.integers(0, C, size=N),
        "probs": rng.dirichlet(np.ones(C), size=N),
        "p": rng.uniform(0.02, 0.98, size=(N, 2)),
        "y01": rng.integers(0, 2, size=(N, 2)).astype(np.float64),
        "z": np.concatenate([rng.normal(size=(N - 1, 2)) * 4, [[60.0, -60.0]]]),
    }


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_loss_matches_numpy(reduction):
    d = _inputs()
    expected = reduce((d["pred"] - d["target"]) ** 2, reduction)
    np.testing.assert_allclose(
        nn.MSELoss(reduction)(tg.tensor(d["pred"]), d["target"]).data, expected, rtol=1e-12
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_numpy_for_both_target_forms(reduction):
    d = _inputs()
    logp = np_log_softmax(d["logits"])
    by_class = reduce(-logp[np.arange(N), d["classes"]], reduction)
    by_probs = reduce(-(d["probs"] * logp).sum(axis=1), reduction)
    loss = nn.CrossEntropyLoss(reduction)
    np.testing.assert_allclose(loss(tg.tensor(d["logits"]), d["classes"]).data, by_class,
                               rtol=1e-12)
    np.testing.assert_allclose(loss(tg.tensor(d["logits"]), d["probs"]).data, by_probs,
                               rtol=1e-12)
    assert type(loss(tg.tensor(d["logits"], requires_grad=True), d["classes"]).grad_fn
                ).__name__ == "CrossEntropy"


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_numpy_and_clamps_logs_at_minus_100(reduction):
    d = _inputs()
    p, y = d["p"], d["y01"]
    expected = reduce(-(y * np.log(p) + (1 - y) * np.log(1 - p)), reduction)
    np.testing.assert_allclose(nn.BCELoss(reduction)(tg.tensor(p), y).data, expected,
                               rtol=1e-12)
    edge = nn.BCELoss(reduction)(tg.tensor([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0, 1]))
    np.testing.assert_allclose(edge.data, reduce(np.array([100.0, 100.0, 0, 0]), reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_matches_numpy_and_is_stable(reduction):
    d = _inputs()
    z, y = d["z"], d["y01"]
    stable = np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))
    out = nn.BCEWithLogitsLoss(reduction)(tg.tensor(z), y).data
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, reduce(stable, reduction), rtol=1e-12, atol=1e-14)
    big = nn.BCEWithLogitsLoss()(tg.tensor([1000.0, -1000.0]), np.array([0.0, 1.0]))
    assert big.item() == pytest.approx(1000.0)


# -- losses: against PyTorch, values and gradients -----------------------------------------------


def _torch_case(torch, name, d):
    """(our loss fn, torch loss fn, input array, target array) for one loss."""
    tf = torch.nn.functional
    return {
        "mse": (F.mse_loss, tf.mse_loss, d["pred"], d["target"]),
        "ce_class": (F.cross_entropy, tf.cross_entropy, d["logits"], d["classes"]),
        "ce_probs": (F.cross_entropy, tf.cross_entropy, d["logits"], d["probs"]),
        "bce": (F.binary_cross_entropy, tf.binary_cross_entropy, d["p"], d["y01"]),
        "bce_edges": (F.binary_cross_entropy, tf.binary_cross_entropy,
                      np.array([0.0, 1.0, 0.0, 1.0, 1e-30, 0.5]),
                      np.array([1.0, 0.0, 0.0, 1.0, 0.3, 0.2])),
        "bce_logits": (F.binary_cross_entropy_with_logits,
                       tf.binary_cross_entropy_with_logits, d["z"], d["y01"]),
    }[name]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse", "ce_class", "ce_probs", "bce", "bce_edges", "bce_logits"])
def test_losses_match_torch(name, reduction):
    torch = pytest.importorskip("torch")
    ours, theirs, x, target = _torch_case(torch, name, _inputs())
    xt = tg.tensor(x, requires_grad=True)
    out = ours(xt, target, reduction=reduction)
    out.backward(gradient=np.ones(out.shape))
    tx = torch.tensor(x, requires_grad=True)
    expected = theirs(tx, torch.tensor(target), reduction=reduction)
    expected.backward(torch.ones_like(expected))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["mse", "ce_probs", "bce", "bce_logits"])
def test_loss_target_gradients_match_torch(name):
    torch = pytest.importorskip("torch")
    ours, theirs, x, target = _torch_case(torch, name, _inputs())
    tt = tg.tensor(target, requires_grad=True)
    ours(tg.tensor(x), tt).backward()
    ttorch = torch.tensor(target, requires_grad=True)
    theirs(torch.tensor(x), ttorch).backward()
    np.testing.assert_allclose(tt.grad.data, ttorch.grad.numpy(), rtol=1e-10, atol=1e-12)


# -- losses: gradients against finite differences ------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_loss_gradients_match_finite_differences(reduction):
    d = _inputs()
    checks = [
        (lambda x: F.mse_loss(x, d["target"], reduction), d["pred"]),
        (lambda x: F.cross_entropy(x, d["classes"], reduction), d["logits"]),
        (lambda x: F.cross_entropy(x, d["probs"], reduction), d["logits"]),
        (lambda x: F.binary_cross_entropy(x, d["y01"], reduction), d["p"]),
        (lambda x: F.binary_cross_entropy_with_logits(x, d["y01"][:-1], reduction), d["z"][:-1]),
    ]
    for fn, x in checks:
        assert tg.gradcheck(fn, [tg.tensor(x, requires_grad=True)])
    # ... and with respect to the target, where there is such a gradient.
    assert tg.gradcheck(lambda t: F.mse_loss(tg.tensor(d["pred"]), t, reduction),
                        [tg.tensor(d["target"], requires_grad=True)])
    assert tg.gradcheck(lambda t: F.binary_cross_entropy(tg.tensor(d["p"]), t, reduction),
                        [tg.tensor(d["y01"] * 0.8 + 0.1, requires_grad=True)])


def test_bce_second_derivative_through_create_graph():
    p = tg.tensor([0.3, 0.6], requires_grad=True)
    y = np.array([1.0, 0.0])
    (g,) = tg.grad(F.binary_cross_entropy(p, y, "sum"), p, create_graph=True)
    # d/dp of (p - y) / (p (1 - p)) is (y - 2py + p^2) / (p (1 - p))^2 ... summed via backward.
    g.sum().backward()
    pv = p.data
    expected = (pv**2 - 2 * pv * y + y) / (pv * (1 - pv)) ** 2
    np.testing.assert_allclose(p.grad.data, expected, rtol=1e-5)



@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_second_derivatives_through_create_graph(reduction):
    # The fused node recomputes (x - y) on the graph: d/dx and d/dy of the gradient
    # 2 (x - y) / n are 2/n and -2/n per element (n = 1 unless the mean is taken).
    x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True, dtype=np.float64)
    y = tg.tensor([1.0, 1.0, 1.0], requires_grad=True, dtype=np.float64)
    loss = F.mse_loss(x, y, reduction)
    gx, gy = tg.grad(loss.sum(), [x, y], create_graph=True)
    scale = 2.0 / 3 if reduction == "mean" else 2.0
    np.testing.assert_allclose(gx.data, scale * (x.data - y.data))
    np.testing.assert_allclose(gy.data, -scale * (x.data - y.data))
    gx.sum().backward()
    np.testing.assert_allclose(x.grad.data, [scale] * 3)
    np.testing.assert_allclose(y.grad.data, [-scale] * 3)


def test_mse_of_nothing_is_nan_as_in_pytorch():
    assert np.isnan(F.mse_loss(tg.zeros(0), tg.zeros(0)).item())

# -- losses: inputs the user gets wrong -----------------------------------------------------------


def test_mse_refuses_to_broadcast_a_column_against_a_vector():
    with pytest.raises(ValueError) as info:
        nn.MSELoss()(tg.zeros(8, 1), np.zeros(8))
    message = str(info.value)
    assert "mse_loss" in message and "(8, 1)" in message and "(8,)" in message
    assert "reshape" in message
    with pytest.raises(ValueError, match=r"mse_loss.*\(8,\).*\(8, 1\)"):
        F.mse_loss(tg.zeros(8), np.zeros((8, 1)))


@pytest.mark.parametrize(
    "fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits],
)
def test_bce_losses_refuse_mismatched_shapes(fn):
    with pytest.raises(ValueError, match=fn.__name__ + r".*\(4, 1\).*\(4,\)"):
        fn(tg.full((4, 1), 0.5), np.zeros(4))


def test_bce_refuses_values_outside_0_1():
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*with_logits"):
        nn.BCELoss()(tg.tensor([2.0, -0.5]), np.array([1.0, 0.0]))
    # NaN is let through as a NaN loss, so that fit reports it as divergence.
    assert math.isnan(nn.BCELoss()(tg.tensor([np.nan, 0.5]), np.array([1.0, 0.0])).item())


def test_cross_entropy_target_errors():
    with pytest.raises(ValueError, match=r"\(4,\).*got \(4, 1\); flatten"):
        F.cross_entropy(tg.zeros(4, 3), np.zeros((4, 1), dtype=np.int64))
    with pytest.raises(ValueError, match="integers"):
        F.cross_entropy(tg.zeros(4, 3), np.zeros(4))
    with pytest.raises(ValueError, match="logits of shape"):
        F.cross_entropy(tg.zeros(2, 3, 4), np.zeros(2, dtype=int))
    with pytest.raises(IndexError, match="out of range"):
        F.cross_entropy(tg.zeros(2, 3), np.array([0, 3]))
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="avg")


def test_float64_targets_keep_a_float32_loss_float32():
    pred = tg.zeros(3, 1, requires_grad=True)
    for loss in [nn.MSELoss(), nn.BCEWithLogitsLoss()]:
        assert loss(pred, np.ones((3, 1))).dtype == np.float32
    assert nn.BCELoss()(tg.full((3, 1), 0.5), np.ones((3, 1))).dtype == np.float32
    assert nn.CrossEntropyLoss()(tg.zeros(3, 2), np.full((3, 2), 0.5)).dtype == np.float32


def test_functional_activations():
    x = tg.tensor([-1.0, 0.0, 2.0])
    assert F.relu(x).tolist() == [0.0, 0.0, 2.0]
    assert F.leaky_relu(x, 0.5).tolist() == [-0.5, 0.0, 2.0]
    np.testing.assert_allclose(F.tanh(x).data, np.tanh(x.data))
    np.testing.assert_allclose(F.sigmoid(x).data, 1 / (1 + np.exp(-x.data)), rtol=1e-6)
    z = tg.tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_allclose(F.softmax(z, dim=0).data.sum(axis=0), 1.0)
    np.testing.assert_allclose(F.log_softmax(z, dim=1).data, np_log_softmax(z.data))
    w, b = tg.ones(2, 3), tg.tensor([1.0, 2.0])
    np.testing.assert_allclose(F.linear(tg.ones(4, 3), w, b).data, np.full((4, 2), [4, 5]))


# -- clip_grad_norm_ ------------------------------------------------------------------------------


def _with_grads(grads: list[np.ndarray]) -> list[Tensor]:
    params = []
    for g in grads:
        p = nn.Parameter(np.zeros_like(g))
        p.grad = Tensor(g.copy())
        params.append(p)
    return params


GRADS = [np.array([[3.0, -4.0], [1.0, 2.0]]), np.array([0.5, -12.0, 2.0])]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 5.0, 1e6])
def test_clip_grad_norm_matches_numpy(norm_type, max_norm):
    params = _with_grads(GRADS)
    originals = [p.grad.data for p in params]
    flat = np.concatenate([g.ravel() for g in GRADS])
    total = np.abs(flat).max() if math.isinf(norm_type) else np.sum(
        np.abs(flat) ** norm_type) ** (1 / norm_type)
    result = nn.utils.clip_grad_norm_(params, max_norm, norm_type=norm_type)
    assert isinstance(result, Tensor) and result.shape == ()
    assert float(result) == pytest.approx(total, rel=1e-12)
    coef = min(1.0, max_norm / (total + 1e-6))
    for p, g, original in zip(params, GRADS, originals):
        np.testing.assert_allclose(p.grad.data, g * coef, rtol=1e-12)
        np.testing.assert_array_equal(original, g)  # the old buffers were not written into


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    params = _with_grads(GRADS)
    tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in GRADS]
    for t, g in zip(tparams, GRADS):
        t.grad = torch.tensor(g)
    ours = nn.utils.clip_grad_norm_(params, max_norm, norm_type)
    theirs = torch.nn.utils.clip_grad_norm_(tparams, max_norm, norm_type)
    assert float(ours) == pytest.approx(float(theirs), rel=1e-12)
    for p, t in zip(params, tparams):
        np.testing.assert_allclose(p.grad.data, t.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_edge_cases():
    assert float(nn.utils.clip_grad_norm_([nn.Parameter([1.0])], 1.0)) == 0.0  # no grads
    single = _with_grads([np.array([6.0, 8.0])])[0]
    assert float(nn.utils.clip_grad_norm_(single, 5.0)) == pytest.approx(10.0)  # one Tensor
    np.testing.assert_allclose(single.grad.data, [3.0, 4.0], rtol=1e-6)
    params = _with_grads([np.array([np.inf, 1.0])])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    single32 = _with_grads([np.array([3.0, 4.0], dtype=np.float32)])
    nn.utils.clip_grad_norm_(single32, 1.0)
    assert single32[0].grad.dtype == np.float32


NONFINITE_GRADS = [
    [np.array([np.nan, 1.0]), np.array([2.0])],
    [np.array([1.0]), np.array([np.nan, 1.0])],  # NaN after a finite maximum
    [np.array([np.inf, 1.0]), np.array([2.0])],
]


@pytest.mark.parametrize("grads", NONFINITE_GRADS)
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
def test_clip_grad_norm_nonfinite_scales_as_torch(grads, norm_type):
    params = _with_grads(grads)
    total = float(nn.utils.clip_grad_norm_(params, 1.0, norm_type))
    if any(np.isnan(g).any() for g in grads):
        assert math.isnan(total)  # and so every gradient becomes NaN
        assert all(np.isnan(p.grad.data).all() for p in params)
    else:
        assert total == math.inf  # the coefficient is 0: finite entries 0, inf ones NaN
        for p, g in zip(params, grads):
            np.testing.assert_array_equal(p.grad.data, np.where(np.isinf(g), np.nan, 0.0))
    torch = pytest.importorskip("torch")
    tparams = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for t, g in zip(tparams, grads):
        t.grad = torch.tensor(g)
    theirs = float(torch.nn.utils.clip_grad_norm_(tparams, 1.0, norm_type))
    np.testing.assert_array_equal(total, theirs)
    for p, t in zip(params, tparams):
        np.testing.assert_array_equal(p.grad.data, t.grad.numpy())


def test_clip_grad_norm_error_if_nonfinite_names_the_norm_and_changes_nothing():
    params = _with_grads([np.array([np.nan, 1.0]), np.array([2.0])])
    with pytest.raises(RuntimeError, match=r"order 2.0 .*non-finite \(nan\)"):
        nn.utils.clip_grad_norm_(params, 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(params[1].grad.data, [2.0])
