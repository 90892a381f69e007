"""diagnose's reports read right: a wrong gradient leads, every section referred to is printed,
and a "smaller learning rate" is smaller (issue 12, item 5)."""

from __future__ import annotations

import re
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mlp import manual, nn
from tinygrad_mlp.convert import to_mlp
from tinygrad_mlp.diagnose import diagnose
from tinygrad_mlp.diagnose.cures import smaller_lr

RNG = np.random.default_rng(11)
X = RNG.normal(size=(40, 3))
Y = np.tanh(X @ [[1.0], [-0.5], [0.25]])


class ForgetsTheDerivative(manual.NeuralNetwork):
    """A learner's backward pass that drops the hidden activation's derivative: it runs, it
    stays finite, the loss even goes down, and the gradient is wrong."""

    def backward_pass(self, A_vals, dLdyhat):
        deltas = [np.asarray(dLdyhat, dtype=np.float64)]
        for layer in range(self.n_layers - 2, -1, -1):
            deltas.append(deltas[-1] @ self.W[layer + 1][1:].T)  # no derivative(A) factor
        return deltas[::-1]


class AscendsTheGradient(manual.NeuralNetwork):
    """A flipped sign in update_weights: gradient ascent, whatever the step size."""

    def update_weights(self, X, Z_vals, deltas):
        inputs = [np.asarray(X), *Z_vals[:-1]]
        for i, (Z, d) in enumerate(zip(inputs, deltas)):
            Zb = np.concatenate((np.ones((Z.shape[0], 1)), Z), axis=1)
            self.W[i] += self.learning_rate * Zb.T @ d
        return self.W


def _tanh_net(cls=manual.NeuralNetwork, lr=0.05):
    return cls(3, [6, 1], [manual.Tanh(), manual.Identity()], manual.MSE(), learning_rate=lr,
               seed=1)


def sections_printed(text: str) -> set[str]:
    return set(re.findall(r"^(\d)\. ", text, flags=re.M))


def assert_refers_only_to_what_it_prints(text: str) -> None:
    printed = sections_printed(text)
    for number in re.findall(r"sections? (\d)(?: and (\d))?", text):
        for n in filter(None, number):
            assert n in printed, f"refers to section {n}, which is not printed:\n{text}"
    if "see the notes" in text:
        assert "Note: " in text, text
    if "see the table" in text:
        assert "7. Candidate fixes (each rerun" in text, text


def test_a_stable_run_with_a_wrong_gradient_leads_with_the_wrong_gradient():
    report = diagnose(_tanh_net(ForgetsTheDerivative), X, Y, epochs=60)
    assert not report.blew_up and report.losses[-1] < report.losses[0]
    assert report.gradient_wrong and report.lr_times_lambda_max < 2
    first = report.verdict().splitlines()[0]
    assert first.startswith("The gradient is wrong:"), report.verdict()
    assert str(report.backprop.first_mismatch) in " ".join(report.verdict().split())
    text = str(report)
    assert "not needed" not in text and "The run is stable" not in text
    assert "mend the backprop (section 6) first" in " ".join(text.split())
    assert "6. Backprop against autograd" in text
    assert_refers_only_to_what_it_prints(text)


def test_a_correct_stable_run_is_still_called_stable():
    report = diagnose(_tanh_net(), X, Y, epochs=60)
    assert not report.gradient_wrong
    assert report.verdict().startswith("The run is stable")
    assert "7. Candidate fixes: not needed, the run is stable." in str(report)


def test_the_backprop_notes_are_printed_once():
    class LateAverage(manual.NeuralNetwork):
        """The 1/n moved from loss.derivative into update_weights: right, by convention."""

        def update_weights(self, X, Z_vals, deltas):
            n = np.asarray(X).shape[0]
            return super().update_weights(X, Z_vals, [d / n for d in deltas])

    class SumMSE(manual.MSE):
        def derivative(self, y_hat, y):
            return super().derivative(y_hat, y) * np.asarray(y_hat).size

    net = LateAverage(3, [6, 1], [manual.Tanh(), manual.Identity()], SumMSE(),
                      learning_rate=0.05, seed=1)
    report = diagnose(net, X, Y, epochs=30)
    assert report.backprop.ok and report.backprop.notes
    text = " ".join(str(report).split())
    assert text.count("cancel when chained") == 1  # the checker's note, printed once
    assert_refers_only_to_what_it_prints(str(report))


def test_the_notes_of_a_wrong_backprop_are_printed_in_section_6():
    class Tanh(manual.Activation):  # named tanh, but not quite: the checker notes it
        def value(self, A):
            return 0.99 * np.tanh(A)

        def derivative(self, A):
            return 0.99 * (1 - np.tanh(A) ** 2)

    net = ForgetsTheDerivative(3, [6, 1], [Tanh(), manual.Identity()], manual.MSE(),
                               learning_rate=0.05, seed=1)
    report = diagnose(net, X, Y, epochs=5, try_cures=False)
    assert not report.backprop.ok and len(report.backprop.notes) == 1
    section = str(report).split("6. Backprop against autograd")[1].split("\n7. ")[0]
    assert "Note: layer 0: Tanh.value does not compute the standard tanh" in " ".join(
        section.split())


class Exp(manual.Activation):
    """exp as a hidden activation: the curvature is mild at the start, and the run still
    overflows once the weights grow."""

    def value(self, A):
        return np.exp(A)

    def derivative(self, A):
        return np.exp(A)


def test_a_smaller_learning_rate_is_smaller_even_when_the_curvature_is_small():
    net = manual.NeuralNetwork(3, [6, 1], [Exp(), manual.Identity()], manual.MSE(),
                               learning_rate=0.01, seed=1)
    report = diagnose(net, X, Y * 20, epochs=60)
    # lr · λmax < 1 at the start, so 1/λmax would be a LARGER learning rate (the old report
    # offered "smaller learning rate: 1.2 -> 3.64" in such a case).
    assert report.blew_up and 0 < report.lr_times_lambda_max < 1
    lower = next(t for t in report.trials if t.key == "lower_lr")
    offered = float(re.search(r"-> ([0-9.e+-]+)", lower.change).group(1))
    assert offered == pytest.approx(0.001) and lower.lr_times_lambda_max < 0.1
    assert lower.cured  # and it does cure this run
    assert_refers_only_to_what_it_prints(str(report))


def test_an_update_that_climbs_is_named_and_not_averaged_away():
    report = diagnose(_tanh_net(AscendsTheGradient), X, Y, epochs=40)
    assert report.update_scale == pytest.approx(-1.0)
    assert "The update climbs" in report.verdict() and "section 6" in report.verdict()
    keys = [t.key for t in report.trials]
    assert "average" not in keys and "lower_lr" not in keys
    assert "bias" in keys and "bias" in report.cures  # the textbook update mends the sign
    assert "largest stable learning rate" not in str(report)
    assert_refers_only_to_what_it_prints(str(report))


@settings(max_examples=200, deadline=None)
@given(st.floats(1e-6, 1e6), st.floats(1e-6, 1e3))
def test_smaller_lr_is_always_below_the_given_rate(lam, lr):
    fix = smaller_lr(types.SimpleNamespace(lambda_max=lam), lr)
    assert fix is not None and 0 < fix.lr < lr
    assert fix.lr == pytest.approx(min(1 / lam, lr) if 1 / lam < lr else lr / 10)


def _convention_report(case):
    """A report on the checker's catalogue networks (Ng's 2-layer form, Nielsen's network.py)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "conventions"))
    import ng_planar
    import nielsen_network

    if case == "ng-blows-up":
        columns = RNG.normal(size=(2, 60))
        return diagnose(ng_planar.initialize_parameters(2, 4, 1), columns,
                        (columns[:1] > 0) * 1.0,
                        forward=ng_planar.forward_propagation,
                        backward=ng_planar.backward_propagation, cost=ng_planar.compute_cost,
                        update=ng_planar.update_parameters, learning_rate=60.0, epochs=30)
    return diagnose(nielsen_network.Network([3, 4, 1]), X[:12], (Y[:12] > 0) * 1.0, epochs=20)


@pytest.mark.parametrize("case", ["posted-short", "diverges", "model", "nan-at-start",
                                  "raises", "no-cures", "stable-model", "ng-blows-up",
                                  "nielsen-stable"])
def test_no_report_refers_to_a_section_it_does_not_print(case):
    if case in ("ng-blows-up", "nielsen-stable"):
        report = _convention_report(case)
        assert report.blew_up == (case == "ng-blows-up")
    elif case == "posted-short":
        from tinygrad_mlp.scenario import posted_setup

        net, Xp, yp = posted_setup()
        report = diagnose(net, Xp, yp, epochs=40)
    elif case == "diverges":
        report = diagnose(_tanh_net(AscendsTheGradient), X, Y, epochs=40, try_cures=False)
    elif case in ("model", "stable-model"):
        lr = 3.0 if case == "model" else 0.05
        report = diagnose(to_mlp(_tanh_net()), X * 10, Y, epochs=40, learning_rate=lr,
                          loss=nn.MSELoss())
    elif case == "nan-at-start":
        class RawBCE:
            def value(self, p, y):
                return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

            def derivative(self, p, y):
                return (p - y) / (p * (1 - p)) / p.size

        net = manual.NeuralNetwork(3, [1], [manual.Sigmoid()], RawBCE(), learning_rate=0.1,
                                   W_init=[np.array([[0.0], [900.0], [0.0], [0.0]])])
        report = diagnose(net, X, (X[:, :1] > 0).astype(float), epochs=5)
    elif case == "raises":
        class Raises(manual.NeuralNetwork):
            def update_weights(self, X, Z_vals, deltas):
                raise ValueError("shapes do not align")

        report = diagnose(Raises(3, [1], [manual.Identity()], manual.MSE()), X, Y, epochs=3)
    else:
        report = diagnose(_tanh_net(lr=5.0), X * 30, Y, epochs=40, try_cures=False)
    assert_refers_only_to_what_it_prints(str(report))
