"""Tests of the graph pictures (``tinygrad_mlp.viz``).

The DOT text is checked against the graph the engine recorded, counted here by a walk of our
own: one box per operation and per leaf, one arrow per input of each operation, before
backward, after it (the freed graph) and with ``retain_graph=True``. Rendering runs the real
``dot`` program (CI installs Debian's graphviz); its absence is simulated with an empty PATH.
"""

from __future__ import annotations

import doctest
import importlib.util
import os
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, viz
from tinygrad_mlp.engine.autograd import Function

ROOT = Path(__file__).resolve().parents[1]
HAVE_DOT = shutil.which("dot") is not None
# Locally a missing `dot` skips the rendering tests; in CI it must be there.
needs_dot = pytest.mark.skipif(
    not HAVE_DOT and not os.environ.get("CI"),
    reason="Graphviz's dot program is not installed (apt-get install graphviz)",
)

NAN_FILL = viz.labels.STYLE["nan"][0]
LARGE_FILL = viz.labels.STYLE["large"][0]
NODE = re.compile(r"^\s*(\w+) \[(.*)\]\s*$", re.S)
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?\s*$", re.S)


# -- reading the DOT text -------------------------------------------------------------------------


class Parsed:
    """Boxes (id -> attribute text), arrows and the cluster each box sits in."""

    def __init__(self, dot: graphviz.Digraph) -> None:
        self.nodes: dict[str, str] = {}
        self.edges: list[tuple[str, str, str]] = []
        self.cluster_of: dict[str, str | None] = {}
        self.cluster_labels: dict[str, str] = {}
        stack: list[str] = []
        for statement in dot.body:  # graphviz keeps one statement per entry
            text = statement.strip()
            if text.startswith("subgraph "):
                stack.append(text.split()[1])
                continue
            if text == "}":
                stack.pop()
                continue
            edge = EDGE.match(statement)
            node = NODE.match(statement)
            if stack and not edge and not node:  # the cluster's own attributes
                found = re.search(r'(?:^| )label=("(?:[^"\\]|\\.)*"|\S+)', text)
                if found:
                    self.cluster_labels[stack[-1]] = found.group(1).strip('"')
                continue
            if edge:
                self.edges.append((edge.group(1), edge.group(2), edge.group(3) or ""))
                continue
            if node and node.group(1) not in ("node", "edge", "graph"):
                self.nodes[node.group(1)] = node.group(2)
                self.cluster_of[node.group(1)] = stack[-1] if stack else None

    def attr(self, ident: str, name: str) -> str | None:
        found = re.search(rf'(?<![\w-]){name}=("(?:[^"\\]|\\.)*"|<.*?>(?= \w+=|$)|\S+)',
                          self.nodes[ident], re.S)
        if not found:
            return None
        return found.group(1).strip('"')

    def with_text(self, text: str) -> list[str]:
        return [i for i, body in self.nodes.items() if text in body]

    def marked_first(self) -> list[str]:
        return self.with_text(viz.labels.FIRST_MARK) + self.with_text("made here")


def recorded(*roots: tg.Tensor) -> tuple[int, int, int]:
    """(operations, leaves, dependencies) of the graph, by a walk independent of viz."""
    ops: dict[int, object] = {}
    leaves: dict[int, object] = {}
    edges = 0
    stack: list[object] = [r.grad_fn if r.grad_fn is not None else r for r in roots]
    while stack:
        obj = stack.pop()
        if isinstance(obj, tg.Tensor):
            leaves[id(obj)] = obj
            continue
        if id(obj) in ops:
            continue
        ops[id(obj)] = obj
        if getattr(obj, "classes", None) is not None:  # cross-entropy's class indices: drawn
            leaves[id(obj.classes)] = obj.classes
            edges += 1
        for parent in obj.parents:
            edges += 1
            if isinstance(parent, tg.Tensor) and parent.grad_fn is not None:
                stack.append(parent.grad_fn)
            else:
                stack.append(parent)
    return len(ops), len(leaves), edges


def check_counts(dot: graphviz.Digraph, *roots: tg.Tensor) -> Parsed:
    parsed = Parsed(dot)
    n_ops, n_leaves, n_edges = recorded(*roots)
    assert len(parsed.nodes) == n_ops + n_leaves
    assert len(parsed.edges) == n_edges
    assert all(a in parsed.nodes and b in parsed.nodes for a, b, _ in parsed.edges)
    return parsed


def mlp_loss(sizes=(2, 16, 16, 1), seed=0, batch=8):
    tg.manual_seed(seed)
    model = nn.MLP(list(sizes))
    x = tg.randn(batch, sizes[0], seed=seed)
    x.name = "x"
    y = tg.randn(batch, sizes[-1], seed=seed + 1)
    loss = nn.MSELoss()(model(x), y)
    loss.name = "loss"
    return model, loss


# -- structure ------------------------------------------------------------------------------------


def test_scalar_expression_counts_and_arrows_follow_the_data():
    a = tg.tensor(2.0, requires_grad=True)
    b = tg.tensor(-3.0, requires_grad=True)
    a.name, b.name = "a", "b"
    e = a * b
    d = e + 10.0
    f = d * d  # the same input twice: two arrows
    parsed = check_counts(viz.draw_graph(f), f)
    assert len(parsed.nodes) == 6  # a, b, 10, mul, add, mul
    assert len(parsed.edges) == 6
    ids = {name: i for i in parsed.nodes for name in ("a", "b") if i.endswith("_" + name)}
    mul = next(i for i in parsed.nodes if i.endswith("_mul") and (ids["a"], i, "") in
               parsed.edges)
    assert (ids["b"], mul, "") in parsed.edges  # input -> operation, never the reverse
    last = [i for i in parsed.nodes if "peripheries=2" in parsed.nodes[i]]
    assert len(last) == 1 and sum(1 for s, t, _ in parsed.edges if t == last[0]) == 2


@pytest.mark.parametrize("state", ["live", "retained", "freed"])
def test_counts_match_the_engine_graph_in_every_state(state):
    x = tg.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    w = tg.tensor([[0.5], [-0.25]], requires_grad=True)
    h = (x @ w).tanh()
    loss = (h * h + h.sigmoid()).sum() / 2.0
    before = viz.draw_graph(loss)
    if state == "retained":
        loss.backward(retain_graph=True)
    elif state == "freed":
        loss.backward()
        assert loss.grad_fn.freed
    after = viz.draw_graph(loss)
    check_counts(after, loss)
    # the same boxes and arrows, under the same ids, whatever the state
    assert set(Parsed(before).nodes) == set(Parsed(after).nodes)
    assert Parsed(before).edges == Parsed(after).edges


@pytest.mark.parametrize("state", ["live", "retained", "freed"])
def test_mlp_counts_names_shapes_dtypes(state):
    model, loss = mlp_loss()
    if state == "retained":
        loss.backward(retain_graph=True)
    elif state == "freed":
        loss.backward()
    parsed = check_counts(viz.draw_graph(loss, params=model), loss)
    for name, param in model.named_parameters():
        (ident,) = parsed.with_text(f"<B>{name}</B>")
        shape = str(tuple(param.shape))
        assert f"{shape} float32" in parsed.nodes[ident]
        assert parsed.attr(ident, "fillcolor") == viz.labels.STYLE["param"][0]
    (x_id,) = parsed.with_text("<B>x</B>")
    assert parsed.attr(x_id, "fillcolor") == viz.labels.STYLE["input"][0]
    assert "(8, 2) float32" in parsed.nodes[x_id]
    assert len(parsed.with_text("<B>linear</B>")) == 3
    assert len(parsed.with_text("<B>relu</B>")) == 2


def test_float64_and_names_from_a_dict_or_tensor_name():
    w = tg.tensor(np.ones((3, 2)), requires_grad=True)
    b = tg.zeros(3, dtype=np.float64, requires_grad=True)
    b.name = "my_bias"
    x = tg.tensor(np.ones((4, 2)))
    out = tg.linear(x, w, b).sum()
    parsed = Parsed(viz.draw_graph(out, params={"layer.weight": w}))
    (w_id,) = parsed.with_text("<B>layer.weight</B>")
    assert "(3, 2) float64" in parsed.nodes[w_id]
    assert parsed.with_text("<B>my_bias</B>")
    # a leaf that wants grads but is not among params= is an input, not a parameter
    (b_id,) = parsed.with_text("<B>my_bias</B>")
    assert parsed.attr(b_id, "fillcolor") == viz.labels.STYLE["grad_input"][0]
    assert parsed.cluster_labels  # layer.weight names the cluster "layer"
    assert parsed.cluster_of[w_id] is not None


def test_constants_are_dashed_and_show_their_value():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3.0).sum()
    parsed = Parsed(viz.draw_graph(y))
    (const,) = parsed.with_text("const 3")
    assert "dashed" in parsed.attr(const, "style")


def test_ids_are_stable_and_meaningful():
    model, loss = mlp_loss()
    first = viz.draw_graph(loss, params=model).source
    assert first == viz.draw_graph(loss, params=model).source
    ids = list(Parsed(viz.draw_graph(loss, params=model)).nodes)
    assert ids[0] == "n0_x"  # numbered in topological order, inputs first
    assert "n1_0_weight" in ids and "n3_linear" in ids


def test_freed_graph_reused_in_a_new_one_and_multiple_roots():
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()  # y's graph is freed, then used again
    z = y * 2.0
    u = (x + 1.0).sum()
    check_counts(viz.draw_graph(z), z)
    check_counts(viz.draw_graph([z, u]), z, u)
    roots = [i for i, b in Parsed(viz.draw_graph([z, u])).nodes.items() if "peripheries=2" in b]
    assert len(roots) == 2


def test_leaf_alone_and_bad_arguments():
    w = tg.tensor([1.0], requires_grad=True)
    assert len(Parsed(viz.draw_graph(w)).nodes) == 1
    with pytest.raises(TypeError, match="expected a Tensor"):
        viz.draw_graph(np.ones(2))
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_graph(w, rankdir="sideways")
    with pytest.raises(ValueError, match="max_nodes"):
        viz.draw_graph(w, max_nodes=0)
    with pytest.raises(TypeError, match="params"):
        viz.draw_graph(w * 2, params=[w])


def test_rankdir_and_tensor_draw_method():
    x = tg.tensor([1.0], requires_grad=True)
    y = x * 2
    assert "rankdir=TB" in viz.draw_graph(y, rankdir="TB").source
    assert "rankdir=LR" in y.draw().source
    assert isinstance(y.draw(), graphviz.Digraph)


# -- gradients and values -------------------------------------------------------------------------


def test_grad_norms_after_backward_equal_numpy():
    model, loss = mlp_loss()
    assert "grad norm" not in viz.draw_graph(loss, params=model).source
    loss.backward()
    parsed = Parsed(viz.draw_graph(loss, params=model))
    for name, param in model.named_parameters():
        (ident,) = parsed.with_text(f"<B>{name}</B>")
        tooltip = parsed.attr(ident, "tooltip")
        shown = float(re.search(r"gradient norm = (\S+)", tooltip).group(1))
        assert shown == pytest.approx(float(np.linalg.norm(param.grad.numpy())), rel=1e-6)
        assert f"grad norm {float(np.linalg.norm(param.grad.numpy())):.4g}" in parsed.nodes[ident]
    (root,) = [i for i, b in parsed.nodes.items() if "peripheries=2" in b]
    assert "grad norm 1<" in parsed.nodes[root]
    # every operation got a gradient: each box shows a norm
    ops = [i for i in parsed.nodes if "rounded" in (parsed.attr(i, "style") or "")]
    assert ops and all("grad norm" in parsed.nodes[i] for i in ops)


def test_op_grad_norm_is_the_norm_of_out_grad():
    x = tg.tensor([[1.0, -2.0, 3.0]], requires_grad=True)
    h = x.tanh()
    loss = (h * tg.tensor([[1.0, 2.0, 3.0]])).sum()
    loss.backward()
    parsed = Parsed(viz.draw_graph(loss))
    (tanh_id,) = parsed.with_text("<B>tanh</B>")
    expected = np.linalg.norm(h.grad_fn.out_grad)
    shown = float(re.search(r"gradient norm = (\S+)", parsed.attr(tanh_id, "tooltip")).group(1))
    assert shown == pytest.approx(float(expected), rel=1e-6)


def test_show_values_micrograd_style():
    a = tg.tensor(2.0, requires_grad=True)
    b = tg.tensor(-3.0, requires_grad=True)
    v = tg.tensor([0.5, 1.5, -1.0], requires_grad=True)
    out = a * b + (v * v).sum()
    out.backward()
    source = viz.draw_graph(out, show_values=True).source
    assert "data 2<" in source and "grad -3<" in source  # a: data 2, grad b = -3
    assert "data -3<" in source and "grad 2<" in source
    assert "data [0.5, 1.5, -1]" in source and "grad [1, 3, -2]" in source
    assert "data 2<" not in viz.draw_graph(out).source


def test_exploding_gradients_marked_above_threshold():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 1e6).sum()
    loss.backward()
    parsed = Parsed(viz.draw_graph(loss, grad_norm_threshold=1e3))
    (w_id,) = [i for i in parsed.nodes if i.endswith("_w")]  # named by its variable
    assert parsed.attr(w_id, "fillcolor") == LARGE_FILL
    assert "large grad" in parsed.nodes[w_id]
    parsed = Parsed(viz.draw_graph(loss, grad_norm_threshold=None))
    assert parsed.attr(w_id, "fillcolor") != LARGE_FILL
    parsed = Parsed(viz.draw_graph(loss, grad_norm_threshold=1e7))
    assert parsed.attr(w_id, "fillcolor") != LARGE_FILL


# -- NaN and inf ----------------------------------------------------------------------------------


def nan_graph():
    x = tg.tensor([1.0, 0.0], requires_grad=True)
    x.name = "x"
    with np.errstate(all="ignore"):
        logged = x.log()  # log(0) = -inf
        zeroed = logged * 0.0  # -inf * 0 = NaN
        loss = (zeroed + x).sum()
    return x, loss


def test_nan_nodes_in_warning_colour_and_one_marked_first():
    _, loss = nan_graph()
    parsed = Parsed(viz.draw_graph(loss))
    red = {i for i in parsed.nodes if parsed.attr(i, "fillcolor") == NAN_FILL}
    names = {re.sub(r"^n\d+_", "", i) for i in red}
    assert {"log", "mul", "add", "sum"} <= names
    assert "x" not in names and "const" not in names
    (first,) = parsed.marked_first()
    assert first.endswith("_log")  # where the inf appeared, in the order of the forward
    assert parsed.attr(first, "penwidth") == "3"


def test_nan_after_backward_freed_and_retained():
    for retain in (True, False):
        _, loss = nan_graph()
        with np.errstate(all="ignore"):
            loss.backward(retain_graph=retain)
        parsed = Parsed(viz.draw_graph(loss))
        assert len(parsed.marked_first()) == 1
        red = [i for i in parsed.nodes if parsed.attr(i, "fillcolor") == NAN_FILL]
        assert any(i.endswith("_x") for i in red)  # x.grad holds NaN
        if retain:  # the values are still held: the first is the log that made -inf
            assert parsed.marked_first()[0].endswith("_log")


def test_gradient_nan_marks_the_box_that_received_it_first():
    x = tg.tensor([-1.0, 4.0], requires_grad=True)
    loss = x.relu().sqrt().sum()  # sqrt'(0) = inf flows into relu's output
    with np.errstate(all="ignore"):
        loss.backward()
    parsed = Parsed(viz.draw_graph(loss))
    (first,) = parsed.marked_first()
    assert first.endswith("_relu")
    assert "(gradient)" in parsed.nodes[first]


def test_draw_anomaly_forward_marks_the_culprit():
    x = tg.tensor([1.0, 0.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError) as info, np.errstate(all="ignore"):
        with tg.detect_anomaly():
            (x * 2.0).log().sum()
    dot = viz.draw_anomaly(info.value)
    parsed = Parsed(dot)
    (first,) = parsed.marked_first()
    assert first.endswith("_log")
    assert parsed.attr(first, "fillcolor") == NAN_FILL
    assert "log produced -inf" in parsed.nodes[first]
    assert "test_viz.py:" in parsed.nodes[first]  # the creation line, under detect_anomaly
    assert len(parsed.nodes) == 4  # x, 2, mul, log: the sum was never made


def test_draw_anomaly_backward_with_the_whole_graph():
    x = tg.tensor([0.0, 4.0], requires_grad=True)
    with tg.detect_anomaly():
        loss = (x.sqrt() * 3.0).sum()
        with pytest.raises(tg.AnomalyError) as info, np.errstate(all="ignore"):
            loss.backward()
    assert info.value.node.name == "sqrt"
    parsed = check_counts(viz.draw_anomaly(info.value, roots=loss, title="stopped"), loss)
    (first,) = parsed.marked_first()
    assert first.endswith("_sqrt")
    with pytest.raises(TypeError, match="unexpected"):
        viz.draw_anomaly(info.value, colour="red")
    # The error hands back the same picture itself.
    expected = viz.draw_anomaly(info.value, roots=loss, title="stopped").source
    assert info.value.draw(loss, title="stopped").source == expected


def test_creation_line_in_the_tooltip_under_detect_anomaly():
    x = tg.tensor([1.0], requires_grad=True)
    with tg.detect_anomaly():
        y = x * 2.0  # the line the tooltip names
    parsed = Parsed(viz.draw_graph(y))
    (mul,) = parsed.with_text("<B>mul</B>")
    assert "y = x * 2.0" in parsed.attr(mul, "tooltip")
    plain = Parsed(viz.draw_graph(x * 2.0))
    (mul,) = plain.with_text("<B>mul</B>")
    assert "unknown" in plain.attr(mul, "tooltip")


# -- modules --------------------------------------------------------------------------------------


def test_one_cluster_per_module_named_by_the_model():
    model, loss = mlp_loss()
    loss.backward()
    parsed = Parsed(viz.draw_graph(loss, params=model))
    labels = set(parsed.cluster_labels.values())
    assert {"0: Linear(2→16)", "1: ReLU", "2: Linear(16→16)", "3: ReLU", "4: Linear(16→1)"} \
        <= labels
    by_label = {v: k for k, v in parsed.cluster_labels.items()}
    for prefix, label in (("0", "0: Linear(2→16)"), ("4", "4: Linear(16→1)")):
        members = {i for i, c in parsed.cluster_of.items() if c == by_label[label]}
        assert {re.sub(r"^n\d+_", "", m) for m in members} == {
            f"{prefix}_weight", f"{prefix}_bias", "linear"}
    relu_members = [i for i, c in parsed.cluster_of.items() if c == by_label["1: ReLU"]]
    assert len(relu_members) == 1 and relu_members[0].endswith("_relu")
    # the loss's own operations sit in the loss's cluster, the data outside every cluster
    (x_id,) = parsed.with_text("<B>x</B>")
    assert parsed.cluster_of[x_id] is None
    assert "MSELoss" in labels


def out_of_sight(loss: tg.Tensor) -> graphviz.Digraph:
    """Draw where no variable holds the model: the engine's module tags alone."""
    return viz.draw_graph(loss)


def test_clusters_without_params_and_switched_off():
    model, loss = mlp_loss()
    parsed = Parsed(out_of_sight(loss))  # the engine's tags alone
    assert "Linear(2→16)" in parsed.cluster_labels.values()
    assert parsed.with_text("<B>weight</B>")  # local names from the tagged module
    assert "subgraph" not in viz.draw_graph(loss, params=model, cluster_modules=False).source


def test_nested_module_gets_a_nested_cluster():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.scale = nn.Parameter([2.0])

        def forward(self, x):
            return self.fc(x).tanh() * self.scale

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.head = nn.Linear(3, 1)

        def forward(self, x):
            return self.head(self.block(x))

    net = Net()
    out = net(tg.ones(2, 3)).sum()
    parsed = check_counts(viz.draw_graph(out, params=net), out)
    by_label = {v: k for k, v in parsed.cluster_labels.items()}
    assert "block: Block" in by_label and "block.fc: Linear(3→3)" in by_label
    source = viz.draw_graph(out, params=net).source
    # block.fc's frame is drawn inside block's frame
    block_at = source.index(f"subgraph {by_label['block: Block']}")
    fc_at = source.index(f"subgraph {by_label['block.fc: Linear(3→3)']}")
    assert block_at < fc_at < source.index("}", fc_at) < source.rindex("}")
    (tanh_id,) = parsed.with_text("<B>tanh</B>")
    assert parsed.cluster_of[tanh_id] == by_label["block: Block"]
    (scale_id,) = parsed.with_text("<B>block.scale</B>")
    assert parsed.cluster_of[scale_id] == by_label["block: Block"]


# -- large graphs ---------------------------------------------------------------------------------


def long_scalar_sum(n_terms: int) -> tg.Tensor:
    total = tg.tensor(0.0)
    for i in range(n_terms):
        total = total + tg.tensor(float(i), requires_grad=True) * 0.5
    return total


def test_ten_thousand_node_scalar_graph_draws_whole_or_shortened():
    """(How fast: benchmarks/bench_viz.py.)"""
    total = long_scalar_sum(2500)  # 2500 mul + 2500 add + 2500 x + 2500 constants + 1
    assert sum(recorded(total)[:2]) == 10001
    everything = viz.draw_graph(total, max_nodes=None)
    assert len(Parsed(everything).nodes) == 10001
    total.backward()
    short = viz.draw_graph(total)
    parsed = Parsed(short)
    assert len(parsed.nodes) == 200
    assert f"{10001 - 199} nodes hidden" in parsed.nodes["hidden"]


def test_fifty_layer_mlp_draws_and_hides_the_middle():
    model, loss = mlp_loss(sizes=[4] + [8] * 50 + [1], batch=4)
    loss.backward()
    n_ops, n_leaves, _ = recorded(loss)
    full = viz.draw_graph(loss, params=model, max_nodes=None)
    short = viz.draw_graph(loss, params=model, max_nodes=60)
    assert len(Parsed(full).nodes) == n_ops + n_leaves
    parsed = Parsed(short)
    assert len(parsed.nodes) == 60
    hidden = n_ops + n_leaves - 59
    assert f"{hidden} nodes hidden" in parsed.nodes["hidden"]
    # both ends stay: the input and first layer, the last layer and the loss
    assert parsed.with_text("<B>x</B>") and parsed.with_text("<B>0.weight</B>")
    assert parsed.with_text("<B>100.weight</B>")
    assert any("peripheries=2" in b for b in parsed.nodes.values())
    # every kept arrow joins kept boxes; the cut ones go through the placeholder
    assert all(a in parsed.nodes and b in parsed.nodes for a, b, _ in parsed.edges)
    assert any(b == "hidden" for _, b, _ in parsed.edges)
    assert any(a == "hidden" for a, _, _ in parsed.edges)


def test_hidden_nan_is_kept_visible():
    x = tg.tensor([0.0], requires_grad=True)
    with np.errstate(all="ignore"):
        h = x.log()
        for _ in range(100):
            h = h + 1.0
    parsed = Parsed(viz.draw_graph(h, max_nodes=20))
    assert len(parsed.marked_first()) == 1 and parsed.marked_first()[0].endswith("_log")
    assert "with NaN/inf" in parsed.nodes["hidden"]


# -- files ----------------------------------------------------------------------------------------


@needs_dot
def test_render_svg_and_png_for_real(tmp_path):
    model, loss = mlp_loss()
    loss.backward()
    dot = viz.draw_graph(loss, params=model, title="one step")
    svg = viz.save_graph(dot, tmp_path / "graph.svg")
    tree = ET.parse(svg)
    assert tree.getroot().tag.endswith("svg")
    assert "<svg" in svg.read_text()
    titles = {el.text for el in tree.iter() if el.tag.endswith("title")}
    assert {"n0_x", "n1_0_weight", "n3_linear"} <= titles
    png = viz.save_graph(dot, tmp_path / "graph.png")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    pdf = viz.save_graph(loss, tmp_path / "from_tensor.pdf", params=model)
    assert pdf.read_bytes().startswith(b"%PDF")
    no_suffix = viz.save_graph(dot, tmp_path / "plain")
    assert no_suffix.name == "plain.svg" and no_suffix.exists()
    # Jupyter's inline display is Graphviz's own SVG
    assert "<svg" in dot._repr_mimebundle_()["image/svg+xml"]


def test_missing_dot_writes_dot_text_and_says_how_to_install(tmp_path, monkeypatch):
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    x = tg.tensor([1.0], requires_grad=True)
    dot = viz.draw_graph(x * 2.0)
    assert dot.source.startswith("digraph")  # DOT text needs no program
    target = tmp_path / "pics" / "graph.svg"
    with pytest.raises(viz.DotNotFoundError) as info:
        viz.save_graph(dot, target)
    message = str(info.value)
    for hint in ("apt-get install graphviz", "brew install graphviz", "conda install graphviz",
                 "choco install graphviz", "graph.dot"):
        assert hint in message
    assert isinstance(info.value, graphviz.ExecutableNotFound)  # caught as Graphviz's own
    assert not target.exists()
    assert (tmp_path / "pics" / "graph.dot").read_text() == dot.source
    # Rendering the Digraph itself, or showing it in Jupyter, gives the same hint.
    for render in (lambda: dot.render(tmp_path / "direct", format="svg"),
                   lambda: dot._repr_mimebundle_()):
        with pytest.raises(viz.DotNotFoundError, match="apt-get install graphviz"):
            render()


def test_save_graph_dot_text_and_bad_format(tmp_path):
    x = tg.tensor([1.0], requires_grad=True)
    out = viz.save_graph(x * 2.0, tmp_path / "g.dot")
    assert out.read_text().startswith("digraph")
    with pytest.raises(ValueError, match="save_graph: unknown picture format 'picture'"):
        viz.save_graph(x * 2.0, tmp_path / "g.picture")
    with pytest.raises(TypeError, match="options"):
        viz.save_graph(viz.draw_graph(x * 2.0), tmp_path / "g.svg", show_values=True)


def test_save_graph_refuses_a_directory_and_writes_nothing(tmp_path):
    x = tg.tensor([1.0], requires_grad=True)
    pics = tmp_path / "pics"
    pics.mkdir()
    for where in (pics, f"{pics}/", str(tmp_path / "new") + "/"):
        with pytest.raises(ValueError, match=r"save_graph: .* is a directory.*graph\.svg"):
            viz.save_graph(x * 2.0, where)
    assert list(tmp_path.iterdir()) == [pics] and not list(pics.iterdir())


def test_create_graph_gradient_can_be_drawn():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    (x ** 3).sum().backward(create_graph=True)
    check_counts(viz.draw_graph(x.grad), x.grad)


def test_unset_module_slot_and_unrecorded_function():
    x = tg.tensor([1.0], requires_grad=True)
    y = x * 2.0
    assert getattr(y.grad_fn, "module", None) is None  # the slot is unset: fine
    lone = Function()  # never recorded: no parents, shape or dtype
    parsed = Parsed(viz.draw_graph(lone))
    assert len(parsed.nodes) == 1


def test_doctests():
    failures, _ = doctest.testmod(viz, optionflags=doctest.ELLIPSIS)
    assert failures == 0


def test_example_script_runs(tmp_path):
    spec = importlib.util.spec_from_file_location("draw_graph_example",
                                                  ROOT / "examples" / "draw_graph.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    written = example.main(tmp_path)
    assert [p.stem for p in written] == ["mlp_forward", "mlp_graph", "nan_graph", "nan_anomaly"]
    assert all(p.exists() for p in written)
    if HAVE_DOT:
        assert all(p.suffix == ".svg" for p in written)
        assert "first NaN/inf" in (tmp_path / "nan_graph.svg").read_text()


def test_the_fused_losses_label_their_two_arrows():
    x = tg.tensor([[1.0, 2.0]], requires_grad=True)
    for loss, roles in ((nn.MSELoss()(x, np.zeros((1, 2))), ("input", "target")),
                        (nn.CrossEntropyLoss()(x, np.array([[0.25, 0.75]])),
                         ("logits", "target"))):
        parsed = Parsed(viz.draw_graph(loss))
        labels = {attrs for _, _, attrs in parsed.edges}
        for role in roles:
            assert any(f"label={role}" in text for text in labels), (role, labels)


# -- targets, freed values, huge gradients ---------------------------------------------------------


def test_targets_are_drawn_and_called_targets():
    """Cross-entropy keeps class indices as a setting, not an input: they are drawn all the
    same, as the target; the MSE target is a target too, not "input" like x."""
    logits = tg.tensor([[1.0, 2.0, 0.5], [0.1, 0.2, 0.3]], requires_grad=True)
    loss = nn.CrossEntropyLoss()(logits, np.array([2, 0]))
    parsed = check_counts(viz.draw_graph(loss), loss)
    (target,) = parsed.with_text("<B>target</B>")
    assert "(2,) int64" in parsed.nodes[target]
    assert parsed.attr(target, "fillcolor") == viz.labels.STYLE["target"][0]
    (ce,) = parsed.with_text("<B>cross_entropy</B>")
    assert (target, ce, "label=target") in parsed.edges
    assert "target" in parsed.attr(target, "tooltip")

    model, mse = mlp_loss()
    parsed = Parsed(viz.draw_graph(mse, params=model))
    (target,) = parsed.with_text("<B>target</B>")
    assert parsed.attr(target, "fillcolor") == viz.labels.STYLE["target"][0]
    (x_id,) = parsed.with_text("<B>x</B>")
    assert parsed.attr(x_id, "fillcolor") == viz.labels.STYLE["input"][0]
    assert '"#1f2937">target</FONT></TD>' in viz.draw_graph(mse).source  # in the legend


def test_values_freed_by_backward_are_explained_in_the_picture():
    x = tg.tensor([1.0, -2.0], requires_grad=True)
    h = x.tanh()
    loss = (h * h).sum()
    loss.backward(retain_graph=True)
    kept = viz.draw_graph(loss, show_values=True).source
    assert "freed" not in kept
    assert f"data {viz.labels.entries(np.tanh(np.array([1.0, -2.0], np.float32)))}" in kept
    loss.backward()
    freed = viz.draw_graph(loss, show_values=True).source
    assert "backward() freed the values" in freed and "retain_graph=True" in freed
    assert "freed" not in viz.draw_graph(loss).source  # values not asked for: no note


def test_huge_gradients_show_their_norm_not_an_overflow():
    """Squares of 1e160 overflow float64: the norm is found without them."""
    w = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    w.name = "w"
    loss = (w * 1e160).sum()
    loss.backward()
    parsed = Parsed(viz.draw_graph(loss))
    (leaf,) = parsed.with_text("<B>w</B>")
    shown = float(re.search(r"gradient norm = (\S+)", parsed.attr(leaf, "tooltip")).group(1))
    assert shown == pytest.approx(np.sqrt(2.0) * 1e160, rel=1e-12)
    assert "grad norm 1.414e+160" in parsed.nodes[leaf]


def test_minus_inf_is_named_as_such():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        y = x.log()
    source = viz.draw_graph(y.sum()).source
    assert "value has -inf" in source


# -- names from the calling code -------------------------------------------------------------------


def test_without_params_the_model_in_the_callers_variables_names_everything():
    model, loss = mlp_loss()
    named = Parsed(viz.draw_graph(loss, params=model))
    found = Parsed(viz.draw_graph(loss))  # ``model`` is a variable here
    assert set(named.nodes) == set(found.nodes)
    assert named.cluster_labels == found.cluster_labels
    assert found.with_text("<B>0.weight</B>") and found.with_text("<B>4.bias</B>")
    assert not found.with_text("<B>weight</B>")
    layer = model[0]  # noqa: F841 (an inner module in scope too: the outermost one names)
    assert Parsed(viz.draw_graph(loss)).with_text("<B>0.weight</B>")


def test_two_models_in_scope_are_told_apart_by_their_variables():
    encoder, decoder = nn.Linear(3, 2), nn.Linear(2, 1)
    loss = decoder(encoder(tg.randn(4, 3, seed=0)).relu()).sum()
    parsed = Parsed(viz.draw_graph(loss))
    for name in ("encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias"):
        assert parsed.with_text(f"<B>{name}</B>"), name


def test_a_small_expression_names_its_leaves_after_their_variables():
    a = tg.tensor(2.0, requires_grad=True)
    b = tg.tensor(-3.0, requires_grad=True)
    _hidden = tg.tensor(4.0, requires_grad=True)
    named = tg.tensor(1.5, requires_grad=True)
    named.name = "c"  # an explicit name wins over the variable's
    out = a * b + _hidden * named
    parsed = Parsed(viz.draw_graph(out))
    assert parsed.with_text("<B>a</B>") and parsed.with_text("<B>b</B>")
    assert parsed.with_text("<B>c</B>") and not parsed.with_text("<B>named</B>")
    assert parsed.with_text("<B>parameter</B>")  # _hidden: no name from a _variable
    assert "<B>a</B>" not in out_of_sight(out).source
