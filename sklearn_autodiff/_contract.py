"""The engine's contract with a user's module and loss, checked at the first forward.

A mistake in ``build_module`` or ``loss`` would otherwise surface deep in a
solver as a raw torch error (``IndexError: Target 2 is out of bounds``,
``'NoneType' object has no attribute 'detach'``) or, worse, train silently
(one output column too many). Each check names the method at fault, what it
gave and what was expected.
"""

import torch


def check_module(module, estimator):
    """Refuse anything but a :class:`torch.nn.Module` from ``build_module``."""
    if not isinstance(module, torch.nn.Module):
        raise TypeError(
            f"{type(estimator).__name__}.build_module must return a torch.nn.Module; "
            f"it returned {type(module).__name__} ({module!r:.80})."
        )
    return module


def check_first_forward(estimator, problem, n_targets, custom):
    """Check the module's output shape and, for a custom loss, the loss's value.

    Parameters
    ----------
    estimator : AutodiffEstimator
    problem : Problem
        The training problem (its first rows are used).
    n_targets : int
        Classes or target columns (what ``build_module`` was given).
    custom : bool
        Whether the loss is the user's (``loss`` overridden or a user head).
    """
    name = type(estimator).__name__
    expected = estimator.head.n_outputs(n_targets)
    X, target, weight = problem.rows(slice(0, 2))
    module = problem.module
    was_training = module.training
    module.eval()  # no dropout draw, batch norm on two rows
    try:
        with torch.no_grad():
            output = module(X)
    finally:
        module.train(was_training)
    if not isinstance(output, torch.Tensor) or output.ndim != 2 or output.shape[1] != expected:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ValueError(
            f"The module of {name}.build_module(n_features={X.shape[1]}, {n_targets}) returned "
            f"output of shape {shape} for {X.shape[0]} samples; expected (n_samples, "
            f"{expected}): head.n_outputs({n_targets}) columns, 2-D. Check the last "
            "layer's width."
        )
    if custom:
        _check_loss_value(name, problem.loss(module(X), target, weight), problem.params)


def _check_loss_value(name, value, params):
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        what = f"shape {tuple(value.shape)}" if isinstance(value, torch.Tensor) else repr(value)
        raise TypeError(
            f"{name}.loss must return a scalar torch.Tensor (the weighted mean loss); "
            f"it returned {what}. Reduce with sklearn_autodiff.losses.weighted_mean."
        )
    if params and not value.requires_grad:
        raise TypeError(
            f"{name}.loss returned a tensor without a gradient (requires_grad=False): "
            "compute it from the output tensor with torch operations, without "
            ".item(), .detach() or numpy."
        )
