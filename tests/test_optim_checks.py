"""What optim refuses and what a refusal leaves behind (issue 14): non-finite gradients and
overflowing updates, every setting wherever it is set, bad state dicts and bad params. Each
failing call is held against a snapshot of everything the optimizer could have changed."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor, optim

# NumPy warns about the overflows and invalid values of the steps these tests refuse.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

OPTIMIZERS = {
    "sgd": lambda p: optim.SGD(p, lr=0.1),
    "momentum": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    "nesterov": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "dampened": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5),
    "adam": lambda p: optim.Adam(p, lr=0.1, weight_decay=0.01),
    "adamw": lambda p: optim.AdamW(p, lr=0.1),
}
SHAPES = [(4, 3), (3,), (70, 80)]  # the last one column-major, as nn.Linear lays big ones out


def make_params(seed=0):
    rng = np.random.default_rng(seed)
    params = []
    for shape in SHAPES:
        array = rng.normal(size=shape).astype(np.float32)
        if len(shape) == 2 and shape[0] >= 64:
            array = np.asfortranarray(array)
        params.append(tg.tensor(array, requires_grad=True))
    return params


def set_grads(params, seed):
    rng = np.random.default_rng(seed)
    for p in params:
        # The gradient laid out as its parameter is, as backward makes it.
        p.grad = Tensor(np.asarray(rng.normal(size=p.shape), dtype=np.float32,
                                   order="F" if p.data.flags.f_contiguous else "C"))


def snapshot(params, opt):
    """Every value a step may change, copied: the parameters, the state, the settings."""
    state = {i: {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in opt.state[p].items()}
             for i, p in enumerate(params) if p in opt.state}
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    return [p.data.copy() for p in params], state, groups


def assert_same(before, after):
    (data_a, state_a, groups_a), (data_b, state_b, groups_b) = before, after
    for a, b in zip(data_a, data_b):
        assert a.tobytes() == b.tobytes()
    assert state_a.keys() == state_b.keys()
    for i in state_a:
        assert state_a[i].keys() == state_b[i].keys()
        for k, v in state_a[i].items():
            if isinstance(v, np.ndarray):
                assert v.tobytes() == state_b[i][k].tobytes() and v.dtype == state_b[i][k].dtype
            else:
                assert v == state_b[i][k]
    assert groups_a == groups_b


# -- non-finite gradients ---------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("which", [0, 1, 2])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_non_finite_gradient_is_refused_and_changes_nothing(name, which, bad):
    params = make_params()
    params[1].name = "bias"
    opt = OPTIMIZERS[name](params)
    set_grads(params, seed=1)
    opt.step()  # a good step first, so that there is state to keep
    before = snapshot(params, opt)
    set_grads(params, seed=2)
    grad = params[which].grad.data
    grad[np.unravel_index(grad.size // 2 + 1, grad.shape)] = bad  # amid a BLAS kernel's blocks
    with pytest.raises(optim.NonFiniteGradient) as info:
        opt.step()
    error = info.value
    assert isinstance(error, FloatingPointError)
    assert error.index == which and error.parameter is params[which]
    words = {np.nan: "NaN", np.inf: "inf", -np.inf: "-inf"}[bad]
    named = " ('bias')" if which == 1 else ""
    assert f"{type(opt).__name__}.step: the gradient of parameter {which}{named} " \
           f"(shape {SHAPES[which]}) holds {words}; nothing was updated" in str(error)
    assert_same(before, snapshot(params, opt))


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_after_a_refused_step_training_goes_on_as_if_it_never_happened(name):
    """Adam's moments (and SGD's buffers) never take the NaN in: the run continues exactly as
    a run that never saw the bad gradient."""
    runs = []
    for with_bad_step in (False, True):
        params = make_params()
        opt = OPTIMIZERS[name](params)
        for seed in range(1, 5):
            if with_bad_step and seed == 3:
                set_grads(params, seed=99)
                params[0].grad.data[0, 0] = np.nan
                with pytest.raises(optim.NonFiniteGradient):
                    opt.step()
            set_grads(params, seed)
            opt.step()
        runs.append(snapshot(params, opt))
    assert_same(*runs)
    assert all(np.isfinite(v).all() for s in runs[1][1].values() for v in s.values()
               if isinstance(v, np.ndarray))


def test_a_bad_gradient_in_the_second_group_leaves_the_first_untouched():
    params = make_params()
    opt = optim.SGD([{"params": params[:2]}, {"params": params[2:], "lr": 0.5}], lr=0.1,
                    momentum=0.9)
    set_grads(params, seed=1)
    opt.step()
    before = snapshot(params, opt)
    set_grads(params, seed=2)
    params[2].grad.data[5, 7] = np.inf
    with pytest.raises(optim.NonFiniteGradient, match="parameter 2 "):
        opt.step()
    assert_same(before, snapshot(params, opt))


def test_an_update_that_overflows_is_refused_though_the_gradient_is_finite():
    w = tg.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=1e30)
    w.grad = tg.tensor(np.array([1.0, 1e10, 1.0], np.float32))  # 1e40 overflows float32
    with pytest.raises(optim.NonFiniteGradient, match=r"update of parameter 0 \(shape \(3,\)\) "
                                                      r"would be -?inf.*overflows"):
        opt.step()
    assert w.tolist() == [1.0, 1.0, 1.0]
    adam = optim.Adam([w], lr=0.1)
    w.grad = tg.tensor(np.array([1.0, 1e20, 1.0], np.float32))  # g**2 overflows the moment
    with pytest.raises(optim.NonFiniteGradient, match="would be inf"):
        adam.step()
    assert w.tolist() == [1.0, 1.0, 1.0] and not adam.state


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_large_finite_gradients_are_not_mistaken_for_non_finite(name):
    """The quick check (a dot product) overflows on huge entries; the closer look passes them.
    (Adam squares the gradient: 1e25**2 overflows float32 and is refused for it, so 1e15.)"""
    params = make_params()
    start = [p.data.copy() for p in params]
    opt = OPTIMIZERS[name](params)
    set_grads(params, seed=1)
    for p in params:
        p.grad.data[...] *= 1e15 if name == "adam" else 1e25
    opt.step()
    for p, before in zip(params, start):
        assert np.isfinite(p.data).all() and not np.array_equal(p.data, before)
        if name == "sgd":
            np.testing.assert_array_equal(p.data, before - p.grad.data * np.float32(0.1))


def test_float64_overflow_and_zero_size_parameters():
    w = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    empty = tg.tensor(np.zeros((0, 3)), requires_grad=True)
    opt = optim.Adam([w, empty], lr=0.1)
    w.grad, empty.grad = tg.tensor(np.array([1e200, 1.0])), tg.tensor(np.zeros((0, 3)))
    with pytest.raises(optim.NonFiniteGradient, match="parameter 0"):
        opt.step()  # (1e200)**2 is inf in float64 too
    w.grad = tg.tensor(np.array([1e100, 1.0]))
    opt.step()
    assert np.isfinite(w.data).all() and opt.state[empty]["exp_avg"].shape == (0, 3)


def test_a_read_only_parameter_is_refused_before_anything_changes():
    a, b = tg.ones(2, requires_grad=True), tg.ones(2, requires_grad=True)
    b.data.flags.writeable = False
    opt = optim.SGD([a, b], lr=0.1)
    a.grad = b.grad = Tensor(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="parameter 1 is a read-only array; nothing was"):
        opt.step()
    assert a.tolist() == [1.0, 1.0]


# -- settings, wherever they are set -----------------------------------------------------------

BAD_SETTINGS = [
    ("SGD", "lr", float("inf"), ValueError, "Invalid learning rate: inf"),
    ("SGD", "lr", float("nan"), ValueError, "Invalid learning rate: nan"),
    ("SGD", "lr", -5, ValueError, "Invalid learning rate: -5"),
    ("SGD", "lr", "x", TypeError, "lr must be a finite number >= 0, got 'x'"),
    ("SGD", "lr", None, TypeError, "lr must be a finite number >= 0, got None"),
    ("SGD", "lr", True, TypeError, "got True"),
    ("SGD", "momentum", -0.1, ValueError, "Invalid momentum value: -0.1"),
    ("SGD", "momentum", float("inf"), ValueError, "Invalid momentum value: inf"),
    ("SGD", "dampening", 1.5, ValueError, r"dampening must be a number in \[0, 1\]"),
    ("SGD", "weight_decay", float("nan"), ValueError, "Invalid weight_decay value: nan"),
    ("SGD", "nesterov", "yes", TypeError, "nesterov must be True or False"),
    ("Adam", "betas", (0.9,), TypeError, r"betas must be a pair of numbers in \[0, 1\)"),
    ("Adam", "betas", (0.9, 0.999, 0.5), TypeError, "betas must be a pair"),
    ("Adam", "betas", (0.9, 1.0), ValueError, "Invalid beta parameter at index 1: 1.0"),
    ("Adam", "betas", (-0.1, 0.9), ValueError, "Invalid beta parameter at index 0: -0.1"),
    ("Adam", "betas", (0.9, "x"), TypeError, "betas must be a pair"),
    ("Adam", "betas", None, TypeError, "betas must be a pair"),
    ("Adam", "eps", -1e-8, ValueError, "Invalid epsilon value: -1e-08"),
    ("AdamW", "eps", float("inf"), ValueError, "Invalid epsilon value: inf"),
    ("AdamW", "weight_decay", -1, ValueError, "Invalid weight_decay value: -1"),
]
IDS = [f"{c}-{n}-{v!r}" for c, n, v, _, _ in BAD_SETTINGS]


def good_optimizer(cls_name, momentum=0.9):
    w = tg.ones(2, requires_grad=True)
    extra = {"momentum": momentum} if cls_name == "SGD" else {}
    return w, getattr(optim, cls_name)([w], lr=0.1, **extra)


@pytest.mark.parametrize("cls_name,name,value,error,message", BAD_SETTINGS, ids=IDS)
def test_a_bad_setting_is_refused_in_the_constructor(cls_name, name, value, error, message):
    with pytest.raises(error, match=rf"^{cls_name}: .*{message}"):
        getattr(optim, cls_name)([tg.ones(2, requires_grad=True)], **{name: value})


@pytest.mark.parametrize("cls_name,name,value,error,message", BAD_SETTINGS, ids=IDS)
def test_a_bad_setting_is_refused_in_an_added_group(cls_name, name, value, error, message):
    w, opt = good_optimizer(cls_name)
    before = snapshot([w], opt)
    with pytest.raises(error, match=rf"^{cls_name}.add_param_group: .*{message}"):
        opt.add_param_group({"params": [tg.ones(1, requires_grad=True)], name: value})
    assert len(opt.param_groups) == 1
    assert_same(before, snapshot([w], opt))


@pytest.mark.parametrize("cls_name,name,value,error,message", BAD_SETTINGS, ids=IDS)
def test_a_bad_setting_is_refused_when_assigned(cls_name, name, value, error, message):
    w, opt = good_optimizer(cls_name)
    before = snapshot([w], opt)
    where = rf"{cls_name}.param_groups\[0\]\['{name}'\]: "
    with pytest.raises(error, match=rf"^{where}.*{message}"):
        opt.param_groups[0][name] = value
    with pytest.raises(error, match=message):
        opt.param_groups[0].update({"lr": 0.5, name: value})  # nothing of it is set
    assert_same(before, snapshot([w], opt))


@pytest.mark.parametrize("cls_name,name,value,error,message", BAD_SETTINGS, ids=IDS)
def test_a_bad_setting_is_refused_by_load_state_dict(cls_name, name, value, error, message):
    w, opt = good_optimizer(cls_name)
    w.grad = Tensor(np.ones(2, np.float32))
    opt.step()
    saved = opt.state_dict()
    saved["param_groups"][0]["lr"] = 0.5
    saved["param_groups"][0][name] = value
    before = snapshot([w], opt)
    with pytest.raises(error, match=rf"^{cls_name}.load_state_dict: parameter group 0: "
                                    rf".*{message}"):
        opt.load_state_dict(saved)
    assert_same(before, snapshot([w], opt))


def test_nesterov_needs_momentum_and_no_dampening_wherever_it_is_set():
    w, opt = good_optimizer("SGD")
    opt.param_groups[0]["nesterov"] = True
    with pytest.raises(ValueError, match=r"param_groups\[0\]\['momentum'\]: Nesterov momentum "
                                         "requires a momentum and zero dampening"):
        opt.param_groups[0]["momentum"] = 0.0
    with pytest.raises(ValueError, match="Nesterov"):
        opt.param_groups[0]["dampening"] = 0.1
    assert opt.param_groups[0]["momentum"] == 0.9 and opt.param_groups[0]["dampening"] == 0.0
    with pytest.raises(ValueError, match=r"^SGD: Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)


def test_good_settings_of_every_kind_are_kept_as_given():
    w = tg.ones(2, requires_grad=True)
    opt = optim.Adam([w], lr=np.float32(0.5), betas=[0.8, np.float64(0.9)], eps=0)
    assert opt.param_groups[0]["betas"] == (0.8, 0.9) and opt.param_groups[0]["lr"] == 0.5
    opt.param_groups[0]["lr"] *= 0.1
    opt.param_groups[0]["initial_lr"] = "anything"  # a key that is not a setting is free
    opt.param_groups[0].setdefault("eps", -1.0)  # present: not set, so not checked
    with pytest.raises(ValueError, match="Invalid epsilon"):
        del opt.param_groups[0]["eps"]
        opt.param_groups[0].setdefault("eps", -1.0)


def test_an_optimizer_still_copies_and_pickles():
    w, opt = good_optimizer("SGD")
    w.grad = Tensor(np.ones(2, np.float32))
    opt.step()
    for twin in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        assert twin.param_groups[0]["lr"] == 0.1
        with pytest.raises(ValueError, match="Invalid learning rate"):
            twin.param_groups[0]["lr"] = -1.0


# -- params and state dicts ---------------------------------------------------------------------


@pytest.mark.parametrize("params,error,message", [
    (None, TypeError, "SGD: params must be an iterable of Tensors .* got NoneType"),
    (5, TypeError, "got int"),
    ("weights", TypeError, "got str"),
    ({"params": []}, TypeError, "got dict"),
    (tg.ones(2, requires_grad=True), TypeError, r"wrap it in a list: \[w\]"),
    ([], ValueError, "SGD: optimizer got an empty parameter list"),
    ([np.ones(2)], TypeError, "can only optimize Tensors, got ndarray"),
    ([{"lr": 0.1}], ValueError, "a parameter group needs the key 'params'"),
    ([{"params": None}], TypeError, "'params' must be a list of Tensors, got NoneType"),
])
def test_bad_params_are_named(params, error, message):
    with pytest.raises(error, match=message):
        optim.SGD(params, lr=0.1)


def adam_with_state():
    w = tg.ones(2, requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    w.grad = Tensor(np.ones(2, np.float32))
    opt.step()
    return w, opt


def _with(saved, path, value):
    saved = copy.deepcopy(saved)
    target = saved
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return saved


@pytest.mark.parametrize("change,error,message", [
    (lambda s: None, TypeError, r"expected a dict with 'state' and 'param_groups' .*got None"),
    (lambda s: {}, TypeError, "got a dict with the keys"),
    (lambda s: {"state": {}, "param_groups": 3}, TypeError, "'param_groups' must be a list"),
    (lambda s: _with(s, ["param_groups", 0, "lr"], -5), ValueError,
     "parameter group 0: Invalid learning rate: -5"),
    (lambda s: _with(s, ["param_groups", 0, "params"], None), ValueError, "a list 'params'"),
    (lambda s: _with(s, ["state", 0, "exp_avg"], np.full(2, np.nan)), ValueError,
     "state of parameter 0: 'exp_avg' holds NaN"),
    (lambda s: _with(s, ["state", 0, "exp_avg_sq"], KeyError), ValueError, "lacks 'exp_avg_sq'"),
    (lambda s: _with(s, ["state", 0, "step"], -1), ValueError, "'step' must be a count"),
    (lambda s: _with(s, ["state", 0, "step"], "1"), ValueError, "'step' must be a count"),
    (lambda s: _with(s, ["state", 0, "exp_avg"], ["a", "b"]), TypeError, "not an array"),
    (lambda s: _with(s, ["state", 0, "exp_avg"], np.zeros(3)), ValueError, r"shape \(3,\)"),
    (lambda s: _with(s, ["state", 7], {}), ValueError, "unknown parameter 7"),
    (lambda s: _with(s, ["state", None], {}), ValueError, "named by their index, got None"),
])
def test_load_state_dict_refuses_clearly_and_changes_nothing(change, error, message):
    w, opt = adam_with_state()
    before = snapshot([w], opt)
    bad = change(opt.state_dict())
    with pytest.raises(error, match=f"^Adam.load_state_dict: .*{message}"):
        opt.load_state_dict(bad)
    assert_same(before, snapshot([w], opt))


def test_load_state_dict_takes_string_indices_as_json_gives_them():
    opt = adam_with_state()[1]
    saved = opt.state_dict()
    saved["state"] = {str(k): v for k, v in saved["state"].items()}
    twin = optim.Adam([tg.ones(2, requires_grad=True)])
    twin.load_state_dict(saved)
    assert twin.state_dict()["state"][0]["step"] == 1
