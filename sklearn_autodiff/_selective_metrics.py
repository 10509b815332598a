"""The metrics of selective classification (public through :mod:`sklearn_autodiff.selective`)."""

import math
import numbers
import warnings

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.validation import _check_sample_weight

__all__ = [
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
    if isinstance(reject_label, (float, np.floating)) and math.isnan(reject_label):
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


def acceptance_steps(confidence, correct, sample_weight=None):
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
    values, accepted, errors = acceptance_steps(confidence, correct, weight)
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
