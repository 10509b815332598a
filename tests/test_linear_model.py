"""The linear classifiers: math against closed forms and scikit-learn."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_iris, make_blobs, make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_autodiff import BCELogisticClassifier, TanhLogisticClassifier

LINEAR = [BCELogisticClassifier, TanhLogisticClassifier]
SOLVERS = ["lbfgs", "adam", "sgd", "gd"]


@pytest.fixture(scope="module")
def cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.mark.parametrize("C", [0.1, 1.0])
def test_bce_reproduces_logistic_regression(cancer, C):
    X, y = cancer
    reference = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    ours = BCELogisticClassifier(alpha=1 / (C * len(y))).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ours.predict_proba(X), reference.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(ours.decision_function(X), reference.decision_function(X), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("learn_beta", [True, False])
def test_tanh_optimum_equals_bce_optimum(cancer, learn_beta):
    X, y = cancer
    bce = BCELogisticClassifier(alpha=0.01).fit(X, y)
    tanh = TanhLogisticClassifier(alpha=0.01, learn_beta=learn_beta, beta=0.7).fit(X, y)
    np.testing.assert_allclose(tanh.predict_proba(X), bce.predict_proba(X), atol=1e-7)
    # The effective logit weights 2*beta*w are the BCE weights.
    np.testing.assert_allclose(2 * tanh.beta_[:, None] * tanh.coef_, bce.coef_, rtol=1e-5, atol=1e-7)
    if not learn_beta:
        assert tanh.beta_[0] == pytest.approx(0.7)


def test_tanh_probability_is_half_one_plus_soft_output(cancer):
    X, y = cancer
    clf = TanhLogisticClassifier(alpha=0.01).fit(X, y)
    margin = X @ clf.coef_[0] + clf.intercept_[0]
    soft = np.tanh(clf.beta_[0] * margin)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], (1 + soft) / 2, atol=1e-12)
    np.testing.assert_allclose(clf.decision_function(X), 2 * clf.beta_[0] * margin, rtol=1e-10)


def _lecture_clouds():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal([-1.5, -1.0], 0.6, (50, 2)), rng.normal([1.5, 1.0], 0.6, (50, 2))])
    y = np.repeat([-1, 1], 50)
    return X, y


def test_lecture_run_gradient_descent_separates_two_clouds():
    X, y = _lecture_clouds()
    clf = TanhLogisticClassifier(solver="gd", learning_rate_init=0.05, max_iter=100, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.n_iter_ == 100
    assert clf.score(X, y) == 1.0
    curve = np.array(clf.loss_curve_)
    assert np.all(np.diff(curve) < 0)
    assert curve[-1] < 0.5 * curve[0]
    assert clf.beta_[0] != 1.0  # beta was learned


@pytest.mark.parametrize("Estimator", LINEAR)
@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_learns_iris(Estimator, solver):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    # Adam's default step (1e-3) is slow from zero weights; 1e-2 converges.
    lr = 1e-2 if solver == "adam" else None
    clf = Estimator(solver=solver, alpha=1e-3, random_state=0, max_iter=300, learning_rate_init=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    # The first-order solvers stop short of the optimum (0.95) in 300 steps.
    assert clf.score(X, y) > 0.85
    assert clf.coef_.shape == (3, 4) and clf.intercept_.shape == (3,)
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.decision_function(X).shape == (150, 3)
    assert len(clf.loss_curve_) == clf.n_iter_


@pytest.mark.parametrize("Estimator", LINEAR)
def test_binary_shapes_and_string_labels(Estimator, cancer):
    X, y = cancer
    labels = np.array(["benign", "malignant"])[y]
    clf = Estimator().fit(X, labels)
    assert list(clf.classes_) == ["benign", "malignant"]
    assert clf.decision_function(X).shape == (len(y),)
    assert clf.coef_.shape == (1, X.shape[1])
    assert set(clf.predict(X)) <= set(clf.classes_)
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(clf.predict_proba(X)), atol=1e-12)


def test_class_weight_shifts_the_decision():
    X, y = make_blobs(200, centers=2, cluster_std=3.0, random_state=0)
    plain = BCELogisticClassifier().fit(X, y)
    heavy = BCELogisticClassifier(class_weight={0: 10.0, 1: 1.0}).fit(X, y)
    assert (heavy.predict(X) == 0).sum() > (plain.predict(X) == 0).sum()
    balanced = BCELogisticClassifier(class_weight="balanced").fit(X[:120], y[:120])
    weights = np.where(y[:120] == 0, 120 / (2 * (y[:120] == 0).sum()), 120 / (2 * (y[:120] == 1).sum()))
    same = BCELogisticClassifier().fit(X[:120], y[:120], sample_weight=weights)
    np.testing.assert_allclose(balanced.coef_, same.coef_, rtol=1e-8)


def test_sample_weight_equals_repetition():
    X, y = make_classification(60, 4, random_state=0)
    w = np.random.default_rng(0).integers(0, 4, size=60)
    weighted = TanhLogisticClassifier(alpha=0.01).fit(X, y, sample_weight=w)
    repeated = TanhLogisticClassifier(alpha=0.01).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.predict_proba(X), repeated.predict_proba(X), rtol=1e-7)


@pytest.mark.parametrize("Estimator", LINEAR)
def test_dtype_follows_the_input(Estimator):
    X, y = make_classification(100, 5, random_state=0)
    assert Estimator().fit(X.astype(np.float32), y).module_dtype_ == torch.float32
    assert Estimator().fit(X, y).module_dtype_ == torch.float64
    assert Estimator().fit(X.astype(np.int64), y).module_dtype_ == torch.float64
    assert Estimator(dtype="float32").fit(X, y).module_dtype_ == torch.float32
    assert Estimator().fit(X.astype(np.float32), y).coef_.dtype == np.float32


# Deliberately short fits: the test compares two fits with one seed, not a converged model.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("solver", SOLVERS)
def test_same_seed_same_result_and_global_rng_untouched(solver):
    X, y = make_classification(300, 6, random_state=0)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    a = BCELogisticClassifier(solver=solver, random_state=3, max_iter=20).fit(X, y)
    b = BCELogisticClassifier(solver=solver, random_state=3, max_iter=20).fit(X, y)
    BCELogisticClassifier(solver=solver, max_iter=5).fit(X, y)  # random_state=None
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(u, v) for u, v in zip(np.random.get_state(), numpy_state))
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_partial_fit_runs_one_epoch_and_continues():
    X, y = make_classification(400, 5, random_state=0)
    clf = BCELogisticClassifier(solver="sgd", random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X, y)
    clf.partial_fit(X[:200], y[:200], classes=[0, 1])
    assert clf.n_iter_ == 1
    first = clf.coef_.copy()
    clf.partial_fit(X[200:], y[200:])
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert not np.array_equal(first, clf.coef_)
    with pytest.raises(ValueError, match="not among the classes"):
        clf.partial_fit(X[:10], np.full(10, 7))
    np.testing.assert_array_equal(clf.classes_, [0, 1])


def test_warm_start_continues_from_the_fitted_parameters():
    X, y = make_classification(300, 5, random_state=0)
    clf = BCELogisticClassifier(solver="gd", max_iter=5, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
        loss_after_five = clf.loss_
        clf.fit(X, y)
    assert clf.n_iter_ == 10 and len(clf.loss_curve_) == 10
    assert clf.loss_ < loss_after_five
    cold = BCELogisticClassifier(solver="gd", max_iter=10, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold.fit(X, y)
    np.testing.assert_allclose(clf.coef_, cold.coef_, rtol=1e-10)


def test_early_stopping_keeps_the_best_validation_score():
    X, y = make_classification(600, 10, flip_y=0.2, random_state=0)
    clf = BCELogisticClassifier(solver="adam", early_stopping=True, random_state=0, learning_rate_init=0.05)
    clf.fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.n_iter_ < clf.max_iter


def test_convergence_warning_when_max_iter_is_hit():
    X, y = make_classification(100, 5, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        BCELogisticClassifier(solver="gd", max_iter=2).fit(X, y)


def test_lbfgs_stops_on_the_gradient_tolerance(cancer):
    X, y = cancer
    clf = BCELogisticClassifier(alpha=1e-2, tol=1e-3).fit(X, y)
    assert clf.n_iter_ < 50


@pytest.mark.parametrize("Estimator", LINEAR)
def test_pickle_round_trip(Estimator, cancer):
    X, y = cancer
    clf = Estimator().fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize("Estimator", LINEAR)
def test_bad_input_raises_clear_errors(Estimator):
    X, y = make_classification(50, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(ValueError, match="NaN"):
        Estimator().fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="infinity"):
        Estimator().fit(np.where(X > 1, np.inf, X), y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        Estimator().fit(X, np.zeros(50))
    with pytest.raises(ValueError, match="Unknown label type"):
        Estimator().fit(X, np.linspace(0, 1, 50))
    clf = Estimator().fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        clf.predict(X[:, :2])
    with pytest.raises(NotFittedError):
        Estimator().predict(X)


@pytest.mark.parametrize(
    "params",
    [{"alpha": -1.0}, {"solver": "liblinear"}, {"max_iter": 0}, {"tol": -1}, {"device": 3},
     {"dtype": "float16"}, {"reject_threshold": 1.5}, {"batch_size": 0}],
)
def test_invalid_parameters(params):
    X, y = make_classification(30, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(InvalidParameterError):
        BCELogisticClassifier(**params).fit(X, y)


def test_invalid_tanh_beta():
    X, y = make_classification(30, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(InvalidParameterError):
        TanhLogisticClassifier(beta=0.0).fit(X, y)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message without CUDA")
def test_cuda_without_cuda_says_so():
    X, y = make_classification(30, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(ValueError, match="CUDA is not available"):
        BCELogisticClassifier(device="cuda").fit(X, y)
    with pytest.raises(ValueError, match="not a valid torch device"):
        BCELogisticClassifier(device="gpu please").fit(X, y)
    assert BCELogisticClassifier(device="auto").fit(X, y).score(X, y) > 0.5


def test_divergence_raises_with_hint_and_keeps_the_fitted_state():
    X, y = make_classification(100, 5, random_state=0)
    clf = BCELogisticClassifier(solver="gd", warm_start=True, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    coef, proba = clf.coef_.copy(), clf.predict_proba(X)
    clf.set_params(learning_rate_init=1e300)
    with pytest.raises(ValueError, match="Scale the inputs"):
        clf.fit(X * 1e10, y)
    np.testing.assert_array_equal(clf.coef_, coef)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_failed_refit_with_other_features_loses_nothing():
    X, y = make_classification(100, 5, random_state=0)
    clf = BCELogisticClassifier().fit(X, y)
    proba = clf.predict_proba(X)
    with pytest.raises(ValueError):
        clf.fit(np.c_[X, np.full(100, np.nan)], y)
    assert clf.n_features_in_ == 5
    np.testing.assert_array_equal(clf.predict_proba(X), proba)


@pytest.mark.parametrize("make", [BCELogisticClassifier, TanhLogisticClassifier])
def test_defaults_fit_the_model_of_logistic_regression_defaults(make):
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    ours = make_pipeline(StandardScaler(), make()).fit(X, y)
    theirs = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    # LogisticRegression() stops at tol=1e-4, short of the optimum ours reaches:
    # against the same model solved to convergence, probabilities agree to 1e-4.
    converged = make_pipeline(StandardScaler(), LogisticRegression(tol=1e-10)).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), converged.predict_proba(X), atol=1e-4)
    assert ours[-1].alpha_ == pytest.approx(1 / len(y))
