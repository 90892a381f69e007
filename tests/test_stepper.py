"""Tests of the stepper's data and file (``tinygrad_mlp.viz.stepper``); the page itself is
driven in a real browser by ``test_stepper_browser.py``.

The numbers a stepper shows are checked against independent truth: closed-form derivatives,
PyTorch in float64 (when installed) and the engine's own ``backward()`` on a twin graph;
the page is checked to be one self-contained file.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, viz
from tinygrad_mlp.viz.steps import display

HAVE_DOT = shutil.which("dot") is not None


def node(page: viz.Stepper, title: str) -> dict:
    (found,) = [n for n in page.data["nodes"] if n["title"] == title]
    return found


def numbers(shown: dict) -> np.ndarray:
    """The numbers a display shows, read back from its strings."""
    return np.array([[float(v) for v in row] for row in shown["entries"]])


def close_to_digits(text: str, truth: float) -> bool:
    """``text`` (a number as the page writes it) equals ``truth`` to the digits it shows."""
    mantissa = text.split("e")[0].lstrip("-")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    exponent = int(text.split("e")[1]) if "e" in text else 0
    return abs(float(text) - truth) <= 0.5 * 10.0 ** (exponent - decimals) * (1 + 1e-9)


def neuron():
    x1, x2 = tg.tensor(2.0, dtype=np.float64), tg.tensor(0.0, dtype=np.float64)
    w1 = tg.tensor(-3.0, requires_grad=True, dtype=np.float64)
    w2 = tg.tensor(1.0, requires_grad=True, dtype=np.float64)
    b = tg.tensor(6.8813735870195432, requires_grad=True, dtype=np.float64)
    for t, name in ((x1, "x1"), (x2, "x2"), (w1, "w1"), (w2, "w2"), (b, "b")):
        t.name = name
    o = (x1 * w1 + x2 * w2 + b).tanh()
    return o, {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b}


# -- the steps ------------------------------------------------------------------------------------


def test_forward_node_by_node_then_backward_from_the_output():
    o, _ = neuron()
    page = viz.stepper(o)
    phases = [s["phase"] for s in page.steps]
    ops = [n for n in page.data["nodes"] if n["op"]]
    assert phases[0] == "start" and phases[-1] == "done"
    assert phases.count("forward") == len(ops) == 5  # mul, mul, add, add, tanh
    forward = [s["node"] for s in page.steps if s["phase"] == "forward"]
    backward = [s["node"] for s in page.steps if s["phase"] == "backward"]
    by_id = {n["id"]: n for n in page.data["nodes"]}
    # forward: each operation after its inputs; backward: each after all of its consumers
    for i, ident in enumerate(forward):
        assert all(not by_id[p]["op"] or p in forward[:i] for p in by_id[ident]["inputs"])
    assert backward[0] == forward[-1]  # the output first
    for i, ident in enumerate(backward):
        consumers = [n["id"] for n in page.data["nodes"] if ident in n["inputs"]]
        assert all(c in backward[:i] for c in consumers)
    # the leaves that take a gradient get a step; the inputs x1, x2 do not
    titles = [by_id[i]["title"] for i in backward if not by_id[i]["op"]]
    assert sorted(titles) == ["b", "w1", "w2"]
    assert all(n["fwd"] == 0 for n in page.data["nodes"] if not n["op"])


def test_the_neuron_shows_its_closed_form_gradients():
    o, leaves = neuron()
    page = viz.stepper(o)
    n = 2.0 * -3.0 + 0.0 * 1.0 + 6.8813735870195432
    dn = 1 - np.tanh(n) ** 2  # 0.5
    expected = {"w1": dn * 2.0, "w2": dn * 0.0, "b": dn}
    for name, truth in expected.items():
        shown = node(page, name)["grad"]["entries"][0][0]
        assert close_to_digits(shown, truth), (name, shown, truth)
    tanh = node(page, "tanh")
    assert close_to_digits(tanh["value"]["text"], np.tanh(n))
    assert tanh["rule"]["inputs"] == ["g · (1 − out²)"]
    assert close_to_digits(tanh["sends"][0]["entries"][0][0], dn)
    # the page asked the engine for one backward pass and left every .grad alone
    assert all(t.grad is None for t in leaves.values())


def test_a_value_used_twice_shows_each_part_and_the_sum():
    x = tg.tensor(3.0, requires_grad=True, dtype=np.float64)
    x.name = "x"
    page = viz.stepper(x * x + x)
    leaf = node(page, "x")
    parts = sorted(float(p["grad"]["entries"][0][0]) for p in leaf["incoming"])
    assert parts == [1.0, 3.0, 3.0]  # from add, and from mul as a and as b
    assert sorted(p["role"] for p in leaf["incoming"]) == ["a", "b", "b"]
    assert float(leaf["grad"]["entries"][0][0]) == 7.0  # 2x + 1
    assert node(page, "mul")["incoming"] == []  # one consumer: no sum to show


def test_an_mlp_step_matches_pytorch_and_the_rules_closed_forms():
    torch = pytest.importorskip("torch")
    tg.manual_seed(3)
    model = nn.MLP([3, 4, 2]).double()
    X = np.random.default_rng(0).normal(size=(5, 3))
    y = np.array([0, 1, 1, 0, 1])
    loss = nn.CrossEntropyLoss()(model(tg.tensor(X)), y)
    page = viz.stepper(loss, params=model)

    twin = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    with torch.no_grad():
        for (_, mine), theirs in zip(model.named_parameters(), twin.parameters()):
            theirs.copy_(torch.tensor(mine.numpy()))
    twin.double()
    torch.nn.functional.cross_entropy(twin(torch.tensor(X)), torch.tensor(y)).backward()
    for (name, _), theirs in zip(model.named_parameters(), twin.parameters()):
        shown = node(page, name)["grad"]
        truth = theirs.grad.numpy()
        if "entries" in shown:
            assert np.allclose(numbers(shown), truth.reshape(numbers(shown).shape), rtol=1e-3,
                               atol=1e-6)
        else:
            assert close_to_digits(shown["norm"], float(np.linalg.norm(truth)))

    # the last linear: what it sends to x, W and b is g @ W, gᵀ @ x and the column sums of g
    last = [n for n in page.data["nodes"] if n["title"] == "linear"][-1]
    assert last["rule"]["inputs"] == ["g @ W", "gᵀ @ x", "Σ over rows of g"]
    probs = np.exp(twin(torch.tensor(X)).detach().numpy())
    probs /= probs.sum(axis=1, keepdims=True)
    g = (probs - np.eye(2)[y]) / 5
    hidden = np.maximum(X @ model[0].weight.numpy().T + model[0].bias.numpy(), 0)
    W = model[2].weight.numpy()
    sends = last["sends"]
    assert close_to_digits(sends[0]["norm"], float(np.linalg.norm(g @ W)))
    assert np.allclose(numbers(sends[1]), g.T @ hidden, rtol=1e-3, atol=1e-6)
    assert np.allclose(numbers(sends[2]), g.sum(axis=0).reshape(1, -1), rtol=1e-3, atol=1e-6)
    # the class indices are drawn as the loss's target, and take no gradient
    ce = node(page, "cross_entropy")
    assert ce["roles"] == ["logits", "target"] and ce["sends"][1] is None
    assert node(page, "target")["kind"] == "target"


def test_the_numbers_are_the_engines_own_backward():
    model = nn.MLP([2, 3, 1])
    X, Y = tg.randn(4, 2, seed=1), tg.randn(4, 1, seed=2)
    loss = nn.MSELoss()(model(X), Y)
    page = viz.stepper(loss, params=model)
    loss.backward()  # the engine's pass, on the same graph (the stepper kept it)
    for name, param in model.named_parameters():
        shown = node(page, name)["grad"]
        assert shown == display(param.grad.numpy())
    relu = next(n for n in viz.graph.collect([loss]) if n.is_op and n.obj.name == "relu")
    assert node(page, "relu")["grad"] == display(relu.grad)


def test_after_backward_the_page_says_what_was_freed():
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    loss = (x.tanh() * 2.0).sum()
    loss.backward()
    page = viz.stepper(loss)
    assert "freed" in page.data["note"] and "retain_graph=True" in page.data["note"]
    tanh = node(page, "tanh")
    assert tanh["value"] is None and tanh["grad"] is not None  # the gradient is still known
    assert node(page, "mul")["sends"] == []
    truth = 2 * (1 - np.tanh([1.0, -2.0]) ** 2)
    shown = node(page, "x")["grad"]["entries"][0]  # named after its variable
    assert all(close_to_digits(s, t) for s, t in zip(shown, truth))
    assert "freed" in page.html()


def test_a_graph_partly_freed_by_an_earlier_backward_is_shown_as_freed():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()  # frees y's graph; z reuses it
    z = y * 3.0
    page = viz.stepper(z)
    assert page.data["note"] and "freed" in page.data["note"]  # no pass run on it: it cannot
    first, last = [n for n in page.data["nodes"] if n["title"] == "mul"]
    assert first["grad"]["entries"] == [["1", "1"]]  # what y.backward() left on x * x
    assert last["grad"] is None and last["value"]["entries"] == [["15"]]
    assert x.grad.numpy().tolist() == [2.0, 4.0]  # the first backward's, untouched


def test_retained_gradients_do_not_replace_this_pass():
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    h = x.tanh()
    if not hasattr(h, "retain_grad"):
        pytest.skip("retain_grad() is not in the engine yet")
    h.retain_grad()
    loss = (h * 2.0).sum()
    loss.backward(retain_graph=True)
    loss.backward(retain_graph=True)  # h.grad adds up to 4 per entry
    page = viz.stepper(loss)
    assert node(page, "tanh")["grad"]["entries"] == [["2", "2"]]  # this pass: 2 per entry
    picture = viz.draw_graph(loss).source
    assert "grad kept by retain_grad()" in picture


def test_nan_and_inf_are_marked_and_named():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"):
        loss = x.log().sum()
        page = viz.stepper(loss)
    log = node(page, "log")
    assert log["value"]["bad"] == "-inf" and log["first"] == "first NaN/inf"
    assert node(page, "x")["grad"]["bad"] == "inf"  # 1/0


def test_large_tensors_show_shape_norm_range_and_a_heat_map():
    big = np.arange(40.0).reshape(8, 5) - 20.0
    big[3, 2] = np.nan
    shown = display(big)
    assert "entries" not in shown and shown["shape"] == "(8, 5) float64"
    assert shown["bad"] == "NaN" and shown["min"] == "-20" and shown["max"] == "19"
    heat = shown["heat"]
    assert (heat["rows"], heat["cols"]) == (8, 5) and heat["cells"][3][2] == "NaN"
    assert heat["cells"][0][0] == -100 and heat["cells"][7][4] == 95  # scaled by |-20|
    wide = display(np.ones((300, 40)))
    assert (wide["heat"]["rows"], wide["heat"]["cols"]) == (16, 16)
    small = display(np.array([[1.5, -2.0], [0.0, 3.25]]))
    assert small["entries"] == [["1.5", "-2"], ["0", "3.25"]]


def test_modules_come_with_their_frames():
    model = nn.MLP([2, 3, 1])
    loss = nn.MSELoss()(model(tg.randn(4, 2, seed=1)), tg.randn(4, 1, seed=2))
    page = viz.stepper(loss, params=model)
    labels = {c["key"]: c["label"] for c in page.data["clusters"]}
    assert labels["0"] == "0: Linear(2→3)" and labels["1"] == "1: ReLU"
    assert node(page, "0.weight")["cluster"] == "0"


# -- layout, file, errors --------------------------------------------------------------------------


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot program is not installed")
def test_dot_lays_out_every_box_frame_and_arrow():
    model = nn.MLP([2, 3, 1])
    loss = nn.MSELoss()(model(tg.randn(4, 2, seed=1)), tg.randn(4, 1, seed=2))
    page = viz.stepper(loss, params=model)
    layout = page.data["layout"]
    assert set(layout["nodes"]) == {n["id"] for n in page.data["nodes"]}
    assert set(layout["frames"]) == {c["key"] for c in page.data["clusters"]}
    assert len(layout["edges"]) == len(page.data["edges"])
    for key, (x0, y0, x1, y1) in layout["frames"].items():
        inside = [layout["nodes"][n["id"]] for n in page.data["nodes"] if n["cluster"] == key]
        assert all(x0 < x < x1 and y0 < y < y1 for x, y in inside)
    assert all(e["path"].startswith("M") for e in layout["edges"])


def test_without_dot_the_page_lays_the_graph_out_itself(tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    x = tg.tensor([1.0], requires_grad=True)
    page = viz.stepper((x * 2.0).sum())
    assert page.data["layout"] is None
    assert page.save(tmp_path / "s.html").read_text().count("function layered") == 1
    with pytest.raises(RuntimeError, match="dot"):
        viz.stepper((x * 2.0).sum(), layout="dot")


def test_one_self_contained_file(tmp_path):
    o, _ = neuron()
    path = viz.stepper(o, title="one neuron").save(tmp_path / "neuron")
    assert path == tmp_path / "neuron.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "<title>one neuron</title>" in text
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not re.search(r"<(link|img|iframe|object|embed)\b|\bsrc=", text)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}  # a namespace name, never fetched
    data = re.search(r'<script type="application/json" id="stepper-data">(.*?)</script>', text,
                     re.S).group(1)
    assert json.loads(data)["title"] == "one neuron"


def test_a_title_cannot_break_out_of_the_page():
    x = tg.tensor([1.0], requires_grad=True)
    x.name = "</script><script>alert(1)</script>"
    text = viz.stepper((x * 2.0).sum(), title="<b>t</b><!--").html()
    assert "<title>&lt;b&gt;t&lt;/b&gt;&lt;!--</title>" in text
    data = text.split('id="stepper-data">')[1].split("</script>")[0]
    assert "<" not in data  # nothing in the data can end its element or open a comment
    names = [n["title"] for n in json.loads(data)["nodes"]]
    assert x.name in names


def test_jupyter_shows_it_inline_in_a_frame_of_its_own():
    x = tg.tensor([1.0], requires_grad=True)
    shown = viz.stepper((x * 2.0).sum())._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and "&lt;!DOCTYPE html&gt;" in shown


def test_saving_refuses_directories_and_other_suffixes_and_never_half_writes(tmp_path,
                                                                             monkeypatch):
    x = tg.tensor([1.0], requires_grad=True)
    page = viz.stepper((x * 2.0).sum())
    with pytest.raises(ValueError, match="is a directory"):
        page.save(tmp_path)
    with pytest.raises(ValueError, match=r"\.html"):
        page.save(tmp_path / "step.svg")
    target = tmp_path / "step.html"
    target.write_text("the old page")
    target.chmod(0o640)

    def broken(self):
        raise MemoryError("out of memory halfway")

    monkeypatch.setattr(viz.Stepper, "html", broken)
    with pytest.raises(MemoryError):
        page.save(target)
    assert target.read_text() == "the old page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step.html"]
    monkeypatch.undo()
    page.save(target)
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert target.stat().st_mode & 0o777 == 0o640  # a replaced page keeps its permissions


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: np.ones(2), TypeError, "expected a Tensor"),
        (lambda: tg.tensor([1.0], requires_grad=True), ValueError, "no graph"),
        (lambda: tg.tensor([1.0, 2.0], requires_grad=True) * 2.0, ValueError, "one element"),
    ],
)
def test_what_it_cannot_show_is_refused_clearly(make, error, words):
    with pytest.raises(error, match=words):
        viz.stepper(make())


def test_bad_options_are_refused():
    x = tg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="rankdir"):
        viz.stepper((x * 2).sum(), rankdir="up")
    with pytest.raises(ValueError, match="layout"):
        viz.stepper((x * 2).sum(), layout="circo")


def test_every_rule_of_the_engine_is_written_out():
    """Each operation class of the engine has its rule in words (a new operation without
    one gets an honest placeholder, but the ones we have should all be written)."""
    from tinygrad_mlp.engine import autograd
    from tinygrad_mlp.viz.rules import RULES

    def names(cls):
        for sub in cls.__subclasses__():
            if "name" in vars(sub) and sub.__module__.startswith("tinygrad_mlp."):
                yield sub.name
            yield from names(sub)

    known = set(names(autograd.Function))
    assert known and known <= set(RULES), sorted(known - set(RULES))


def test_the_demo_writes_both_steppers(tmp_path):
    from tinygrad_mlp import demo

    result = demo.run(out_dir=tmp_path, epochs=1, steps=2, progress=False, quiet=True)
    names = {p.name for p in result.written}
    assert {"training_step_stepper.html", "neuron_stepper.html"} <= names
    text = (tmp_path / "neuron_stepper.html").read_text(encoding="utf-8")
    assert "tanh" in text and Path(tmp_path / "training_step_stepper.html").stat().st_size > 0


@pytest.mark.slow
def test_the_story_writes_the_posted_networks_first_nonfinite_step(tmp_path):
    pytest.importorskip("sklearn")
    from tinygrad_mlp import story

    result = story.run(tmp_path, quiet=True)
    page = tmp_path / "first_nonfinite_stepper.html"
    assert page in result["written"]
    text = page.read_text(encoding="utf-8")
    data = json.loads(text.split('id="stepper-data">')[1].split("</script>")[0])
    assert f"step {result['first_inf_epoch']}" in data["title"]
    loss = next(n for n in data["nodes"] if n["title"] == "mse_loss")
    assert loss["value"]["bad"] == "inf" and loss["first"] == "first NaN/inf"
    assert all(n["value"]["bad"] is None for n in data["nodes"]
               if n["op"] and n["title"] != "mse_loss")  # the loss is the first to overflow
