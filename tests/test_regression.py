"""The regressors: optima against scikit-learn and scipy, shapes, bad input, drop-in use."""

import pickle

import numpy as np
import pytest
import torch
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import PoissonRegressor, QuantileRegressor, Ridge
from sklearn.metrics import mean_pinball_loss
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_autodiff import AutodiffRegressor, LinearAutodiffRegressor, MLPAutodiffRegressor
from sklearn_autodiff.losses import weighted_mean


def _data(n=300, d=4, seed=0, k=None):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=(d,) if k is None else (d, k))
    y = X @ w + 0.5 + rng.standard_t(3, size=(n,) if k is None else (n, k))
    return X, y


@pytest.mark.parametrize("alpha", [0.0, 0.01, 1.0])
def test_squared_error_is_ridge(alpha):
    X, y = _data()
    ours = LinearAutodiffRegressor(alpha=alpha).fit(X, y)
    ridge = Ridge(alpha=alpha * len(y)).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ridge.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, ridge.intercept_, rtol=1e-10, atol=1e-12)
    assert ours.coef_.shape == (4,) and np.ndim(ours.intercept_) == 0
    assert ours.solver_ == "newton"


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_poisson_is_poisson_regressor(alpha):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    y = rng.poisson(np.exp(X @ [0.3, -0.2, 0.1] + 0.4))
    ours = LinearAutodiffRegressor("poisson", alpha=alpha, tol=1e-10).fit(X, y)
    ref = PoissonRegressor(alpha=alpha, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), rtol=1e-6)


@pytest.mark.parametrize("quantile", [0.1, 0.5, 0.9])
def test_quantile_is_quantile_regressor(quantile):
    X, y = _data(n=400)
    ours = LinearAutodiffRegressor("quantile", alpha=0.0, quantile=quantile).fit(X, y)
    ref = QuantileRegressor(alpha=0.0, quantile=quantile).fit(X, y)
    np.testing.assert_allclose(ours.predict(X), ref.predict(X), atol=1e-3 * y.std())
    ours_loss = mean_pinball_loss(y, ours.predict(X), alpha=quantile)
    assert ours_loss <= mean_pinball_loss(y, ref.predict(X), alpha=quantile) * (1 + 1e-8)


@pytest.mark.parametrize("epsilon", [0.5, 1.35])
def test_huber_is_the_direct_minimum(epsilon):
    X, y = _data()
    alpha = 0.01
    ours = LinearAutodiffRegressor("huber", alpha=alpha, epsilon=epsilon).fit(X, y)

    def objective(theta):
        r = y - X @ theta[:-1] - theta[-1]
        a = np.abs(r)
        huber = np.where(a <= epsilon, 0.5 * r**2, epsilon * (a - 0.5 * epsilon))
        return huber.mean() + 0.5 * alpha * theta[:-1] @ theta[:-1]

    ref = minimize(objective, np.zeros(X.shape[1] + 1), method="BFGS", options={"gtol": 1e-12})
    np.testing.assert_allclose(ours.coef_, ref.x[:-1], atol=1e-5)
    assert objective(np.r_[ours.coef_, ours.intercept_]) <= ref.fun + 1e-12


@pytest.mark.parametrize("loss", ["squared_error", "huber", "quantile"])
def test_multi_output_shapes(loss):
    X, Y = _data(k=3)
    reg = LinearAutodiffRegressor(loss).fit(X, Y)
    assert reg.predict(X).shape == (300, 3) and reg.coef_.shape == (3, 4)
    assert reg.n_outputs_ == 3
    single = LinearAutodiffRegressor(loss).fit(X, Y[:, 1])
    np.testing.assert_allclose(reg.coef_[1], single.coef_, atol=1e-6)
    column = LinearAutodiffRegressor(loss).fit(X, Y[:, 1:2])
    assert column.predict(X).shape == (300, 1)
    assert single.predict(X).shape == (300,)


def test_poisson_refuses_several_columns():
    X, Y = _data(k=2)
    with pytest.raises(ValueError, match="one target column"):
        LinearAutodiffRegressor("poisson").fit(X, np.abs(Y))


def test_multi_output_squared_error_is_ridge():
    X, Y = _data(k=2)
    ours = LinearAutodiffRegressor(alpha=0.01).fit(X, Y)
    ridge = Ridge(alpha=0.01 * len(Y)).fit(X, Y)
    np.testing.assert_allclose(ours.coef_, ridge.coef_, rtol=1e-9)


def test_predictions_keep_the_fitted_link_after_set_params():
    X, y = _data()
    reg = LinearAutodiffRegressor("poisson").fit(X, np.abs(y))
    before = reg.predict(X)
    reg.set_params(loss="squared_error")
    np.testing.assert_array_equal(reg.predict(X), before)
    assert np.all(before > 0)


def test_float32_predictions_and_score():
    X, y = _data()
    reg = LinearAutodiffRegressor().fit(X.astype(np.float32), y)
    assert reg.predict(X.astype(np.float32)).dtype == np.float32
    assert reg.score(X, y) > 0.5


def test_mlp_regressor_learns_a_curve():
    X = np.linspace(-2, 2, 400).reshape(-1, 1)
    y = np.sin(2 * X).ravel()
    reg = MLPAutodiffRegressor((32,), activation="tanh", solver="lbfgs", random_state=0,
                               max_iter=500).fit(X, y)
    assert reg.score(X, y) > 0.99
    assert len(reg.coefs_) == 2 and reg.coefs_[0].shape == (1, 32)


# A short lbfgs fit (max_iter=30): the test checks the validation scores, not convergence.
@pytest.mark.filterwarnings(
    "ignore:MLPAutodiffRegressor reached max_iter:sklearn.exceptions.ConvergenceWarning"
)
@pytest.mark.parametrize("scoring", [None, "loss", "neg_mean_absolute_error"])
def test_early_stopping_scores(scoring):
    X, y = _data(n=400)
    reg = MLPAutodiffRegressor((16,), early_stopping=True, scoring=scoring, random_state=0,
                               solver="lbfgs", max_iter=30).fit(X, y)
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    if scoring is None:  # R² of the held-out rows
        assert 0.3 < reg.best_validation_score_ <= 1
    else:
        assert reg.best_validation_score_ < 0


def test_partial_fit_and_warm_start_continue():
    X, y = _data()
    reg = MLPAutodiffRegressor((8,), random_state=0)
    for _ in range(3):
        reg.partial_fit(X, y)
    assert reg.n_iter_ == 3
    warm = LinearAutodiffRegressor(warm_start=True, solver="lbfgs").fit(X, y)
    coef = warm.coef_.copy()
    warm.fit(X, y)
    np.testing.assert_allclose(warm.coef_, coef, atol=1e-4)
    with pytest.raises(ValueError, match="column"):
        reg.partial_fit(X, np.c_[y, y])


@pytest.mark.parametrize(
    "params, y_change, match",
    [
        ({"loss": "poisson"}, lambda y: y - 10, "non-negative"),
        ({"loss": "poisson"}, lambda y: 0 * y, "positive sum"),
        ({}, lambda y: np.where(np.arange(len(y)) == 3, np.nan, y), "NaN"),
        ({}, lambda y: np.where(np.arange(len(y)) == 3, np.inf, y), "infinity"),
    ],
)
def test_bad_targets_keep_the_fitted_model(params, y_change, match):
    X, y = _data()
    y = np.abs(y)
    reg = LinearAutodiffRegressor(**params).fit(X, y)
    before = reg.coef_.copy()
    with pytest.raises(ValueError, match=match):
        reg.fit(X, y_change(y))
    np.testing.assert_array_equal(reg.coef_, before)


@pytest.mark.parametrize("params", [{"quantile": 0.0}, {"quantile": 1.0}, {"epsilon": 0.0},
                                    {"epsilon": -1.0}, {"loss": "absolute"}])
def test_bad_parameters(params):
    X, y = _data()
    with pytest.raises(InvalidParameterError):
        LinearAutodiffRegressor(**params).fit(X, y)


def test_drop_in_pipeline_grid_search_and_target_transform():
    X, y = _data()
    pipe = make_pipeline(StandardScaler(), LinearAutodiffRegressor())
    search = GridSearchCV(pipe, {"linearautodiffregressor__alpha": [1e-4, 1e-1]}, cv=3,
                          scoring="neg_mean_squared_error").fit(X, y)
    assert search.best_score_ < 0
    scores = cross_val_score(LinearAutodiffRegressor(loss="huber"), X, y, cv=3)
    assert np.all(scores > 0.5)
    wrapped = TransformedTargetRegressor(LinearAutodiffRegressor(), func=np.arcsinh,
                                         inverse_func=np.sinh).fit(X, y)
    assert wrapped.predict(X).shape == y.shape
    reg = LinearAutodiffRegressor().fit(X, y)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(reg)).predict(X), reg.predict(X))
    assert clone(reg).get_params() == reg.get_params()


# A 5-iteration fit is enough to round-trip: the test compares predictions, not convergence.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_skops_round_trip_trusts_only_our_types():
    sio = pytest.importorskip("skops.io")
    X, y = _data()
    for reg in (LinearAutodiffRegressor("poisson").fit(X, np.abs(y)),
                MLPAutodiffRegressor((8,), max_iter=5, random_state=0).fit(X, y)):
        data = sio.dumps(reg)
        untrusted = sio.get_untrusted_types(data=data)
        assert all(name.startswith("sklearn_autodiff.") for name in untrusted)
        loaded = sio.loads(data, trusted=untrusted)
        np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))


class LogCoshNet(AutodiffRegressor):
    """A user's regressor with its own loss (log-cosh, robust and smooth), in a few lines."""

    def build_module(self, n_features, n_outputs):
        return torch.nn.Linear(n_features, n_outputs)

    def loss(self, output, target, sample_weight=None):
        r = target - output
        return weighted_mean(r.abs() + torch.nn.functional.softplus(-2 * r.abs()) - np.log(2),
                             sample_weight)


def test_own_regressor_with_a_custom_loss():
    X, y = _data()
    reg = LogCoshNet(solver="lbfgs", random_state=0).fit(X, y)
    r = y - reg.predict(X)
    # The optimum of the mean log-cosh: the residuals' tanh sums to zero.
    assert abs(np.tanh(r).mean()) < 1e-4
    assert reg.score(X, y) > 0.5


# scikit-learn's checks fit with tiny max_iter and degenerate data: ConvergenceWarning is theirs.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# Its read-only memmap checks reach torch.as_tensor, which warns on non-writable arrays.
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable:UserWarning")
@parametrize_with_checks([LinearAutodiffRegressor(), LinearAutodiffRegressor(loss="huber"),
                          LinearAutodiffRegressor(loss="quantile"), LinearAutodiffRegressor(loss="poisson"),
                          LogCoshNet()])
def test_linear_regressors_pass_every_check(estimator, check):
    check(estimator)


# scikit-learn's checks fit with tiny max_iter and degenerate data: ConvergenceWarning is theirs.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# Its read-only memmap checks reach torch.as_tensor, which warns on non-writable arrays.
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable:UserWarning")
@parametrize_with_checks([MLPAutodiffRegressor()])
def test_mlp_regressors_pass_every_check(estimator, check):
    # No expected failure: scikit-learn marks the sample-weight equivalence
    # checks for its own MLPRegressor, which this one passes.
    check(estimator)
