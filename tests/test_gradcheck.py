"""gradcheck never passes a non-finite or wrong gradient, and refuses settings that would
compare nothing (issue 14). Truth comes from closed forms: d/dx log x = 1/x, sqrt' = 1/(2 sqrt)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp.engine.autograd import Function

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")  # NaN made on purpose


def leaf(values):
    return tg.tensor(np.array(values, dtype=np.float64), requires_grad=True)


class NaNGradient(Function):
    """x * 2 whose rule hands back NaN: an analytic gradient that compares False with all."""

    name = "nan_gradient"

    def forward(self, x):
        return x * 2

    def backward(self, g, out, x):
        return (g * np.nan,)


class HalfWrong(Function):
    """x ** 2 with the gradient off by a factor 2: wrong, but only by 1e-7 near x = 1e-7."""

    name = "half_wrong"

    def forward(self, x):
        return x * x

    def backward(self, g, out, x):
        return (g * x,)


def test_a_nan_forward_fails_instead_of_passing():
    # log(-1) is NaN: numerical gradient NaN, and NaN > tolerance is False
    with pytest.raises(tg.GradcheckError, match="NaN"):
        tg.gradcheck(lambda t: t.log().sum(), [leaf([-1.0])])
    assert tg.gradcheck(lambda t: t.log().sum(), [leaf([-1.0])], raise_exception=False) is False


def test_a_nan_analytic_gradient_fails():
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda t: NaNGradient.apply(t).sum(), [leaf([0.5, 2.0])])
    assert "analytic nan" in str(info.value) and "never passes" in str(info.value)


def test_an_infinite_gradient_fails():
    # sqrt at 0: the analytic gradient is inf (1 / (2 sqrt 0)), the numerical one NaN
    with pytest.raises(tg.GradcheckError, match="inf"):
        tg.gradcheck(lambda t: t.sqrt().sum(), [leaf([0.0, 4.0])])


def test_correct_gradients_still_pass_and_a_wrong_one_is_named():
    assert tg.gradcheck(lambda t: t.log().sum(), [leaf([0.5, 3.0])])
    assert tg.gradcheck(lambda t: t.sqrt(), [leaf([0.25, 4.0])])
    with pytest.raises(tg.GradcheckError, match=r"input 0 entry \(1,\)"):
        tg.gradcheck(lambda t: HalfWrong.apply(t).sum(), [leaf([0.0, 3.0])])


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"eps": 0.0}, ValueError, "eps must be positive"),
        ({"eps": -1e-6}, ValueError, "eps must be positive"),
        ({"eps": float("nan")}, ValueError, "eps must be finite"),
        ({"eps": float("inf")}, ValueError, "eps must be finite"),
        ({"atol": float("inf")}, ValueError, "atol must be finite"),
        ({"rtol": float("nan")}, ValueError, "rtol must be finite"),
        ({"atol": -1.0}, ValueError, "atol must not be negative"),
        ({"rtol": -0.1}, ValueError, "rtol must not be negative"),
        ({"eps": "1e-6"}, TypeError, "eps must be a real number"),
        ({"atol": None}, TypeError, "atol must be a real number"),
    ],
)
def test_settings_that_would_compare_nothing_are_refused(settings, error, message):
    calls = []

    def fn(t):
        calls.append(1)
        return HalfWrong.apply(t).sum()  # a wrong gradient: eps=0 used to pass it

    with pytest.raises(error, match=message):
        tg.gradcheck(fn, [leaf([1.0, 2.0])], **settings)
    assert calls == []  # refused before anything ran


def test_the_step_is_the_one_given():
    # f(x) = |x| near 0 with a kink at 0: the central difference with eps = 1 at x = 0.5
    # straddles the kink and gives 0.5, not 1; with the default tiny eps it gives 1.
    assert tg.gradcheck(lambda t: t.abs().sum(), [leaf([0.5])])
    assert not tg.gradcheck(lambda t: t.abs().sum(), [leaf([0.5])], eps=1.0,
                            raise_exception=False)
