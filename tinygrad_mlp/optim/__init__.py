"""Optimizers with PyTorch's names, arguments and update rules: ``SGD``, ``Adam``, ``AdamW``.

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` and the hyperparameters,
which may be changed between steps, e.g. ``group["lr"] *= 0.1``) and ``state`` (per parameter:
its buffers as NumPy arrays). ``step()`` updates every parameter that has a ``.grad`` in place;
gradients are only read, never written. Parameters that do not require grad are accepted (the
usual way to freeze part of a model) and, having no ``.grad``, are left alone. State buffers
follow their parameter's current dtype (after ``model.double()``, say).

What is guaranteed, beyond PyTorch:

- Every setting is checked when it is set: in the constructor, in ``add_param_group``, in
  ``load_state_dict`` and by ``group[name] = value``; a bad one (``lr=inf``, ``betas=(0.9,)``,
  ``eps=-1``, a string) raises at once, naming the optimizer and the setting.
- A step is all or nothing. Every new value (parameters and state) is computed first and
  checked; only then is everything written, with Ctrl-C held back until the writing is done
  (in the main thread; see :class:`NonFiniteGradient` for what a failed check raises). A step
  that fails, in any group, changes nothing; an interrupted step is either not taken or whole.
- A gradient holding NaN or inf, or an update that would overflow, is refused with
  :class:`NonFiniteGradient` naming the parameter: no NaN reaches the weights or the moments.

The package's modules: ``settings`` (the table of settings and ``ParamGroup``), ``commit``
(writing a step whole, with Ctrl-C held back: ``INTERRUPTS``, which the compiled step shares),
``optimizer`` (the base class and ``NonFiniteGradient``) and ``rules`` (the three optimizers).
"""

from .commit import INTERRUPTS
from .optimizer import NonFiniteGradient, Optimizer
from .rules import SGD, Adam, AdamW
from .settings import ParamGroup

__all__ = ["INTERRUPTS", "SGD", "Adam", "AdamW", "NonFiniteGradient", "Optimizer", "ParamGroup"]
