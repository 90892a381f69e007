"""The layers learners meet after Linear: Dropout, BatchNorm1d, LayerNorm, GELU and ELU, and
their nn.functional forms, each against PyTorch in float64 (values, gradients of the input
and of every parameter, state_dict keys; running statistics over several steps and in eval
mode), plus what PyTorch cannot check: dropout's randomness, the argument checks, saving,
pictures and the compiled step's fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import data, nn, optim, viz
from tinygrad_mlp.nn import functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RTOL, ATOL = 1e-10, 1e-12


def same_weights(ours: nn.Module, theirs) -> None:
    """Load our weights into the torch module; the state-dict keys must be PyTorch's."""
    state = ours.state_dict()
    assert list(state) == list(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})


def run_both(ours, theirs, x: np.ndarray, seed: int = 0):
    """Forward and backward of the same input with the same upstream gradient; compares the
    outputs and the input's gradient; returns the torch module for further checks."""
    xo = tg.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out, expected = ours(xo), theirs(xt)
    assert out.dtype == np.float64 and out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=RTOL, atol=ATOL)
    upstream = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(gradient=upstream)
    expected.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(xo.grad.data, xt.grad.numpy(), rtol=1e-9, atol=1e-11)


def same_gradients(ours: nn.Module, theirs) -> None:
    grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.data, grads[name].grad.numpy(), rtol=1e-9,
                                   atol=1e-11, err_msg=name)


def same_state(ours: nn.Module, theirs) -> None:
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-12,
                                   atol=1e-14, err_msg=name)


def batch(*shape, seed=0, scale=3.0, shift=1.0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape) * scale + shift


# -- activations: GELU and ELU ---------------------------------------------------------------------


ACTIVATION_INPUT = np.concatenate([np.linspace(-8, 8, 33), [-1e-9, 1e-9, -40.0, 40.0, 700.0]])


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda: nn.GELU(), lambda: torch.nn.GELU()),
        (lambda: nn.GELU("tanh"), lambda: torch.nn.GELU(approximate="tanh")),
        (lambda: nn.ELU(), lambda: torch.nn.ELU()),
        (lambda: nn.ELU(alpha=0.5), lambda: torch.nn.ELU(alpha=0.5)),
        (lambda: nn.ELU(alpha=2.5), lambda: torch.nn.ELU(alpha=2.5)),
    ],
    ids=["gelu", "gelu-tanh", "elu", "elu-0.5", "elu-2.5"],
)
def test_activations_match_pytorch(ours, theirs):
    x = ACTIVATION_INPUT.reshape(2, -1) if ACTIVATION_INPUT.size % 2 == 0 else ACTIVATION_INPUT
    ours, theirs = ours(), theirs()
    run_both(ours, theirs, x)
    assert repr(ours) == repr(theirs).replace(", inplace=False", "")
    assert list(ours.state_dict()) == list(theirs.state_dict()) == []


def test_elu_of_huge_inputs_has_no_nan_gradient():
    x = tg.tensor(np.array([1e4, -1e4, 0.0]), requires_grad=True)
    with tg.detect_anomaly():
        nn.ELU()(x).sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]  # at 0: alpha * exp(0), as PyTorch


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda x: F.gelu(x), lambda x: TF.gelu(x)),
        (lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh")),
        (lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7)),
        (lambda x: F.layer_norm(x, (3, 4), eps=1e-3),
         lambda x: TF.layer_norm(x, (3, 4), eps=1e-3)),
    ],
    ids=["gelu", "gelu-tanh", "elu", "layer_norm"],
)
def test_functional_forms_match_pytorch(ours, theirs):
    run_both(ours, theirs, batch(2, 3, 4))


def test_gelu_keeps_float32():
    assert nn.GELU()(tg.ones(2)).dtype == np.float32
    assert nn.ELU()(-tg.ones(2)).dtype == np.float32


# -- LayerNorm ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, kwargs, shape",
    [
        ((5,), {}, (4, 5)),
        ((5,), {"eps": 1e-2}, (2, 3, 5)),
        (((3, 5),), {}, (2, 3, 5)),
        ((5,), {"elementwise_affine": False}, (4, 5)),
        ((5,), {"bias": False}, (4, 5)),
    ],
    ids=["last", "eps", "two-dims", "no-affine", "no-bias"],
)
def test_layer_norm_matches_pytorch(args, kwargs, shape):
    ours = nn.LayerNorm(*args, **kwargs).double()
    theirs = torch.nn.LayerNorm(*args, **kwargs, dtype=torch.float64)
    if ours.weight is not None:  # not the trivial ones and zeros
        rng = np.random.default_rng(3)
        ours.weight.data[...] = rng.standard_normal(ours.weight.shape)
        if ours.bias is not None:
            ours.bias.data[...] = rng.standard_normal(ours.bias.shape)
    same_weights(ours, theirs)
    run_both(ours, theirs, batch(*shape))
    same_gradients(ours, theirs)
    assert repr(ours) == repr(theirs)


# -- BatchNorm1d -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({}, (8, 3)),
        ({"momentum": 0.3, "eps": 1e-3}, (8, 3)),
        ({"momentum": None}, (8, 3)),
        ({}, (6, 3, 5)),
        ({"affine": False}, (8, 3)),
        ({"track_running_stats": False}, (8, 3)),
    ],
    ids=["default", "momentum-eps", "cumulative", "3d", "no-affine", "no-running-stats"],
)
def test_batch_norm_matches_pytorch_over_several_steps_and_in_eval(kwargs, shape):
    ours = nn.BatchNorm1d(3, **kwargs).double()
    theirs = torch.nn.BatchNorm1d(3, **kwargs, dtype=torch.float64)
    if ours.weight is not None:
        ours.weight.data[...] = [0.5, -1.5, 2.0]
        ours.bias.data[...] = [0.1, 0.2, -0.3]
    same_weights(ours, theirs)
    for step in range(4):  # the running statistics move step by step
        ours.zero_grad()
        theirs.zero_grad()
        run_both(ours, theirs, batch(*shape, seed=step, shift=step), seed=step)
        same_gradients(ours, theirs)
        same_state(ours, theirs)
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    run_both(ours, theirs, batch(*shape, seed=9), seed=9)
    same_gradients(ours, theirs)
    same_state(ours, theirs)
    assert repr(ours) == repr(theirs)


def test_batch_norm_state_dict_keys_and_buffers():
    bn = nn.BatchNorm1d(4)
    assert list(bn.state_dict()) == list(torch.nn.BatchNorm1d(4).state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    assert bn.state_dict()["num_batches_tracked"].dtype == np.int64
    bn(tg.randn(5, 4))
    assert int(bn.num_batches_tracked.item()) == 1
    bn.reset_running_stats()
    assert bn.running_mean.tolist() == [0.0] * 4 and int(bn.num_batches_tracked.item()) == 0


def test_batch_norm_functional_form_matches_pytorch():
    x = batch(6, 3)
    ours_mean, ours_var = tg.zeros(3, dtype=np.float64), tg.ones(3, dtype=np.float64)
    theirs_mean, theirs_var = torch.zeros(3, dtype=torch.float64), torch.ones(3,
                                                                             dtype=torch.float64)
    w, b = batch(3, seed=1), batch(3, seed=2)
    run_both(lambda t: F.batch_norm(t, ours_mean, ours_var, w, b, True, 0.2, 1e-4),
             lambda t: TF.batch_norm(t, theirs_mean, theirs_var, torch.from_numpy(w),
                                     torch.from_numpy(b), True, 0.2, 1e-4), x)
    np.testing.assert_allclose(ours_mean.data, theirs_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours_var.data, theirs_var.numpy(), rtol=1e-12)
    run_both(lambda t: F.batch_norm(t, ours_mean, ours_var),
             lambda t: TF.batch_norm(t, theirs_mean, theirs_var), x)


@pytest.mark.parametrize(
    "x, message",
    [
        (np.zeros(3), r"expected 2D or 3D input \(got 1D input\)"),
        (np.zeros((2, 3, 4, 5)), r"expected 2D or 3D input \(got 4D input\)"),
        (np.zeros((4, 5)), r"expected 3 features in dimension 1 of the input, got input of "
                           r"shape \(4, 5\)"),
        (np.zeros((1, 3)), "expected more than 1 value per channel when training"),
    ],
)
def test_batch_norm_refuses_bad_input_and_changes_nothing(x, message):
    bn = nn.BatchNorm1d(3)
    bn(tg.randn(4, 3))
    before = {k: v.copy() for k, v in bn.state_dict().items()}
    with pytest.raises(ValueError, match=f"BatchNorm1d: {message}"):
        bn(x)
    for name, value in bn.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    bn.eval()(np.ones((1, 3)))  # one sample is fine in evaluation


def test_layer_norm_refuses_a_mismatched_input():
    with pytest.raises(ValueError, match=r"LayerNorm|layer_norm: expected input with shape "
                                         r"\(\*, 4\), got input of shape \(2, 3\)"):
        nn.LayerNorm(4)(tg.zeros(2, 3))
    with pytest.raises(ValueError, match=r"expected input with shape \(\*, 2, 3\)"):
        F.layer_norm(tg.zeros(3), (2, 3))


# -- Dropout -----------------------------------------------------------------------------------


def test_dropout_drops_about_p_and_scales_the_rest():
    tg.manual_seed(0)
    x = tg.tensor(np.full((200, 100), 2.0), requires_grad=True)
    out = nn.Dropout(0.3)(x)
    kept = out.data != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(out.data[kept], 2.0 / 0.7)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, kept / 0.7)  # the gradient goes where x was kept
    # PyTorch's rule, on the same mask: input * mask / (1 - p)
    expected = torch.from_numpy(x.data) * torch.from_numpy(kept.astype(float)) / 0.7
    np.testing.assert_allclose(out.data, expected.numpy(), rtol=1e-6)


def test_dropout_in_eval_or_with_p_0_is_the_identity_and_p_1_drops_all():
    x = tg.tensor(np.arange(1.0, 5.0), requires_grad=True)
    assert nn.Dropout(0.5).eval()(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    out = nn.Dropout(1.0)(x)
    assert out.tolist() == [0.0] * 4
    out.sum().backward()
    assert x.grad.tolist() == [0.0] * 4
    assert torch.nn.Dropout(1.0)(torch.ones(4)).tolist() == [0.0] * 4


def test_dropout_is_seeded_by_manual_seed_or_a_given_generator():
    tg.manual_seed(7)
    first = nn.Dropout()(tg.ones(50)).data
    tg.manual_seed(7)
    np.testing.assert_array_equal(nn.Dropout()(tg.ones(50)).data, first)
    tg.manual_seed(7)
    state = tg.engine.tensor.default_rng().bit_generator.state
    mine = nn.Dropout(0.5, generator=np.random.default_rng(1))
    a = mine(tg.ones(50)).data
    assert tg.engine.tensor.default_rng().bit_generator.state == state  # untouched
    mine.generator = np.random.default_rng(1)
    np.testing.assert_array_equal(mine(tg.ones(50)).data, a)


def test_dropout_keeps_the_dtype_and_has_no_state():
    assert nn.Dropout()(tg.ones(10)).dtype == np.float32
    assert nn.Dropout()(tg.ones(10, dtype=np.float64)).dtype == np.float64
    assert nn.Dropout().state_dict() == {} == dict(torch.nn.Dropout().state_dict())
    assert repr(nn.Dropout(0.25)) == "Dropout(p=0.25)"


# -- settings are checked when set ---------------------------------------------------------------


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: nn.Dropout(1.5), ValueError, "Dropout: p must be a probability between 0 and "
                                              "1, got 1.5"),
        (lambda: nn.Dropout("0.5"), TypeError, "Dropout: p must be a number"),
        (lambda: nn.Dropout(0.5, generator=3), TypeError, "Dropout: generator must be a "
                                                         "np.random.Generator"),
        (lambda: F.dropout(tg.ones(2), -0.1), ValueError, "dropout: p must be a probability"),
        (lambda: nn.BatchNorm1d(0), ValueError, "BatchNorm1d: num_features must be a positive"),
        (lambda: nn.BatchNorm1d(3, momentum=2), ValueError, "BatchNorm1d: momentum must be a "
                                                           "probability"),
        (lambda: nn.BatchNorm1d(3, eps=0), ValueError, "BatchNorm1d: eps must be a positive"),
        (lambda: nn.BatchNorm1d(3, eps=float("nan")), ValueError, "BatchNorm1d: eps must be a "
                                                                 "finite number"),
        (lambda: nn.BatchNorm1d(3, affine=None), TypeError, "BatchNorm1d: affine must be True "
                                                           "or False"),
        (lambda: nn.LayerNorm(0), ValueError, "LayerNorm: normalized_shape must be a positive"),
        (lambda: nn.LayerNorm([]), ValueError, "LayerNorm: normalized_shape must be"),
        (lambda: nn.LayerNorm(4, eps=-1.0), ValueError, "LayerNorm: eps must be a positive"),
        (lambda: nn.LayerNorm(4, dtype=np.int64), TypeError, "LayerNorm: parameters must have a "
                                                            "float dtype"),
        (lambda: nn.GELU("fast"), ValueError, "GELU: approximate must be one of 'none', "
                                              "'tanh', got 'fast'"),
        (lambda: nn.ELU(float("inf")), ValueError, "ELU: alpha must be a finite number"),
        (lambda: nn.LeakyReLU("x"), TypeError, "LeakyReLU: negative_slope must be a number"),
        (lambda: nn.Softplus(beta=0), ValueError, "Softplus: beta must be a positive number"),
        (lambda: nn.Softmax(dim=1.0), TypeError, "Softmax: dim must be an int"),
        (lambda: F.batch_norm(tg.ones(2, 2), None, None, momentum=-1), ValueError,
         "batch_norm: momentum must be a probability"),
    ],
)
def test_bad_settings_are_refused_naming_the_layer_and_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_a_setting_changed_later_is_checked_and_a_refused_one_changes_nothing():
    drop, bn = nn.Dropout(0.2), nn.BatchNorm1d(2)
    with pytest.raises(ValueError, match="Dropout: p must be a probability"):
        drop.p = 2
    with pytest.raises(ValueError, match="BatchNorm1d: momentum must be a probability"):
        bn.momentum = -0.5
    assert drop.p == 0.2 and bn.momentum == 0.1
    bn.momentum = None
    drop.p = 1
    assert bn.momentum is None and drop.p == 1.0


# -- the table, saving, pictures and the compiled step ---------------------------------------------


def test_gelu_and_elu_are_in_the_activation_table():
    for name, cls in (("gelu", nn.GELU), ("elu", nn.ELU)):
        spec = nn.find_activation(name)
        assert spec.module is cls and spec.composite and spec.op is None
        assert type(nn.MLP([2, 3, 1], activation=name)[1]) is cls
    assert nn.ACTIVATIONS["elu"].value_of(nn.ELU(0.3)) == 0.3
    assert nn.ACTIVATIONS["elu"].make(0.3).alpha == 0.3


def test_every_activation_rule_is_its_functional_form_and_its_module():
    x = tg.tensor(np.linspace(-3, 3, 13))
    for name, spec in nn.ACTIVATIONS.items():
        module_out = spec.make()(x).data
        np.testing.assert_array_equal(spec.apply(x).data, module_out, err_msg=name)
        if name != "identity":
            np.testing.assert_array_equal(getattr(F, name)(x).data, module_out, err_msg=name)
        assert (spec.op is None) == (name == "identity" or spec.composite), name


def test_gains_come_from_the_table_and_match_pytorch():
    for name, spec in nn.ACTIVATIONS.items():
        if spec.gain is None:
            with pytest.raises(ValueError, match="unsupported nonlinearity"):
                nn.init.calculate_gain(name)
            continue
        for param in (None, 0.2) if name == "leaky_relu" else (None,):
            torch_name = "linear" if name == "identity" else name
            assert nn.init.calculate_gain(name, param) == pytest.approx(
                torch.nn.init.calculate_gain(torch_name, param), rel=1e-12)


def new_layer_model() -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(4, 6), nn.BatchNorm1d(6, momentum=None), nn.GELU("tanh"), nn.Dropout(0.2),
        nn.Linear(6, 6), nn.LayerNorm(6, eps=1e-4), nn.ELU(0.5), nn.Linear(6, 2),
    )


def test_a_model_of_the_new_layers_is_saved_and_rebuilt(tmp_path):
    tg.manual_seed(0)
    model = new_layer_model()
    for _ in range(3):
        model(tg.randn(8, 4))
    path = model.save(tmp_path / "new")
    rebuilt = nn.Module.load(path)
    assert repr(rebuilt) == repr(model)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(rebuilt.state_dict()[name], value, err_msg=name)
    assert int(rebuilt[1].num_batches_tracked.item()) == 3
    x = tg.randn(5, 4)
    np.testing.assert_array_equal(rebuilt.eval()(x).data, model.eval()(x).data)


def test_a_file_whose_running_statistics_do_not_fit_is_refused_before_building(tmp_path):
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    path = model.save(tmp_path / "bn")
    state = tg.load(path)
    state["1.running_var"] = np.ones(4)
    np.savez(path, **state, **{"__architecture__": np.load(path)["__architecture__"]})
    with pytest.raises(RuntimeError, match=r"size mismatch for 1\.running_var"):
        nn.Module.load(path)


def test_the_pictures_name_the_new_layers():
    model = new_layer_model()
    loss = nn.MSELoss()(model(tg.randn(8, 4)), tg.zeros(8, 2))
    loss.backward()
    source = viz.draw_graph(loss, params=model).source
    for name in ("BatchNorm1d", "GELU", "Dropout", "LayerNorm", "ELU"):
        assert f": {name}" in source, name


@pytest.mark.parametrize("layer", [nn.Dropout(0.1), nn.BatchNorm1d(3), nn.LayerNorm(3),
                                   nn.GELU(), nn.ELU()], ids=lambda m: type(m).__name__)
def test_the_compiled_step_runs_the_new_layers_eagerly_or_replays_them_exactly(layer):
    def make():
        tg.manual_seed(1)
        return nn.Sequential(nn.Linear(2, 3), layer.__class__(*(
            [3] if isinstance(layer, (nn.BatchNorm1d, nn.LayerNorm)) else [])), nn.Linear(3, 2))

    x, y = np.random.default_rng(0).standard_normal((8, 2)), np.arange(8) % 2
    eager, compiled = make(), make()
    opt_e, opt_c = optim.SGD(eager.parameters(), lr=0.1), optim.SGD(compiled.parameters(), lr=0.1)
    step = tg.compile(compiled, nn.CrossEntropyLoss(), opt_c)
    for _ in range(3):
        tg.manual_seed(5)
        step(x, y)
        tg.manual_seed(5)
        opt_e.zero_grad()
        nn.CrossEntropyLoss()(eager(x), y).backward()
        opt_e.step()
    if not step.compiled:
        assert type(layer).__name__ in step.reason
    for name, value in eager.state_dict().items():
        np.testing.assert_array_equal(compiled.state_dict()[name], value, err_msg=name)


def test_fit_trains_a_model_with_the_new_layers_and_leaves_its_mode():
    tg.manual_seed(0)
    X, y = data.make_moons(n_samples=200, noise=0.1, seed=0)
    model = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.GELU(), nn.Dropout(0.1),
                          nn.Linear(16, 2))
    history = tg.fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02),
                     (X, y), epochs=15, batch_size=32, progress=False, val_data=(X, y))
    assert history.val_accuracy[-1] > 0.85
    assert model.training and math.isfinite(history.loss[-1])
