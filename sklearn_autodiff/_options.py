"""From an estimator's parameters to one training run's options and policies.

The one place that turns ``solver``, ``batch_size``, ``learning_rate_init``
and friends into :class:`~._solvers.TrainingOptions`, and that assembles the
policies the training loop calls after each step.
"""

import warnings

import torch

from ._solvers import DEFAULT_LEARNING_RATE, FULL_BATCH_SOLVERS, TrainingOptions
from ._training import NoImprovement, PrintProgress

# Solvers without a convergence test of their own, stopped by NoImprovement.
_PATIENT_SOLVERS = ("gd", "sgd", "adam")


def training_options(estimator, n_samples, dtype):
    """The :class:`TrainingOptions` of ``estimator``'s parameters for ``n_samples`` rows.

    Raises
    ------
    ValueError
        If ``learning_rate_init`` overflows ``dtype``.
    """
    solver = estimator.solver
    learning_rate = estimator.learning_rate_init
    if learning_rate is None:
        learning_rate = DEFAULT_LEARNING_RATE.get(solver, 1.0)
    if learning_rate > torch.finfo(dtype).max:
        raise ValueError(
            f"learning_rate_init={learning_rate:g} overflows the model's dtype "
            f"({str(dtype).replace('torch.', '')}); lower learning_rate_init."
        )
    return TrainingOptions(
        solver=solver,
        learning_rate=learning_rate,
        momentum=estimator.momentum,
        nesterov=estimator.nesterovs_momentum,
        batch_size=_batch_size(estimator, solver, n_samples),
        max_iter=estimator.max_iter,
        tol=estimator.tol,
        n_iter_no_change=estimator.n_iter_no_change,
        shuffle=estimator.shuffle,
        verbose=estimator.verbose,
    )


def _batch_size(estimator, solver, n_samples):
    if solver in FULL_BATCH_SOLVERS:
        return n_samples
    if estimator.batch_size == "auto":
        return min(200, n_samples)
    if estimator.batch_size > n_samples:
        warnings.warn(
            f"batch_size={estimator.batch_size} is larger than the number of training "
            f"samples ({n_samples}); using {n_samples}.",
            UserWarning,
            stacklevel=7,  # the user's fit call
        )
        return n_samples
    return estimator.batch_size


def training_policies(options, partial):
    """The policies of one run: progress lines and scikit-learn's no-improvement rule.

    Keep-best and last-good are the loop's own (they need the module); the
    user's callbacks come in through the loop's ``on_step_end``.
    """
    policies = [PrintProgress()] if options.verbose else []
    if not partial and options.solver in _PATIENT_SOLVERS:
        policies.append(NoImprovement(options.tol, options.n_iter_no_change))
    return policies
