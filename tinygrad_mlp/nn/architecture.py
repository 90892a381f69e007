"""A model's architecture as data: how ``save`` describes it and ``Module.load`` rebuilds it.

A class that can describe itself is registered with the decorator ``describable``; it says
what rebuilds it by ``_config()`` (its constructor arguments, JSON-able) and is rebuilt by
``_from_config(config)``; ``_state_shapes(config)`` says which arrays a module built from
that config holds, and their shapes, without building it. ``describe(module)`` gives
``{"class": name, "config": {...}}`` (None for a module that cannot describe itself), and
``build`` makes a fresh module from that.

A description read from a file is hostile until checked: ``check_description`` walks it
(at most ``MAX_MODULES`` modules, nested at most ``MAX_NESTING`` deep) and compares the
arrays it would make with the arrays the file holds, so that ``Module.load`` allocates no
layer larger than the weights the file stores. Only registered classes are ever built: a
name is looked up here, never imported, so a file cannot run code.

>>> description = {"class": "Sequential", "config": {"modules": []}}
>>> registered_class(description).__name__
'Sequential'
>>> build(description)
Sequential()
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any, TypeVar

from ..engine.tensor import default_rng

_Class = TypeVar("_Class", bound=type)

# The classes a saved architecture may name, by class name.
REGISTRY: dict[str, type] = {}

# What a file may declare: more modules or deeper nesting than this is refused before
# anything is built (a real MLP has tens of modules and one or two levels).
MAX_MODULES = 10_000
MAX_NESTING = 20

# Arrays a declared architecture may make beyond those the file stores (loading with
# strict=False leaves missing ones at their initial values): beyond this many entries the
# file is refused rather than trusted.
MAX_UNSTORED_ELEMENTS = 1 << 22


def describable(cls: _Class) -> _Class:
    """Class decorator: ``save`` records instances of ``cls`` and ``Module.load`` rebuilds them.

    >>> REGISTRY["Sequential"].__name__
    'Sequential'
    """
    REGISTRY[cls.__name__] = cls
    return cls


def describe(module: Any) -> dict[str, Any] | None:
    """``{"class": name, "config": {...}}`` describing ``module``, or None when it cannot.

    Only an instance of exactly a registered class describes itself: a subclass (of
    ``Linear``, say) may take other arguments or compute something else.

    >>> from tinygrad_mlp import nn
    >>> describe(nn.Linear(2, 1))["class"]
    'Linear'
    >>> class Mine(nn.Module):
    ...     pass
    >>> describe(Mine()) is None, describe({"w": 1}) is None
    (True, True)
    """
    cls = type(module)
    if REGISTRY.get(cls.__name__) is not cls:
        return None
    config = module._config()
    return None if config is None else {"class": cls.__name__, "config": config}


def registered_class(description: Any) -> type:
    """The class named by ``{"class": name, "config": {...}}``; ValueError if it is not one.

    >>> registered_class({"class": "ReLU", "config": {}}).__name__
    'ReLU'
    """
    if not isinstance(description, dict) or not isinstance(description.get("config"), dict):
        shown = repr(description)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ValueError(f'expected {{"class": name, "config": {{...}}}}, got {shown}')
    name = description.get("class")
    cls = REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ValueError(f"unknown module class {name!r}")
    return cls


def build(description: Any) -> Any:
    """A fresh module (fresh weights too) from a description made by ``describe``.

    >>> build({"class": "Linear", "config": {"in_features": 2, "out_features": 1}})
    Linear(in_features=2, out_features=1, bias=True)
    """
    return registered_class(description)._from_config(description["config"])


def children(config: Any) -> list[tuple[str, Any]]:
    """The ``(name, description)`` pairs a container's config lists, checked for form.

    >>> children({"modules": [["act", {"class": "ReLU", "config": {}}]]})
    [('act', {'class': 'ReLU', 'config': {}})]
    """
    entries = config.get("modules") if isinstance(config, dict) else None
    if not isinstance(entries, list):
        raise ValueError('a container\'s config must list its children as "modules"')
    pairs = []
    for entry in entries:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
            raise ValueError(f"expected a [name, description] pair, got {entry!r:.60}")
        pairs.append((entry[0], entry[1]))
    return pairs


def build_children(config: Any) -> dict[str, Any]:
    """The named children a container's config lists, built afresh.

    >>> build_children({"modules": [["act", {"class": "ReLU", "config": {}}]]})
    {'act': ReLU()}
    """
    return {name: build(description) for name, description in children(config)}


def state_shapes(description: Any, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """The state-dict names and shapes of the module ``description`` would build, found
    without building anything (``MAX_MODULES`` and ``MAX_NESTING`` enforced).

    >>> state_shapes({"class": "Linear", "config": {"in_features": 3, "out_features": 2}})
    {'weight': (2, 3), 'bias': (2,)}
    """
    shapes: dict[str, tuple[int, ...]] = {}
    # An explicit stack (no recursion), so a deep description meets the limit, not Python's.
    stack = [(description, prefix, 0)]
    count = 0
    while stack:
        entry, where, depth = stack.pop()
        count += 1
        if count > MAX_MODULES:
            raise ValueError(f"it declares more than {MAX_MODULES} modules")
        if depth > MAX_NESTING:
            raise ValueError(f"its modules are nested more than {MAX_NESTING} deep")
        cls = registered_class(entry)
        dotted = f"{where}." if where else ""
        for name, shape in cls._state_shapes(entry["config"]).items():
            shapes[dotted + name] = shape
        if getattr(cls, "is_container", False):
            pairs = children(entry["config"])
            stack.extend((child, dotted + name, depth + 1) for name, child in reversed(pairs))
    return shapes


def check_description(
    description: Any, stored: dict[str, tuple[int, ...]], strict: bool
) -> None:
    """Refuse a description whose arrays do not fit ``stored`` (name -> shape of what the
    file holds), before anything is built. Shapes must match; with ``strict`` the names
    must match too; without it, the arrays not stored may total ``MAX_UNSTORED_ELEMENTS``
    entries. A mismatch is a ``RuntimeError`` listing every problem in ``load_state_dict``'s
    words; a description that declares too much is a ``ValueError``.

    >>> check_description({"class": "ReLU", "config": {}}, {}, strict=True)
    """
    declared = state_shapes(description)
    unstored = [name for name in declared if name not in stored]
    errors = []
    if strict and unstored:
        errors.append(f"Missing key(s) in state_dict: {quoted(unstored)}.")
    unexpected = [name for name in stored if name not in declared]
    if strict and unexpected:
        errors.append(f"Unexpected key(s) in state_dict: {quoted(unexpected)}.")
    for name, shape in declared.items():
        if name in stored and tuple(stored[name]) != shape:
            errors.append(
                f"size mismatch for {name}: copying a param with shape {tuple(stored[name])} "
                f"from checkpoint, the shape in the recorded architecture is {shape}."
            )
    if errors:
        raise RuntimeError("\n\t".join(errors))
    extra = sum(math.prod(declared[name]) for name in unstored)
    if extra > MAX_UNSTORED_ELEMENTS:
        raise ValueError(
            f"it declares {extra} entries of weights that it does not store "
            f"(more than {MAX_UNSTORED_ELEMENTS})"
        )


def quoted(names: list[str]) -> str:
    """Names as ``load_state_dict`` lists them.

    >>> quoted(["0.weight", "0.bias"])
    '"0.weight", "0.bias"'
    """
    return ", ".join(f'"{name}"' for name in names)


def rebuild(
    description: Any, cls: type, stored: dict[str, tuple[int, ...]], strict: bool, path: str
) -> Any:
    """The module ``description`` (read from the file ``path``) describes, for
    ``cls.load(path)``: checked against the arrays the file stores (name -> shape) before
    anything is built, then built; every failure names the file and says what to do.
    Building draws no random numbers from the default generator (it is put back).

    >>> from tinygrad_mlp import nn
    >>> rebuild({"class": "Sequential", "config": {"modules": []}}, nn.Module, {}, True, "m.npz")
    Sequential()
    """
    if description is None:
        raise TypeError(
            f"'{path}' holds weights only (the model saved there could not describe its "
            f"architecture), so {cls.__name__}.load cannot rebuild it: build the model and "
            "call model.load(path)"
        )
    try:
        recorded = registered_class(description)
    except ValueError as error:
        raise ValueError(f"'{path}' has a corrupt architecture entry: {error}") from None
    if not issubclass(recorded, cls):
        raise TypeError(
            f"'{path}' holds a model of class {recorded.__name__}, not of class "
            f"{cls.__name__} or a subclass of it: load it with "
            f"nn.{recorded.__name__}.load(path) or nn.Module.load(path)"
        )
    try:
        check_description(description, stored, strict)
    except RuntimeError as error:
        raise RuntimeError(
            f"Error(s) in loading state_dict for {recorded.__name__} from '{path}':\n\t{error}"
        ) from None
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(
            f"'{path}' has a corrupt architecture entry: {type(error).__name__}: {error}"
        ) from None
    try:
        with keeping_generator():
            return build(description)
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(
            f"'{path}' has a corrupt architecture entry: {type(error).__name__}: {error}"
        ) from None


@contextlib.contextmanager
def keeping_generator() -> Iterator[None]:
    """Within the block, layers may draw initial weights that are then replaced (by a file's,
    by a PyTorch module's): the default generator is put back afterwards, so that loading a
    model does not shift the caller's random numbers.

    >>> import tinygrad_mlp as tg
    >>> tg.manual_seed(0)
    >>> with keeping_generator():
    ...     _ = tg.randn(3)
    >>> first = tg.randn(1).item(); tg.manual_seed(0)
    >>> first == tg.randn(1).item()
    True
    """
    rng = default_rng()
    state = rng.bit_generator.state
    try:
        yield
    finally:
        rng.bit_generator.state = state
