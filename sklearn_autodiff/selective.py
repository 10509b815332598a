"""Selective classification: metrics, a threshold-learning meta-estimator, a plot.

A selective classifier either answers a class or abstains (predicts a
*reject label*). Its quality has two sides: how much it answers (coverage)
and how often those answers are wrong (selective risk). This module holds

- the metrics of that trade-off (:func:`coverage_score`,
  :func:`selective_accuracy_score`, :func:`selective_risk_score`,
  :func:`chow_loss`, :func:`risk_coverage_curve`, :func:`aurc_score`), all
  usable with :func:`sklearn.metrics.make_scorer`;
- :class:`SelectiveClassifierCV`, which learns the confidence threshold below
  which a classifier abstains, from cross-validated probabilities, optionally
  with a statistical guarantee on the risk;
- :class:`RiskCoverageDisplay`, the risk-coverage plot (matplotlib optional).

Throughout, the *confidence* of a prediction is the largest class
probability :math:`\\kappa(x) = \\max_k P(k \\mid x)`, and a threshold
:math:`\\tau` accepts a sample when :math:`\\kappa(x) \\ge \\tau` and rejects
it when :math:`\\kappa(x) < \\tau`, as the estimators' ``reject_threshold``
does.
"""

import math
import numbers
import warnings
from collections import namedtuple

import numpy as np
from scipy.stats import beta as beta_distribution
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_predict
from sklearn.utils import check_array, check_consistent_length, column_or_1d, indexable
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._param_validation import HasMethods, Interval, validate_params
from sklearn.utils._tags import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._base import resolve_reject_label

__all__ = [
    "RiskCoverageDisplay",
    "SelectiveClassifierCV",
    "aurc_score",
    "chow_loss",
    "coverage_score",
    "risk_coverage_curve",
    "selective_accuracy_score",
    "selective_risk_score",
]

# --------------------------------------------------------------------------
# Metrics on hard predictions (with a reject label)
# --------------------------------------------------------------------------


def _label_inputs(y_true, y_pred, reject_label, sample_weight):
    """Validate the inputs of the label metrics.

    Returns the weights, the boolean mask of rejected samples and the
    boolean mask of wrong answers (False where rejected).
    """
    y_true = column_or_1d(y_true, input_name="y_true")
    y_pred = column_or_1d(y_pred, input_name="y_pred")
    check_consistent_length(y_true, y_pred, sample_weight)
    if y_true.shape[0] == 0:
        raise ValueError("y_true and y_pred are empty; the metric needs at least one sample.")
    if isinstance(reject_label, float) and math.isnan(reject_label):
        raise ValueError(
            "reject_label=nan cannot mark rejections, because NaN never equals "
            "itself; use a label such as -1 or 'reject'."
        )
    weight = _check_sample_weight(
        sample_weight, y_true, dtype=np.float64, ensure_non_negative=True
    )
    if not weight.sum() > 0:
        raise ValueError("The sample weights sum to zero; at least one must be positive.")
    rejected = _equals(y_pred, reject_label)
    wrong = ~rejected & ~_equals(y_pred, y_true)
    return weight, rejected, wrong


def _equals(a, b):
    """Element-wise ``a == b`` as a boolean array of a's shape.

    Values of incomparable types (a number against a string) are unequal.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = np.asarray(a == b)
    if result.shape != a.shape:
        return np.zeros(a.shape, dtype=bool)
    return result.astype(bool, copy=False)


def _undefined(metric):
    warnings.warn(
        f"{metric} is undefined when every sample is rejected (coverage 0); "
        "returning nan.",
        UndefinedMetricWarning,
        stacklevel=3,
    )
    return float("nan")


_LABEL_METRIC_PARAMS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "reject_label": "no_validation",
    "sample_weight": ["array-like", None],
}


@validate_params(_LABEL_METRIC_PARAMS, prefer_skip_nested_validation=True)
def coverage_score(y_true, y_pred, *, reject_label, sample_weight=None):
    """Fraction of the samples that are not rejected.

    With weights :math:`w_i` (all 1 by default) and the predictions
    :math:`\\hat y_i`, where :math:`r` is the reject label,

    .. math:: \\text{coverage} = \\frac{\\sum_i w_i [\\hat y_i \\ne r]}{\\sum_i w_i}.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (only their number matters here; taking them keeps the
        signature of every scikit-learn metric, so ``make_scorer`` works).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, with ``reject_label`` where the classifier abstained.
    reject_label : scalar
        The label that marks a rejection (for example the ``reject_label_``
        of a fitted estimator).
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    coverage : float
        In [0, 1]; 1 means nothing was rejected.

    See Also
    --------
    selective_risk_score : Error rate among the accepted samples.

    Examples
    --------
    >>> from sklearn_autodiff import coverage_score
    >>> coverage_score([0, 1, 1, 0], [0, -1, 1, 1], reject_label=-1)
    0.75
    """
    weight, rejected, _ = _label_inputs(y_true, y_pred, reject_label, sample_weight)
    return float(weight[~rejected].sum() / weight.sum())


@validate_params(_LABEL_METRIC_PARAMS, prefer_skip_nested_validation=True)
def selective_accuracy_score(y_true, y_pred, *, reject_label, sample_weight=None):
    """Accuracy on the samples that are not rejected.

    With weights :math:`w_i`, predictions :math:`\\hat y_i`, true labels
    :math:`y_i` and the reject label :math:`r`,

    .. math:: \\text{selective accuracy} =
              \\frac{\\sum_i w_i [\\hat y_i \\ne r][\\hat y_i = y_i]}
                   {\\sum_i w_i [\\hat y_i \\ne r]}
              = 1 - \\text{selective risk}.

    It is undefined (nan, with an
    :class:`~sklearn.exceptions.UndefinedMetricWarning`) when every sample
    is rejected.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, with ``reject_label`` where the classifier abstained.
    reject_label : scalar
        The label that marks a rejection.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    accuracy : float
        In [0, 1], or nan when nothing is accepted.

    Examples
    --------
    >>> from sklearn_autodiff import selective_accuracy_score
    >>> selective_accuracy_score([0, 1, 1, 0], [0, -1, 1, 1], reject_label=-1)
    0.666...
    """
    weight, rejected, wrong = _label_inputs(y_true, y_pred, reject_label, sample_weight)
    accepted = weight[~rejected].sum()
    if not accepted > 0:
        return _undefined("Selective accuracy")
    return float(weight[~rejected & ~wrong].sum() / accepted)


@validate_params(_LABEL_METRIC_PARAMS, prefer_skip_nested_validation=True)
def selective_risk_score(y_true, y_pred, *, reject_label, sample_weight=None):
    """Error rate on the samples that are not rejected (lower is better).

    With weights :math:`w_i`, predictions :math:`\\hat y_i`, true labels
    :math:`y_i` and the reject label :math:`r`,

    .. math:: \\text{selective risk} =
              \\frac{\\sum_i w_i [\\hat y_i \\ne r][\\hat y_i \\ne y_i]}
                   {\\sum_i w_i [\\hat y_i \\ne r]}.

    It is undefined (nan, with an
    :class:`~sklearn.exceptions.UndefinedMetricWarning`) when every sample
    is rejected. As a scorer, use ``greater_is_better=False``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, with ``reject_label`` where the classifier abstained.
    reject_label : scalar
        The label that marks a rejection.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    risk : float
        In [0, 1], or nan when nothing is accepted.

    Examples
    --------
    >>> from sklearn_autodiff import selective_risk_score
    >>> selective_risk_score(["a", "b", "b"], ["a", "reject", "a"],
    ...                      reject_label="reject")
    0.5
    """
    weight, rejected, wrong = _label_inputs(y_true, y_pred, reject_label, sample_weight)
    accepted = weight[~rejected].sum()
    if not accepted > 0:
        return _undefined("Selective risk")
    return float(weight[wrong].sum() / accepted)


@validate_params(
    {**_LABEL_METRIC_PARAMS, "cost": [Interval(numbers.Real, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def chow_loss(y_true, y_pred, *, reject_label, cost, sample_weight=None):
    """Chow's loss: an error costs 1, a rejection costs ``cost``, a hit 0.

    With weights :math:`w_i`, predictions :math:`\\hat y_i`, true labels
    :math:`y_i`, the reject label :math:`r` and the rejection cost :math:`c`,

    .. math:: L = \\frac{1}{\\sum_i w_i} \\sum_i w_i \\Big(
              [\\hat y_i \\ne r][\\hat y_i \\ne y_i] + c\\,[\\hat y_i = r]\\Big)
              = (1 - \\text{coverage}) \\, c
                + \\text{coverage} \\cdot \\text{selective risk}.

    For calibrated probabilities the expected loss is smallest when a
    sample is rejected exactly when :math:`\\max_k P(k \\mid x) < 1 - c`
    (Chow's rule). Lower is better; as a scorer, use
    ``greater_is_better=False``, for example to tune ``reject_threshold``::

        make_scorer(chow_loss, greater_is_better=False, reject_label=-1, cost=0.2)

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels, with ``reject_label`` where the classifier abstained.
    reject_label : scalar
        The label that marks a rejection.
    cost : float >= 0
        Cost of one rejection, relative to the cost 1 of one error.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : float
        The weighted mean cost per sample.

    Examples
    --------
    >>> from sklearn_autodiff import chow_loss
    >>> chow_loss([0, 1, 1, 0], [0, -1, 1, 1], reject_label=-1, cost=0.2)
    0.3
    """
    weight, rejected, wrong = _label_inputs(y_true, y_pred, reject_label, sample_weight)
    total = weight[wrong].sum() + cost * weight[rejected].sum()
    return float(total / weight.sum())


# --------------------------------------------------------------------------
# Metrics on probabilities: the risk-coverage curve
# --------------------------------------------------------------------------


def _confidence_inputs(y_true, y_proba, labels, sample_weight):
    """Validate (y_true, y_proba) and return confidence, correctness, weight."""
    y_true = column_or_1d(y_true, input_name="y_true")
    y_proba = check_array(
        y_proba, ensure_2d=False, dtype=[np.float64, np.float32], input_name="y_proba"
    )
    classes = np.unique(y_true if labels is None else column_or_1d(labels, input_name="labels"))
    if y_proba.ndim == 1:
        if len(classes) != 2:
            raise ValueError(
                "A 1-D y_proba is read as the probability of the second of two "
                f"sorted labels, but there are {len(classes)} labels "
                f"{classes.tolist()!r}; pass one column per label, or labels=."
            )
        y_proba = np.column_stack([1.0 - y_proba, y_proba])
    elif y_proba.ndim != 2:
        raise ValueError(f"y_proba must be 1-D or 2-D, got {y_proba.ndim} dimensions.")
    check_consistent_length(y_true, y_proba, sample_weight)
    if y_proba.shape[0] == 0:
        raise ValueError("y_true and y_proba are empty; the curve needs at least one sample.")
    if y_proba.shape[1] != len(classes):
        raise ValueError(
            f"y_proba has {y_proba.shape[1]} columns but there are {len(classes)} "
            f"labels {classes.tolist()!r}. The columns must follow the sorted "
            "labels; pass labels= when y_true does not contain every class."
        )
    unknown = np.setdiff1d(y_true, classes)
    if len(unknown):
        raise ValueError(f"y_true contains labels {unknown.tolist()!r} not in labels.")
    if y_proba.min() < 0 or y_proba.max() > 1:
        raise ValueError("y_proba must contain probabilities, in [0, 1].")
    tolerance = np.sqrt(np.finfo(y_proba.dtype).eps) * y_proba.shape[1]
    if not np.allclose(y_proba.sum(axis=1), 1.0, rtol=0, atol=tolerance):
        raise ValueError("The rows of y_proba must sum to one.")
    weight = _check_sample_weight(
        sample_weight, y_true, dtype=np.float64, ensure_non_negative=True
    )
    if not weight.sum() > 0:
        raise ValueError("The sample weights sum to zero; at least one must be positive.")
    confidence = y_proba.max(axis=1).astype(np.float64)
    correct = _equals(classes[y_proba.argmax(axis=1)], y_true)
    return confidence, correct, weight


def _acceptance_steps(confidence, correct, sample_weight=None):
    """Cumulative acceptance, one step per distinct confidence, highest first.

    Samples of zero weight are dropped first, so a weight ``k`` acts exactly
    as ``k`` copies of a sample.

    Returns
    -------
    values : ndarray
        The distinct confidence values, in decreasing order.
    accepted : ndarray
        Total weight of the samples with confidence >= each value.
    errors : ndarray
        Total weight of the wrong answers among them.
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    wrong = ~np.asarray(correct, dtype=bool)
    if sample_weight is None:
        weight = np.ones_like(confidence)
    else:
        weight = np.asarray(sample_weight, dtype=np.float64)
    keep = weight > 0
    confidence, wrong, weight = confidence[keep], wrong[keep], weight[keep]
    order = np.argsort(-confidence, kind="stable")
    confidence, wrong, weight = confidence[order], wrong[order], weight[order]
    last_of_group = np.r_[confidence[1:] != confidence[:-1], True][: len(confidence)]
    accepted = np.cumsum(weight)[last_of_group]
    errors = np.cumsum(weight * wrong)[last_of_group]
    return confidence[last_of_group], accepted, errors


_CURVE_PARAMS = {
    "y_true": ["array-like"],
    "y_proba": ["array-like"],
    "labels": ["array-like", None],
    "sample_weight": ["array-like", None],
}


@validate_params(_CURVE_PARAMS, prefer_skip_nested_validation=True)
def risk_coverage_curve(y_true, y_proba, *, labels=None, sample_weight=None):
    """Selective risk against coverage, for every confidence threshold.

    Each sample gets the prediction :math:`\\hat y_i = \\arg\\max_k p_{ik}`
    and the confidence :math:`\\kappa_i = \\max_k p_{ik}`. For each distinct
    confidence value :math:`\\tau_1 > \\tau_2 > \\dots > \\tau_m` (ties form
    one point), accepting the samples with :math:`\\kappa_i \\ge \\tau_j`
    gives one point of the curve:

    .. math:: \\text{coverage}_j = \\frac{\\sum_i w_i [\\kappa_i \\ge \\tau_j]}{\\sum_i w_i},
              \\qquad
              \\text{risk}_j = \\frac{\\sum_i w_i [\\kappa_i \\ge \\tau_j][\\hat y_i \\ne y_i]}
                                    {\\sum_i w_i [\\kappa_i \\ge \\tau_j]}.

    ``reject_threshold=thresholds[j]`` on the estimator that produced
    ``y_proba`` gives exactly coverage ``coverage[j]`` on these samples.
    There is no point at coverage 0, where the risk is undefined. Samples
    of weight zero are ignored.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities (as from ``predict_proba``), one column per
        label in sorted order, as for :func:`sklearn.metrics.log_loss`. A 1-D
        array is the probability of the second of two labels.
    labels : array-like of shape (n_classes,), default=None
        All the labels (sorted here); by default those in ``y_true``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    coverage : ndarray of shape (n_thresholds,)
        Increasing; the last value is 1.
    risk : ndarray of shape (n_thresholds,)
        Selective risk at each coverage.
    thresholds : ndarray of shape (n_thresholds,)
        The distinct confidence values, decreasing.

    See Also
    --------
    aurc_score : Area under this curve.
    RiskCoverageDisplay : Plot of this curve.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autodiff import risk_coverage_curve
    >>> y_true = [0, 0, 1, 1]
    >>> y_proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.3, 0.7]])
    >>> coverage, risk, thresholds = risk_coverage_curve(y_true, y_proba)
    >>> coverage.tolist(), risk.tolist(), thresholds.tolist()
    ([0.25, 0.5, 1.0], [0.0, 0.0, 0.25], [0.9, 0.8, 0.7])
    """
    confidence, correct, weight = _confidence_inputs(y_true, y_proba, labels, sample_weight)
    values, accepted, errors = _acceptance_steps(confidence, correct, weight)
    return accepted / accepted[-1], errors / accepted, values


@validate_params(_CURVE_PARAMS, prefer_skip_nested_validation=True)
def aurc_score(y_true, y_proba, *, labels=None, sample_weight=None):
    """Area under the risk-coverage curve (AURC; lower is better).

    The mean selective risk over the curve of :func:`risk_coverage_curve`,
    each point weighted by the coverage it adds (the curve holds
    :math:`\\text{risk}_j` on :math:`(\\text{coverage}_{j-1}, \\text{coverage}_j]`):

    .. math:: \\text{AURC} = \\sum_{j=1}^m (\\text{coverage}_j - \\text{coverage}_{j-1})
              \\, \\text{risk}_j, \\qquad \\text{coverage}_0 = 0.

    With distinct confidences and unit weights this is
    :math:`\\frac{1}{n}\\sum_{k=1}^n \\text{risk}(k/n)`, the mean of the risks
    after accepting the :math:`k` most confident samples (Geifman et al.,
    2019); tied confidences share the risk of their group. A perfect
    ranking gives the smallest value possible for the given errors; a
    constant confidence gives the plain error rate.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, columns in sorted label order (a 1-D array
        is the probability of the second of two labels).
    labels : array-like of shape (n_classes,), default=None
        All the labels; by default those in ``y_true``.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    aurc : float
        In [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autodiff import aurc_score
    >>> y_proba = np.array([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.3, 0.7]])
    >>> aurc_score([0, 0, 1, 1], y_proba)
    0.125
    """
    coverage, risk, _ = risk_coverage_curve(
        y_true, y_proba, labels=labels, sample_weight=sample_weight
    )
    return float(np.sum(np.diff(coverage, prepend=0.0) * risk))


# --------------------------------------------------------------------------
# Learning the threshold
# --------------------------------------------------------------------------

_Selection = namedtuple(
    "_Selection", ["threshold", "coverage", "risk", "risk_bound", "n_candidates"]
)

# Coverages are ratios of sums of weights; this absorbs their rounding.
_COVERAGE_TOL = 1e-12


def _binomial_upper_bound(errors, n, delta):
    """One-sided Clopper-Pearson upper bound on a binomial error rate.

    The smallest p with :math:`P(\\mathrm{Bin}(n, p) \\le k) \\le \\delta`,
    i.e. the :math:`1 - \\delta` quantile of :math:`\\mathrm{Beta}(k + 1, n - k)`
    (1 when :math:`k = n`, and 1 when :math:`n = 0`: no data, no bound).
    """
    errors = np.asarray(errors, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    bound = np.ones(np.broadcast(errors, n).shape)
    valid = (n > 0) & (errors < n)
    k, m = np.broadcast_to(errors, bound.shape)[valid], np.broadcast_to(n, bound.shape)[valid]
    bound[valid] = beta_distribution.ppf(1.0 - delta, k + 1.0, m - k)
    return bound


def _select_threshold(
    confidence,
    correct,
    sample_weight=None,
    *,
    target_coverage=None,
    target_risk=None,
    reject_cost=None,
    confidence_level=None,
    thresholds=100,
):
    """Choose the rejection threshold from held-out confidences.

    Exactly one of target_coverage, target_risk and reject_cost is set; the
    rules are those documented in :class:`SelectiveClassifierCV`. A sample
    is accepted when its confidence is >= the threshold; the threshold is 0
    when every held-out sample is accepted and inf when none is.

    Returns
    -------
    _Selection
        threshold, held-out coverage and selective risk at it, the risk bound
        (the Clopper-Pearson bound with confidence_level, else the empirical
        risk) and the number of candidate thresholds compared.
    """
    values, accepted, errors = _acceptance_steps(confidence, correct, sample_weight)
    if len(values) == 0:
        raise ValueError("No held-out sample has a positive weight; cannot choose a threshold.")
    total = accepted[-1]
    coverage = accepted / total
    last = len(values) - 1

    def at(index, bound=None, n_candidates=1):
        risk = errors[index] / accepted[index]
        return _Selection(
            threshold=0.0 if index == last else float(values[index]),
            coverage=float(coverage[index]),
            risk=float(risk),
            risk_bound=float(risk if bound is None else bound),
            n_candidates=n_candidates,
        )

    if target_coverage is not None:
        # The highest threshold that accepts at least target_coverage.
        index = int(np.searchsorted(coverage, target_coverage - _COVERAGE_TOL))
        return at(min(index, last))

    if reject_cost is not None:
        # Chow's loss of accepting the first j groups; index 0 rejects all.
        losses = np.r_[reject_cost, (errors + reject_cost * (total - accepted)) / total]
        best = np.flatnonzero(losses <= losses.min() * (1 + 1e-12))[-1]
        if best == 0:
            return _Selection(np.inf, 0.0, np.nan, np.nan, len(losses))
        return at(best - 1, n_candidates=len(losses))

    # target_risk: candidate thresholds, then the lowest one that passes.
    if isinstance(thresholds, numbers.Integral):
        levels = np.arange(1, thresholds + 1) / thresholds
        index = np.unique(np.minimum(np.searchsorted(coverage, levels - _COVERAGE_TOL), last))
        candidates = np.where(index == last, 0.0, values[index])
        cand_accepted, cand_errors = accepted[index], errors[index]
    else:
        candidates = np.unique(np.asarray(thresholds, dtype=np.float64))
        # Number of groups with value >= candidate (values are decreasing).
        n_groups = np.searchsorted(-values, -candidates, side="right")
        cand_accepted = np.where(n_groups > 0, accepted[n_groups - 1], 0.0)
        cand_errors = np.where(n_groups > 0, errors[n_groups - 1], 0.0)
    n_candidates = len(candidates)
    with np.errstate(invalid="ignore", divide="ignore"):
        risk = cand_errors / cand_accepted
    if confidence_level is None:
        bound = risk
    else:
        delta = (1.0 - confidence_level) / n_candidates
        bound = _binomial_upper_bound(cand_errors, cand_accepted, delta)
    passing = np.flatnonzero(bound <= target_risk)
    if len(passing) == 0:
        _warn_unreachable_risk(
            risk, cand_accepted / total, total, target_risk, confidence_level, n_candidates
        )
        return _Selection(np.inf, 0.0, np.nan, np.nan, n_candidates)
    # Lowest threshold = highest coverage among the candidates that pass.
    chosen = passing[np.argmin(candidates[passing])]
    return _Selection(
        threshold=float(candidates[chosen]),
        coverage=float(cand_accepted[chosen] / total),
        risk=float(risk[chosen]),
        risk_bound=float(bound[chosen]),
        n_candidates=n_candidates,
    )


def _warn_unreachable_risk(risk, coverage, total, target_risk, confidence_level, n_candidates):
    """Warn that no candidate meets target_risk, with what it would take."""
    usable = coverage > 0
    best = np.nanmin(risk[usable]) if usable.any() else np.nan
    message = (
        f"No threshold reaches target_risk={target_risk}: every sample will be "
        "rejected (threshold_ = inf). "
    )
    if not best < target_risk:
        message += (
            f"The lowest cross-validated selective risk at any candidate threshold "
            f"is {best:.3g}, above the target, so more data would not help; raise "
            "target_risk or use a more accurate estimator."
        )
    else:
        delta = (1.0 - confidence_level) / n_candidates
        needed = min(
            _samples_needed(p, c, target_risk, delta)
            for p, c in zip(risk[usable], coverage[usable])
            if p < target_risk
        )
        message += (
            f"The empirical risk is below the target at some thresholds, but with "
            f"{total:.0f} cross-validated samples its Clopper-Pearson bound at "
            f"confidence_level={confidence_level} is not. At the same risks and "
            f"coverages, roughly {needed:,} samples would be needed; alternatively "
            "lower confidence_level or raise target_risk."
        )
    warnings.warn(message, UserWarning, stacklevel=4)


def _samples_needed(risk, coverage, target_risk, delta):
    """Smallest n whose bound at (risk, coverage) reaches target_risk."""

    def reaches(n):
        accepted = coverage * n
        return _binomial_upper_bound(risk * accepted, accepted, delta)[()] <= target_risk

    high = 1
    while not reaches(high):
        high *= 2
        if high > 2**50:
            return high
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    return high


def _estimator_has(attr):
    """available_if check: the fitted (or else the given) estimator has attr."""

    def check(self):
        getattr(getattr(self, "estimator_", self.estimator), attr)
        return True

    return check


class SelectiveClassifierCV(ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
    """Classifier with a reject option whose threshold is learned by cross-validation.

    The confidence of a prediction is :math:`\\kappa(x) = \\max_k P(k \\mid x)`
    from the wrapped estimator's ``predict_proba``. :meth:`fit` computes
    cross-validated (out-of-fold) probabilities with
    :func:`sklearn.model_selection.cross_val_predict`, chooses ``threshold_``
    from them, then refits the estimator on all the data. :meth:`predict`
    answers the most probable class where :math:`\\kappa(x) \\ge`
    ``threshold_`` and ``reject_label_`` elsewhere.

    Exactly one of three rules chooses the threshold (held-out coverage and
    risk are those of the cross-validated predictions, as in
    :func:`risk_coverage_curve`):

    - ``target_coverage=c``: the highest threshold that accepts at least a
      fraction c of the held-out samples (a weighted quantile of
      :math:`\\kappa`), so new data is accepted at a rate close to c.
    - ``target_risk=r``: among the candidate thresholds (see ``thresholds``),
      the lowest one (the highest coverage) whose held-out selective risk is
      at most r. Without ``confidence_level`` the risk is the empirical one,
      **and there is no guarantee**: the chosen threshold sits where the
      empirical risk just dips below r, so the true risk exceeds r about
      half of the time. With ``confidence_level = 1 - \\delta``, the rule is
      selection with guaranteed risk (Geifman and El-Yaniv, 2017): the risk
      of each of the m candidates is replaced by its one-sided
      Clopper-Pearson upper bound at level :math:`1 - \\delta / m` (the union
      bound over the candidates),

      .. math:: B(k, n) = \\mathrm{Beta}^{-1}\\!\\left(1 - \\tfrac{\\delta}{m};
                \\; k + 1, \\; n - k\\right),

      the :math:`1 - \\delta/m` quantile of a Beta distribution, with k errors
      among the n accepted held-out samples (1 when k = n). Then, for a
      classifier fixed before these samples were drawn (see Notes), the
      selective risk on new data is at most r with probability at least
      :math:`1 - \\delta`. If no candidate qualifies, a warning says roughly
      how many samples would be needed and every sample is rejected
      (``threshold_ = inf``).
    - ``reject_cost=c``: the threshold that minimises the held-out Chow loss
      (:func:`chow_loss`: an error costs 1, a rejection c), searched over
      every held-out confidence value. For calibrated probabilities this is
      close to Chow's rule :math:`1 - c`; being empirical, it also corrects
      for a miscalibrated estimator. (To use :math:`1 - c` as is, set
      ``reject_threshold=1 - c`` on one of this package's estimators.)

    Every rule gives ``threshold_ = 0`` when it accepts all held-out samples,
    so that then nothing is ever rejected, and ties in the loss or between
    candidates are resolved towards more coverage.

    Parameters
    ----------
    estimator : estimator instance
        A classifier with ``fit`` and ``predict_proba``; cloned, never fitted
        in place.
    target_coverage : float in (0, 1], default=None
        Fraction of samples to accept.
    target_risk : float in [0, 1], default=None
        Largest acceptable selective risk (error rate among accepted samples).
    reject_cost : float in [0, 1], default=None
        Cost of a rejection relative to an error, for Chow's loss.
    confidence_level : float in (0, 1), default=None
        Only with ``target_risk``: the probability :math:`1 - \\delta` with
        which the selective risk is guaranteed to be at most ``target_risk``.
        None uses the empirical risk, without a guarantee.
    cv : int, cross-validation generator or iterable, default=5
        How to split the data for the out-of-fold probabilities, as in
        :func:`sklearn.model_selection.cross_val_predict`; an int k means
        stratified k-fold.
    thresholds : int or array-like, default=100
        Candidate thresholds of the ``target_risk`` rule. An int T takes the
        highest thresholds accepting at least 1/T, 2/T, ..., 1 of the held-out
        samples (duplicates removed); an array gives the candidates. The union
        bound divides :math:`\\delta` by their number, so fewer candidates give
        a tighter bound but a coarser choice.
    reject_label : scalar or None, default=None
        The label of rejections; None means -1 for numeric classes and
        ``"reject"`` for string classes. It must not be a class and must be
        representable in the classes' dtype (see ``reject_label_``).
    n_jobs : int, default=None
        Number of folds fitted in parallel by ``cross_val_predict``.
    random_state : int, RandomState instance or None, default=None
        Used only when ``cv`` is an int: the stratified folds are then
        shuffled with this seed. None keeps the samples' order (unshuffled
        folds, as scikit-learn's ``cv=5`` does). It does not seed the
        estimator; set the estimator's own ``random_state`` for that.

    Attributes
    ----------
    estimator_ : estimator instance
        The estimator refitted on all the data.
    threshold_ : float
        Samples with confidence below it are rejected; 0 never rejects, inf
        always does.
    cv_coverage_ : float
        Held-out coverage at ``threshold_``.
    cv_risk_ : float
        Held-out selective risk at ``threshold_`` (nan if nothing accepted).
    risk_bound_ : float
        With ``target_risk``: the bound that was compared to it (the
        Clopper-Pearson bound with ``confidence_level``, else the empirical
        risk). nan for the other rules.
    reject_label_ : scalar
        The label :meth:`predict` answers for rejected samples.
    classes_ : ndarray of shape (n_classes,)
        The class labels (never the reject label).
    n_features_in_ : int
        Number of features seen during fit (when the estimator records it).
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit (when the estimator records them).

    See Also
    --------
    risk_coverage_curve : The held-out trade-off the rules choose from.

    Notes
    -----
    The held-out probabilities come from the k models of the
    cross-validation, while ``estimator_`` is refitted on all the data, so
    it is a slightly different (usually better) model; a guarantee computed
    from the out-of-fold predictions transfers to it only approximately.
    For a guarantee that holds exactly for the deployed model, fit the model
    on its own training data, wrap it in
    :class:`sklearn.frozen.FrozenEstimator` and fit this class on separate
    calibration data: the frozen model is never refitted, and its
    out-of-fold confidences are then its confidences on data it never saw.

    References
    ----------
    Geifman, Y. and El-Yaniv, R. (2017). Selective classification for deep
    neural networks. NeurIPS.

    Chow, C. K. (1970). On optimum recognition error and reject tradeoff.
    IEEE Transactions on Information Theory.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_autodiff import (BCELogisticClassifier, SelectiveClassifierCV,
    ...                               coverage_score)
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> base = make_pipeline(StandardScaler(), BCELogisticClassifier(alpha=1e-2))
    >>> clf = SelectiveClassifierCV(base, target_coverage=0.9).fit(X_train, y_train)
    >>> y_pred = clf.predict(X_test)
    >>> round(coverage_score(y_test, y_pred, reject_label=clf.reject_label_), 1)
    0.9
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_proba"])],
        "target_coverage": [Interval(numbers.Real, 0, 1, closed="right"), None],
        "target_risk": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "reject_cost": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "confidence_level": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "cv": ["cv_object"],
        "thresholds": [Interval(numbers.Integral, 1, None, closed="left"), "array-like"],
        "reject_label": "no_validation",
        "n_jobs": [numbers.Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        target_coverage=None,
        target_risk=None,
        reject_cost=None,
        confidence_level=None,
        cv=5,
        thresholds=100,
        reject_label=None,
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.target_coverage = target_coverage
        self.target_risk = target_risk
        self.reject_cost = reject_cost
        self.confidence_level = confidence_level
        self.cv = cv
        self.thresholds = thresholds
        self.reject_label = reject_label
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _check_rule(self):
        rules = {
            "target_coverage": self.target_coverage,
            "target_risk": self.target_risk,
            "reject_cost": self.reject_cost,
        }
        chosen = [name for name, value in rules.items() if value is not None]
        if len(chosen) != 1:
            raise ValueError(
                "Set exactly one of target_coverage, target_risk and reject_cost "
                f"to choose how the threshold is learned; got {len(chosen)}"
                + (f" ({', '.join(chosen)})." if chosen else ".")
            )
        if self.confidence_level is not None and self.target_risk is None:
            raise ValueError(
                "confidence_level only applies to target_risk (it is the "
                "probability that the selective risk is at most target_risk); "
                f"it cannot be used with {chosen[0]}."
            )
        if not isinstance(self.thresholds, numbers.Integral):
            candidates = np.asarray(self.thresholds, dtype=np.float64)
            if candidates.ndim != 1 or len(candidates) == 0 or not np.isfinite(candidates).all():
                raise ValueError(
                    "thresholds must be an int or a non-empty 1-D array of finite "
                    f"candidate thresholds, got {self.thresholds!r}."
                )

    def _splitter(self, y):
        if isinstance(self.cv, numbers.Integral) and self.random_state is not None:
            return StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        return check_cv(self.cv, y, classifier=True)

    @_fit_context(prefer_skip_nested_validation=False)  # the estimator is not validated yet
    def fit(self, X, y, sample_weight=None):
        """Learn ``threshold_`` from out-of-fold probabilities, then refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (anything the estimator accepts).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, passed to the estimator's ``fit`` (in each
            fold and in the final refit) and used in the held-out coverage
            and risk; a weight k acts as k copies of a sample.

        Returns
        -------
        self : object
            The fitted meta-estimator.
        """
        self._check_rule()
        X, y = indexable(X, y)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            found = f"only one class: {classes[0]!r}" if len(classes) else "no samples"
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, but the "
                f"data contains {found}."
            )
        # Check the reject label now, before the costly cross-validation.
        resolve_reject_label(classes, self.reject_label)
        fit_params = {}
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            fit_params["sample_weight"] = sample_weight

        proba = cross_val_predict(
            clone(self.estimator),
            X,
            y,
            cv=self._splitter(y),
            method="predict_proba",
            n_jobs=self.n_jobs,
            params=fit_params,
        )
        proba = np.asarray(proba)
        correct = proba.argmax(axis=1) == np.searchsorted(classes, y)
        selection = _select_threshold(
            proba.max(axis=1),
            correct,
            sample_weight,
            target_coverage=self.target_coverage,
            target_risk=self.target_risk,
            reject_cost=self.reject_cost,
            confidence_level=self.confidence_level,
            thresholds=self.thresholds,
        )

        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        self.threshold_ = selection.threshold
        self.cv_coverage_ = selection.coverage
        self.cv_risk_ = selection.risk
        self.risk_bound_ = selection.risk_bound if self.target_risk is not None else np.nan
        self.reject_label_, _ = resolve_reject_label(self.estimator_.classes_, self.reject_label)
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    @property
    def classes_(self):
        """The class labels, those of ``estimator_``."""
        return self.estimator_.classes_

    def _proba(self, X):
        check_is_fitted(self)
        return np.asarray(self.estimator_.predict_proba(X))

    def predict(self, X):
        """Most probable class, or ``reject_label_`` below ``threshold_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            ``classes_[argmax_k P(k | x)]`` where
            :math:`\\max_k P(k \\mid x) \\ge` ``threshold_``, ``reject_label_``
            elsewhere; the dtype is that of ``classes_``, widened for a longer
            string label.
        """
        proba = self._proba(X)
        # Resolved again, as the estimators do, so set_params(reject_label=...)
        # after fit takes effect.
        reject_label, dtype = resolve_reject_label(self.classes_, self.reject_label)
        labels = self.classes_[proba.argmax(axis=1)].astype(dtype)
        labels[proba.max(axis=1) < self.threshold_] = reject_label
        return labels

    def reject_mask(self, X):
        """Which samples :meth:`predict` rejects.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        mask : ndarray of bool, shape (n_samples,)
            True where :math:`\\max_k P(k \\mid x) <` ``threshold_``.
        """
        return self._proba(X).max(axis=1) < self.threshold_

    def predict_proba(self, X):
        """Class probabilities of ``estimator_`` (unaffected by rejection).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self)
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("predict_log_proba"))
    def predict_log_proba(self, X):
        """Log class probabilities of ``estimator_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``.
        """
        check_is_fitted(self)
        return self.estimator_.predict_log_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of ``estimator_`` (unaffected by rejection).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            As returned by the estimator.
        """
        check_is_fitted(self)
        return self.estimator_.decision_function(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.input_tags.sparse = inner.input_tags.sparse
        tags.input_tags.allow_nan = inner.input_tags.allow_nan
        tags.classifier_tags.multi_class = inner.classifier_tags.multi_class
        return tags


# --------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------


class RiskCoverageDisplay:
    """Risk-coverage curve visualization.

    Build it with :meth:`from_estimator` or :meth:`from_predictions`; the
    constructor only stores the values. The curve is drawn as steps: the
    risk ``risk[j]`` holds on ``(coverage[j - 1], coverage[j]]``, so the area
    under the line is :func:`aurc_score`. matplotlib is needed only to plot.

    Parameters
    ----------
    coverage : ndarray
        Coverages, increasing (from :func:`risk_coverage_curve`).
    risk : ndarray
        Selective risk at each coverage.
    thresholds : ndarray, default=None
        Confidence threshold of each point.
    aurc : float, default=None
        Area under the curve, shown in the legend.
    name : str, default=None
        Name of the curve in the legend; None shows no name.

    Attributes
    ----------
    line_ : matplotlib Artist
        The curve.
    ax_ : matplotlib Axes
        Axes holding it.
    figure_ : matplotlib Figure
        Figure holding them.

    See Also
    --------
    risk_coverage_curve : The values plotted.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_autodiff import BCELogisticClassifier, RiskCoverageDisplay
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), BCELogisticClassifier()).fit(X, y)
    >>> RiskCoverageDisplay.from_estimator(clf, X, y)  # doctest: +SKIP
    <...RiskCoverageDisplay object at ...>
    """

    def __init__(self, *, coverage, risk, thresholds=None, aurc=None, name=None):
        self.coverage = coverage
        self.risk = risk
        self.thresholds = thresholds
        self.aurc = aurc
        self.name = name

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.
        name : str, default=None
            Legend name, overriding the stored ``name``.
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot`` (they override the
            defaults, such as ``drawstyle="steps-pre"``).

        Returns
        -------
        display : RiskCoverageDisplay
            This object, with ``line_``, ``ax_`` and ``figure_`` set.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        name = self.name if name is None else name
        line_kwargs = {"drawstyle": "steps-pre"}
        if name is not None and self.aurc is not None:
            line_kwargs["label"] = f"{name} (AURC = {self.aurc:.3f})"
        elif name is not None:
            line_kwargs["label"] = str(name)
        elif self.aurc is not None:
            line_kwargs["label"] = f"AURC = {self.aurc:.3f}"
        line_kwargs.update(kwargs)
        coverage = np.asarray(self.coverage, dtype=float)
        risk = np.asarray(self.risk, dtype=float)
        # Start the steps at coverage 0 so the area under the line is the AURC.
        (self.line_,) = ax.plot(np.r_[0.0, coverage], np.r_[risk[:1], risk], **line_kwargs)
        ax.set_xlabel("Coverage")
        ax.set_ylabel("Selective risk")
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(bottom=0.0)
        if "label" in line_kwargs:
            ax.legend(loc="upper left")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y, *, sample_weight=None, name=None, ax=None, **kwargs):
        """Plot the risk-coverage curve of a fitted classifier on data.

        Parameters
        ----------
        estimator : estimator instance
            Fitted classifier (or pipeline ending in one) with
            ``predict_proba`` and ``classes_``.
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        name : str, default=None
            Legend name; None uses the estimator's class name.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot``.

        Returns
        -------
        display : RiskCoverageDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        y_proba = estimator.predict_proba(X)
        return cls.from_predictions(
            y,
            y_proba,
            labels=estimator.classes_,
            sample_weight=sample_weight,
            name=type(estimator).__name__ if name is None else name,
            ax=ax,
            **kwargs,
        )

    @classmethod
    def from_predictions(
        cls, y_true, y_proba, *, labels=None, sample_weight=None, name=None, ax=None, **kwargs
    ):
        """Plot the risk-coverage curve from true labels and probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
            Predicted probabilities, columns in sorted label order (see
            :func:`risk_coverage_curve`).
        labels : array-like of shape (n_classes,), default=None
            All the labels; by default those in ``y_true``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        name : str, default=None
            Legend name.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot``.

        Returns
        -------
        display : RiskCoverageDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_predictions")
        coverage, risk, thresholds = risk_coverage_curve(
            y_true, y_proba, labels=labels, sample_weight=sample_weight
        )
        aurc = float(np.sum(np.diff(coverage, prepend=0.0) * risk))
        display = cls(
            coverage=coverage, risk=risk, thresholds=thresholds, aurc=aurc, name=name
        )
        return display.plot(ax=ax, **kwargs)
