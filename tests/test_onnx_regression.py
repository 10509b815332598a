"""ONNX export of the regressors: onnxruntime's predictions equal predict."""

import numpy as np
import pytest

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from skl2onnx import to_onnx  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import sklearn_autodiff.onnx  # noqa: E402, F401
from sklearn_autodiff import LinearAutodiffRegressor, MLPAutodiffRegressor  # noqa: E402


def _run(model, X):
    onx = to_onnx(model, X[:1])
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})[0]


def _data(k=None):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    w = rng.normal(size=(4,) if k is None else (4, k))
    return X, X @ w * 0.3 + 1.0


@pytest.mark.parametrize(
    "model",
    [LinearAutodiffRegressor(), LinearAutodiffRegressor("poisson"),
     LinearAutodiffRegressor("huber"), LinearAutodiffRegressor("quantile", quantile=0.9),
     MLPAutodiffRegressor((8, 4), activation="tanh", solver="lbfgs", random_state=0,
                          max_iter=2000)],
    ids=lambda m: repr(m),
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_onnx_equals_predict(model, dtype):
    X, y = _data()
    y = np.exp(y * 0.5) if getattr(model, "loss", None) == "poisson" else y
    pipe = make_pipeline(StandardScaler(), model).fit(X, y)
    got = _run(pipe, X.astype(dtype))
    expected = pipe.predict(X.astype(dtype))
    np.testing.assert_allclose(got.ravel(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_multi_output_and_the_fitted_module_not_the_parameters():
    X, Y = _data(k=3)
    model = MLPAutodiffRegressor((8,), solver="lbfgs", random_state=0, max_iter=2000).fit(X, Y)
    model.set_params(activation="tanh", hidden_layer_sizes=(3,))  # after fit: not the graph's
    got = _run(model, X.astype(np.float32))
    assert got.shape == (200, 3)
    np.testing.assert_allclose(got, model.predict(X.astype(np.float32)), rtol=1e-4, atol=1e-4)


def test_an_unfitted_regressor_is_refused():
    X, _ = _data()
    with pytest.raises(NotFittedError):
        to_onnx(LinearAutodiffRegressor(), X[:1].astype(np.float32))


# A short fit: the graph must match it, converged or not.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_classifier_graph_follows_the_fitted_network_not_set_params():
    from sklearn.datasets import make_classification

    from sklearn_autodiff import MLPSoftmaxClassifier

    X, y = make_classification(200, 5, n_classes=3, n_informative=3, random_state=0)
    model = MLPSoftmaxClassifier((16,), solver="lbfgs", random_state=0, max_iter=300).fit(X, y)
    model.set_params(activation="tanh")
    onx = to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False})
    session = ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {"X": X.astype(np.float32)})
    np.testing.assert_allclose(proba, model.predict_proba(X), atol=1e-4)
    np.testing.assert_array_equal(labels, model.predict(X))


def test_an_unfitted_classifier_is_refused():
    from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier

    for model in (BCELogisticClassifier(), MLPSoftmaxClassifier()):
        with pytest.raises(NotFittedError):
            to_onnx(model, np.zeros((1, 3), np.float32))
