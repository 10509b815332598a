"""CUDA end to end (``pytest -m cuda``); every test skips cleanly without CUDA."""

import os
import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from sklearn import config_context
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier, TanhLogisticClassifier

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

ESTIMATORS = [TanhLogisticClassifier, BCELogisticClassifier, MLPSoftmaxClassifier]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(2000, 10, n_informative=6, n_classes=3, random_state=0)
    return X, y


def _make(Estimator, device, **params):
    if Estimator is MLPSoftmaxClassifier:
        params = {"hidden_layer_sizes": (32,), "learning_rate_init": 1e-2, "max_iter": 30, **params}
    return Estimator(device=device, random_state=0, **params)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("device", ["cuda", "auto"])
def test_fit_predict_on_cuda_matches_cpu(Estimator, device, data):
    X, y = data
    gpu = _make(Estimator, device).fit(X, y)
    assert next(gpu.module_.parameters()).device.type == "cuda"
    cpu = _make(Estimator, "cpu").fit(X, y)
    if Estimator is MLPSoftmaxClassifier:
        assert abs(gpu.score(X, y) - cpu.score(X, y)) <= 0.01
    else:
        np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_numpy_cpu_tensor_and_cuda_tensor_inputs(Estimator, data):
    X, y = data
    reference = _make(Estimator, "cuda").fit(X, y).predict_proba(X)
    for X_in in (torch.tensor(X), torch.tensor(X, device="cuda")):
        clf = _make(Estimator, "cuda").fit(X_in, torch.tensor(y, device=X_in.device))
        np.testing.assert_allclose(clf.predict_proba(X_in), reference, rtol=1e-10, atol=1e-12)


def test_x_crosses_to_the_gpu_once_per_fit(data):
    X, y = data
    clf = MLPSoftmaxClassifier((32,), batch_size=20, max_iter=10, tol=0, device="cuda", random_state=0)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        clf.fit(X, y)
        torch.cuda.synchronize()
    copies = [e for e in prof.events() if "Memcpy HtoD" in e.name]
    # 10 epochs x 100 batches: copying per batch would be >= 1000 copies.
    assert len(copies) < 50, len(copies)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_cuda_tensors_in_cuda_tensors_out(Estimator, data):
    X, y = data
    X_t, y_t = torch.tensor(X, device="cuda"), torch.tensor(y, device="cuda")
    with config_context(array_api_dispatch=True):
        clf = _make(Estimator, "cuda").fit(X_t, y_t)
        for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
            out = getattr(clf, method)(X_t)
            assert isinstance(out, torch.Tensor) and out.device.type == "cuda", method


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_cuda_model_loads_and_predicts_without_cuda(Estimator, data, tmp_path):
    X, y = data
    clf = _make(Estimator, "cuda").fit(X, y)
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(clf))
    np.save(tmp_path / "X.npy", X)
    expected = clf.predict_proba(X)
    np.save(tmp_path / "expected.npy", expected)
    script = (
        "import pickle, numpy as np, torch\n"
        "assert not torch.cuda.is_available()\n"
        f"clf = pickle.loads(open({str(path)!r}, 'rb').read())\n"
        f"X = np.load({str(tmp_path / 'X.npy')!r})\n"
        f"np.testing.assert_allclose(clf.predict_proba(X), np.load({str(tmp_path / 'expected.npy')!r}), rtol=1e-6)\n"
        "clf.set_params(device='cpu'); clf.predict(X)\n"
        "print('ok')\n"
    )
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert result.returncode == 0 and "ok" in result.stdout, result.stderr


def test_grid_search_over_a_cuda_estimator(data):
    X, y = data
    search = GridSearchCV(BCELogisticClassifier(device="cuda"), {"alpha": [1e-4, 1e-2]}, cv=2, n_jobs=1)
    search.fit(X, y)
    assert search.best_score_ > 0.6


def test_predicting_ten_million_rows_keeps_gpu_memory_bounded():
    rng = np.random.default_rng(0)
    X_small = rng.standard_normal((1000, 20), dtype=np.float32)
    clf = MLPSoftmaxClassifier((64,), max_iter=2, device="cuda", random_state=0)
    clf.fit(X_small, (X_small[:, 0] > 0).astype(int))
    X = rng.standard_normal((10_000_000, 20), dtype=np.float32)  # 800 MB on the host
    torch.cuda.reset_peak_memory_stats()
    start = torch.cuda.memory_allocated()
    proba = clf.predict_proba(X)
    peak_mib = (torch.cuda.max_memory_allocated() - start) / 2**20
    assert proba.shape == (10_000_000, 2)
    # Chunks of 65,536 rows: far below the 800 MB the whole input would take.
    assert peak_mib < 200, peak_mib
