"""The bridge to PyTorch: to_torch and from_torch give equivalent modules (same outputs to
float round-off, same gradients), a round trip gives the model back exactly, and anything
the bridge cannot convert is refused naming the layer. The README's "When you outgrow it"
example runs here (it needs PyTorch, so tests/test_readme.py leaves it out)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn

torch = pytest.importorskip("torch")

README = Path(__file__).resolve().parent.parent / "README.md"


def every_layer() -> nn.Sequential:
    """One of each layer the bridge knows, nested, with settings away from the defaults."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(6, 8),
        nn.BatchNorm1d(8, eps=1e-3, momentum=0.2),
        nn.LeakyReLU(0.2),
        nn.Sequential({"norm": nn.LayerNorm(8, eps=1e-4), "act": nn.GELU("tanh")}),
        nn.Dropout(0.25),
        nn.Linear(8, 8, bias=False),
        nn.ELU(0.7),
        nn.Softplus(beta=2.0, threshold=5.0),
        nn.Tanh(),
        nn.Linear(8, 8),
        nn.GELU(),
        nn.Sigmoid(),
        nn.Identity(),
        nn.Linear(8, 3),
        nn.BatchNorm1d(3, affine=False, momentum=None),
        nn.LayerNorm(3, bias=False),
        nn.ReLU(),
        nn.Softmax(dim=1),
    )


def train_a_little(model: nn.Module) -> None:
    """Moves the running statistics and the weights off their initial values."""
    optimizer = tg.optim.SGD(model.parameters(), lr=0.1)
    for seed in range(3):
        x = tg.randn(16, 2, 3, seed=seed)
        optimizer.zero_grad()
        (model(x) ** 2).sum().backward()
        optimizer.step()


def outputs_and_gradients(theirs, ours, x: np.ndarray, rng: np.random.Generator):
    xt, xo = torch.tensor(x, requires_grad=True), tg.tensor(x, requires_grad=True)
    out_t, out_o = theirs(xt), ours(xo)
    upstream = rng.standard_normal(out_o.shape)
    out_t.backward(torch.from_numpy(upstream))
    out_o.backward(gradient=upstream)
    return (out_t.detach().numpy(), xt.grad.numpy(), dict(theirs.named_parameters())), \
        (out_o.data, xo.grad.data, dict(ours.named_parameters()))


def assert_equivalent(ours: nn.Module, theirs, mode: str) -> None:
    ours.zero_grad()
    theirs.zero_grad()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 2, 3))
    (ot, gt, pt), (oo, go, po) = outputs_and_gradients(theirs, ours, x, rng)
    np.testing.assert_allclose(oo, ot, rtol=1e-10, atol=1e-12, err_msg=f"outputs ({mode})")
    np.testing.assert_allclose(go, gt, rtol=1e-9, atol=1e-11, err_msg=f"input grad ({mode})")
    assert list(po) == list(pt)
    for name, p in po.items():
        np.testing.assert_allclose(p.grad.data, pt[name].grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=f"{name} ({mode})")


def test_to_torch_is_the_same_network_in_eval_and_in_training():
    tg.manual_seed(0)
    ours = every_layer().double()
    train_a_little(ours)
    theirs = to_and_check(ours)
    ours.eval()
    theirs.eval()
    assert_equivalent(ours, theirs, "eval")
    # In training BatchNorm uses the batch's statistics and moves its running ones: both
    # sides alike (Dropout aside, whose random masks differ, so it is set to p=0 here).
    ours.train()
    theirs.train()
    ours[5].p = 0.0
    theirs[5].p = 0.0
    assert_equivalent(ours, theirs, "train")
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-12,
                                   err_msg=name)


def to_and_check(ours: nn.Module):
    theirs = nn.to_torch(ours)
    assert isinstance(theirs, torch.nn.Sequential)
    assert list(theirs.state_dict()) == list(ours.state_dict())
    for name, value in theirs.state_dict().items():
        assert value.numpy().dtype == ours.state_dict()[name].dtype, name
        np.testing.assert_array_equal(value.numpy(), ours.state_dict()[name], err_msg=name)
    assert [m.training for m in theirs.modules()] == [m.training for m in ours.modules()]
    return theirs


def test_a_round_trip_gives_the_model_back_exactly():
    tg.manual_seed(1)
    ours = every_layer()
    train_a_little(ours)
    ours[2].eval()  # a mixed mode survives too
    back = nn.from_torch(nn.to_torch(ours))
    assert type(back) is nn.Sequential and repr(back) == repr(ours)
    assert [m.training for m in back.modules()] == [m.training for m in ours.modules()]
    for name, value in ours.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[name], value, err_msg=name)
        assert back.state_dict()[name].dtype == value.dtype
    ours.eval()
    back.eval()
    x = tg.randn(4, 2, 3)
    np.testing.assert_array_equal(back(x).data, ours(x).data)


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.MLP([3, 16, 16, 2]),
        lambda: nn.MLP([3, 5, 1], activation=nn.LeakyReLU(0.3), output_activation="sigmoid",
                       bias=False),
        lambda: nn.MLP([4, 2], output_activation=nn.Softmax(dim=-1)),
        lambda: nn.MLP([3, 8, 2], activation="gelu").double(),
    ],
    ids=["relu", "leaky-sigmoid-no-bias", "one-layer-softmax", "gelu-float64"],
)
def test_an_mlp_comes_back_as_an_mlp(make):
    model = make()
    theirs = nn.to_torch(model)
    back = nn.from_torch(theirs)
    assert type(back) is nn.MLP and back.sizes == model.sizes and repr(back) == repr(model)
    x = np.random.default_rng(2).standard_normal((5, model.sizes[0])).astype(
        model[0].weight.dtype)
    expected = theirs(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(back(x).data, expected, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(model(x).data, expected, rtol=2e-6, atol=1e-7)


def test_a_torch_model_comes_in_and_trains_the_same():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                 torch.nn.Linear(8, 3)).double()
    ours = nn.from_torch(theirs)
    assert type(ours) is nn.MLP and ours.sizes == (4, 8, 3)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 4)), rng.integers(0, 3, 12)
    ours_opt = tg.optim.Adam(ours.parameters(), lr=0.01)
    theirs_opt = torch.optim.Adam(theirs.parameters(), lr=0.01)
    for _ in range(5):
        ours_opt.zero_grad()
        nn.CrossEntropyLoss()(ours(x), y).backward()
        ours_opt.step()
        theirs_opt.zero_grad()
        torch.nn.CrossEntropyLoss()(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        theirs_opt.step()
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


def test_from_torch_draws_nothing_from_the_default_generator():
    theirs = torch.nn.Sequential(torch.nn.Linear(50, 50), torch.nn.Tanh())
    tg.manual_seed(3)
    expected = tg.randn(2).tolist()
    tg.manual_seed(3)
    nn.from_torch(theirs)
    assert tg.randn(2).tolist() == expected


class Mine(nn.Module):
    def forward(self, x):
        return x * 2


class ScaledLinear(nn.Linear):
    def forward(self, x):
        return super().forward(x) * 2


@pytest.mark.parametrize(
    "model, message",
    [
        (nn.Sequential(nn.Linear(2, 2), Mine()), r"layer '1' \(Mine\) cannot be converted"),
        (nn.Sequential(nn.Sequential(ScaledLinear(2, 2))),
         r"layer '0\.0' \(ScaledLinear\) cannot be converted"),
        (nn.ModuleList([nn.Linear(2, 2)]), r"the model \(ModuleList\) cannot be converted"),
    ],
)
def test_to_torch_names_what_it_cannot_convert(model, message):
    with pytest.raises(TypeError, match=f"to_torch: {message}: it has no counterpart; "
                                        "supported are Sequential, MLP and Linear, ReLU"):
        nn.to_torch(model)
    with pytest.raises(TypeError, match=r"to_torch: expected an nn\.Module, got Linear"):
        nn.to_torch(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(
    "module, message",
    [
        (torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Conv1d(1, 1, 1)),
         r"layer '1' \(Conv1d\) cannot be converted: it has no counterpart"),
        (torch.nn.Sequential(torch.nn.Softmax()),
         r"layer '0' \(Softmax\) cannot be converted: dim=None"),
        (torch.nn.ModuleDict({"a": torch.nn.ReLU()}), r"the model \(ModuleDict\)"),
        (torch.nn.Sequential(torch.nn.Linear(2, 2, dtype=torch.bfloat16)),
         r"layer '0' \(Linear\) cannot be converted: its dtype torch.bfloat16 has no NumPy"),
    ],
)
def test_from_torch_names_what_it_cannot_convert(module, message):
    with pytest.raises(TypeError, match=f"from_torch: {message}"):
        nn.from_torch(module)
    with pytest.raises(TypeError, match=r"from_torch: expected a torch\.nn\.Module"):
        nn.from_torch(nn.Linear(2, 2))


def test_a_torch_subclass_is_not_taken_for_its_base():
    class Doubled(torch.nn.ReLU):
        def forward(self, x):
            return super().forward(x) * 2

    with pytest.raises(TypeError, match=r"layer '0' \(Doubled\) cannot be converted"):
        nn.from_torch(torch.nn.Sequential(Doubled()))


def readme_torch_blocks() -> list[str]:
    return re.findall(r"```python torch\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_readme_example_runs(tmp_path, monkeypatch, capsys):
    blocks = readme_torch_blocks()
    assert blocks, "the README's 'When you outgrow it' section has a ```python torch block"
    monkeypatch.chdir(tmp_path)
    for block in blocks:
        exec(compile(block, str(README), "exec"), {"__name__": "readme"})
    assert "True" in capsys.readouterr().out
