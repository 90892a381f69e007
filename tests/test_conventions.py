"""The conventions interface: recognise, UserNetwork, find_networks, and the line tracer.

The networks are the catalogue's (tests/conventions/*.py), written as learners write them.
"""

from __future__ import annotations

import runpy
from pathlib import Path

import numpy as np
import pytest
from catalogue import load, needs_numpy_protocol

from tinygrad_mlp import manual
from tinygrad_mlp.compare import check_backprop, check_gradients
from tinygrad_mlp.compare.check import check_network
from tinygrad_mlp.compare.conventions import (
    EXPECTED,
    ConventionError,
    find_networks,
    recognise,
)
from tinygrad_mlp.compare.tracing import trace

ng_deep, ng_planar = load("ng_deep"), load("ng_planar")
nielsen_network, nielsen_network2 = load("nielsen_network"), load("nielsen_network2")


def ng_net(**kw):
    p = ng_planar.initialize_parameters(2, 4, 1)
    return recognise(p, forward=ng_planar.forward_propagation,
                     backward=ng_planar.backward_propagation, cost=ng_planar.compute_cost,
                     update=ng_planar.update_parameters, **kw)


def deep_net():
    p = ng_deep.initialize_parameters_deep([3, 4, 2])
    return recognise(p, forward=ng_deep.L_model_forward, backward=ng_deep.L_model_backward,
                     cost=ng_deep.compute_cost, update=ng_deep.update_parameters)


NETWORKS = {
    "skeleton": lambda: recognise(manual.NeuralNetwork(
        3, [4, 2], [manual.Tanh(), manual.Sigmoid()], manual.MSE(), learning_rate=0.1)),
    "nielsen": lambda: recognise(nielsen_network.Network([3, 4, 2])),
    "nielsen2": lambda: recognise(nielsen_network2.Network([3, 4, 2])),
    "ng": ng_net,
    "ng-deep": deep_net,
}


@pytest.mark.parametrize("convention", sorted(NETWORKS))
def test_each_convention_is_recognised_and_offers_the_interface(convention):
    net = NETWORKS[convention]()
    assert net.convention == convention
    X, Y = net.example_batch(6, seed=1)
    X2, Y2 = net.example_batch(6, seed=1)
    assert np.array_equal(X, X2) and np.array_equal(Y, Y2)  # seeded
    params = net.parameters()
    params[next(iter(params))][...] = 99.0  # a copy: the network keeps its own
    assert not np.any(net.parameters()[next(iter(params))] == 99.0)
    grads = net.gradients(X, Y)
    assert grads and all(np.all(np.isfinite(g)) for g in grads.values())
    value = net.loss_value(net.parameters(), X, Y)
    assert np.isfinite(value)
    twin = net.with_parameters(net.parameters())
    twin.train_step(X, Y, learning_rate=0.1)
    moved = [k for k in params if not np.array_equal(twin.parameters()[k], net.parameters()[k])]
    assert moved, "one step of the user's own update moves the parameters"
    assert all(callable(f) for f in net.functions())
    # the line tracer follows the user's modules, never ours (the skeleton here is ours)
    assert all(not m.startswith("tinygrad_mlp") for m in net.modules())
    assert bool(net.modules()) == (convention != "skeleton")


def test_layouts_and_targets_suit_the_convention():
    X, Y = NETWORKS["ng"]().example_batch(5)
    assert X.shape == (2, 5) and Y.shape == (1, 5) and set(np.unique(Y)) <= {0.0, 1.0}
    X, Y = NETWORKS["nielsen"]().example_batch(5)
    assert X.shape == (5, 3) and Y.shape == (5, 2) and np.all(Y.sum(axis=1) == 1)


def test_the_users_objects_are_never_changed():
    net = nielsen_network.Network([3, 4, 2])
    weights = [w.copy() for w in net.weights]
    ids = [id(w) for w in net.weights]
    X, Y = np.random.default_rng(0).normal(size=(6, 3)), np.eye(2)[[0, 1, 0, 1, 1, 0]]
    X0, Y0 = X.copy(), Y.copy()
    check_backprop(net, X, Y)
    assert [id(w) for w in net.weights] == ids
    assert all(np.array_equal(a, b) for a, b in zip(weights, net.weights))
    assert np.array_equal(X, X0) and np.array_equal(Y, Y0)


def test_a_function_that_changes_its_input_is_put_back_and_said():
    p = ng_planar.initialize_parameters(2, 4, 1)
    saved = {k: v.copy() for k, v in p.items()}

    def greedy_backward(parameters, cache, X, Y):
        grads = ng_planar.backward_propagation(parameters, cache, X, Y)
        parameters["W1"] -= 1.0  # changes what it was given
        return grads

    net = recognise(p, forward=ng_planar.forward_propagation, backward=greedy_backward,
                    cost=ng_planar.compute_cost)
    X, Y = net.example_batch(4)
    net.gradients(X, Y)
    assert all(np.array_equal(p[k], saved[k]) for k in p)


def test_other_signatures_get_the_expected_ones():
    p = ng_planar.initialize_parameters(2, 4, 1)
    with pytest.raises(ConventionError, match=r"backward\(parameters, cache, X, Y\)") as info:
        recognise(p, forward=ng_planar.forward_propagation, backward=lambda grads: None,
                  cost=ng_planar.compute_cost)
    assert "<lambda>(grads)" in str(info.value)
    with pytest.raises(ConventionError, match="missing: backward"):
        recognise(p, forward=ng_planar.forward_propagation, cost=ng_planar.compute_cost)
    with pytest.raises(TypeError, match="backprop"):  # ConventionError is a TypeError
        check_backprop(object(), np.zeros((2, 2)), np.zeros((2, 1)))

    class OneArgument(nielsen_network.Network):
        def backprop(self, x):
            return [], []

    with pytest.raises(ConventionError, match=r"(?s)backprop\(x\).*net.backprop\(x, y\)"):
        recognise(OneArgument([2, 2]))


def test_the_refusal_shows_every_convention():
    with pytest.raises(ConventionError) as info:
        recognise(3.0)
    text = str(info.value)
    for convention in ("skeleton", "nielsen", "ng"):
        assert EXPECTED[convention].splitlines()[1].strip() in text
    assert "check_gradients" in text


def test_data_in_the_wrong_layout_is_refused_with_the_fix():
    net = NETWORKS["ng"]()
    X, Y = net.example_batch(5)
    with pytest.raises(ValueError, match=r"pass X.T"):
        check_backprop(ng_planar.initialize_parameters(2, 4, 1), X.T, Y,
                       forward=ng_planar.forward_propagation,
                       backward=ng_planar.backward_propagation, cost=ng_planar.compute_cost)


def test_find_networks_in_a_users_module():
    found = {f.convention: f for f in find_networks(vars(ng_planar))}
    assert set(found) == {"ng"}
    assert found["ng"].build().convention == "ng"
    found = {f.convention: f for f in find_networks(vars(ng_deep))}
    assert set(found) == {"ng-deep"}
    found = [f for f in find_networks(vars(nielsen_network2))]
    assert [f.convention for f in found] == ["nielsen2"]
    assert found[0].build().parameters()["weights[0]"].shape == (5, 4)


def test_the_tracer_records_the_users_lines_only():
    recorded = trace(lambda: ng_planar.forward_propagation(
        np.ones((2, 3)), ng_planar.initialize_parameters(2, 4, 1)), {ng_planar.__name__})
    names = [a.name for a in recorded.assignments if a.function == "forward_propagation"]
    assert names[:4] == ["W1", "b1", "W2", "b2"] and "Z1" in names and "cache" in names
    line = recorded.origin(recorded.result[1]["A1"])
    assert line.function == "forward_propagation" and line.source == "A1 = np.tanh(Z1)"
    assert {c.module for c in recorded.calls} == {ng_planar.__name__}


def test_check_gradients_names_the_params_own_keys():
    X = np.random.default_rng(0).normal(size=(5, 3))

    def loss_fn(p):
        return float(np.sum((X @ p[0]) ** 2))

    report = check_gradients(loss_fn, [np.ones((3, 1))], [-2 * X.T @ (X @ np.ones((3, 1)))])
    assert report.first_mismatch == "params[0]" and "sign" in report.causes


README = Path(__file__).resolve().parent.parent / "README.md"


def _checker_section() -> str:
    text = README.read_text()
    return text.split("## Check your own backprop", 1)[1].split("\n## ", 1)[0]


def test_the_readme_lists_each_conventions_expected_signatures():
    section = _checker_section()
    for convention, expected in EXPECTED.items():
        assert expected in section, convention


@needs_numpy_protocol
def test_the_readme_report_is_what_check_backprop_prints(tmp_path, capsys):
    section = _checker_section()
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    printed = section.split("prints\n\n```text\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "my_network.py"
    path.write_text(code)
    runpy.run_path(str(path), run_name="__main__")
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "dZ1"
    assert out.split("\n", 1)[1] == printed


@pytest.mark.parametrize("name", ["ng_planar", "ng_deep", "nielsen_network", "nielsen_network2",
                                  "freeform_cs231n", "freeform_layers"])
def test_every_catalogue_file_is_found_as_the_command_line_will_find_it(name):
    found = find_networks(vars(load(name)))
    assert len(found) == 1, found
    net = found[0].build()
    if net.convention == "free-form":
        report = check_network(net)
    else:
        report = check_network(net, *net.example_batch(8, seed=3))
    assert report.ok, str(report)


def test_a_found_network_of_any_convention_goes_to_check_backprop_as_it_is():
    skeleton = NETWORKS["skeleton"]()
    report = check_backprop(skeleton, *skeleton.example_batch(8))
    assert report.ok and report.rows[0].location.stage == "forward"  # the stage-by-stage check
    nielsen = NETWORKS["nielsen"]()
    assert check_backprop(nielsen, *nielsen.example_batch(8)).ok
