"""The engine's numerics: one non-finite check, one number format, one finite difference."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp.engine.numerics import (
    central_difference,
    format_number,
    non_finite,
    partial_derivatives,
)


@pytest.mark.parametrize(
    "values, expected",
    [
        ([1.0, 2.0], None),
        ([np.nan], "NaN"),
        ([np.inf, 1.0], "inf"),
        ([-np.inf], "-inf"),
        ([np.nan, np.inf, -np.inf], "NaN and inf and -inf"),
        (np.array([1, 2]), None),  # integers cannot hold NaN
        (np.array([True]), None),
        (np.zeros((0,)), None),
        (None, None),
        (np.float32(np.nan), "NaN"),
    ],
)
def test_non_finite_names_what_is_there(values, expected):
    array = values if values is None or isinstance(values, (np.ndarray, np.generic)) \
        else np.array(values, dtype=np.float64)
    assert non_finite(array) == expected


@pytest.mark.parametrize(
    "x, digits, expected",
    [
        (None, 3, "-"), (0.0, 3, "0"), (float("nan"), 3, "nan"), (float("-inf"), 3, "-inf"),
        (3.14159, 3, "3.14"), (0.0012345, 2, "0.0012"), (2.5e-7, 3, "2.50e-07"),
        (123456.0, 2, "1.2e+05"), (-42.0, 4, "-42"),
        # plain up to 1e4 even where the integer part has more digits than asked for
        (1000.0, 3, "1000"), (9999.4, 2, "9999"), (-4321.0, 3, "-4321"), (999.96, 3, "1000"),
    ],
)
def test_format_number(x, digits, expected):
    assert format_number(x, digits) == expected


@settings(max_examples=50, deadline=None)
@given(st.floats(-5, 5))
def test_central_difference_of_a_number_matches_the_closed_form(x):
    assert central_difference(np.sin, x) == pytest.approx(np.cos(x), abs=1e-8)


def test_central_difference_elementwise_takes_every_entry_at_once():
    calls = []

    def tanh(a):
        calls.append(1)
        return np.tanh(a)

    A = np.linspace(-3, 3, 13).reshape(13, 1)
    slope = central_difference(tanh, A)
    assert len(calls) == 2
    np.testing.assert_allclose(slope, 1 - np.tanh(A) ** 2, atol=1e-9)


def test_central_difference_along_a_direction_gives_a_hessian_vector_product():
    H = np.array([[2.0, 1.0], [1.0, 3.0]])
    v = np.array([0.5, -1.0])
    x = np.array([0.3, 0.7])
    hv = central_difference(lambda w: H @ w, x, direction=v)  # the gradient of ½wᵀHw is Hw
    np.testing.assert_allclose(hv, H @ v, rtol=1e-9)
    # the same on a list of arrays, as an optimiser's parameters come
    hv_list = central_difference(lambda ws: [H @ ws[0]], [x], direction=[v])
    np.testing.assert_allclose(hv_list[0], H @ v, rtol=1e-9)


def test_partial_derivatives_restores_the_array_and_matches_the_gradient():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    before = x.copy()
    grad = partial_derivatives(lambda v: float(np.sum(np.exp(v) * v)), x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(grad.reshape(x.shape), np.exp(x) * (x + 1), rtol=1e-7)
    some = partial_derivatives(lambda v: float(np.sum(v ** 2)), x, entries=[0, 5])
    np.testing.assert_allclose(some, 2 * x.reshape(-1)[[0, 5]], rtol=1e-7)


def test_partial_derivatives_refuses_an_array_it_could_not_restore():
    with pytest.raises(ValueError, match="partial_derivatives"):
        partial_derivatives(lambda v: 0.0, np.zeros((4, 4))[:, ::2])
