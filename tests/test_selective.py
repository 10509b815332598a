"""sklearn_autodiff.selective: metrics, threshold rules, the meta-estimator, the plot.

Expected values of the metrics are worked out by hand in the comments.
"""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from scipy.special import expit
from scipy.stats import binomtest
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning, UndefinedMetricWarning
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_autodiff import (
    BCELogisticClassifier,
    MLPSoftmaxClassifier,
    RiskCoverageDisplay,
    SelectiveClassifierCV,
    aurc_score,
    chow_loss,
    coverage_score,
    risk_coverage_curve,
    selective_accuracy_score,
    selective_risk_score,
)
from sklearn_autodiff._selective_cv import (
    _binomial_upper_bound,
    _samples_needed,
    _select_threshold,
)

# ----------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Fit the small models here on one thread, restoring the setting after.

    On a busy machine, torch's intra-op thread pool makes fits of this size
    many times slower (measured: 0.24 s on one thread against 8.7 s on two),
    and they gain nothing from it.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def logistic_data(rng, n, w=(3.0, -1.5, 0.0), b=0.5):
    """x ~ N(0, I) and y ~ Bernoulli(sigmoid(x.w + b)); also returns P(y=1|x).

    The Bayes error is about 0.15, and the confident samples err far less.
    """
    X = rng.standard_normal((n, len(w)))
    p = expit(X @ np.asarray(w) + b)
    return X, (rng.random(n) < p).astype(int), p


@pytest.fixture(scope="module")
def noisy():
    """A noisy binary problem (logistic ground truth), split into train and test."""
    X, y, _ = logistic_data(np.random.default_rng(42), 1600)
    return train_test_split(X, y, test_size=0.5, random_state=0)


# ------------------------------------------------ metrics on hard labels

# y_true = [0, 1, 1, 0, 2], y_pred = [0, -1, 2, -1, 2] with reject label -1:
# rejected: samples 1 and 3; accepted: 0 (right), 2 (wrong: 2 for 1), 4 (right).
Y_TRUE = [0, 1, 1, 0, 2]
Y_PRED = [0, -1, 2, -1, 2]


def test_label_metrics_by_hand():
    assert coverage_score(Y_TRUE, Y_PRED, reject_label=-1) == pytest.approx(3 / 5)
    assert selective_accuracy_score(Y_TRUE, Y_PRED, reject_label=-1) == pytest.approx(2 / 3)
    assert selective_risk_score(Y_TRUE, Y_PRED, reject_label=-1) == pytest.approx(1 / 3)
    # one error (cost 1) and two rejections (0.25 each) over five samples
    assert chow_loss(Y_TRUE, Y_PRED, reject_label=-1, cost=0.25) == pytest.approx(1.5 / 5)


def test_label_metrics_weighted_by_hand():
    kw = {"reject_label": -1, "sample_weight": [1, 2, 3, 1, 1]}
    # total weight 8; accepted 1 + 3 + 1 = 5, of which the error weighs 3
    assert coverage_score(Y_TRUE, Y_PRED, **kw) == pytest.approx(5 / 8)
    assert selective_risk_score(Y_TRUE, Y_PRED, **kw) == pytest.approx(3 / 5)
    assert selective_accuracy_score(Y_TRUE, Y_PRED, **kw) == pytest.approx(2 / 5)
    # error 3 + rejections (2 + 1) * 0.25 = 3.75 over 8
    assert chow_loss(Y_TRUE, Y_PRED, cost=0.25, **kw) == pytest.approx(3.75 / 8)


def test_label_metrics_weights_act_as_repetitions():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 3, 40)
    y_pred = np.where(rng.random(40) < 0.3, -1, rng.integers(0, 3, 40))
    w = rng.integers(0, 4, 40)
    repeated = (np.repeat(y_true, w), np.repeat(y_pred, w))
    for metric in (coverage_score, selective_accuracy_score, selective_risk_score):
        assert metric(y_true, y_pred, reject_label=-1, sample_weight=w) == pytest.approx(
            metric(*repeated, reject_label=-1)
        )
    assert chow_loss(y_true, y_pred, reject_label=-1, cost=0.3, sample_weight=w) == pytest.approx(
        chow_loss(*repeated, reject_label=-1, cost=0.3)
    )


def test_label_metrics_with_string_labels():
    y_true = ["cat", "dog", "dog"]
    y_pred = ["cat", "reject", "cat"]  # one rejection, one hit, one error
    assert coverage_score(y_true, y_pred, reject_label="reject") == pytest.approx(2 / 3)
    assert selective_risk_score(y_true, y_pred, reject_label="reject") == pytest.approx(1 / 2)
    assert chow_loss(y_true, y_pred, reject_label="reject", cost=0.4) == pytest.approx(1.4 / 3)


def test_label_metrics_when_nothing_is_accepted():
    y_true, y_pred = [0, 1, 1], [-1, -1, -1]
    assert coverage_score(y_true, y_pred, reject_label=-1) == 0.0
    with pytest.warns(UndefinedMetricWarning, match="every sample is rejected"):
        assert np.isnan(selective_risk_score(y_true, y_pred, reject_label=-1))
    with pytest.warns(UndefinedMetricWarning, match="every sample is rejected"):
        assert np.isnan(selective_accuracy_score(y_true, y_pred, reject_label=-1))
    # only rejections: the loss is the rejection cost
    assert chow_loss(y_true, y_pred, reject_label=-1, cost=0.3) == pytest.approx(0.3)


def test_label_metrics_when_nothing_is_rejected():
    y_true, y_pred = [0, 1, 1, 0], [0, 1, 0, 0]
    assert coverage_score(y_true, y_pred, reject_label=-1) == 1.0
    # a reject label of another type never matches: plain error rate
    assert selective_risk_score(y_true, y_pred, reject_label="reject") == pytest.approx(1 / 4)
    assert chow_loss(y_true, y_pred, reject_label=-1, cost=0.9) == pytest.approx(1 / 4)


def test_label_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        coverage_score([0, 1], [0, 1, 1], reject_label=-1)
    with pytest.raises(ValueError, match="NaN never equals itself"):
        coverage_score([0.0, 1.0], [0.0, np.nan], reject_label=np.nan)
    with pytest.raises(ValueError, match="empty"):
        selective_risk_score([], [], reject_label=-1)
    with pytest.raises(InvalidParameterError):
        chow_loss([0, 1], [0, -1], reject_label=-1, cost=-0.1)
    with pytest.raises(ValueError, match="(?i)negative"):
        coverage_score([0, 1], [0, -1], reject_label=-1, sample_weight=[1, -1])


# ----------------------------------------------- the risk-coverage curve

# y_true = [0, 0, 1, 1, 1] with P(y=1) = [0.1, 0.4, 0.35, 0.8, 0.9]:
#   sample:      0     1     2     3     4
#   confidence:  0.9   0.6   0.65  0.8   0.9
#   prediction:  0     0     0     1     1
#   correct:     yes   yes   no    yes   yes
# By confidence: 0.9 (samples 0 and 4, a tie: one point), 0.8, 0.65, 0.6.
# coverage 2/5, 3/5, 4/5, 5/5; risk 0, 0, 1/4, 1/5.
# AURC = 0.4*0 + 0.2*0 + 0.2*0.25 + 0.2*0.2 = 0.09.
CURVE_Y = [0, 0, 1, 1, 1]
CURVE_P1 = np.array([0.1, 0.4, 0.35, 0.8, 0.9])
CURVE_PROBA = np.column_stack([1 - CURVE_P1, CURVE_P1])


def test_curve_by_hand():
    coverage, risk, thresholds = risk_coverage_curve(CURVE_Y, CURVE_PROBA)
    np.testing.assert_allclose(coverage, [0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(risk, [0.0, 0.0, 0.25, 0.2])
    np.testing.assert_allclose(thresholds, [0.9, 0.8, 0.65, 0.6])
    assert aurc_score(CURVE_Y, CURVE_PROBA) == pytest.approx(0.09)


def test_curve_groups_ties_of_right_and_wrong_answers():
    # P(y=1) = [0.3, 0.3, 0.9, 0.1]: confidences 0.7 (right), 0.7 (wrong),
    # 0.9 (right), 0.9 (right). Points: 0.9 -> coverage 1/2, risk 0;
    # 0.7 -> coverage 1, risk 1/4. AURC = 0.5*0 + 0.5*0.25 = 0.125.
    y, p1 = [0, 1, 1, 0], np.array([0.3, 0.3, 0.9, 0.1])
    coverage, risk, thresholds = risk_coverage_curve(y, p1)  # 1-D: P(second label)
    np.testing.assert_allclose(coverage, [0.5, 1.0])
    np.testing.assert_allclose(risk, [0.0, 0.25])
    np.testing.assert_allclose(thresholds, [0.9, 0.7])
    assert aurc_score(y, p1) == pytest.approx(0.125)


def test_curve_multiclass_by_hand_and_labels():
    # confidences .6 (a, right), .5 (b, right), .8 (c, right), .5 (a, wrong: c)
    # points .8 -> (1/4, 0), .6 -> (1/2, 0), .5 -> (1, 1/4); AURC = 0.5 * 0.25
    y = ["a", "b", "c", "c"]
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8], [0.5, 0.2, 0.3]])
    coverage, risk, thresholds = risk_coverage_curve(y, proba)
    np.testing.assert_allclose(coverage, [0.25, 0.5, 1.0])
    np.testing.assert_allclose(risk, [0.0, 0.0, 0.25])
    np.testing.assert_allclose(thresholds, [0.8, 0.6, 0.5])
    assert aurc_score(y, proba) == pytest.approx(0.125)
    # y_true without "b": the columns are named by labels (sorted, like log_loss)
    rows = [0, 2, 3]
    coverage, risk, _ = risk_coverage_curve(
        ["a", "c", "c"], proba[rows], labels=["c", "b", "a"]
    )
    np.testing.assert_allclose(coverage, [1 / 3, 2 / 3, 1.0])
    np.testing.assert_allclose(risk, [0.0, 0.0, 1 / 3])
    with pytest.raises(ValueError, match="pass labels="):
        risk_coverage_curve(["a", "c", "c"], proba[rows])


def test_aurc_of_constant_confidence_is_the_error_rate():
    y = [0, 1, 1, 0, 1]
    proba = np.tile([0.4, 0.6], (5, 1))  # one tie group, predicts 1, two errors
    assert aurc_score(y, proba) == pytest.approx(2 / 5)
    coverage, risk, _ = risk_coverage_curve(y, proba)
    assert coverage.tolist() == [1.0] and risk.tolist() == [pytest.approx(0.4)]


def test_curve_weights_act_as_repetitions():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 60)
    proba = rng.dirichlet(np.ones(3), 60).round(1)  # rounding makes ties
    proba /= proba.sum(axis=1, keepdims=True)
    w = rng.integers(0, 4, 60)
    weighted = risk_coverage_curve(y, proba, sample_weight=w, labels=[0, 1, 2])
    repeated = risk_coverage_curve(np.repeat(y, w), np.repeat(proba, w, axis=0), labels=[0, 1, 2])
    for a, b in zip(weighted, repeated):
        np.testing.assert_allclose(a, b)
    assert aurc_score(y, proba, sample_weight=w, labels=[0, 1, 2]) == pytest.approx(
        aurc_score(np.repeat(y, w), np.repeat(proba, w, axis=0), labels=[0, 1, 2])
    )


def test_curve_thresholds_are_reject_thresholds(noisy):
    X_train, X_test, y_train, y_test = noisy
    clf = BCELogisticClassifier(reject_threshold=0.5).fit(X_train, y_train)
    coverage, risk, thresholds = risk_coverage_curve(y_test, clf.predict_proba(X_test))
    for j in [0, len(thresholds) // 3, len(thresholds) // 2, len(thresholds) - 1]:
        y_pred = clf.set_params(reject_threshold=thresholds[j]).predict(X_test)
        assert coverage_score(y_test, y_pred, reject_label=-1) == pytest.approx(coverage[j])
        assert selective_risk_score(y_test, y_pred, reject_label=-1) == pytest.approx(risk[j])


def test_curve_rejects_bad_input():
    with pytest.raises(ValueError, match="2 columns but there are 3 labels"):
        risk_coverage_curve([0, 1, 2], np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="not in labels"):
        risk_coverage_curve([0, 1, 5], np.full((3, 2), 0.5), labels=[0, 1])
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        risk_coverage_curve([0, 1], [[1.5, -0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="sum to one"):
        risk_coverage_curve([0, 1], [[0.7, 0.7], [0.5, 0.5]])
    with pytest.raises(ValueError, match="second of two sorted labels"):
        risk_coverage_curve([0, 1, 2], [0.2, 0.3, 0.9])


# ---------------------------------------------------------- as scorers


def test_metrics_as_scorers_in_cross_validation(noisy):
    X, _, y, _ = noisy
    clf = BCELogisticClassifier(reject_threshold=0.75)
    scorers = {
        "coverage": make_scorer(coverage_score, reject_label=-1),
        "accuracy": make_scorer(selective_accuracy_score, reject_label=-1),
        "risk": make_scorer(selective_risk_score, greater_is_better=False, reject_label=-1),
        "chow": make_scorer(chow_loss, greater_is_better=False, reject_label=-1, cost=0.2),
        "aurc": make_scorer(aurc_score, greater_is_better=False, response_method="predict_proba"),
    }
    scores = {name: cross_val_score(clf, X, y, cv=3, scoring=s) for name, s in scorers.items()}
    assert np.all((scores["coverage"] > 0.2) & (scores["coverage"] < 1.0))
    np.testing.assert_allclose(scores["accuracy"], 1 + scores["risk"])  # risk scores are negated
    # Chow's loss = (1 - coverage) c + coverage * risk, per fold
    np.testing.assert_allclose(
        -scores["chow"], (1 - scores["coverage"]) * 0.2 - scores["coverage"] * scores["risk"]
    )
    assert np.all((-scores["aurc"] > 0) & (-scores["aurc"] < 0.2))


def test_grid_search_tunes_reject_threshold_on_chow_loss():
    # Logistic ground truth, so BCE's probabilities are close to calibrated
    # and Chow's optimum 1 - cost = 0.8 should win the grid.
    X, y, _ = logistic_data(np.random.default_rng(0), 3000)
    search = GridSearchCV(
        BCELogisticClassifier(),
        {"reject_threshold": [0.5, 0.7, 0.8, 0.9, 1.0]},
        scoring=make_scorer(chow_loss, greater_is_better=False, reject_label=-1, cost=0.2),
        cv=3,
    ).fit(X, y)
    assert search.best_params_["reject_threshold"] in (0.7, 0.8, 0.9)
    losses = -search.cv_results_["mean_test_score"]
    # Never rejecting and always rejecting (loss = cost) are both worse.
    assert losses.min() < losses[0] and losses.min() < losses[-1]
    assert losses[-1] == pytest.approx(0.2)


def test_chow_optimum_near_one_minus_cost_for_calibrated_posteriors():
    # Simulated calibrated posteriors: y ~ Bernoulli(p) with the model saying p.
    rng = np.random.default_rng(0)
    p = rng.random(100_000)
    y = (rng.random(p.size) < p).astype(int)
    proba = np.column_stack([1 - p, p])
    grid = np.linspace(0.5, 1.0, 51)
    for cost in (0.1, 0.2, 0.35):
        losses = []
        for t in grid:
            y_pred = np.where(proba.max(axis=1) < t, -1, proba.argmax(axis=1))
            losses.append(chow_loss(y, y_pred, reject_label=-1, cost=cost))
        assert abs(grid[np.argmin(losses)] - (1 - cost)) <= 0.03
        # the empirical Chow rule of SelectiveClassifierCV finds it too
        chosen = _select_threshold(proba.max(axis=1), proba.argmax(axis=1) == y, reject_cost=cost)
        assert abs(chosen.threshold - (1 - cost)) <= 0.03


# ---------------------------------------------------- threshold rules


# Confidences (decreasing) and correctness of five held-out samples:
CONF = np.array([0.95, 0.9, 0.8, 0.7, 0.6])
RIGHT = np.array([True, True, False, True, False])
# accepting down to:   0.95   0.9    0.8    0.7    0.6
# coverage:            1/5    2/5    3/5    4/5    1
# risk:                0      0      1/3    1/4    2/5


@pytest.mark.parametrize(
    "rule, expected",
    [
        ({"target_coverage": 0.5}, 0.8),  # first coverage >= 0.5 is 3/5
        ({"target_coverage": 0.6}, 0.8),
        ({"target_coverage": 0.61}, 0.7),
        ({"target_coverage": 1.0}, 0.0),  # accepts all: never rejects
        ({"target_risk": 0.0}, 0.9),
        # not monotone: 0.8 fails (1/3) but the lower 0.7 passes (1/4)
        ({"target_risk": 0.25}, 0.7),
        ({"target_risk": 0.4}, 0.0),
        # Chow losses with c = 0.3: reject all .3; .95: 1.2/5; .9: 0.9/5;
        # .8: 1.6/5; .7: 1.3/5; all: 2/5 -> 0.9
        ({"reject_cost": 0.3}, 0.9),
        # c = 0.5: .9 and .7 tie at 1.5/5; ties go to the larger coverage
        ({"reject_cost": 0.5}, 0.7),
        ({"reject_cost": 1.0}, 0.0),  # a rejection costs an error: accept all
    ],
)
def test_threshold_rules_by_hand(rule, expected):
    assert _select_threshold(CONF, RIGHT, **rule).threshold == expected


def test_risk_rule_reports_coverage_risk_and_bound():
    chosen = _select_threshold(CONF, RIGHT, target_risk=0.25)
    assert (chosen.coverage, chosen.risk, chosen.risk_bound) == (0.8, 0.25, 0.25)
    # One candidate (0.9): 0 errors among 2, so the one-sided Clopper-Pearson
    # bound at 1 - delta is 1 - delta ** (1 / 2) = 0.6838 for delta = 0.1.
    chosen = _select_threshold(
        CONF, RIGHT, target_risk=0.7, confidence_level=0.9, thresholds=[0.9]
    )
    assert chosen.threshold == 0.9
    assert chosen.risk_bound == pytest.approx(1 - 0.1**0.5)
    # With two candidates the union bound halves delta: 1 - 0.05 ** 0.5 > 0.7.
    with pytest.warns(UserWarning, match="No threshold reaches"):
        chosen = _select_threshold(
            CONF, RIGHT, target_risk=0.7, confidence_level=0.9, thresholds=[0.9, 0.95]
        )
    assert chosen.threshold == np.inf and chosen.coverage == 0.0


def test_threshold_rules_weights_act_as_repetitions():
    rng = np.random.default_rng(2)
    conf = rng.uniform(0.5, 1, 80).round(2)
    right = rng.random(80) < conf
    w = rng.integers(0, 4, 80)
    for rule in (
        {"target_coverage": 0.7},
        {"target_risk": 0.15},
        {"target_risk": 0.2, "confidence_level": 0.8, "thresholds": 10},
        {"reject_cost": 0.25},
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            weighted = _select_threshold(conf, right, w, **rule)
            repeated = _select_threshold(np.repeat(conf, w), np.repeat(right, w), **rule)
        assert weighted == repeated


def test_clopper_pearson_bound_matches_scipy():
    for k, n in [(0, 10), (3, 40), (17, 200), (50, 51)]:
        # one-sided at 1 - delta = upper end of the two-sided 1 - 2 delta interval
        exact = binomtest(k, n).proportion_ci(confidence_level=0.9, method="exact").high
        assert _binomial_upper_bound(k, n, 0.05)[()] == pytest.approx(exact)
    assert _binomial_upper_bound(0, 10, 0.1)[()] == pytest.approx(1 - 0.1 ** (1 / 10))
    np.testing.assert_array_equal(_binomial_upper_bound([5, 0], [5, 0], 0.1), [1.0, 1.0])


def test_samples_needed_for_zero_errors():
    # No errors among n accepted: bound 1 - delta ** (1/n) <= r needs
    # n >= log(delta) / log(1 - r) = 458.2 for r = delta = 0.01.
    assert _samples_needed(0.0, 1.0, 0.01, 0.01) == 459
    # Half the samples accepted: twice as many.
    assert _samples_needed(0.0, 0.5, 0.01, 0.01) == 917


def test_unreachable_empirical_target_says_more_data_would_not_help():
    with pytest.warns(UserWarning, match="more data would not help"):
        chosen = _select_threshold([0.9, 0.8], [False, False], target_risk=0.5)
    assert chosen.threshold == np.inf


def test_guaranteed_risk_holds_over_many_draws():
    """Selection with guaranteed risk, against the empirical rule.

    Known logistic ground truth; one BCE model trained once, then 200
    independent calibration sets of 1000 samples. For each, the chosen
    threshold's selective risk is measured on 50,000 held-out inputs as the
    mean of the true error probabilities 1 - P(prediction | x) over the
    accepted ones (the held-out risk without label noise). With
    confidence_level = 0.9 it may exceed the target in at most about 10% of
    the draws; the empirical threshold exceeds it in about half.
    """
    rng = np.random.default_rng(0)
    target, delta, n_draws = 0.08, 0.1, 200
    X_train, y_train, _ = logistic_data(rng, 300)
    model = BCELogisticClassifier().fit(X_train, y_train)
    X_test, _, p_test = logistic_data(rng, 50_000)
    proba_test = model.predict_proba(X_test)
    conf_test = proba_test.max(axis=1)
    error_test = np.where(proba_test.argmax(axis=1) == 1, 1 - p_test, p_test)

    exceeded = {"guaranteed": 0, "empirical": 0}
    coverage = {"guaranteed": [], "empirical": []}
    for _ in range(n_draws):
        X_cal, y_cal, _ = logistic_data(rng, 1000)
        proba = model.predict_proba(X_cal)
        right = proba.argmax(axis=1) == y_cal
        for name, level in (("guaranteed", 1 - delta), ("empirical", None)):
            tau = _select_threshold(
                proba.max(axis=1), right, target_risk=target, confidence_level=level
            ).threshold
            accepted = conf_test >= tau
            assert accepted.any()
            exceeded[name] += error_test[accepted].mean() > target
            coverage[name].append(accepted.mean())
    assert exceeded["guaranteed"] / n_draws <= delta
    assert 0.3 <= exceeded["empirical"] / n_draws <= 0.7
    # The guarantee costs coverage, but leaves a useful share accepted.
    assert 0.45 <= np.mean(coverage["guaranteed"]) < np.mean(coverage["empirical"])


# ------------------------------------------------ SelectiveClassifierCV


@pytest.mark.parametrize(
    "params, match",
    [
        ({}, "exactly one of"),
        ({"target_coverage": 0.9, "reject_cost": 0.2}, "got 2"),
        ({"target_coverage": 0.9, "confidence_level": 0.9}, "only applies to target_risk"),
        ({"target_risk": 0.1, "thresholds": []}, "thresholds must be"),
    ],
)
def test_rule_errors(params, match):
    X, y = make_classification(60, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(ValueError, match=match):
        SelectiveClassifierCV(BCELogisticClassifier(), **params).fit(X, y)


@pytest.mark.parametrize(
    "params",
    [{"target_coverage": 0.0}, {"target_coverage": 1.5}, {"target_risk": -0.1},
     {"reject_cost": 2.0}, {"target_risk": 0.1, "confidence_level": 1.0}, {"cv": 1}],
)
def test_invalid_parameters(params):
    X, y = make_classification(60, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(InvalidParameterError):
        SelectiveClassifierCV(BCELogisticClassifier(), **params).fit(X, y)


@pytest.mark.parametrize("target", [0.6, 0.9])
def test_target_coverage_is_reached_on_held_out_data(target):
    # 4000 samples each side: the coverage of a quantile learned from n
    # samples and measured on n others varies by about sqrt(2 c (1 - c) / n).
    rng = np.random.default_rng(7)
    X_train, y_train, _ = logistic_data(rng, 4000)
    X_test, y_test, _ = logistic_data(rng, 4000)
    clf = SelectiveClassifierCV(BCELogisticClassifier(), target_coverage=target).fit(
        X_train, y_train
    )
    assert clf.cv_coverage_ >= target
    assert abs(coverage_score(y_test, clf.predict(X_test), reject_label=-1) - target) <= 0.05


def test_predictions_follow_the_threshold(noisy):
    X_train, X_test, y_train, y_test = noisy
    clf = SelectiveClassifierCV(BCELogisticClassifier(), reject_cost=0.2, cv=3).fit(
        X_train, y_train
    )
    assert is_classifier(clf)
    assert 0.5 < clf.threshold_ < 1.0
    plain = clf.estimator_.predict(X_test)
    proba = clf.predict_proba(X_test)
    mask = clf.reject_mask(X_test)
    np.testing.assert_array_equal(mask, proba.max(axis=1) < clf.threshold_)
    assert 0 < mask.sum() < len(mask)
    y_pred = clf.predict(X_test)
    np.testing.assert_array_equal(y_pred[~mask], plain[~mask])
    assert clf.reject_label_ == -1 and np.all(y_pred[mask] == -1)
    # delegation to the refitted estimator
    np.testing.assert_array_equal(clf.classes_, [0, 1])
    np.testing.assert_array_equal(proba, clf.estimator_.predict_proba(X_test))
    for method in ("decision_function", "predict_log_proba"):
        np.testing.assert_array_equal(
            getattr(clf, method)(X_test), getattr(clf.estimator_, method)(X_test)
        )
    assert clf.n_features_in_ == X_train.shape[1]
    # abstaining where unsure pays: selective accuracy beats plain accuracy
    accepted_accuracy = selective_accuracy_score(y_test, y_pred, reject_label=-1)
    assert accepted_accuracy > np.mean(plain == y_test)
    # score is plain accuracy, rejections counted as errors
    assert clf.score(X_test, y_test) == pytest.approx(np.mean(y_pred == y_test))


def test_string_labels_and_reject_label():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    names = np.array(["setosa", "versicolor", "virginica"])[y]  # dtype <U10
    clf = SelectiveClassifierCV(BCELogisticClassifier(), target_coverage=0.8, cv=2)
    y_pred = clf.fit(X, names).predict(X)
    assert clf.reject_label_ == "reject" and y_pred.dtype == names.dtype
    assert {"reject", "setosa"} <= set(y_pred)
    long_label = clf.set_params(reject_label="no idea at all").fit(X, names).predict(X)
    assert long_label.dtype == np.dtype("<U14")  # widened, not object
    assert "no idea at all" in set(long_label)
    # like the estimators, predict follows a reject_label set after fit
    assert "?" in set(clf.set_params(reject_label="?").predict(X))
    with pytest.raises(ValueError, match="one of the classes"):
        clf.set_params(reject_label="setosa").fit(X, names)
    with pytest.raises(ValueError, match="Encode the labels"):
        clf.set_params(reject_label=None).fit(X, y == 0)


def test_target_coverage_one_never_rejects(noisy):
    X_train, X_test, y_train, _ = noisy
    clf = SelectiveClassifierCV(BCELogisticClassifier(), target_coverage=1.0, cv=3)
    clf.fit(X_train, y_train)
    assert clf.threshold_ == 0.0 and not clf.reject_mask(X_test).any()
    np.testing.assert_array_equal(clf.predict(X_test), clf.estimator_.predict(X_test))


def test_unreachable_target_risk_warns_and_rejects_everything(noisy):
    X_train, X_test, y_train, _ = noisy
    clf = SelectiveClassifierCV(
        BCELogisticClassifier(), target_risk=0.001, confidence_level=0.9, cv=3
    )
    with pytest.warns(UserWarning, match=r"roughly [\d,]+ samples would be needed"):
        clf.fit(X_train[:200], y_train[:200])
    assert clf.threshold_ == np.inf and clf.cv_coverage_ == 0.0 and np.isnan(clf.cv_risk_)
    assert np.all(clf.predict(X_test) == -1)


def test_guarantee_on_frozen_model_uses_its_calibration_confidences(noisy):
    X_train, X_cal, y_train, y_cal = noisy
    model = BCELogisticClassifier().fit(X_train, y_train)
    clf = SelectiveClassifierCV(
        FrozenEstimator(model), target_risk=0.1, confidence_level=0.9, thresholds=20
    ).fit(X_cal, y_cal)
    proba = model.predict_proba(X_cal)
    expected = _select_threshold(
        proba.max(axis=1), proba.argmax(axis=1) == y_cal,
        target_risk=0.1, confidence_level=0.9, thresholds=20,
    )
    assert clf.threshold_ == expected.threshold
    assert clf.risk_bound_ == expected.risk_bound <= 0.1
    assert clf.estimator_.estimator is model  # never refitted


def test_candidate_thresholds_and_shuffled_folds(noisy):
    X_train, _, y_train, _ = noisy
    candidates = [0.6, 0.7, 0.8, 0.9, 0.95]
    clf = SelectiveClassifierCV(
        BCELogisticClassifier(), target_risk=0.12, thresholds=candidates, cv=2, random_state=0
    )
    first = clf.fit(X_train, y_train).threshold_
    assert first in candidates
    assert clone(clf).fit(X_train, y_train).threshold_ == first  # same seed, same folds
    assert clf.risk_bound_ == clf.cv_risk_ <= 0.12


def test_works_in_pipeline_and_grid_search(noisy):
    X_train, X_test, y_train, y_test = noisy
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("select", SelectiveClassifierCV(BCELogisticClassifier(), target_coverage=0.8, cv=2)),
    ]).fit(X_train, y_train)
    assert abs(coverage_score(y_test, pipe.predict(X_test), reject_label=-1) - 0.8) <= 0.06
    assert is_classifier(pipe)
    chow = make_scorer(chow_loss, greater_is_better=False, reject_label=-1, cost=0.2)
    search = GridSearchCV(
        SelectiveClassifierCV(
            make_pipeline(StandardScaler(), BCELogisticClassifier()), reject_cost=0.2, cv=2
        ),
        {"estimator__bcelogisticclassifier__alpha": [1e-4, 10.0]},
        scoring=chow,
        cv=2,
    ).fit(X_train, y_train)
    assert search.best_params_ == {"estimator__bcelogisticclassifier__alpha": 1e-4}
    assert isinstance(search.best_estimator_, SelectiveClassifierCV)
    assert -search.score(X_test, y_test) < 0.2  # better than rejecting everything


def test_multiclass_with_mlp():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    mlp = MLPSoftmaxClassifier((8,), learning_rate_init=0.05, max_iter=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # 60 epochs suffice here
        clf = SelectiveClassifierCV(mlp, target_coverage=0.9, cv=2).fit(X, y)
    y_pred = clf.predict(X)
    assert set(np.unique(y_pred)) <= {-1, 0, 1, 2}
    assert clf.predict_proba(X).shape == (150, 3)
    assert 0.85 <= coverage_score(y, y_pred, reject_label=-1) <= 1.0


# ------------------------------------------------------- estimator checks

_REJECTS_BY_DESIGN = (
    "the check requires predict to equal the argmax of predict_proba (and the "
    "sign of decision_function), but a selective classifier answers the reject "
    "label where it abstains"
)
CHECKED = [
    (
        # Never rejects (threshold_ = 0): passes every check.
        SelectiveClassifierCV(BCELogisticClassifier(), target_coverage=1.0, cv=2),
        {},
    ),
    (
        SelectiveClassifierCV(BCELogisticClassifier(), target_coverage=0.9, cv=2),
        {
            "check_classifiers_train": _REJECTS_BY_DESIGN,
            "check_classifiers_classes": _REJECTS_BY_DESIGN,
        },
    ),
]
_EXPECTED = {id(est): failures for est, failures in CHECKED}


# scikit-learn's checks fit with tiny max_iter and degenerate data: ConvergenceWarning is theirs.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# Its read-only memmap checks reach torch.as_tensor, which warns on non-writable arrays.
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable:UserWarning")
# check_supervised_y_no_nan casts an infinite y inside scikit-learn's array-API helpers.
@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@parametrize_with_checks(
    [est for est, _ in CHECKED], expected_failed_checks=lambda est: _EXPECTED[id(est)]
)
def test_estimator_checks(estimator, check):
    check(estimator)


# ------------------------------------------------------------- display


def test_importing_does_not_import_matplotlib():
    code = "import sys, sklearn_autodiff; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_display_from_predictions():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    display = RiskCoverageDisplay.from_predictions(CURVE_Y, CURVE_PROBA, name="toy")
    x, y = display.line_.get_data()
    np.testing.assert_allclose(x, [0.0, 0.4, 0.6, 0.8, 1.0])  # the steps start at 0
    np.testing.assert_allclose(y, [0.0, 0.0, 0.0, 0.25, 0.2])
    assert display.aurc == pytest.approx(0.09)
    assert display.line_.get_label() == "toy (AURC = 0.090)"
    assert display.line_.get_drawstyle() == "steps-pre"
    assert display.ax_.get_xlabel() == "Coverage" and display.ax_.get_ylabel() == "Selective risk"
    assert display.figure_ is display.ax_.figure
    # onto existing axes, with a matplotlib keyword overriding the default
    fig, ax = plt.subplots()
    again = display.plot(ax=ax, name="other", drawstyle="default", color="red")
    assert again.ax_ is ax and again.line_.get_label() == "other (AURC = 0.090)"
    assert again.line_.get_drawstyle() == "default"
    plt.close("all")


def test_display_from_estimator(noisy):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    X_train, X_test, y_train, y_test = noisy
    clf = BCELogisticClassifier().fit(X_train, y_train)
    display = RiskCoverageDisplay.from_estimator(clf, X_test, y_test)
    coverage, risk, thresholds = risk_coverage_curve(y_test, clf.predict_proba(X_test))
    np.testing.assert_allclose(display.coverage, coverage)
    np.testing.assert_allclose(display.risk, risk)
    np.testing.assert_allclose(display.thresholds, thresholds)
    assert display.aurc == pytest.approx(aurc_score(y_test, clf.predict_proba(X_test)))
    assert display.line_.get_label().startswith("BCELogisticClassifier (AURC = ")
    plt.close("all")


# ------------------------------------------------ per-class guarantee

# Three Gaussian classes in the plane; the model is fitted on clean labels,
# but in deployment (calibration and test data) a class-2 label is replaced
# by another class with probability 1 - P_clean(2 | x): the model is about
# twice as overconfident on class 2 as it looks. Class 2 is the hard class.
_CENTERS = 2.0 * np.array([[1.0, 0.0], [-0.5, 0.866], [-0.5, -0.866]])


def _clean_posterior(X):
    logits = X @ _CENTERS.T
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def _deployed_posterior(X):
    p = _clean_posterior(X)
    moved = p[:, 2] * (1.0 - p[:, 2])  # mass leaving class 2, split over 0 and 1
    return np.column_stack([p[:, 0] + moved / 2, p[:, 1] + moved / 2, p[:, 2] - moved])


def _hard_class_data(rng, n, deployed=True):
    X = _CENTERS[rng.integers(0, 3, n)] + rng.standard_normal((n, 2))
    p = _deployed_posterior(X) if deployed else _clean_posterior(X)
    y = (rng.random((n, 1)) > p.cumsum(axis=1)).sum(axis=1)
    return X, y


@pytest.fixture(scope="module")
def hard_class():
    """(model, rng, per-sample truth of a large test set) for the hard-class problem.

    The truth is the predicted class, the confidence and the true error
    probability 1 - P(predicted class | x) of 200,000 fresh inputs, so a
    selective risk is computed from the known distribution, not from noisy
    labels. The model is scikit-learn's LogisticRegression: its probabilities
    are cheap, which keeps 400 calibrations fast.
    """
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    model = LogisticRegression().fit(*_hard_class_data(rng, 500, deployed=False))
    X_test, _ = _hard_class_data(rng, 200_000)
    proba = model.predict_proba(X_test)
    predicted = proba.argmax(axis=1)
    error = 1.0 - _deployed_posterior(X_test)[np.arange(len(X_test)), predicted]
    return model, rng, (predicted, proba.max(axis=1), error)


def _true_class_risks(truth, thresholds):
    """True selective risk of each predicted class (0 where it accepts nothing)."""
    predicted, confidence, error = truth
    accepted = confidence >= thresholds[predicted]
    risks = np.zeros(3)
    for k in range(3):
        mine = accepted & (predicted == k)
        if mine.any():
            risks[k] = error[mine].mean()
    return risks, accepted.mean()


def test_per_class_guarantee_holds_for_every_class_where_the_marginal_fails(hard_class):
    """The done-when test of issue 27.

    One model, 200 fresh calibration sets of 2000 samples, each calibrating
    the frozen model with per_class=True and with the marginal rule at the
    same r = 0.1 and confidence_level = 0.9. A trial violates when some
    predicted class's true selective risk exceeds r. The per-class rule may
    violate in at most delta + 3 standard errors of the trials; the marginal
    rule, whose average hides class 2, violates class 2 in most of them.
    """
    model, rng, truth = hard_class
    target, delta, n_trials = 0.1, 0.1, 200
    violated = {"per_class": 0, "marginal": 0}
    hard_violated, coverage = 0, {"per_class": [], "marginal": []}
    for _ in range(n_trials):
        X_cal, y_cal = _hard_class_data(rng, 2000)
        for name in violated:
            clf = SelectiveClassifierCV(
                FrozenEstimator(model), target_risk=target, confidence_level=1 - delta,
                per_class=name == "per_class", cv=2,
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # a class may reject all
                clf.fit(X_cal, y_cal)
            per_class = name == "per_class"
            thresholds = clf.class_thresholds_ if per_class else np.full(3, clf.threshold_)
            risks, accepted = _true_class_risks(truth, thresholds)
            violated[name] += (risks > target).any()
            coverage[name].append(accepted)
            hard_violated += name == "marginal" and risks[2] > target
    allowed = delta + 3 * np.sqrt(delta * (1 - delta) / n_trials)
    assert violated["per_class"] / n_trials <= allowed
    assert hard_violated / n_trials > 0.5
    # The price: some coverage, but most predictions are still answered.
    assert 0.5 < np.mean(coverage["per_class"]) < np.mean(coverage["marginal"])


def test_per_class_round_trips_reproduce_predict(hard_class):
    """skops (trusting only our class) and ONNX give the labels of predict."""
    sio = pytest.importorskip("skops.io")
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    from skl2onnx import to_onnx

    import sklearn_autodiff.onnx  # noqa: F401  (registers the converters)

    model, _, _ = hard_class
    rng = np.random.default_rng(1)
    X_cal, y_cal = _hard_class_data(rng, 3000)
    X_new, _ = _hard_class_data(rng, 5000)
    clf = SelectiveClassifierCV(
        FrozenEstimator(model), target_risk=0.1, confidence_level=0.9, per_class=True, cv=2
    ).fit(X_cal, y_cal)
    y_pred = clf.predict(X_new)
    assert np.isfinite(clf.class_thresholds_).all()
    assert len(np.unique(clf.class_thresholds_)) == 3 and (y_pred == -1).any()

    data = sio.dumps(clf)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == ["sklearn_autodiff._selective_cv.SelectiveClassifierCV"]
    loaded = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict(X_new), y_pred)
    np.testing.assert_array_equal(loaded.class_thresholds_, clf.class_thresholds_)

    # float64 graph: no float32 rounding at the thresholds.
    onx = to_onnx(clf, X_new[:1], options={"zipmap": False})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {session.get_inputs()[0].name: X_new})
    np.testing.assert_array_equal(labels, y_pred)
    np.testing.assert_allclose(proba, clf.predict_proba(X_new), atol=1e-10)


def test_per_class_thresholds_are_the_marginal_rule_per_class_at_delta_over_k(hard_class):
    """Class k's threshold is the marginal rule on its own predictions, at delta / K."""
    model, _, _ = hard_class
    X, y = _hard_class_data(np.random.default_rng(3), 3000)
    clf = SelectiveClassifierCV(
        FrozenEstimator(model), target_risk=0.1, confidence_level=0.9, per_class=True,
        thresholds=50,
    ).fit(X, y)
    proba = model.predict_proba(X)
    predicted, confidence = proba.argmax(axis=1), proba.max(axis=1)
    for k in range(3):
        mine = predicted == k
        expected = _select_threshold(
            confidence[mine], y[mine] == k, target_risk=0.1, confidence_level=1 - 0.1 / 3,
            thresholds=50,
        )
        assert clf.class_thresholds_[k] == expected.threshold
        assert clf.class_risk_bounds_[k] == expected.risk_bound <= 0.1
        assert clf.class_cv_coverages_[k] == expected.coverage
        assert clf.class_cv_risks_[k] == expected.risk
    # Overall figures of the per-class rule, and predict / reject_mask follow it.
    accepted = confidence >= clf.class_thresholds_[predicted]
    assert clf.cv_coverage_ == pytest.approx(accepted.mean())
    assert clf.cv_risk_ == pytest.approx(np.mean(predicted[accepted] != y[accepted]))
    assert clf.risk_bound_ == clf.class_risk_bounds_.max()
    np.testing.assert_array_equal(clf.reject_mask(X), ~accepted)
    np.testing.assert_array_equal(clf.predict(X), np.where(accepted, predicted, -1))
    assert not hasattr(clf, "threshold_")
    # The selective metrics on the samples predicted as k give its risk.
    y_pred = clf.predict(X)
    for k in range(3):
        mine = predicted == k
        assert selective_risk_score(y[mine], y_pred[mine], reject_label=-1) == pytest.approx(
            clf.class_cv_risks_[k]
        )


def test_per_class_rare_class_rejects_with_a_warning_at_the_users_call():
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(-3, 1, (300, 1)), rng.normal(3, 1, (300, 1)), rng.normal(0, 0.3, (8, 1))]
    y = np.r_[np.zeros(300), np.ones(300), np.full(8, 2)].astype(int)
    X = np.c_[X, X**2]
    model = MLPSoftmaxClassifier((8,), solver="lbfgs", max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    clf = SelectiveClassifierCV(
        FrozenEstimator(model), target_risk=0.05, confidence_level=0.9, per_class=True, cv=2
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    messages = [w for w in caught if "No threshold reaches" in str(w.message)]
    assert len(messages) == 1 and messages[0].filename == __file__
    n_predicted = int(np.sum(model.predict(X) == 2))
    assert f"class 2 ({n_predicted} held-out predictions)" in str(messages[0].message)
    assert re.search(r"roughly [\d,]+ would be needed", str(messages[0].message))
    assert clf.class_thresholds_[2] == np.inf and clf.class_cv_coverages_[2] == 0
    assert np.isfinite(clf.class_thresholds_[:2]).all()
    assert 0.05 < clf.class_risk_bounds_[2] <= 1  # the best bound it reached
    y_pred = clf.predict(X)
    assert np.all(y_pred[model.predict(X) == 2] == -1) and (y_pred != -1).any()


def test_unreachable_warning_points_at_the_users_call_and_reports_best_bound(noisy):
    X_train, _, y_train, _ = noisy
    clf = SelectiveClassifierCV(
        BCELogisticClassifier(), target_risk=0.001, confidence_level=0.9, cv=3
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X_train[:200], y_train[:200])
    messages = [w for w in caught if "No threshold reaches" in str(w.message)]
    assert len(messages) == 1 and messages[0].filename == __file__
    assert clf.threshold_ == np.inf
    # Not nan: the smallest bound over the candidates, here with no errors
    # among the few most confident samples.
    assert 0.001 < clf.risk_bound_ < 1
    assert f"best bound reached is {clf.risk_bound_:.3g}" in str(messages[0].message)


@pytest.mark.parametrize("rule", [{"target_coverage": 0.9}, {"reject_cost": 0.1}])
def test_per_class_needs_target_risk(rule):
    X, y = make_classification(60, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(ValueError, match="per_class=True .* needs target_risk"):
        SelectiveClassifierCV(BCELogisticClassifier(), per_class=True, **rule).fit(X, y)


def test_switching_per_class_refits_cleanly_and_a_failed_fit_keeps_the_model(noisy):
    X_train, X_test, y_train, _ = noisy
    clf = SelectiveClassifierCV(BCELogisticClassifier(), target_risk=0.1, per_class=True, cv=2)
    clf.fit(X_train, y_train)
    per_class_pred = clf.predict(X_test)
    assert np.isfinite(clf.class_thresholds_).all()
    # set_params after fit does not change predict; a refit does.
    clf.set_params(per_class=False)
    np.testing.assert_array_equal(clf.predict(X_test), per_class_pred)
    clf.fit(X_train, y_train)
    assert not hasattr(clf, "class_thresholds_") and np.isfinite(clf.threshold_)
    marginal_pred = clf.predict(X_test)
    # A fit that fails (bad labels) leaves the fitted state as it was.
    with pytest.raises(ValueError):
        clf.set_params(per_class=True).fit(X_train, np.zeros(len(y_train)))
    np.testing.assert_array_equal(clf.predict(X_test), marginal_pred)
    assert not hasattr(clf, "class_thresholds_")


def test_display_per_class_curves(hard_class):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model, _, _ = hard_class
    X, y = _hard_class_data(np.random.default_rng(5), 3000)
    display = RiskCoverageDisplay.from_estimator(model, X, y, per_class=True, name="LR")
    proba = model.predict_proba(X)
    predicted = proba.argmax(axis=1)
    np.testing.assert_array_equal(display.class_labels, [0, 1, 2])
    assert len(display.line_) == 3 and display.ax_.get_xlabel() == "Coverage of the class"
    for k in range(3):
        mine = predicted == k
        coverage, risk, _ = risk_coverage_curve(y[mine], proba[mine], labels=[0, 1, 2])
        np.testing.assert_allclose(display.coverage[k], coverage)
        np.testing.assert_allclose(display.risk[k], risk)
        assert display.line_[k].get_label().startswith(f"LR, class {k} (AURC = ")
    # The hard class's curve lies above the others at full coverage.
    assert display.risk[2][-1] > max(display.risk[0][-1], display.risk[1][-1])
    plt.close("all")


@pytest.mark.parametrize("per_class", [False, True])
@pytest.mark.parametrize("string_labels", [False, True])
def test_onnx_export_of_the_reject_rule(per_class, string_labels):
    """The exported graph's labels are predict's, for a pipeline of ours inside."""
    pytest.importorskip("skl2onnx")
    ort = pytest.importorskip("onnxruntime")
    from skl2onnx import to_onnx

    import sklearn_autodiff.onnx  # noqa: F401  (registers the converters)

    X, y = load_iris(return_X_y=True)
    X_fit, X_new, y_fit, _ = train_test_split(X, y, test_size=0.5, random_state=0)
    if string_labels:
        y_fit = np.array(["setosa", "versicolor", "virginica"])[y_fit]
    clf = SelectiveClassifierCV(
        make_pipeline(StandardScaler(), BCELogisticClassifier()),
        target_risk=0.02, per_class=per_class, cv=3,
    ).fit(X_fit, y_fit)
    y_pred = clf.predict(X_new)
    assert (y_pred == clf.reject_label_).any() and (y_pred != clf.reject_label_).any()
    onx = to_onnx(clf, X_new[:1], options={"zipmap": False})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {session.get_inputs()[0].name: X_new})
    np.testing.assert_array_equal(labels, y_pred)
    np.testing.assert_allclose(proba, clf.predict_proba(X_new), atol=1e-6)


def test_the_first_release_import_paths_still_work():
    import sklearn_autodiff
    from sklearn_autodiff.selective import (
        RiskCoverageDisplay,
        SelectiveClassifierCV,
        coverage_score,
        selective_risk_score,
    )

    assert SelectiveClassifierCV is sklearn_autodiff.SelectiveClassifierCV
    assert RiskCoverageDisplay is sklearn_autodiff.RiskCoverageDisplay
    assert coverage_score is sklearn_autodiff.coverage_score
    assert selective_risk_score is sklearn_autodiff.selective_risk_score
