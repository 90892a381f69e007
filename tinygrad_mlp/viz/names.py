"""Names and modules: what each box is called and which module's frame it sits in.

:func:`assign_names_and_clusters` names the leaves of a collected graph (``0.weight``,
``x``), decides each leaf's kind (parameter, input, constant) and puts every box in the
frame of the module that made it. It reads ``params=`` (a Module or a dict name -> Tensor)
through :class:`Names` and the engine's module tags through :class:`Clusters`. No drawing.

>>> import tinygrad_mlp as tg
>>> from tinygrad_mlp import nn
>>> from tinygrad_mlp.viz.graph import collect
>>> model = nn.Linear(2, 1)
>>> nodes = collect([model(tg.ones(1, 2))])
>>> clusters = assign_names_and_clusters(nodes, Names(model), True)
>>> sorted(n.name for n in nodes if n.kind == "param")
['bias', 'weight']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.frames import is_user_frame, user_frame
from ..engine.tensor import Tensor
from ..nn.module import Module
from .graph import Node
from .labels import ROLES


class Names:
    """Parameter names and module names from ``params=`` (a Module or a dict name -> Tensor),
    and names of leaves held by the caller's variables (``of_variable``)."""

    def __init__(self, params: Any) -> None:
        self.of_tensor: dict[int, str] = {}
        self.module_of_name: dict[str, Any] = {}
        self.name_of_module: dict[int, str] = {}
        self.of_variable: dict[int, str] = {}
        if params is None:
            return
        if hasattr(params, "named_parameters"):
            self.add_module(params, "")
        elif isinstance(params, Mapping):
            for name, tensor in params.items():
                if not isinstance(tensor, Tensor):
                    raise TypeError(
                        f"draw_graph: params[{name!r}] is a {type(tensor).__name__}, "
                        "expected a Tensor"
                    )
                self.of_tensor.setdefault(id(tensor), str(name))
        else:
            raise TypeError(
                "draw_graph: params must be a Module (with named_parameters()) or a dict "
                f"name -> Tensor, got {type(params).__name__}"
            )


    def add_module(self, module: Any, prefix: str) -> None:
        """Name ``module``'s parameters and submodules, under ``prefix`` (``""``: none)."""
        dotted = f"{prefix}." if prefix else ""
        for name, tensor in module.named_parameters():
            self.of_tensor.setdefault(id(tensor), dotted + name)
        if hasattr(module, "named_modules"):
            for name, sub in module.named_modules():
                full = f"{dotted}{name}" if name else prefix
                self.module_of_name.setdefault(full, sub)
                self.name_of_module.setdefault(id(sub), full)


def from_caller(nodes: list[Node], params: Any = None) -> Names:
    """Names for a picture, from ``params`` and the variables of the code that asked for it
    (the user's frame, found by module name): a leaf that a variable holds is called by that
    variable's name (``x``); without ``params``, the outermost modules it holds that own
    parameters of the graph name them as they call them (``0.weight``; with two such
    modules, each under its variable: ``encoder.0.weight``). Names that start with ``_`` are
    skipped (a notebook's ``_``, ``_1``...). Nothing is found when the whole stack is the
    package's own.
    """
    names = Names(params)
    frame = user_frame()
    if frame is None or not is_user_frame(frame):
        return names
    leaves = {id(n.obj) for n in nodes if not n.is_op}
    modules: dict[str, Module] = {}
    for scope in (frame.f_locals, frame.f_globals):
        for variable, value in list(scope.items()):
            if variable.startswith("_"):
                continue
            if isinstance(value, Tensor) and id(value) in leaves:
                names.of_variable.setdefault(id(value), variable)
            elif (params is None and isinstance(value, Module)
                  and id(value) not in map(id, modules.values())):
                if any(id(p) in leaves for p in _parameters_of(value)):
                    modules[variable] = value
    inner = {id(sub) for module in modules.values() for _, sub in _named_modules(module)
             if sub is not module}
    outer = {v: m for v, m in modules.items() if id(m) not in inner}
    for variable, module in outer.items():
        names.add_module(module, variable if len(outer) > 1 else "")
    return names


def _parameters_of(module: Module) -> list[Any]:
    return [tensor for _, tensor in _named_parameters(module)]


def _named_modules(module: Module) -> list[tuple[str, Any]]:
    try:
        return list(module.named_modules())
    except Exception:  # a half-built module must not break a picture
        return []


def describe(module: Any) -> str:
    """``Linear(2→16)``, ``ReLU``, ...: what a module is, in a few characters."""
    kind = type(module).__name__
    weight = getattr(module, "weight", None)
    if isinstance(weight, Tensor) and weight.ndim == 2:
        return f"{kind}({weight.shape[1]}→{weight.shape[0]})"
    extra = getattr(module, "extra_repr", None)
    if callable(extra):
        try:
            text = str(extra())
        except Exception:  # a repr helper must never break a picture
            text = ""
        if text and len(text) <= 24:
            return f"{kind}({text})"
    return kind


def _named_parameters(module: Any) -> list[tuple[str, Any]]:
    method = getattr(module, "named_parameters", None)
    if method is None:
        return []
    try:
        return list(method())
    except Exception:  # a half-built module must not break a picture
        return []


class Clusters:
    """Cluster keys, labels and nesting.

    A key is a module's dotted name (``0``, ``layers.2``, ``""`` for the model itself) when
    it is known from ``params=``, else ``Linear#1``-style for a module seen only through the
    engine's ``module`` tags (such keys do not nest).
    """

    def __init__(self, names: Names) -> None:
        self.names = names
        self.labels: dict[str, str] = {}
        self.dotted: set[str] = set()
        self.key_of_module: dict[int, str] = {}
        self.local_names: dict[int, tuple[str, str]] = {}  # id(param) -> (key, local name)
        self.without_params: set[str] = set()

    def of_module(self, module: Any) -> str:
        key = self.key_of_module.get(id(module))
        if key is not None:
            return key
        params = _named_parameters(module)
        name = self.names.name_of_module.get(id(module))
        if name is None:
            # params= was a dict: find the module's place through its parameters' names
            for local, tensor in params:
                full = self.names.of_tensor.get(id(tensor))
                if full == local:
                    name = ""
                elif full and full.endswith("." + local):
                    name = full[: -len(local) - 1]
                if name is not None:
                    break
        if name is None:
            key = f"{type(module).__name__}#{len(self.key_of_module) + 1}"
            self.labels[key] = describe(module)
        else:
            key = name
            self.dotted.add(key)
            self.labels[key] = f"{key}: {describe(module)}" if key else describe(module)
        self.key_of_module[id(module)] = key
        if not params:
            self.without_params.add(key)
        for local, tensor in params:
            self.local_names.setdefault(id(tensor), (key, local))
        return key

    def of_prefix(self, prefix: str) -> str:
        if prefix not in self.labels:
            module = self.names.module_of_name.get(prefix)
            if module is not None:
                return self.of_module(module)
            self.labels[prefix] = prefix
            self.dotted.add(prefix)
        return prefix

    def within(self, inner: str | None, outer: str) -> bool:
        """Whether cluster ``inner`` is ``outer`` or nested in it."""
        if inner is None:
            return False
        if inner == outer:
            return True
        if inner not in self.dotted or outer not in self.dotted:
            return False
        return outer == "" or inner.startswith(outer + ".")

    def parent(self, key: str, used: set[str]) -> str | None:
        """The nearest used cluster that ``key`` sits in, None at the top."""
        if key not in self.dotted or key == "":
            return None
        parts = key.split(".")
        for n in range(len(parts) - 1, 0, -1):
            candidate = ".".join(parts[:n])
            if candidate in used:
                return candidate
        return "" if "" in used else None


def assign_names_and_clusters(nodes: list[Node], names: Names, use_clusters: bool
                               ) -> Clusters:
    """Name the leaves, decide each box's kind (parameter, input, constant) and cluster."""
    clusters = Clusters(names)
    tagged = False
    for node in nodes:
        if node.is_op:
            module = getattr(node.obj, "module", None)  # the slot may be unset
            if module is not None:
                # the engine tags the innermost module whose forward made the node
                node.cluster = clusters.of_module(module)
                tagged = True

    for node in nodes:
        if node.is_op:
            continue
        leaf = node.obj
        full = names.of_tensor.get(id(leaf))
        local = clusters.local_names.get(id(leaf))
        if full is not None:
            node.name = full
            prefix = full.rpartition(".")[0]
            if prefix or "" in names.module_of_name:
                node.cluster = clusters.of_prefix(prefix)
        elif local is not None:
            node.cluster, local_name = local
            node.name = node.name or local_name
        node.name = node.name or names.of_variable.get(id(leaf))
        if leaf.requires_grad:
            known = full is not None or local is not None
            node.kind = "param" if known or not names.of_tensor else "grad_input"
        elif is_target(node):
            node.kind = "target"
        elif leaf.data.size == 1 and node.name is None:
            node.kind = "const"
        else:
            node.kind = "input"

    if not use_clusters:
        for node in nodes:
            node.cluster = None
        return clusters
    if not tagged:
        # Without the engine's tags, an operation that uses a module's parameter directly
        # belongs to that module (x @ W.T -> the Linear that owns W).
        for node in nodes:
            if node.is_op:
                for parent in node.parents:
                    if not parent.is_op and parent.cluster is not None:
                        node.cluster = parent.cluster
                        break
    _pull_into_clusters(nodes, clusters)
    return clusters


def is_target(node: Node) -> bool:
    """A leaf that a loss takes as its target (the second input of ``mse_loss``, ...)."""
    for consumer in node.consumers:
        roles = ROLES.get(consumer.obj.name, ((), {}))[0]
        for i, parent in enumerate(consumer.parents):
            if parent is node and i < len(roles) and roles[i] == "target":
                return True
    return False


def _pull_into_clusters(nodes: list[Node], clusters: Clusters) -> None:
    """Put the untagged inner operations of a module into its cluster.

    Only the output of a module's forward is tagged; an operation before it (a ``transpose``
    of the weight, a ``matmul`` before the bias ``add``) joins the module's cluster when every
    consumer is in that cluster and one of its inputs is in it too (or in a module nested in
    it). Done in two sweeps (outputs first for the consumers, inputs first for the inputs), so
    an untagged activation of the layer before, which feeds the module from outside, stays
    outside. A module without parameters (a loss, an activation made of several operations)
    has no inputs of its own to tell by, so there the consumers decide alone.
    """
    candidate: dict[int, str] = {}
    for node in reversed(nodes):
        if not node.is_op or node.cluster is not None or not node.consumers:
            continue
        keys = {c.cluster if c.cluster is not None else candidate.get(c.index)
                for c in node.consumers}
        if len(keys) == 1:
            (key,) = keys
            if key is not None:
                candidate[node.index] = key
    for node in nodes:
        key = candidate.get(node.index)
        if key is not None and (
            key in clusters.without_params
            or any(clusters.within(p.cluster, key) for p in node.parents)
        ):
            node.cluster = key

