"""Reliability, round three: a last step that overflows, and messages about y."""

import warnings

import numpy as np
import pandas as pd
import pytest

from sklearn_autodiff import (
    BCELogisticClassifier,
    MLPAutodiffRegressor,
    MLPSoftmaxClassifier,
    TanhLogisticClassifier,
)

RNG = np.random.default_rng(0)
X = RNG.normal(size=(100, 3))
Y = (X[:, 0] > 0).astype(int)

DIVERGING = [
    lambda: TanhLogisticClassifier(solver="gd", learning_rate_init=1e300),
    lambda: MLPSoftmaxClassifier((4,), solver="sgd", early_stopping=True,
                                 learning_rate_init=1e300, random_state=0),
    lambda: MLPSoftmaxClassifier((4,), solver="adam", learning_rate_init=1e300, random_state=0),
    lambda: BCELogisticClassifier(solver="sgd", learning_rate_init=1e300, random_state=0),
]


@pytest.mark.parametrize("make", DIVERGING)
def test_a_partial_fit_whose_only_step_overflows_is_the_divergence_error(make):
    est = make()
    with pytest.raises(ValueError, match="Training diverged: the loss became (inf|nan) after"):
        est.partial_fit(X, Y, classes=[0, 1])
    assert not hasattr(est, "module_") and not hasattr(est, "n_features_in_")


@pytest.mark.parametrize("make", DIVERGING)
def test_an_overflowing_step_after_a_good_fit_keeps_the_good_fit(make):
    est = make().set_params(learning_rate_init=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.partial_fit(X, Y, classes=[0, 1])
    proba = est.predict_proba(X)
    est.set_params(learning_rate_init=1e300)
    with pytest.raises(ValueError, match="Training diverged"):
        est.partial_fit(X, Y)
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    assert np.isfinite(proba).all()


def test_a_regressor_whose_last_step_overflows():
    with pytest.raises(ValueError, match="Training diverged"):
        MLPAutodiffRegressor((4,), solver="sgd", learning_rate_init=1e300).partial_fit(X, X[:, 0])


@pytest.mark.parametrize(
    "y, match",
    [
        (np.array([0, "a"] * 50, dtype=object),
         r"y mixes label types int and str \(for example 0, 'a'\)"),
        (["a", "b"] * 49 + ["a", None], r"y contains NaN or None .*the first, None, at index 99"),
        (np.array(["a", "b"] * 49 + ["a", np.nan], dtype=object),
         r"y contains NaN or None .*the first, nan, at index 99"),
        (pd.Series(["a", "b"] * 49 + [np.nan, "b"]), "a missing label"),
    ],
)
def test_bad_labels_are_named(y, match):
    est = BCELogisticClassifier().fit(X, Y)
    proba = est.predict_proba(X)
    with pytest.raises(ValueError, match=match):
        est.fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), proba)


@pytest.mark.parametrize(
    "y", [pd.Series(Y, dtype="Int64"), pd.Series(np.where(Y, "yes", "no"), dtype="category"),
          np.where(Y, "yes", "no").astype(object), [bool(v) for v in Y]],
)
def test_good_labels_of_odd_types_still_fit(y):
    assert BCELogisticClassifier().fit(X, y).score(X, y) > 0.9
