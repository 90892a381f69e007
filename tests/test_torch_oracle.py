"""Every operation's value and gradient against PyTorch: same inputs, same upstream gradient.

Skipped as a whole where PyTorch is not installed. Maximum and minimum reductions compare with
``torch.amax``/``torch.amin``, which split the gradient evenly between tied entries as we do
(``torch.max`` would route it to one of them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import spaced_values

torch = pytest.importorskip("torch")
F = torch.nn.functional

import tinygrad_mlp as tg  # noqa: E402  (after the skip: nothing to test without torch)
from tinygrad_mlp.engine import ops  # noqa: E402


@dataclass
class Case:
    ours: Callable
    theirs: Callable
    inputs: Callable[[np.random.Generator], list[np.ndarray]]


def normal(*shapes):
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def spaced(*shapes):
    """All values different and away from 0: no ties, no kink inside the comparison."""
    return lambda rng: spaced_values(rng, *shapes)


def positive(*shapes):
    return lambda rng: [0.2 + np.abs(v) for v in spaced_values(rng, *shapes)]


def fixed(*arrays):
    return lambda rng: [np.array(a, dtype=np.float64) for a in arrays]


def _torch_index(index):
    """The same index for torch: NumPy arrays become tensors (bool stays bool)."""
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    return index


def _dims(t, axis):
    return tuple(range(t.ndim)) if axis is None else axis


CLASSES = np.array([0, 2, 1, 2, 0])
MASK = np.array([[True, False, True, False], [False, False, False, True], [True] * 4])
TIES = [[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 2.0], [-5.0, 0.0, -5.0, 4.0]]

CASES: dict[str, Case] = {
    # binary, broadcasting, constants on either side
    "add": Case(lambda a, b: a + b, lambda a, b: a + b, normal((2, 1, 3), (4, 1))),
    "sub": Case(lambda a, b: a - b, lambda a, b: a - b, normal((2, 3), (3,))),
    "mul": Case(lambda a, b: a * b, lambda a, b: a * b, normal((3, 1), (1, 4))),
    "div": Case(lambda a, b: a / b, lambda a, b: a / b, positive((2, 3), (2, 1))),
    "pow": Case(lambda a, b: a**b, lambda a, b: a**b, positive((2, 3), (3,))),
    "x * 0.5 + 1": Case(lambda a: a * 0.5 + 1, lambda a: a * 0.5 + 1, normal((3,))),
    "2 - x": Case(lambda a: 2 - a, lambda a: 2 - a, normal((3,))),
    "3 / x": Case(lambda a: 3 / a, lambda a: 3 / a, positive((3,))),
    "x ** 3": Case(lambda a: a**3, lambda a: a**3, normal((3,))),
    "2 ** x": Case(lambda a: 2**a, lambda a: 2**a, normal((3,))),
    "matmul 2-D": Case(lambda a, b: a @ b, lambda a, b: a @ b, normal((3, 4), (4, 2))),
    "matmul 1-D @ 2-D": Case(lambda a, b: a @ b, lambda a, b: a @ b, normal((4,), (4, 2))),
    "matmul 2-D @ 1-D": Case(lambda a, b: a @ b, lambda a, b: a @ b, normal((3, 4), (4,))),
    "matmul 1-D @ 1-D": Case(lambda a, b: a @ b, lambda a, b: a @ b, normal((4,), (4,))),
    "matmul batched": Case(
        lambda a, b: tg.matmul(a, b), torch.matmul, normal((2, 1, 3, 4), (5, 4, 2))
    ),
    "maximum": Case(tg.maximum, torch.maximum, spaced((2, 3), (3,))),
    "minimum": Case(tg.minimum, torch.minimum, spaced((2, 3), (2, 1))),
    "maximum ties": Case(tg.maximum, torch.maximum, fixed([1.0, 2.0, 3.0], [1.0, 5.0, 3.0])),
    "minimum ties": Case(tg.minimum, torch.minimum, fixed([1.0, 2.0, 3.0], [1.0, 5.0, 3.0])),
    "where": Case(
        lambda a, b: tg.where(a > 0, a, b),
        lambda a, b: torch.where(a > 0, a, b),
        normal((2, 3), (3,)),
    ),
    # unary
    "neg": Case(lambda a: -a, lambda a: -a, normal((2, 3))),
    "abs": Case(lambda a: a.abs(), torch.abs, spaced((2, 3))),
    "exp": Case(tg.exp, torch.exp, normal((2, 3))),
    "log": Case(tg.log, torch.log, positive((2, 3))),
    "sqrt": Case(tg.sqrt, torch.sqrt, positive((2, 3))),
    "sin": Case(tg.sin, torch.sin, normal((2, 3))),
    "cos": Case(tg.cos, torch.cos, normal((2, 3))),
    "tanh": Case(tg.tanh, torch.tanh, normal((2, 3))),
    "sigmoid": Case(tg.sigmoid, torch.sigmoid, fixed([-800.0, -3.0, 0.0, 2.5, 40.0, 800.0])),
    "relu": Case(tg.relu, torch.relu, spaced((2, 3))),
    "leaky_relu": Case(tg.leaky_relu, F.leaky_relu, spaced((2, 3))),
    "leaky_relu 0.2": Case(
        lambda a: a.leaky_relu(0.2), lambda a: F.leaky_relu(a, 0.2), spaced((2, 3))
    ),
    "softplus": Case(tg.softplus, F.softplus, fixed([-50.0, -2.0, 0.0, 1.5, 15.0])),
    "clip": Case(
        lambda a: a.clip(-0.503, 0.497), lambda a: torch.clamp(a, -0.503, 0.497), spaced((3, 3))
    ),
    "clip min": Case(lambda a: tg.clip(a, min=0.1), lambda a: torch.clamp(a, min=0.1),
                     spaced((3, 3))),
    "clip max": Case(lambda a: a.clip(max=0.1), lambda a: torch.clamp(a, max=0.1),
                     spaced((3, 3))),
    "kinks at 0 and on bounds": Case(
        lambda a: a.relu() + abs(a) + a.leaky_relu(0.3) + a.clip(-1.0, 0.0),
        lambda a: torch.relu(a) + a.abs() + F.leaky_relu(a, 0.3) + torch.clamp(a, -1.0, 0.0),
        fixed([-2.0, -1.0, 0.0, 0.5, 1.0]),
    ),
    # reductions
    "sum": Case(lambda a: a.sum(), torch.sum, normal((2, 3))),
    "sum axis": Case(lambda a: a.sum(axis=1), lambda a: a.sum(dim=1), normal((2, 3, 4))),
    "sum tuple keepdims": Case(
        lambda a: tg.sum(a, axis=(0, 2), keepdims=True),
        lambda a: a.sum(dim=(0, 2), keepdim=True),
        normal((2, 3, 4)),
    ),
    "mean": Case(lambda a: a.mean(), torch.mean, normal((2, 3))),
    "mean axis -1 keepdims": Case(
        lambda a: a.mean(-1, keepdims=True), lambda a: a.mean(-1, keepdim=True), normal((2, 3))
    ),
    "max": Case(lambda a: a.max(), torch.amax, spaced((3, 4))),
    "max ties axis": Case(lambda a: a.max(axis=1), lambda a: torch.amax(a, 1), fixed(TIES)),
    "max ties all": Case(lambda a: tg.max(a), torch.amax, fixed(TIES)),
    "min ties axis keepdims": Case(
        lambda a: a.min(axis=0, keepdims=True),
        lambda a: torch.amin(a, 0, keepdim=True),
        fixed(TIES),
    ),
    "min tuple": Case(lambda a: a.min(axis=(0, 1)), lambda a: torch.amin(a, (0, 1)),
                      spaced((2, 3, 2))),
    "var": Case(lambda a: a.var(), lambda a: a.var(correction=0), normal((3, 4))),
    "var axis ddof 1": Case(
        lambda a: a.var(axis=0, ddof=1), lambda a: a.var(dim=0, correction=1), normal((3, 4))
    ),
    "var tuple keepdims": Case(
        lambda a: tg.var(a, axis=(0, 2), keepdims=True, ddof=1),
        lambda a: a.var(dim=(0, 2), keepdim=True, correction=1),
        normal((2, 3, 4)),
    ),
    "logsumexp": Case(
        lambda a: a.logsumexp(), lambda a: torch.logsumexp(a, dim=(0, 1)), normal((3, 4))
    ),
    "logsumexp axis large": Case(
        lambda a: tg.logsumexp(a * 1000, axis=1, keepdims=True),
        lambda a: torch.logsumexp(a * 1000, dim=1, keepdim=True),
        normal((3, 4)),
    ),
    # shape operations
    "reshape": Case(lambda a: a.reshape(4, -1), lambda a: a.reshape(4, -1), normal((2, 3, 2))),
    "flatten": Case(lambda a: a.flatten(), torch.flatten, normal((2, 3, 2))),
    "flatten 1": Case(lambda a: a.flatten(1), lambda a: a.flatten(1), normal((2, 3, 2))),
    "transpose perm": Case(
        lambda a: a.transpose(2, 0, 1), lambda a: a.permute(2, 0, 1), normal((2, 3, 4))
    ),
    "transpose swap": Case(
        lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), normal((2, 3, 4))
    ),
    "T": Case(lambda a: a.T, lambda a: a.T, normal((2, 3))),
    "T 3-D": Case(lambda a: a.T, lambda a: a.permute(2, 1, 0), normal((2, 3, 4))),
    "mT": Case(lambda a: a.mT, lambda a: a.mT, normal((2, 3, 4))),
    "squeeze": Case(lambda a: a.squeeze(), torch.squeeze, normal((2, 1, 3, 1))),
    "squeeze axis": Case(lambda a: a.squeeze(-1), lambda a: a.squeeze(-1), normal((2, 1, 3, 1))),
    "unsqueeze": Case(lambda a: a.unsqueeze(1), lambda a: a.unsqueeze(1), normal((2, 3))),
    "cat": Case(
        lambda a, b: tg.cat([a, b, a], axis=1),
        lambda a, b: torch.cat([a, b, a], dim=1),
        normal((2, 3), (2, 1)),
    ),
    "stack": Case(
        lambda a, b: tg.stack([a, b], axis=-1),
        lambda a, b: torch.stack([a, b], dim=-1),
        normal((2, 3), (2, 3)),
    ),
    # softmax family
    "softmax": Case(lambda a: a.softmax(), lambda a: a.softmax(-1), normal((3, 4))),
    "softmax axis 0 large": Case(
        lambda a: tg.softmax(a * 500, axis=0), lambda a: (a * 500).softmax(0), normal((3, 4))
    ),
    "log_softmax": Case(lambda a: a.log_softmax(), lambda a: a.log_softmax(-1), normal((3, 4))),
    "log_softmax large": Case(
        lambda a: tg.log_softmax(a * 1000 + 5000, axis=1),
        lambda a: (a * 1000 + 5000).log_softmax(1),
        normal((3, 4)),
    ),
    # fused layers
    "linear": Case(tg.linear, F.linear, normal((5, 3), (4, 3), (4,))),
    "linear no bias": Case(tg.linear, F.linear, normal((5, 3), (4, 3))),
    "linear 3-D input": Case(tg.linear, F.linear, normal((2, 5, 3), (4, 3), (4,))),
    "linear 1-D input": Case(tg.linear, F.linear, normal((3,), (4, 3), (4,))),
}

for _index_name, _index in {
    "int": 1,
    "slices": (slice(None), slice(1, None, 2)),
    "None and ellipsis": (None, Ellipsis, -1),
    "int array with repeats": np.array([0, 2, 0, 0]),
    "two int arrays": (np.array([0, 0, 2]), np.array([1, 1, 3])),
    "slice and int array": (slice(None), np.array([3, 3, 0])),
    "bool mask": MASK,
}.items():
    CASES[f"getitem {_index_name}"] = Case(
        lambda a, i=_index: a[i], lambda a, i=_index: a[_torch_index(i)], normal((3, 4))
    )

for _reduction in ("mean", "sum", "none"):
    CASES[f"cross_entropy classes {_reduction}"] = Case(
        lambda a, r=_reduction: ops.CrossEntropy.apply(a, classes=CLASSES, reduction=r),
        lambda a, r=_reduction: F.cross_entropy(a, torch.from_numpy(CLASSES), reduction=r),
        normal((5, 3)),
    )
    CASES[f"cross_entropy probabilities {_reduction}"] = Case(
        lambda a, p, r=_reduction: ops.CrossEntropy.apply(a, p.softmax(), reduction=r),
        lambda a, p, r=_reduction: F.cross_entropy(a, p.softmax(-1), reduction=r),
        normal((5, 3), (5, 3)),
    )
CASES["cross_entropy targets not summing to 1"] = Case(
    lambda a, p: ops.CrossEntropy.apply(a, p.sigmoid(), reduction="sum"),
    lambda a, p: F.cross_entropy(a, p.sigmoid(), reduction="sum"),
    normal((5, 3), (5, 3)),
)
CASES["cross_entropy 1-D logits"] = Case(
    lambda a: ops.CrossEntropy.apply(a, classes=np.array(2)),
    lambda a: F.cross_entropy(a, torch.tensor(2)),
    normal((4,)),
)
CASES["cross_entropy 1-D probabilities"] = Case(
    lambda a, p: ops.CrossEntropy.apply(a, p.softmax()),
    lambda a, p: F.cross_entropy(a, p.softmax(-1)),
    normal((4,), (4,)),
)
CASES["cross_entropy huge logits"] = Case(
    lambda a: ops.CrossEntropy.apply(a * 1e4, classes=CLASSES),
    lambda a: F.cross_entropy(a * 1e4, torch.from_numpy(CLASSES)),
    normal((5, 3)),
)

FLOAT32_CASES = [
    "mul", "div", "matmul batched", "tanh", "sigmoid", "softplus", "var axis ddof 1",
    "logsumexp axis large", "softmax", "log_softmax large", "linear",
    "cross_entropy classes mean", "cross_entropy probabilities sum", "getitem two int arrays",
]


def compare(case: Case, dtype, rtol: float, atol: float, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    arrays = [a.astype(dtype) for a in case.inputs(rng)]
    ours = [tg.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = case.ours(*ours), case.theirs(*theirs)
    assert out.dtype == dtype
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=rtol, atol=atol)

    upstream = rng.standard_normal(out.shape).astype(dtype)
    out.backward(gradient=upstream)
    expected.backward(torch.from_numpy(upstream))
    for i, (x, t) in enumerate(zip(ours, theirs)):
        assert x.grad is not None and x.grad.dtype == dtype and x.grad.shape == x.shape
        np.testing.assert_allclose(
            x.grad.data, t.grad.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )


@pytest.mark.parametrize("name", CASES)
def test_float64_matches_pytorch(name):
    compare(CASES[name], np.float64, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", FLOAT32_CASES)
def test_float32_matches_pytorch(name):
    compare(CASES[name], np.float32, rtol=2e-5, atol=2e-5)
