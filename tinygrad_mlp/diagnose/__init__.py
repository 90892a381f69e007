"""Why did my network blow up to inf and NaN? Train a copy while watching, then try the cures.

:func:`diagnose` takes your network as you wrote it, in any convention the backprop checker
knows (the course skeleton, your own class or ours; Michael Nielsen's ``network.py`` and
``network2.py``; Andrew Ng's ``parameters`` dict with its forward, backward, cost and update
functions), or an ``nn`` model with a loss, and trains a **copy** with full-batch gradient
descent, by your own training step, while it watches every stage of every epoch. Its
report says:

* where the first inf or NaN appears: the epoch, the method or operation, and for a
  hand-written network the source line (found by replaying that call under a line tracer);
* how each layer grows: max |activation|, max |weight|, gradient norm and the ratio of the
  update to the weights, per epoch, with the growth factor;
* what was wrong before training started: units dead or saturated at the initial weights,
  a loss that is already inf, input features on wildly different scales;
* the step-size check. Gradient descent on a loss with curvature ``λ`` along some direction
  multiplies the error along it by ``|1 - lr·λ|`` per step, so it is stable only when
  ``lr · λmax < 2``, ``λmax`` being the largest eigenvalue of the Hessian. ``λmax`` is
  estimated by power iteration on Hessian-vector products, each one a double backward
  through the engine (``tg.grad(loss, params, create_graph=True)`` then the gradient of
  ``<g, v>``);
* which of the usual cures (fix the bias column, average the gradient, standardize inputs
  and targets, a smaller learning rate, gradient clipping) actually cure the run, each tried
  from the same initial weights. Targets are standardized only when they are values (class
  labels stay labels), and a cure must leave a finite, valid loss that at least halved; one
  that stays stable but falls by less is called slow.

The posted network of the question that started this project is :func:`posted_setup` (in
:mod:`tinygrad_mlp.scenario`, offered here too); run ``print(demo())`` for its diagnosis.

The package, each module importing only those above it:

===============  =============================================================================
``findings``     the report's data: ``NonFinite``, ``FeatureScales``, ``UnitHealth``,
                 ``CureTrial`` and ``Diagnosis`` (the numbers: λmax, lr · λmax, the cures)
``report``       the words: the verdict and the seven sections; ``DiagnosisReport``
``lines``        the line of the user's code that made the first inf/NaN
``watch``        what one run saw (``Run``) and the fix it ran with (``Fix``)
``curvature``    λmax by power iteration on Hessian-vector products
``skeleton``     watching a network in the course skeleton's convention train
``conventions``  watching a network in Nielsen's or Ng's convention train (its own step)
``models``       watching an ``nn`` model train
``cures``        which fixes to try, and which of them cured the run
``diagnosis``    :func:`diagnose`, :func:`hessian_lambda_max`, :func:`demo`
===============  =============================================================================

>>> import numpy as np
>>> from tinygrad_mlp import manual
>>> X = np.random.default_rng(0).normal(size=(40, 3)); y = X[:, :1] - X[:, 1:2]
>>> net = manual.NeuralNetwork(3, [8, 1], [manual.Tanh(), manual.Identity()], manual.MSE(),
...                            learning_rate=0.05)
>>> report = diagnose(net, X, y, epochs=50, try_cures=False)
>>> report.blew_up, report.lr_times_lambda_max < 2
(False, True)
"""

from __future__ import annotations

from ..scenario import PostedMSE, fixed_setup, posted_setup
from .diagnosis import demo, diagnose, example_report, hessian_lambda_max
from .findings import CureTrial, Diagnosis, FeatureScales, NonFinite, UnitHealth
from .report import DiagnosisReport

__all__ = [
    "CureTrial",
    "Diagnosis",
    "DiagnosisReport",
    "FeatureScales",
    "NonFinite",
    "PostedMSE",
    "UnitHealth",
    "demo",
    "diagnose",
    "example_report",
    "fixed_setup",
    "hessian_lambda_max",
    "posted_setup",
]
