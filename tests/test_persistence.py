"""Saving and loading: pickle and skops, fitted estimators and pipelines."""

import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier, TanhLogisticClassifier

sio = pytest.importorskip("skops.io")

ESTIMATORS = [
    lambda: BCELogisticClassifier(),
    lambda: TanhLogisticClassifier(solver="lbfgs", max_iter=50),
    lambda: MLPSoftmaxClassifier((8,), max_iter=20, random_state=0),
]


def _data(n_classes):
    X, y = (load_iris if n_classes == 3 else load_breast_cancer)(return_X_y=True)
    return StandardScaler().fit_transform(X)[::3], y[::3]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("make", ESTIMATORS)
def test_skops_round_trip_is_bit_identical_and_trusts_only_our_classes(make, n_classes):
    X, y = _data(n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe = make_pipeline(StandardScaler(), make()).fit(X, y)
    data = sio.dumps(pipe)
    untrusted = sio.get_untrusted_types(data=data)
    assert untrusted == [f"{type(pipe[-1]).__module__}.{type(pipe[-1]).__name__}"]
    loaded = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


@pytest.mark.parametrize("save", ["pickle", "skops"])
def test_partial_fit_after_loading_continues_exactly(save):
    X, y = _data(3)
    est = MLPSoftmaxClassifier((8,), random_state=0)
    est.partial_fit(X, y, classes=np.unique(y))
    if save == "pickle":
        loaded = pickle.loads(pickle.dumps(est))
    else:
        data = sio.dumps(est)
        loaded = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_warm_start_after_pickle_continues_exactly():
    X, y = _data(2)
    est = TanhLogisticClassifier(solver="gd", max_iter=5, warm_start=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
        loaded = pickle.loads(pickle.dumps(est))
        est.fit(X, y)
        loaded.fit(X, y)
    np.testing.assert_array_equal(loaded.coef_, est.coef_)


def test_read_only_and_pandas_sample_weights_make_no_torch_warning():
    pd = pytest.importorskip("pandas")
    X, y = _data(2)
    weight = np.linspace(0.5, 1.5, len(y))
    weight.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        a = BCELogisticClassifier().fit(X, y, sample_weight=weight)
        b = BCELogisticClassifier().fit(X, y, sample_weight=pd.Series(weight))
    np.testing.assert_array_equal(a.coef_, b.coef_)
