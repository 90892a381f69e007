"""``Module``, ``Parameter`` and the containers ``Sequential`` and ``ModuleList``.

A Module owns Parameters and other Modules, registered simply by assigning them to
attributes (``self.fc = nn.Linear(2, 3)``), exactly as in PyTorch. From that registry come
``parameters()``, dotted ``named_parameters()``, ``state_dict()``, ``zero_grad()`` and the
printed tree. Buffers (``register_buffer``) are state that is saved and loaded but never
optimised, such as ``BatchNorm1d``'s running statistics.

The ``nn`` classes can also describe themselves (see ``architecture``), so that ``save``
records the architecture beside the weights and ``nn.Module.load(path)`` rebuilds the model.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import MethodType
from typing import Any, NamedTuple, TypeVar

import numpy as np

from ..engine.tensor import Tensor
from . import architecture, serialize
from .architecture import describable, quoted


class Parameter(Tensor):
    """A Tensor that a Module registers and an optimizer updates; it requires grad.

    The data is copied (so updating the parameter never changes the caller's array).
    Python lists become float32, as in PyTorch; a NumPy array keeps its dtype.

    >>> from tinygrad_mlp import nn
    >>> w = nn.Parameter([1.0, 2.0])
    >>> w.requires_grad, w.dtype
    (True, dtype('float32'))
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        super().__init__(np.empty(0, np.float32) if data is None else data, requires_grad)
        self._data = self._data.copy(order="K")  # keep a layout chosen for speed (nn.Linear)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` could not match, as PyTorch reports it.

    >>> IncompatibleKeys([], [])
    <All keys matched successfully>
    """

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"IncompatibleKeys(missing_keys={self.missing_keys!r}, "
            f"unexpected_keys={self.unexpected_keys!r})"
        )


class _instance_or_class_method:
    """Like ``classmethod``, but reached through an instance it binds the instance.

    So one name serves two calls: ``obj.f(...)`` passes the instance first, ``Class.f(...)``
    the class (where a plain method would be missing its ``self``).

    >>> class C:
    ...     @_instance_or_class_method
    ...     def who(self_or_cls):
    ...         return "class" if isinstance(self_or_cls, type) else "instance"
    >>> C.who(), C().who()
    ('class', 'instance')
    """

    def __init__(self, function: Callable[..., Any]) -> None:
        self.__func__ = function
        # The name and docstring are the function's, for help() and doctest.
        functools.update_wrapper(self, function)

    def __get__(self, instance: Any, owner: type | None = None) -> MethodType:
        return MethodType(self.__func__, owner if instance is None else instance)


def _check_name(name: Any, kind: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f'{kind} name must be non-empty and must not contain ".", got {name!r}')


class Module:
    """Base class of every layer and model: subclass it and write ``forward``.

    Parameters and submodules assigned to attributes are registered automatically.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> class Affine(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.scale = nn.Parameter([2.0])
    ...     def forward(self, x):
    ...         return x * self.scale
    >>> m = Affine()
    >>> m(tg.tensor([3.0])).tolist(), [name for name, _ in m.named_parameters()]
    ([6.0], ['scale'])
    """

    training: bool

    def __init__(self) -> None:
        # The registries are ordered (definition order is the order of parameters(), as in
        # PyTorch). Registered values are mirrored into __dict__ as well, so that reading
        # ``self.weight`` in forward is a plain attribute lookup with no __getattr__ detour.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; every subclass defines it."""
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        out = self.forward(*args, **kwargs)
        # Tag the node that made the output with the module, for graph pictures. An inner
        # module got there first when it made that very node: the innermost one wins.
        node = getattr(out, "grad_fn", None)
        if node is not None and node.module is None:
            node.module = self
        return out

    # -- registration ------------------------------------------------------------------------

    def _registries(self) -> tuple[dict, dict, dict]:
        try:
            found = self.__dict__
            return found["_parameters"], found["_modules"], found["_buffers"]
        except KeyError:
            raise AttributeError(
                f"cannot assign parameters or modules to {type(self).__name__} before "
                "Module.__init__() call; call super().__init__() first in your __init__"
            ) from None

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or None, a slot left empty such as ``bias=False``) as ``name``.

        >>> from tinygrad_mlp import nn
        >>> m = nn.Module()
        >>> m.register_parameter("bias", None)
        >>> m.bias is None
        True
        """
        parameters, modules, buffers = self._registries()
        _check_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(nn.Parameter or None required)"
            )
        modules.pop(name, None)
        buffers.pop(name, None)
        parameters[name] = param
        object.__setattr__(self, name, param)

    def add_module(self, name: str, module: Module | None) -> None:
        """Register ``module`` as the child ``name`` (what attribute assignment does).

        >>> from tinygrad_mlp import nn
        >>> m = nn.Module()
        >>> m.add_module("act", nn.ReLU())
        >>> m
        Module(
          (act): ReLU()
        )
        """
        parameters, modules, buffers = self._registries()
        _check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(
                f"cannot assign '{type(module).__name__}' to child module '{name}': it is not "
                "a Module subclass (nn.Module or None required)"
            )
        parameters.pop(name, None)
        buffers.pop(name, None)
        modules[name] = module
        object.__setattr__(self, name, module)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as the buffer ``name``: state that ``state_dict()`` saves and
        ``load_state_dict`` loads (unless ``persistent=False``) and ``double()`` casts, but
        that is no parameter, so no optimizer changes it (running statistics, counters).

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import nn
        >>> m = nn.Module()
        >>> m.register_buffer("count", tg.tensor(0))
        >>> m.state_dict(), list(m.parameters())
        ({'count': array(0)}, [])
        """
        _, _, buffers = self._registries()
        _check_name(name, "buffer")
        if tensor is not None and (not isinstance(tensor, Tensor) or isinstance(tensor, Parameter)):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(a Tensor or None required)"
            )
        if name in self.__dict__ and name not in buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if not isinstance(persistent, bool):
            raise TypeError(
                f"register_buffer: persistent must be True or False, got {persistent!r}"
            )
        buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)
        object.__setattr__(self, name, tensor)

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Parameter):
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            self.add_module(name, value)
        # A registered slot takes only None besides its own kind; the registering methods
        # raise for anything else.
        elif name in self.__dict__.get("_parameters", ()):
            self.register_parameter(name, value)
        elif name in self.__dict__.get("_modules", ()):
            self.add_module(name, value)
        elif name in self.__dict__.get("_buffers", ()):
            self.register_buffer(name, value, name not in self._non_persistent)
        else:
            object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for registry in ("_parameters", "_modules", "_buffers"):
            self.__dict__.get(registry, {}).pop(name, None)
        object.__delattr__(self, name)

    # -- walking the tree --------------------------------------------------------------------

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """This module and all below it, with dotted names ('' for this one), each once.

        >>> from tinygrad_mlp import nn
        >>> [name for name, _ in nn.Sequential(nn.Linear(1, 1), nn.ReLU()).named_modules()]
        ['', '0', '1']
        """
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                child_prefix = f"{prefix}.{name}" if prefix else name
                yield from module.named_modules(memo, child_prefix, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and all below it, each once.

        >>> from tinygrad_mlp import nn
        >>> len(list(nn.Sequential(nn.Linear(1, 1), nn.ReLU()).modules()))
        3
        """
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct submodules with their names, each once.

        >>> from tinygrad_mlp import nn
        >>> [name for name, _ in nn.Sequential(nn.ReLU(), nn.Tanh()).named_children()]
        ['0', '1']
        """
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct submodules, each once.

        >>> from tinygrad_mlp import nn
        >>> list(nn.Sequential(nn.ReLU()).children())
        [ReLU()]
        """
        for _, module in self.named_children():
            yield module

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Parameters with PyTorch's dotted names (``0.weight``, ``layers.1.bias``).

        A parameter shared by two modules comes once, under its first name, unless
        ``remove_duplicate=False``.

        >>> from tinygrad_mlp import nn
        >>> [name for name, _ in nn.Sequential(nn.Linear(2, 1)).named_parameters()]
        ['0.weight', '0.bias']
        """
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def _named_members(
        self, registry: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Any]]:
        # The tensors of one registry (parameters or buffers) of this module and those below.
        members = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        seen: set[int] = set()
        for module_prefix, module in members:
            for name, tensor in module.__dict__[registry].items():
                if tensor is None or (remove_duplicate and id(tensor) in seen):
                    continue
                seen.add(id(tensor))
                yield (f"{module_prefix}.{name}" if module_prefix else name), tensor

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """All parameters (for an optimizer), each once.

        >>> from tinygrad_mlp import nn
        >>> sum(p.numel() for p in nn.Linear(2, 3).parameters())
        9
        """
        for _, param in self.named_parameters(recurse=recurse):
            yield param

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """Buffers with dotted names, as ``named_parameters`` names parameters.

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import nn
        >>> counter = nn.Module()
        >>> counter.register_buffer("count", tg.tensor(0))
        >>> [name for name, _ in nn.Sequential(counter).named_buffers()]
        ['0.count']
        """
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """All buffers, each once.

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import nn
        >>> m = nn.Module()
        >>> m.register_buffer("mean", tg.zeros(3))
        >>> [b.shape for b in m.buffers()]
        [(3,)]
        """
        for _, buffer in self.named_buffers(recurse=recurse):
            yield buffer

    def _named_state(self) -> dict[str, Tensor]:
        # What state_dict saves, in PyTorch's order: module by module (the tree walked
        # depth first), each one's parameters and then its persistent buffers.
        state = {}
        for prefix, module in self.named_modules(remove_duplicate=False):
            dotted = f"{prefix}." if prefix else ""
            for name, param in module._parameters.items():
                if param is not None:
                    state[dotted + name] = param
            for name, buffer in module._buffers.items():
                if buffer is not None and name not in module._non_persistent:
                    state[dotted + name] = buffer
        return state

    # -- training helpers --------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``.grad`` becomes None (or zeros with ``set_to_none=False``).

        >>> import tinygrad_mlp as tg
        >>> from tinygrad_mlp import nn
        >>> layer = nn.Linear(2, 1)
        >>> layer(tg.ones(1, 2)).sum().backward()
        >>> layer.zero_grad()
        >>> layer.weight.grad is None
        True
        """
        for param in self.parameters():
            if set_to_none:
                param.grad = None
            elif param.grad is not None:
                # A fresh array: gradient buffers may be shared, never write into them.
                param.grad = Tensor._make(np.zeros_like(param._data), False, None)

    def train(self, mode: bool = True) -> Module:
        """Put this module and all below it in training mode (``eval()`` undoes it).

        >>> from tinygrad_mlp import nn
        >>> nn.ReLU().train().training
        True
        """
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be a bool, got {mode!r}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Put this module and all below it in evaluation mode.

        >>> from tinygrad_mlp import nn
        >>> nn.ReLU().eval().training
        False
        """
        return self.train(False)

    def _cast(self, dtype: type) -> Module:
        for param in self.parameters():
            if param._data.dtype.kind == "f":
                param._data = param._data.astype(dtype)
                if param.grad is not None:
                    param.grad = Tensor._make(param.grad._data.astype(dtype), False, None)
        for buffer in self.buffers():  # running statistics follow; counters stay integers
            if buffer._data.dtype.kind == "f":
                buffer._data = buffer._data.astype(dtype)
        return self

    def double(self) -> Module:
        """Cast every floating-point parameter (and its grad) to float64, in place.

        >>> from tinygrad_mlp import nn
        >>> nn.Linear(2, 1).double().weight.dtype
        dtype('float64')
        """
        return self._cast(np.float64)

    def float(self) -> Module:
        """Cast every floating-point parameter (and its grad) to float32, in place.

        >>> from tinygrad_mlp import nn
        >>> nn.Linear(2, 1).double().float().weight.dtype
        dtype('float32')
        """
        return self._cast(np.float32)

    # -- state -------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter and persistent buffer as ``name -> np.ndarray`` (shared
        ones under each name), in PyTorch's order.

        >>> from tinygrad_mlp import nn
        >>> {k: v.shape for k, v in nn.Linear(2, 3).state_dict().items()}
        {'weight': (3, 2), 'bias': (3,)}
        """
        return {name: tensor._data.copy() for name, tensor in self._named_state().items()}

    def load_state_dict(self, state_dict: Any, strict: bool = True) -> IncompatibleKeys:
        """Copy the arrays of ``state_dict`` into the parameters (and buffers) of the same
        name, in place.

        Values are cast to each parameter's dtype. Every problem is reported at once in a
        ``RuntimeError`` and then nothing is loaded: a shape mismatch always (as in
        PyTorch), and with ``strict=True`` also missing and unexpected names. With
        ``strict=False`` what matches is loaded and the rest is returned as
        ``(missing_keys, unexpected_keys)``.

        >>> from tinygrad_mlp import nn
        >>> a, b = nn.Linear(2, 1), nn.Linear(2, 1)
        >>> b.load_state_dict(a.state_dict())
        <All keys matched successfully>
        """
        return self._load_state_dict(state_dict, strict, source=None)

    def _load_state_dict(self, state_dict: Any, strict: bool, source: Any) -> IncompatibleKeys:
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                "load_state_dict: state_dict must be a dict of name -> array, got "
                f"{type(state_dict).__name__}"
            )
        if not isinstance(strict, bool):
            raise TypeError(f"load_state_dict: strict must be True or False, got {strict!r}")
        own = self._named_state()
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        errors, arrays = [], {}
        if strict and missing:
            errors.append(f"Missing key(s) in state_dict: {quoted(missing)}.")
        if strict and unexpected:
            errors.append(f"Unexpected key(s) in state_dict: {quoted(unexpected)}.")
        for name, tensor in own.items():
            if name not in state_dict:
                continue
            array = np.asarray(state_dict[name])
            if array.shape != tensor.shape:
                errors.append(
                    f"size mismatch for {name}: copying a param with shape {array.shape} from "
                    f"checkpoint, the shape in current model is {tensor.shape}."
                )
            elif array.dtype.kind not in "biuf":
                errors.append(f"wrong dtype for {name}: {array.dtype} is not numeric.")
            else:
                arrays[name] = array
        if errors:
            where = "" if source is None else f" from '{os.fspath(source)}'"
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}{where}:\n\t"
                + "\n\t".join(errors)
            )
        for name, array in arrays.items():
            own[name]._data[...] = array
        return IncompatibleKeys(missing, unexpected)

    def save(self, path: str | os.PathLike) -> str:
        """Write ``state_dict()`` to an ``.npz`` file (``.npz`` is added when missing).

        The architecture is recorded too when the module can describe itself (the ``nn``
        layers, ``Sequential`` and ``MLP``), so that ``nn.Module.load(path)`` can rebuild it.
        Returns the path written. See ``tinygrad_mlp.nn.serialize.save``.

        >>> import tempfile, os
        >>> from tinygrad_mlp import nn
        >>> path = nn.Linear(2, 1).save(os.path.join(tempfile.mkdtemp(), "layer"))
        >>> path.endswith("layer.npz")
        True
        """
        return serialize.save(self, path)

    @_instance_or_class_method
    def load(
        self_or_cls: Module | type[Module], path: str | os.PathLike, strict: bool = True
    ) -> Module:
        """Load a file written by ``save``: into this model, or as a new model of this class.

        ``model.load(path)`` copies the weights into ``model``, in place, and returns it: the
        architecture is the model's own. ``nn.Module.load(path)`` (or ``nn.MLP.load(path)``,
        any class) rebuilds the model from the architecture recorded in the file and returns
        it with the weights; the recorded class must be the class called on or a subclass
        of it, else ``TypeError``. A file saved from a module that cannot describe itself
        (your own Module subclass) holds weights only: rebuilding it raises ``TypeError``;
        build the model and call ``model.load(path)``. The recorded architecture is checked
        against the stored arrays' shapes before any layer is made, so a file cannot make
        this allocate more than it holds.

        Errors are those of ``load_state_dict`` (naming the file) and of
        ``tinygrad_mlp.nn.serialize.read_npz``, and a ``ValueError`` naming the file for a
        corrupt architecture; on any error an existing model is left unchanged.

        >>> import tempfile, os
        >>> from tinygrad_mlp import nn
        >>> path = nn.MLP([2, 3, 1]).save(os.path.join(tempfile.mkdtemp(), "mlp"))
        >>> nn.MLP([2, 3, 1]).load(path)[0]  # into an existing model
        Linear(in_features=2, out_features=3, bias=True)
        >>> nn.Module.load(path)  # a new model, rebuilt from the file
        MLP(
          (0): Linear(in_features=2, out_features=3, bias=True)
          (1): ReLU()
          (2): Linear(in_features=3, out_features=1, bias=True)
        )
        """
        cls = self_or_cls if isinstance(self_or_cls, type) else type(self_or_cls)
        if not isinstance(strict, bool):
            raise TypeError(f"{cls.__name__}.load: strict must be True or False, got {strict!r}")
        contents = serialize.read_state(path, f"{cls.__name__}.load")
        if isinstance(self_or_cls, Module):
            model = self_or_cls
        else:
            stored = {name: array.shape for name, array in contents.arrays.items()}
            model = architecture.rebuild(
                contents.architecture, self_or_cls, stored, strict, contents.path
            )
        model._load_state_dict(contents.arrays, strict, source=contents.path)
        return model

    # -- describing the architecture (see nn.architecture) -----------------------------------

    def _config(self) -> dict[str, Any] | None:
        """The constructor arguments that rebuild this module, JSON-able; None if it cannot.

        A describable class (see ``architecture.describable``) overrides this when its
        constructor takes arguments; this default suits those that take none.

        >>> from tinygrad_mlp import nn
        >>> nn.ReLU()._config()
        {}
        """
        return {}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Module:
        """A fresh module of this class from what ``_config`` gave.

        >>> from tinygrad_mlp import nn
        >>> nn.ReLU._from_config({})
        ReLU()
        """
        return cls(**config)

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """The state-dict entries (name -> shape) of a module made from ``config``, found
        without making it (its own entries: a container's children are walked apart). A
        describable class that holds parameters or buffers overrides this.

        This default checks that the constructor takes ``config``'s arguments (nothing is
        called) and declares no entries.

        >>> from tinygrad_mlp import nn
        >>> nn.Linear._state_shapes({"in_features": 3, "out_features": 2, "bias": False})
        {'weight': (2, 3)}
        """
        try:
            inspect.signature(cls).bind(**config)
        except TypeError as error:
            raise TypeError(f"{cls.__name__}: {error}") from None
        return {}

    # -- printing ----------------------------------------------------------------------------

    def extra_repr(self) -> str:
        """The settings shown inside the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        # A child's own lines are indented once more, so nesting shows as in PyTorch.
        lines += [
            f"({name}): " + repr(module).replace("\n", "\n  ")
            for name, module in self._modules.items()
        ]
        if not self._modules and len(lines) <= 1:
            return f"{type(self).__name__}({''.join(lines)})"
        return f"{type(self).__name__}(\n" + "".join(f"  {line}\n" for line in lines) + ")"


def _position(index: int, length: int, owner: str) -> int:
    index = int(index)
    if not -length <= index < length:
        raise IndexError(f"index {index} is out of range for {owner} of length {length}")
    return index % length


_SequenceType = TypeVar("_SequenceType", bound="_ModuleSequence")


class _ModuleSequence(Module):
    """What ``Sequential`` and ``ModuleList`` share: children in order, indexed like a list."""

    # Its config lists its children (architecture.children): they are described apart.
    is_container = True

    def _from_slice(self, items: list[tuple[str, Module]]) -> Module:
        raise NotImplementedError

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._from_slice(list(self._modules.items())[index])
        return list(self._modules.values())[_position(index, len(self), type(self).__name__)]

    def __setitem__(self, index: int, module: Module) -> None:
        name = list(self._modules)[_position(index, len(self), type(self).__name__)]
        self.add_module(name, module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self: _SequenceType, module: Module) -> _SequenceType:
        """Add ``module`` at the end and return self.

        >>> from tinygrad_mlp import nn
        >>> len(nn.Sequential(nn.ReLU()).append(nn.Tanh())), len(nn.ModuleList().append(nn.ReLU()))
        (2, 1)
        """
        self.add_module(str(len(self)), module)
        return self


@describable
class Sequential(_ModuleSequence):
    """Modules applied one after the other; the output of each is the input of the next.

    Children are named ``0``, ``1``, ... (or by the keys of a single dict argument).

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    >>> model(tg.ones(4, 2)).shape, len(model), model[1]
    ((4, 3), 2, ReLU())
    """

    def __init__(self, *modules: Module | dict[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], dict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)  # type: ignore[arg-type]

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def _config(self) -> dict[str, Any] | None:
        # The children in order with their names (they are the state_dict prefixes). One child
        # that cannot describe itself leaves the whole model undescribed.
        modules = []
        for name, module in self._modules.items():
            description = None if module is None else architecture.describe(module)
            if description is None:
                return None
            modules.append([name, description])
        return {"modules": modules}

    @classmethod
    def _from_config(cls, config: dict[str, Any]) -> Module:
        return cls(architecture.build_children(config))

    @classmethod
    def _state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        architecture.children(config)  # the form; the children themselves are walked apart
        return {}

    def _from_slice(self, items: list[tuple[str, Module]]) -> Module:
        # A plain Sequential: a subclass's constructor may take other arguments.
        return Sequential(dict(items))


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered; you write the forward yourself.

    >>> from tinygrad_mlp import nn
    >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    >>> len(layers), len(list(layers.parameters()))
    (3, 6)
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _from_slice(self, items: list[tuple[str, Module]]) -> Module:
        return ModuleList(module for _, module in items)

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add each of ``modules`` at the end and return self.

        >>> from tinygrad_mlp import nn
        >>> len(nn.ModuleList().extend([nn.ReLU(), nn.Tanh()]))
        2
        """
        for module in modules:
            self.append(module)
        return self
