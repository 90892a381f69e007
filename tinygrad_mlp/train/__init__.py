"""Training: ``fit`` (the usual loop) and the command line's whole run as library calls.

- ``loop``: ``fit``, ``History`` (its per-epoch results) and ``TrainingDiverged`` (NaN or inf
  in the loss or a gradient, with the last good weights kept).
- ``inputs``: what ``fit`` checks before the first update, and how it reads batches; shared
  by ``loop`` only.
- ``pipeline``: ``plan_training`` (loss, split, standardization, model, optimizer for a
  dataset) giving a ``TrainingPlan`` to ``fit`` and ``save``; ``load_training_csv``,
  ``choose_loss``, ``make_optimizer``; what ``tinygrad-mlp train`` runs.

>>> import numpy as np
>>> from tinygrad_mlp import nn, optim
>>> X = np.random.default_rng(0).normal(size=(32, 2)); y = (X[:, 0] > 0).astype(int)
>>> model = nn.MLP([2, 4, 2])
>>> fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), (X, y),
...     epochs=2, progress=False).epochs
2
"""

from .loop import History, TrainingDiverged, fit
from .pipeline import (
    DEFAULT_LR,
    LOSSES,
    OPTIMIZERS,
    TrainingPlan,
    choose_loss,
    load_training_csv,
    make_optimizer,
    plan_training,
)

__all__ = [
    "DEFAULT_LR", "LOSSES", "OPTIMIZERS", "History", "TrainingDiverged", "TrainingPlan",
    "choose_loss", "fit", "load_training_csv", "make_optimizer", "plan_training",
]
