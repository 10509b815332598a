r"""Degenerate fits: worse than, or no better than, a constant model.

Two constant models matter after a fit:

- the model of zero logits (where the linear models start); a fit that ends
  *worse* than it went wrong, whatever the data;
- the *best* constant model, the head's ``constant_output``: the (weighted)
  class frequencies of a classifier (the prior), the mean of y for a
  squared error. Every shipped estimator can represent it (zero weights, the
  constant as intercepts), and it costs no penalty, so the optimum of the
  objective is never worse than it. A head that does not know its constant
  model skips this part.

Ending no better than the prior is not a failure by itself: on pure noise the
prior is the optimum, up to what fitting the noise gains. It is reported only
when one of these also holds, each a sign that the solver did not get where
the data allow:

- :math:`\beta` of the tanh model collapsed (to 0 after gradient steps on
  unscaled features): the model is then the constant of zero logits, which
  the contract :math:`\beta > 0` rules out;
- the features are far from unit scale (largest magnitude beyond 1e12 or
  below 1e-12), where fixed steps and line searches break down;
- the solver stopped on its own rule, yet one step along the gradient, sized
  by the curvature in that direction, reaches a loss clearly below the
  prior's: better than the prior by more than fitting noise could explain
  (the likelihood-ratio bound :math:`2 n_{\mathrm{eff}} \Delta < \chi^2_{p}`,
  p the number of parameters, at level 1e-6).
"""

import math

import torch
from scipy.stats import chi2

from ._modules import TanhScorer
from .heads import local_total

__all__ = ["DIVERGENCE_HINT", "degenerate_fit_message", "objective"]

#: What to try when training diverges or ends degenerate.
DIVERGENCE_HINT = (
    "Scale the inputs (for example with sklearn.preprocessing.StandardScaler) "
    "or lower learning_rate_init."
)

# Largest feature magnitude outside these bounds: the features are far from unit scale.
FEATURE_SCALE_BOUNDS = (1e-12, 1e12)
# A tanh beta at or below this has collapsed (the logits are then all zero).
COLLAPSED_BETA = 1e-12
# Level of the test that a gradient step's gain over the prior is more than noise.
NOISE_LEVEL = 1e-6
# Rows per block when the objective and its derivatives are evaluated here.
CHUNK_ROWS = 65_536


def degenerate_fit_message(estimator, problem, history):
    """Why the fit that just ended is degenerate, or None when it is not.

    Parameters
    ----------
    estimator : AutodiffEstimator
        The estimator being fitted (its ``head``, loss and name are used).
    problem : Problem
        The training problem, its module at the fitted parameters.
    history : TrainingHistory
        What the training run reported.

    Returns
    -------
    message : str or None
        A sentence naming the training loss, the constant model's and the
        evidence; the caller adds the remedy. The parameters' loss is
        finite here: the estimator refuses a last step that overflowed
        before it asks.
    """
    if not history.n_iter:
        return None
    name = type(estimator).__name__
    final = history.loss_curve[-1]
    with torch.no_grad():
        zero = _constant_loss(estimator, problem, _zero_logits(problem))
    if final > zero * (1 + 1e-6) + 1e-12:
        return (
            f"{name} ended at a training loss of {final:.6g}, worse than the constant "
            f"model's {zero:.6g}: the fit is degenerate."
        )
    if history.interrupted:
        return None
    prior = _constant_model_loss(estimator, problem)
    if prior is None:
        return None
    tolerance = _rounding(prior, problem)
    if final < prior - tolerance:
        return None
    value = objective(problem)
    if not value >= prior - tolerance:
        return None
    reason = _collapsed_beta(problem.module) or _extreme_scale(problem)
    if reason is None and history.converged and not history.validation_scores:
        reason = _better_step(problem, prior)
    if reason is None:
        return None
    return (
        f"{name} ended at a training loss of {value:.6g}, no better than the "
        f"{prior:.6g} of {getattr(estimator.head, 'constant_model', 'the best constant model')}, and "
        f"{reason}: the fit is degenerate."
    )


def _constant_model_loss(estimator, problem):
    """Training loss of the best constant model (no penalty: it has zero weights).

    None when the head does not know its constant model, or when the loss is
    the user's (the head's constant model need not be its optimum).
    """
    with torch.no_grad():
        logits = _constant_output(estimator.head, problem)
        if logits is None:
            return None
        return _constant_loss(estimator, problem, logits)


def _n_outputs(problem):
    return problem.module(problem.rows(slice(0, 1))[0]).shape[1]


def _zero_logits(problem):
    dtype = problem.params[0].dtype
    return torch.zeros(_n_outputs(problem), dtype=dtype, device=problem.target.device)


def _constant_loss(estimator, problem, logits):
    """The training loss of the same logits for every training sample."""
    expanded = logits.expand(problem.n_samples, logits.shape[0])
    return problem.global_mean(problem.loss(expanded, problem.target, problem.sample_weight))


def _constant_output(head, problem):
    """The head's best constant output for the training targets, in the model's dtype."""
    target, weight = problem.target, problem.sample_weight
    if weight is None:  # equal weights, which may differ between ranks
        weight = torch.full(
            (problem.n_samples,), problem.unit_weight, dtype=torch.float64, device=target.device
        )
    constant = getattr(head, "constant_output", None)
    if constant is None:
        return None
    total = problem.comm.sum if problem.comm.active else local_total
    logits = constant(target, weight.to(torch.float64), _n_outputs(problem), total)
    return None if logits is None else logits.to(problem.params[0].dtype)


def _rounding(value, problem):
    """What counts as equal losses: rounding of the model's dtype, at least 1e-6 relative."""
    eps = torch.finfo(problem.params[0].dtype).eps
    return max(1e-6, 64 * eps) * max(1.0, abs(value))


def _blocks(problem):
    """``(X, target, weight, share)`` of row blocks; shares of the weight sum add to 1."""
    n = problem.n_samples
    weight = problem.sample_weight
    total = n if weight is None else float(weight.sum())
    for start in range(0, n, CHUNK_ROWS):
        X, target, w = problem.rows(slice(start, min(start + CHUNK_ROWS, n)))
        share = (X.shape[0] if w is None else float(w.sum())) / total
        if share > 0:
            yield X, target, w, share


def objective(problem):
    """The objective at the module's parameters, over row blocks (and ranks): a float."""
    with torch.no_grad():
        data = 0.0
        for X, target, w, share in _blocks(problem):
            data = data + share * problem.loss(problem.module(X), target, w)
        return float(problem.penalty(problem.module)) + problem.global_mean(data)


def _gradient(problem, vector=None):
    """The objective's gradient, or its Hessian times ``vector``, summed over blocks."""
    params = problem.params
    total = [torch.zeros_like(p) for p in params]

    def data_terms():
        for X, target, w, share in _blocks(problem):
            yield share * problem.share() * problem.loss(problem.module(X), target, w)

    def penalty_terms():
        penalty = problem.penalty(problem.module)
        if isinstance(penalty, torch.Tensor) and penalty.requires_grad:
            yield penalty

    _accumulate(data_terms(), params, vector, total)
    problem.comm.sum(total)  # the data part over every rank's rows
    _accumulate(penalty_terms(), params, vector, total)
    return total


def _accumulate(terms, params, vector, total):
    """Add each term's gradient (or Hessian times ``vector``) into ``total``."""
    with torch.enable_grad():
        for value in terms:
            grads = torch.autograd.grad(
                value, params, create_graph=vector is not None, allow_unused=True
            )
            if vector is not None:
                inner = sum((g * v).sum() for g, v in zip(grads, vector) if g is not None)
                if not (isinstance(inner, torch.Tensor) and inner.requires_grad):
                    continue
                grads = torch.autograd.grad(inner, params, allow_unused=True)
            for acc, g in zip(total, grads):
                if g is not None:
                    acc += g.detach()


def _collapsed_beta(module):
    if not isinstance(module, TanhScorer) or not module.log_beta.requires_grad:
        return None  # a fixed beta is the user's choice
    beta = float(module.beta.detach().min())
    if beta <= COLLAPSED_BETA:
        return f"the tanh scale beta_ collapsed to {beta:.3g}"
    return None


def _extreme_scale(problem):
    X = problem.X
    if X.layout == torch.strided:
        values = X
    elif X.layout == torch.sparse_coo:
        values = X._values()
    else:
        values = X.values()
    largest = 0.0
    if values.numel():
        low_value, high_value = torch.aminmax(values.detach())  # no copy the size of X
        largest = max(abs(float(low_value)), abs(float(high_value)))
    largest = problem.comm.max(largest)
    low, high = FEATURE_SCALE_BOUNDS
    if largest == 0 or low <= largest <= high:
        return None
    return f"the features are far from unit scale (largest magnitude {largest:.3g})"


def _better_step(problem, prior):
    """A gradient step that clearly beats the prior, described; else None."""
    params = problem.params
    try:
        gradient = _gradient(problem)
        squared = float(sum((g * g).sum() for g in gradient))
        if not (squared > 0 and math.isfinite(squared)):
            return None
        curvature = float(
            sum((g * h).sum() for g, h in zip(gradient, _gradient(problem, gradient)))
        )
    except torch.OutOfMemoryError:
        raise
    except RuntimeError:  # a module or loss without second derivatives
        return None
    if not (curvature > 0 and math.isfinite(curvature)):
        return None
    step = squared / curvature
    saved = [p.detach().clone() for p in params]
    try:
        with torch.no_grad():
            for p, g in zip(params, gradient):
                p -= step * g
        reached = objective(problem)
    finally:
        with torch.no_grad():
            for p, s in zip(params, saved):
                p.copy_(s)
    gain = prior - reached
    if not gain > _rounding(prior, problem):
        return None
    n_parameters = sum(p.numel() for p in params)
    if not 2 * _effective_samples(problem) * gain > chi2.isf(NOISE_LEVEL, n_parameters):
        return None
    return (
        f"one gradient step from the final parameters reaches {reached:.6g} (the solver "
        "stopped far from the optimum)"
    )


def _effective_samples(problem):
    """Kish's effective sample size, :math:`(\\sum s)^2 / \\sum s^2`."""
    weight = problem.sample_weight
    if weight is None:
        weight = torch.full((problem.n_samples,), problem.unit_weight, dtype=torch.float64)
    weight = weight.to(torch.float64)
    total, squares = problem.comm.sum([weight.sum().reshape(1), (weight * weight).sum().reshape(1)])
    return float(total**2 / squares)
