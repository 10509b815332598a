"""ONNX export (sklearn_autodiff.onnx): onnxruntime against predict/predict_proba."""

import ast
import importlib
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from skl2onnx import to_onnx  # noqa: E402

import sklearn_autodiff.onnx  # noqa: E402, F401  (registers the converters)
from sklearn_autodiff import (  # noqa: E402
    BCELogisticClassifier,
    MLPSoftmaxClassifier,
    TanhLogisticClassifier,
)

TOL = 1e-4

ESTIMATORS = {
    "bce": lambda: BCELogisticClassifier(),
    "tanh": lambda: TanhLogisticClassifier(),
    # Dropout is training-time only, so it must not show in the export.
    "mlp": lambda: MLPSoftmaxClassifier(
        (8,), dropout=0.1, solver="adam", learning_rate_init=0.01, max_iter=30,
        random_state=0,
    ),
}


def _data(task):
    if task == "binary":
        X, y = load_breast_cancer(return_X_y=True)
        return X[::2], y[::2]
    return load_iris(return_X_y=True)


def _fit(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, y)


def _session(model, X_sample, **options):
    onx = to_onnx(model, X_sample, options=options or None)
    return ort.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])


def _run(model, X, **options):
    """(labels, probabilities) from onnxruntime, the graph built for X's dtype."""
    session = _session(model, X[:1], **options)
    return session.run(None, {session.get_inputs()[0].name: X})


_FITTED = {}


def _pipeline(name, task, **params):
    key = (name, task, tuple(sorted(params.items())))
    if key not in _FITTED:
        X, y = _data(task)
        estimator = ESTIMATORS[name]().set_params(**params)
        _FITTED[key] = _fit(make_pipeline(StandardScaler(), estimator), X, y)
    return _FITTED[key]


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_pipeline_matches_predict_proba(name, task, record_property):
    pipe = _pipeline(name, task)
    X = _data(task)[0].astype(np.float32)
    labels, proba = _run(pipe, X, zipmap=False)
    expected = pipe.predict_proba(X)
    assert proba.dtype == np.float32 and proba.shape == expected.shape
    diff = float(np.abs(proba - expected).max())
    record_property("max_abs_proba_diff", diff)
    print(f"{name} {task}: max |ONNX - predict_proba| = {diff:.2e}")
    assert diff < TOL
    np.testing.assert_array_equal(labels, pipe.predict(X))


@pytest.mark.parametrize("task", ["binary", "multiclass"])
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_reject_option_is_in_the_graph(name, task):
    pipe = _pipeline(name, task)
    X = _data(task)[0].astype(np.float32)
    # A threshold that rejects 10-40% of the samples, in the middle of the
    # widest gap between confidences so float32 rounding cannot flip one.
    confidence = np.sort(pipe.predict_proba(X).max(axis=1))
    lo, hi = int(0.1 * len(confidence)), int(0.4 * len(confidence))
    i = lo + int(np.argmax(np.diff(confidence[lo:hi + 1])))
    threshold = float((confidence[i] + confidence[i + 1]) / 2)
    pipe.set_params(**{pipe.steps[-1][0] + "__reject_threshold": threshold})
    try:
        labels, _ = _run(pipe, X, zipmap=False)
        expected = pipe.predict(X)
    finally:
        pipe.set_params(**{pipe.steps[-1][0] + "__reject_threshold": None})
    assert (expected == -1).sum() > 0  # the default reject label
    np.testing.assert_array_equal(labels, expected)


def test_string_labels_and_reject_label():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])
    for y_str in (names[y], names[y].astype(object)):
        clf = _fit(
            MLPSoftmaxClassifier((6,), solver="lbfgs", max_iter=30, random_state=0,
                                 reject_threshold=0.9),
            X, y_str,
        )
        Xf = X.astype(np.float32)
        labels, proba = _run(clf, Xf, zipmap=False)
        expected = clf.predict(Xf)
        assert "reject" in set(expected.tolist())
        np.testing.assert_array_equal(labels, expected.astype(str))
        np.testing.assert_allclose(proba, clf.predict_proba(Xf), atol=TOL)

    # Labels -1/+1: the default reject label is 0; an explicit one is used as is.
    y_pm = np.where(y == 1, 1, -1)
    for reject_label in (None, 7):
        clf = TanhLogisticClassifier(reject_threshold=0.95, reject_label=reject_label)
        clf = _fit(clf, X, y_pm)
        Xf = X.astype(np.float32)
        labels, _ = _run(clf, Xf, zipmap=False)
        expected = clf.predict(Xf)
        assert (expected == (0 if reject_label is None else 7)).any()
        np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize("zipmap", [True, "columns"])
def test_zipmap_outputs(zipmap):
    pipe = _pipeline("bce", "multiclass")
    X = _data("multiclass")[0].astype(np.float32)
    session = _session(pipe, X[:1], zipmap=zipmap)
    labels, *probabilities = session.run(None, {"X": X})
    expected = pipe.predict_proba(X)
    if zipmap is True:
        proba = np.array([[row[c] for c in pipe.classes_] for row in probabilities[0]])
    else:
        proba = np.column_stack(probabilities)
    np.testing.assert_allclose(proba, expected, atol=TOL)
    np.testing.assert_array_equal(labels, pipe.predict(X))


@pytest.mark.parametrize("fit_dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_fit_dtype_and_float64_graph(name, fit_dtype):
    X, y = _data("multiclass")
    clf = _fit(ESTIMATORS[name]().set_params(dtype=fit_dtype), X, y)
    assert str(clf.module_dtype_) == f"torch.{fit_dtype}"
    Xf = X.astype(np.float32)
    labels, proba = _run(clf, Xf, zipmap=False)
    np.testing.assert_allclose(proba, clf.predict_proba(Xf), atol=TOL)
    np.testing.assert_array_equal(labels, clf.predict(Xf))
    # A float64 sample gives a float64 graph.
    labels, proba = _run(clf, X, zipmap=False)
    assert proba.dtype == np.float64
    atol = 1e-12 if fit_dtype == "float64" else TOL
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=atol)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
def test_mlp_activations_and_depth(activation):
    X, y = _data("multiclass")
    clf = _fit(
        MLPSoftmaxClassifier((5, 4), activation=activation, solver="lbfgs", max_iter=20,
                             random_state=0),
        X, y,
    )
    Xf = X.astype(np.float32)
    labels, proba = _run(clf, Xf, zipmap=False)
    np.testing.assert_allclose(proba, clf.predict_proba(Xf), atol=TOL)
    np.testing.assert_array_equal(labels, clf.predict(Xf))


def test_extreme_logits_stay_finite():
    # Far from the data the one-vs-rest sigmoids all underflow in float32;
    # the graph works in the log domain, so it still normalises.
    pipe = _pipeline("bce", "multiclass")
    X = np.array([[1e4, -1e4, 1e4, -1e4], [-1e4, 1e4, -1e4, 1e4]], dtype=np.float32)
    labels, proba = _run(pipe, X, zipmap=False)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba, pipe.predict_proba(X), atol=TOL)
    np.testing.assert_array_equal(labels, pipe.predict(X))


@pytest.mark.parametrize("opset", [13, 17])
def test_older_opsets(opset):
    # ReduceMax (of the reject option) changed its signature in opset 18.
    pipe = _pipeline("tanh", "multiclass")
    X = _data("multiclass")[0].astype(np.float32)
    threshold = 0.8
    pipe.set_params(tanhlogisticclassifier__reject_threshold=threshold)
    try:
        onx = to_onnx(pipe, X[:1], options={"zipmap": False}, target_opset=opset)
        session = ort.InferenceSession(
            onx.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        labels, _ = session.run(None, {"X": X})
        expected = pipe.predict(X)
    finally:
        pipe.set_params(tanhlogisticclassifier__reject_threshold=None)
    assert max(o.version for o in onx.opset_import if o.domain == "") == opset
    assert (expected == -1).any()
    np.testing.assert_array_equal(labels, expected)


def test_nocl_option_is_refused():
    pipe = _pipeline("bce", "binary")
    X = _data("binary")[0].astype(np.float32)
    with pytest.raises(ValueError, match="nocl"):
        to_onnx(pipe, X[:1], options={"nocl": True})


def test_package_does_not_import_skl2onnx():
    # Only sklearn_autodiff.onnx may import the optional packages.
    package = Path(sklearn_autodiff.__file__).parent
    for path in package.glob("*.py"):
        if path.name == "onnx.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                assert module.split(".")[0] not in {"skl2onnx", "onnx", "onnxruntime"}, path


def test_clear_import_error_without_skl2onnx(monkeypatch):
    monkeypatch.setitem(sys.modules, "skl2onnx", None)
    monkeypatch.delitem(sys.modules, "sklearn_autodiff.onnx")
    with pytest.raises(ImportError, match=r"pip install sklearn_autodiff\[onnx\]"):
        importlib.import_module("sklearn_autodiff.onnx")


# A short fit: the graph must match it, converged or not.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_graph_uses_the_fitted_network_not_changed_hyperparameters():
    X, y = load_iris(return_X_y=True)
    clf = MLPSoftmaxClassifier((16,), solver="lbfgs", max_iter=50, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    clf.set_params(activation="tanh", hidden_layer_sizes=(3, 3))  # not fitted: ignored
    onx = to_onnx(clf, X[:1].astype(np.float64), options={"zipmap": False})
    ops = {node.op_type for node in onx.graph.node}
    assert "Relu" in ops and "Tanh" not in ops
    _, proba = _run(clf, X.astype(np.float64), zipmap=False)
    np.testing.assert_allclose(proba, expected, atol=1e-10)


# A short fit: the graph must match it, converged or not.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("Estimator", [BCELogisticClassifier, TanhLogisticClassifier])
def test_linear_graph_reads_the_module_not_published_copies(Estimator):
    X, y = load_iris(return_X_y=True)
    clf = Estimator(solver="lbfgs", max_iter=50).fit(X, y)
    expected = clf.predict_proba(X)
    clf.coef_ = clf.coef_ * 0  # a published copy; predict_proba does not use it
    _, proba = _run(clf, X.astype(np.float64), zipmap=False)
    np.testing.assert_allclose(proba, expected, atol=1e-10)


@pytest.mark.parametrize("Estimator", [BCELogisticClassifier, TanhLogisticClassifier,
                                       MLPSoftmaxClassifier])
def test_unfitted_estimator_is_not_fitted_error(Estimator):
    with pytest.raises(NotFittedError):
        to_onnx(Estimator(), np.zeros((1, 4), np.float32))
