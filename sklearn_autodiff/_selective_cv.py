"""SelectiveClassifierCV: learning the confidence threshold of a selective classifier.

Public through :mod:`sklearn_autodiff.selective`.
"""

import numbers
import os
import sys
import warnings
from collections import namedtuple

import numpy as np
import sklearn
from scipy.stats import beta as beta_distribution
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.model_selection import StratifiedKFold, check_cv, cross_val_predict
from sklearn.utils import _safe_indexing, column_or_1d, indexable
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils._tags import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from ._distributed import communicator, union_of_labels
from ._reject import resolve_reject_label
from ._reject_option import RejectOptionMixin
from ._selective_metrics import acceptance_steps

# --------------------------------------------------------------------------
# Learning the threshold
# --------------------------------------------------------------------------

_Selection = namedtuple(
    "_Selection", ["threshold", "coverage", "risk", "risk_bound", "n_candidates"]
)

# The fitted attributes of per_class=True, one entry per class.
_PER_CLASS_ATTRIBUTES = (
    "class_thresholds_",
    "class_cv_coverages_",
    "class_cv_risks_",
    "class_risk_bounds_",
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

    Exactly one of target_coverage, target_risk and reject_cost is set (the
    rules of :class:`SelectiveClassifierCV`). A sample is accepted when its
    confidence is >= the threshold: 0 accepts all, inf none.

    Returns
    -------
    _Selection
        threshold, held-out coverage and selective risk at it, the risk bound
        (Clopper-Pearson with confidence_level, else the empirical risk; the
        best one reached if none qualifies) and the number of candidates.
    """
    values, accepted, errors = acceptance_steps(confidence, correct, sample_weight)
    if len(values) == 0:
        raise ValueError("No held-out sample has a positive weight; cannot choose a threshold.")
    total, last = accepted[-1], len(values) - 1
    coverage = accepted / total

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

    delta = None if confidence_level is None else 1.0 - confidence_level
    selection, diagnosis = _risk_rule(values, accepted, errors, target_risk, delta, thresholds)
    if diagnosis is not None:
        _warn_external(
            _unreachable_message(selection, diagnosis, total, target_risk, confidence_level)
        )
    return selection


def _risk_candidates(values, accepted, errors, thresholds):
    """Candidate thresholds of the target_risk rule, with their acceptance and errors.

    An int T takes the highest thresholds accepting at least 1/T, 2/T, ..., 1
    of the samples (duplicates removed); an array gives the candidates.
    """
    last = len(values) - 1
    if isinstance(thresholds, numbers.Integral):
        levels = np.arange(1, thresholds + 1) / thresholds
        index = np.unique(
            np.minimum(np.searchsorted(accepted / accepted[-1], levels - _COVERAGE_TOL), last)
        )
        candidates = np.where(index == last, 0.0, values[index])
        return candidates, accepted[index], errors[index]
    candidates = np.unique(np.asarray(thresholds, dtype=np.float64))
    # Number of groups with value >= candidate (values are decreasing).
    n_groups = np.searchsorted(-values, -candidates, side="right")
    cand_accepted = np.where(n_groups > 0, accepted[np.maximum(n_groups - 1, 0)], 0.0)
    cand_errors = np.where(n_groups > 0, errors[np.maximum(n_groups - 1, 0)], 0.0)
    return candidates, cand_accepted, cand_errors


def _risk_rule(values, accepted, errors, target_risk, delta, thresholds):
    """The lowest candidate threshold whose risk (or bound) is at most target_risk.

    With ``delta`` (the error probability to spend, None for the empirical
    rule) each of the m candidates gets the Clopper-Pearson bound at level
    :math:`1 - \\delta / m`. When none passes, the selection rejects all
    (threshold inf) and its ``risk_bound`` is the best bound reached.

    Returns
    -------
    selection : _Selection
    diagnosis : tuple or None
        None when a candidate passes; else the empirical risk and coverage
        of every candidate and ``delta``, for the warning.
    """
    candidates, cand_accepted, cand_errors = _risk_candidates(
        values, accepted, errors, thresholds
    )
    n_candidates = len(candidates)
    with np.errstate(invalid="ignore", divide="ignore"):
        risk = cand_errors / cand_accepted
    if delta is None:
        bound = risk
    else:
        bound = _binomial_upper_bound(cand_errors, cand_accepted, delta / n_candidates)
    coverage = cand_accepted / accepted[-1]
    passing = np.flatnonzero(bound <= target_risk)
    if len(passing) == 0:
        best = float(np.nanmin(bound)) if np.isfinite(bound).any() else np.nan
        failed = _Selection(np.inf, 0.0, np.nan, best, n_candidates)
        return failed, (risk, coverage, delta)
    # Lowest threshold = highest coverage among the candidates that pass.
    chosen = passing[np.argmin(candidates[passing])]
    chosen_selection = _Selection(
        threshold=float(candidates[chosen]),
        coverage=float(coverage[chosen]),
        risk=float(risk[chosen]),
        risk_bound=float(bound[chosen]),
        n_candidates=n_candidates,
    )
    return chosen_selection, None


def _lowest_risk(diagnosis):
    """The lowest empirical risk at a candidate that accepts something."""
    risk, coverage, _ = diagnosis
    usable = coverage > 0
    return np.nanmin(risk[usable]) if usable.any() else np.nan


def _needed_samples(diagnosis, target_risk):
    """Roughly how many samples would let some candidate's bound reach target_risk.

    At the same empirical risks and coverages as now, the smallest sample
    size over the candidates whose empirical risk is below the target; None
    when none is (more data would not help).
    """
    risk, coverage, delta = diagnosis
    n_candidates = len(risk)
    usable = (coverage > 0) & (risk < target_risk)
    if not usable.any():
        return None
    return min(
        _samples_needed(p, c, target_risk, delta / n_candidates)
        for p, c in zip(risk[usable], coverage[usable])
    )


def _unreachable_message(selection, diagnosis, total, target_risk, confidence_level):
    """The warning of the marginal rule when no candidate meets target_risk."""
    message = (
        f"No threshold reaches target_risk={target_risk}: every sample will be "
        "rejected (threshold_ = inf). "
    )
    best = _lowest_risk(diagnosis)
    if not best < target_risk or confidence_level is None:
        return message + (
            f"The lowest cross-validated selective risk at any candidate threshold "
            f"is {best:.3g}, above the target, so more data would not help; raise "
            "target_risk or use a more accurate estimator."
        )
    needed = _needed_samples(diagnosis, target_risk)
    return message + (
        f"The empirical risk is below the target at some thresholds, but with "
        f"{total:.0f} cross-validated samples its Clopper-Pearson bound at "
        f"confidence_level={confidence_level} is not (the best bound reached is "
        f"{selection.risk_bound:.3g}). At the same risks and coverages, roughly "
        f"{needed:,} samples would be needed; alternatively lower confidence_level "
        "or raise target_risk."
    )


def _select_per_class(confidence, predicted, correct, sample_weight, n_classes, *, rule):
    """One target_risk threshold per predicted class (``per_class=True``).

    Class k's rule sees only the held-out samples predicted as k, and spends
    :math:`\\delta / K` of the error probability (Bonferroni over the K
    classes), split over its own candidates as in the marginal rule.
    ``rule`` holds target_risk, confidence_level and thresholds.

    Returns
    -------
    selections : list of _Selection
        One per class; coverage and risk are among the samples predicted as
        that class.
    failures : list of (int, float, tuple or None)
        Class index, its held-out weight and the diagnosis, for each class
        that rejects all its predictions.
    """
    target_risk, confidence_level, thresholds = rule
    delta = None if confidence_level is None else (1.0 - confidence_level) / n_classes
    weight = np.ones(len(confidence)) if sample_weight is None else np.asarray(sample_weight)
    selections, failures = [], []
    for k in range(n_classes):
        mine = (predicted == k) & (weight > 0)
        if not mine.any():
            # Nothing to certify with: the bound of no data is 1.
            bound = np.nan if delta is None else 1.0
            selections.append(_Selection(np.inf, 0.0, np.nan, bound, 0))
            failures.append((k, 0.0, None))
            continue
        values, accepted, errors = acceptance_steps(confidence[mine], correct[mine], weight[mine])
        selection, diagnosis = _risk_rule(
            values, accepted, errors, target_risk, delta, thresholds
        )
        selections.append(selection)
        if diagnosis is not None:
            failures.append((k, float(accepted[-1]), diagnosis))
    return selections, failures


def _per_class_message(failures, classes, target_risk, confidence_level):
    """The warning for the classes whose predictions will all be rejected."""
    delta = None if confidence_level is None else (1.0 - confidence_level) / len(classes)
    lines = []
    for k, n_held_out, diagnosis in failures:
        head = f"class {classes.tolist()[k]!r} ({n_held_out:.0f} held-out predictions): "
        if diagnosis is None:
            needed = None if delta is None else _samples_needed(0.0, 1.0, target_risk, delta)
            lines.append(head + "none predicted" + (
                "" if needed is None else f"; at least {needed:,} error-free ones needed"
            ))
            continue
        needed = None if delta is None else _needed_samples(diagnosis, target_risk)
        if needed is None:
            lines.append(
                head + f"lowest selective risk {_lowest_risk(diagnosis):.3g}, above the "
                "target, so more data would not help"
            )
        else:
            lines.append(
                head + f"roughly {needed:,} would be needed at the same risks and coverages"
            )
    return (
        f"No threshold reaches target_risk={target_risk} for {len(failures)} of "
        f"{len(classes)} classes; all their predictions will be rejected "
        "(class_thresholds_ = inf). " + "; ".join(lines) + ". Raise target_risk, "
        "lower confidence_level, add calibration data or use a more accurate estimator."
    )


# Warnings point at the first caller outside these two packages: the user's
# fit (or GridSearchCV's), not scikit-learn's _fit_context wrapper.
_INTERNAL_DIRS = tuple(
    os.path.dirname(module.__file__) + os.sep for module in (sklearn, sys.modules[__package__])
)


def _warn_external(message, category=UserWarning):
    """warnings.warn, attributed to the first frame outside the library code."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_INTERNAL_DIRS):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


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


def _overall_bound(bounds, coverages):
    """``risk_bound_`` of the per-class rule.

    Every accepted prediction is of a class whose bound holds, so the largest
    bound among the classes that accept anything bounds the overall
    selective risk too. When no class accepts anything, the best bound
    reached, as the marginal rule reports.
    """
    if (coverages > 0).any():
        return float(np.max(bounds[coverages > 0]))
    return float(np.nanmin(bounds)) if np.isfinite(bounds).any() else np.nan


def _estimator_has(attr):
    """available_if check: the fitted (or else the given) estimator has attr."""

    def check(self):
        getattr(getattr(self, "estimator_", self.estimator), attr)
        return True

    return check


class SelectiveClassifierCV(RejectOptionMixin, ClassifierMixin, MetaEstimatorMixin, BaseEstimator):
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
      half of the time. With ``confidence_level`` :math:`= 1 - \\delta`, the rule is
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

    With ``per_class=True`` (only with ``target_risk``) the ``target_risk``
    rule runs once per predicted class k, on the held-out samples predicted
    as k, with its own candidates (``thresholds`` quantiles of their
    confidences) and :math:`\\delta / K` in place of :math:`\\delta`
    (Bonferroni over the K classes). A sample predicted as k is then
    rejected when :math:`\\kappa(x) <` ``class_thresholds_[k]``, and for a
    classifier fixed before the calibration samples were drawn, with
    probability at least :math:`1 - \\delta`, jointly for every class k,

    .. math:: P\\big(y \\ne k \\mid \\hat y(x) = k,\\ \\kappa(x) \\ge \\tau_k\\big) \\le r.

    Class k's rule is wrong with probability at most :math:`\\delta / K`
    (the marginal argument, applied to the samples predicted as k, which
    are independent draws from the data given :math:`\\hat y(x) = k`), and
    the union bound adds these up to :math:`\\delta`. A hard class pays
    with a higher threshold (less coverage) instead of hiding behind the
    average; a class with too few held-out predictions to certify anything
    rejects all its predictions (``class_thresholds_[k] = inf``), with a
    warning saying roughly how many it would need. The user guide
    (:ref:`reject_option`) has the proof and its assumptions.

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
    per_class : bool, default=False
        Only with ``target_risk``: one threshold per predicted class, each
        class's selective risk bounded (see above), instead of one threshold
        bounding the risk over all accepted samples.
    cv : int, cross-validation generator or iterable, default=5
        How to split the data for the out-of-fold probabilities, as in
        :func:`sklearn.model_selection.cross_val_predict`; an int k means
        stratified k-fold.
    thresholds : int or array-like, default=100
        Candidate thresholds of the ``target_risk`` rule. An int T takes the
        highest thresholds accepting at least 1/T, 2/T, ..., 1 of the held-out
        samples (duplicates removed; with ``per_class=True``, of each class's
        held-out predictions); an array gives the candidates. The union
        bound divides :math:`\\delta` by their number, so fewer candidates give
        a tighter bound but a coarser choice. Strictly, the guarantee's proof
        needs candidates fixed before the calibration data are seen, which an
        array is; the int quantiles depend on the held-out confidences (as in
        Geifman and El-Yaniv, 2017).
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
        always does. Not set with ``per_class=True``.
    cv_coverage_ : float
        Held-out coverage at ``threshold_`` (at ``class_thresholds_`` with
        ``per_class=True``).
    cv_risk_ : float
        Held-out selective risk there (nan if nothing accepted).
    risk_bound_ : float
        With ``target_risk``: the bound that was compared to it (the
        Clopper-Pearson bound with ``confidence_level``, else the empirical
        risk); when no threshold qualifies, the best (smallest) bound any
        candidate reached, to show how far the target is. With
        ``per_class=True``, the largest of ``class_risk_bounds_`` over the
        classes that accept something, which also bounds the overall
        selective risk. nan for the other rules.
    class_thresholds_ : ndarray of shape (n_classes,)
        Only with ``per_class=True``: the threshold of each predicted class,
        in the order of ``classes_`` (inf: all its predictions rejected).
    class_cv_coverages_ : ndarray of shape (n_classes,)
        Only with ``per_class=True``: the fraction of the held-out samples
        predicted as each class that its threshold accepts.
    class_cv_risks_ : ndarray of shape (n_classes,)
        Only with ``per_class=True``: the held-out selective risk of each
        class's accepted predictions (nan where none are accepted).
    class_risk_bounds_ : ndarray of shape (n_classes,)
        Only with ``per_class=True``: each class's bound at its threshold
        (at level :math:`1 - \\delta / (K m_k)` for its :math:`m_k`
        candidates), or the best bound it reached where it rejects all.
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
        "per_class": ["boolean"],
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
        per_class=False,
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
        self.per_class = per_class
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
        if self.per_class and self.target_risk is None:
            raise ValueError(
                "per_class=True bounds the selective risk of each predicted class, "
                f"so it needs target_risk; it cannot be used with {chosen[0]}. Use "
                "target_risk (with confidence_level for a guarantee), or per_class=False."
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
        comm = communicator(getattr(self.estimator, "distributed", False) is True)

        def read_shard():
            X_, y_ = indexable(X, y)
            y_ = column_or_1d(y_, warn=True)
            check_classification_targets(y_)
            weight = sample_weight
            if weight is not None:
                weight = _check_sample_weight(weight, X_, dtype=np.float64, ensure_non_negative=True)
            return X_, y_, weight

        X, y, sample_weight = comm.agree(read_shard)
        classes = self._classes(y, comm)
        # Check the reject label now, before the costly cross-validation.
        resolve_reject_label(classes, self.reject_label)
        fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}

        if comm.active:
            held_out = self._distributed_out_of_fold(X, y, sample_weight, classes, comm)
        else:
            held_out = self._out_of_fold(X, y, sample_weight, classes)
        fitted = self._choose_thresholds(held_out, classes)

        estimator = clone(self.estimator).fit(X, y, **fit_params)
        # Only now, with everything computed, replace what an earlier fit left.
        for name in _PER_CLASS_ATTRIBUTES + ("threshold_",):
            self.__dict__.pop(name, None)
        self.__dict__.update(fitted)
        self.estimator_ = estimator
        self.reject_label_, _ = resolve_reject_label(self.estimator_.classes_, self.reject_label)
        for name in ("n_features_in_", "feature_names_in_"):
            if hasattr(self.estimator_, name):
                setattr(self, name, getattr(self.estimator_, name))
        return self

    def _choose_thresholds(self, held_out, classes):
        """The fitted threshold attributes, as a dict, from the held-out predictions."""
        confidence, predicted, correct, weight = held_out
        if not self.per_class:
            selection = _select_threshold(
                confidence,
                correct,
                weight,
                target_coverage=self.target_coverage,
                target_risk=self.target_risk,
                reject_cost=self.reject_cost,
                confidence_level=self.confidence_level,
                thresholds=self.thresholds,
            )
            return {
                "threshold_": selection.threshold,
                "cv_coverage_": selection.coverage,
                "cv_risk_": selection.risk,
                "risk_bound_": selection.risk_bound if self.target_risk is not None else np.nan,
            }
        weight = np.ones(len(confidence)) if weight is None else np.asarray(weight, np.float64)
        if not weight.sum() > 0:
            raise ValueError("No held-out sample has a positive weight; cannot choose a threshold.")
        rule = (self.target_risk, self.confidence_level, self.thresholds)
        selections, failures = _select_per_class(
            confidence, predicted, correct, weight, len(classes), rule=rule
        )
        if failures:
            _warn_external(
                _per_class_message(failures, classes, self.target_risk, self.confidence_level)
            )
        thresholds = np.array([sel.threshold for sel in selections])
        bounds = np.array([sel.risk_bound for sel in selections])
        accepted = confidence >= thresholds[predicted]
        n_accepted = weight[accepted].sum()
        coverages = np.array([sel.coverage for sel in selections])
        return {
            "class_thresholds_": thresholds,
            "class_cv_coverages_": coverages,
            "class_cv_risks_": np.array([sel.risk for sel in selections]),
            "class_risk_bounds_": bounds,
            "cv_coverage_": float(n_accepted / weight.sum()),
            "cv_risk_": float(weight[accepted & ~correct].sum() / n_accepted)
            if n_accepted > 0
            else np.nan,
            "risk_bound_": _overall_bound(bounds, coverages),
        }

    def _classes(self, y, comm):
        """The sorted classes (over all ranks), at least two of them."""
        classes = np.unique(y)
        if comm.active:
            classes = union_of_labels(comm.gather(classes))
        if len(classes) < 2:
            found = f"only one class: {classes[0]!r}" if len(classes) else "no samples"
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes, but the "
                f"data contains {found}."
            )
        return classes

    def _out_of_fold(self, X, y, sample_weight, classes):
        """Out-of-fold (confidence, predicted, correct, weight); predicted indexes classes."""
        params = {} if sample_weight is None else {"sample_weight": sample_weight}
        proba = cross_val_predict(
            clone(self.estimator),
            X,
            y,
            cv=self._splitter(y),
            method="predict_proba",
            n_jobs=self.n_jobs,
            params=params,
        )
        proba = np.asarray(proba)
        predicted = proba.argmax(axis=1)
        correct = predicted == np.searchsorted(classes, y)
        return proba.max(axis=1), predicted, correct, sample_weight

    def _distributed_out_of_fold(self, X, y, sample_weight, classes, comm):
        """Out-of-fold (confidence, predicted, correct, weight) of every rank's shard.

        ``predicted`` indexes ``classes``, the union of the ranks' classes.

        Each rank splits its own shard; fold k of every rank trains one
        distributed model (the fits are collective), which predicts each
        rank's held-out rows. The results of all ranks are gathered, so every
        rank selects the same threshold.
        """
        folds = comm.agree(lambda: list(self._splitter(y).split(X, y)))
        if len({n for n in comm.gather(len(folds))}) > 1:
            raise ValueError("Every rank must split its shard into the same number of folds.")
        confidence = np.empty(len(y))
        predicted = np.empty(len(y), dtype=np.intp)
        correct = np.empty(len(y), dtype=bool)
        for train, test in folds:
            params = {} if sample_weight is None else {"sample_weight": sample_weight[train]}
            fold = clone(self.estimator).fit(_safe_indexing(X, train), y[train], **params)
            proba = np.asarray(fold.predict_proba(_safe_indexing(X, test)))
            confidence[test] = proba.max(axis=1)
            labels = fold.classes_[proba.argmax(axis=1)]
            predicted[test] = np.searchsorted(classes, labels)
            correct[test] = labels == y[test]
        # Unit weights where a rank passed none, so the shards concatenate.
        weight = np.ones(len(y)) if sample_weight is None else sample_weight
        shards = comm.gather((confidence, predicted, correct, weight))
        return tuple(np.concatenate(parts) for parts in zip(*shards))

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
        return self._labels_and_mask(X, "predict")[0]

    def _reject_thresholds(self):
        # The fitted attributes decide, not per_class: set_params after fit
        # must not change what predict does.
        if hasattr(self, "class_thresholds_"):
            return self.class_thresholds_
        return self.threshold_

    def _confidence_chunks(self, X, method):
        """All rows at once: the probabilities come from ``estimator_``."""
        proba = self._proba(X)
        return len(proba), iter([(slice(None), proba.max(axis=1), proba.argmax(axis=1))])

    def reject_mask(self, X):
        """Which samples :meth:`predict` rejects.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        mask : ndarray of bool, shape (n_samples,)
            True where :math:`\\max_k P(k \\mid x) <` ``threshold_`` (or the
            threshold of the predicted class, with ``per_class=True``).
        """
        return self._labels_and_mask(X, "reject_mask")[1]

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
