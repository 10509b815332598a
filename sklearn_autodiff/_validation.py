"""Early stopping: the held-out rows and the score computed on them.

``scoring`` picks the score: None takes the task's own (accuracy for a
classifier, R² for a regressor, computed on tensors with no copy to the
host), ``"loss"`` the negative validation loss, and anything else a
scikit-learn scorer (a name or a callable ``scorer(estimator, X, y,
sample_weight=...)``) called on a view of the estimator with the module
being trained. Distributed, each rank holds out part of its shard and the
score is the weight-averaged score of every rank's held-out rows.
"""

import copy
import dataclasses

import numpy as np
import torch
from sklearn.metrics import check_scoring

from ._data import tensor_rows
from ._split import validation_split


def early_stopping_split(estimator, data, call):
    """``(score, training data)``: the validation score of a module, and the rows left to train on.

    Parameters
    ----------
    estimator : AutodiffEstimator
    data : TrainingData
    call : FitCall

    Returns
    -------
    score : callable
        ``score(module) -> float``, higher is better.
    train : TrainingData
        The same data without the held-out rows.
    """
    train_rows, val_rows = _split(estimator, data, call)
    held_out = _subset(data, val_rows)
    scoring = estimator.scoring
    if scoring is None or scoring == "loss":
        score = _tensor_score(estimator, held_out, call, scoring)
    else:
        score = _scorer_score(estimator, held_out, call)
    return score, _subset(data, train_rows)


def _split(estimator, data, call):
    fraction = estimator.validation_fraction
    if data.strata is not None:
        n_classes = len(np.unique(data.strata)) if call.comm.active else data.n_targets
        return validation_split(
            data.strata, data.sample_weight, n_classes, fraction, call.seed,
            every_class_on_both_sides=not call.comm.active,
        )
    n = len(data.values)
    n_val = int(np.ceil(fraction * n))
    if n_val < 1 or n - n_val < 1:
        raise ValueError(
            f"early_stopping needs more samples: {n} cannot be split into a training "
            f"and a validation set at validation_fraction={fraction}. Use "
            "early_stopping=False."
        )
    order = np.random.default_rng(call.seed % 2**32).permutation(n)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _subset(data, rows):
    """The same training data restricted to ``rows``."""
    X = data.X[torch.as_tensor(rows)] if isinstance(data.X, torch.Tensor) else data.X[rows]
    return dataclasses.replace(
        data,
        X=X,
        y=data.y[rows],
        values=data.values[rows],
        sample_weight=data.sample_weight[rows],
        strata=None if data.strata is None else data.strata[rows],
    )


def _tensor_score(estimator, held_out, call, scoring):
    """Accuracy, R² or the negative loss of the held-out rows, on the model's device."""
    X = tensor_rows(held_out.X, None, call.dtype, call.device)
    values = torch.as_tensor(held_out.values, device=call.device)
    target = estimator.head.encode_target(values, held_out.n_targets, call.dtype)
    weight = torch.as_tensor(held_out.sample_weight, dtype=torch.float64, device=call.device)
    comm = call.comm
    objective_loss = estimator._objective_loss()  # the trained loss, a user's own included

    def score(module):
        with torch.no_grad():
            output = module(X)
            if scoring == "loss":
                mass = weight.sum()
                loss = objective_loss(output, target, weight.to(output.dtype))
                totals = comm.sum([torch.stack([loss.to(torch.float64) * mass, mass])])[0]
                return -float(totals[0] / totals[1])
            return estimator._validation_score(output, values, weight, comm)

    return score


def _scorer_score(estimator, held_out, call):
    """A scikit-learn scorer on a view of the estimator holding the module in training."""
    scorer = check_scoring(estimator, scoring=estimator.scoring)
    comm = call.comm

    def score(module):
        view = copy.copy(estimator)
        view.__dict__.update(estimator._fitted_attributes(module, held_out, call.space))
        value = float(scorer(view, held_out.X, held_out.y, sample_weight=held_out.sample_weight))
        if not comm.active:
            return value
        mass = float(held_out.sample_weight.sum())
        totals = comm.sum([torch.tensor([value * mass, mass], dtype=torch.float64)])[0]
        return float(totals[0] / totals[1])

    return score
