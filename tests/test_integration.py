"""Drop-in behaviour: inputs, outputs, persistence, parallelism, callbacks, tools.

Every test runs over the three estimators unless it is about one of them.
"""

import os
import pickle
import signal
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from fit_callbacks import EpochCallback, StopAfter
from sklearn import clone, config_context
from sklearn.base import is_classifier
from sklearn.calibration import CalibratedClassifierCV
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import make_classification
from sklearn.ensemble import StackingClassifier, VotingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.inspection import DecisionBoundaryDisplay, permutation_importance
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sklearn_autodiff._estimator as base_module
from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier, TanhLogisticClassifier


def _small(Estimator, **params):
    """A quick configuration of each estimator."""
    if Estimator is MLPSoftmaxClassifier:
        params = {"hidden_layer_sizes": (8,), "learning_rate_init": 1e-2, "max_iter": 50, **params}
    return Estimator(random_state=0, **params)


ESTIMATORS = [TanhLogisticClassifier, BCELogisticClassifier, MLPSoftmaxClassifier]


@pytest.fixture(autouse=True)
def _quiet_convergence():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(200, 6, n_informative=4, random_state=0)
    return X, y


# ------------------------------------------------------------------ inputs


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_numpy_dtypes_orders_and_readonly_memmaps(Estimator, data, tmp_path):
    X, y = data
    reference = _small(Estimator).fit(X, y).predict_proba(X)
    fortran = _small(Estimator).fit(np.asfortranarray(X), y).predict_proba(np.asfortranarray(X))
    np.testing.assert_allclose(fortran, reference, rtol=1e-10)
    path = tmp_path / "X.npy"
    np.save(path, X)
    memmap = np.load(path, mmap_mode="r")
    np.testing.assert_allclose(_small(Estimator).fit(memmap, y).predict_proba(memmap), reference, rtol=1e-10)
    for dtype in (np.float16, np.float32, np.int32):
        proba = _small(Estimator).fit(X.astype(dtype), y).predict_proba(X.astype(dtype))
        assert proba.shape == reference.shape and np.isfinite(proba).all()
    as_list = _small(Estimator).fit(X.tolist(), y.tolist()).predict_proba(X.tolist())
    np.testing.assert_allclose(as_list, reference, rtol=1e-10)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_pandas_feature_names(Estimator, data):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = _small(Estimator).fit(frame, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, frame.columns)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = clf.predict_proba(X)
    np.testing.assert_allclose(clf.predict_proba(frame), from_array, rtol=1e-12)
    renamed = frame.rename(columns={"f0": "other"})
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(renamed)
    with pytest.warns(UserWarning, match="feature names"):
        _small(Estimator).fit(X, y).predict(frame)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 7]),
        np.array(["no", "yes"]),
        np.array([False, True]),
        pd.Series(["a", "b"]),
        pd.Categorical(["cold", "hot"]),
    ],
    ids=["int", "str", "bool", "series", "categorical"],
)
def test_label_types(labels, data):
    X, y = data
    y_labels = np.asarray(labels)[y]
    if isinstance(labels, pd.Series):
        y_labels = pd.Series(y_labels)
    elif isinstance(labels, pd.Categorical):
        y_labels = pd.Categorical(y_labels)
    clf = BCELogisticClassifier().fit(X, y_labels)
    assert set(np.asarray(clf.classes_).tolist()) == set(np.asarray(labels).tolist())
    assert clf.score(X, y_labels) > 0.7


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input_matches_dense(Estimator, fmt, data):
    X, y = data
    X = np.where(np.abs(X) > 1, X, 0.0)
    dense = _small(Estimator, solver="gd", learning_rate_init=0.1).fit(X, y)
    sparse = _small(Estimator, solver="gd", learning_rate_init=0.1).fit(sp.csr_matrix(X).asformat(fmt), y)
    np.testing.assert_allclose(
        sparse.predict_proba(sp.csr_matrix(X).asformat(fmt)), dense.predict_proba(X), rtol=1e-8, atol=1e-10
    )


def test_sparse_stays_sparse_on_the_device(monkeypatch):
    # A TF-IDF-like matrix with 100k columns: dense it would take 1.6 GB.
    X = sp.random(2000, 100_000, density=2e-4, format="csr", random_state=0, dtype=np.float64)
    y = np.arange(2000) % 2
    seen = []
    original = base_module.train

    def spy(solver, *args, **kwargs):
        seen.append(solver.problem.X.layout)
        return original(solver, *args, **kwargs)

    monkeypatch.setattr(base_module, "train", spy)
    clf = BCELogisticClassifier(solver="adam", max_iter=2).fit(X, y)
    assert seen == [torch.sparse_coo]
    assert clf.predict_proba(X[:10]).shape == (10, 2)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_torch_tensor_input_is_used_in_place(Estimator, data, monkeypatch):
    X, y = data
    X_t = torch.tensor(X)
    seen = []
    original = base_module.train

    def spy(solver, *args, **kwargs):
        problem = getattr(solver, "problem", None) or solver.first.problem
        seen.append(problem.X.data_ptr())
        return original(solver, *args, **kwargs)

    monkeypatch.setattr(base_module, "train", spy)
    from_tensor = _small(Estimator).fit(X_t, torch.tensor(y))
    assert seen == [X_t.data_ptr()]  # no copy, no trip through numpy
    from_numpy = _small(Estimator).fit(X, y)
    np.testing.assert_allclose(from_tensor.predict_proba(X_t), from_numpy.predict_proba(X), rtol=1e-10)
    assert isinstance(from_tensor.predict_proba(X_t), np.ndarray)  # numpy by default


def test_bad_tensor_inputs(data):
    X, y = data
    with pytest.raises(ValueError, match="NaN or infinity"):
        BCELogisticClassifier().fit(torch.tensor(np.where(X > 1, np.nan, X)), y)
    with pytest.raises(ValueError, match="2D"):
        BCELogisticClassifier().fit(torch.tensor(X)[:, :, None], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        BCELogisticClassifier().fit(torch.tensor(X), y[:-1])
    clf = BCELogisticClassifier().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(torch.tensor(X[:, :3]))


# ----------------------------------------------------------------- outputs


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_array_api_dispatch_gives_tensors_out(Estimator, data):
    X, y = data
    X_t, y_t = torch.tensor(X), torch.tensor(y)
    with config_context(array_api_dispatch=True):
        clf = _small(Estimator).fit(X_t, y_t)
        for method in ("predict", "predict_proba", "predict_log_proba", "decision_function"):
            out = getattr(clf, method)(X_t)
            assert isinstance(out, torch.Tensor), method
            assert out.device == X_t.device
        assert isinstance(clf.score(X_t, y_t), float)
    reference = _small(Estimator).fit(X, y)
    with config_context(array_api_dispatch=True):
        np.testing.assert_allclose(clf.predict_proba(X_t).numpy(), reference.predict_proba(X), rtol=1e-10)
    # Outside the context, numpy again.
    assert isinstance(clf.predict_proba(X_t), np.ndarray)


def test_predict_proba_memory_is_bounded_on_two_million_rows():
    status = "/proc/self/status"
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs Linux /proc to read the peak resident memory")
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2_000_000, 50), dtype=np.float32)
    clf = BCELogisticClassifier().fit(X[:2000], (X[:2000, 0] > 0).astype(int))

    def kib(field):
        with open(status) as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field))

    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak (VmHWM) to the current RSS
    except OSError:
        pytest.skip("cannot reset the peak resident memory here")
    before = kib("VmRSS:")
    proba = clf.predict_proba(X)
    extra_mib = (kib("VmHWM:") - before) / 1024 - proba.nbytes / 2**20
    assert proba.shape == (2_000_000, 2)
    assert extra_mib < 300, f"{extra_mib:.0f} MiB beyond input and output"


# ------------------------------------------------------------- persistence


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_pickle_and_joblib_round_trip_on_cpu_tensors(Estimator, data, tmp_path):
    X, y = data
    clf = _small(Estimator).fit(X, y)
    loaded = pickle.loads(pickle.dumps(clf))
    assert all(p.device.type == "cpu" for p in loaded.module_.parameters())
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    joblib.dump(clf, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib")
    restored.set_params(device="cpu")
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    assert not hasattr(twin, "module_")


# -------------------------------------------------------------- parallelism


class _ThreadRecorder(BCELogisticClassifier):
    """Records how many threads torch may use inside fit."""

    def fit(self, X, y, sample_weight=None):
        super().fit(X, y, sample_weight)
        self.torch_threads_ = torch.get_num_threads()
        return self


def test_grid_search_with_two_jobs_does_not_oversubscribe(data):
    X, y = data
    threads_before = torch.get_num_threads()
    search = GridSearchCV(_ThreadRecorder(), {"alpha": [1e-3, 1e-2]}, cv=2, n_jobs=2)
    search.fit(X, y)
    # joblib limits each of the 2 workers to cpu_count // 2 threads, and fit
    # never raises torch's own thread count.
    assert search.best_estimator_.torch_threads_ <= threads_before
    assert torch.get_num_threads() == threads_before
    from joblib import Parallel, delayed

    def threads_in_worker():
        return _ThreadRecorder().fit(X, y).torch_threads_

    counts = Parallel(n_jobs=2)(delayed(threads_in_worker)() for _ in range(2))
    assert max(counts) <= max(1, (os.cpu_count() or 2) // 2)


# --------------------------------------------------------------- callbacks


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_scoring_monitor_logs_one_score_per_epoch(Estimator, data):
    X, y = data
    monitor = ScoringMonitor(scoring="accuracy")
    clf = _small(Estimator, solver="gd", max_iter=7, tol=0.0).set_callbacks(monitor)
    clf.fit(X, y)
    rows = monitor.get_logs().data
    epochs = [r for r in rows if r["task_name"] == "epoch"]
    assert len(epochs) == clf.n_iter_ == 7
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in epochs)
    assert not hasattr(clf, "_callback_fit_ctx")  # torn down


def test_progress_bar_and_monitor_inside_grid_search(data):
    pytest.importorskip("rich")
    X, y = data
    monitor = ScoringMonitor(scoring="accuracy")
    estimator = MLPSoftmaxClassifier((4,), max_iter=3, random_state=0).set_callbacks(monitor)
    search = GridSearchCV(estimator, {"alpha": [1e-4, 1e-2]}, cv=2).set_callbacks(ProgressBar())
    search.fit(X, y)
    rows = monitor.get_logs().data
    # 2 candidates x 2 splits + the refit, each with 3 epochs.
    assert sum(r["task_name"] == "epoch" for r in rows) == 5 * 3


def test_callback_can_stop_training(data):
    X, y = data

    clf = MLPSoftmaxClassifier((4,), max_iter=50, tol=0, random_state=0).set_callbacks(StopAfter(2))
    clf.fit(X, y)
    assert clf.n_iter_ == 2


def test_verbose_prints_one_line_per_epoch(data, capsys):
    X, y = data
    MLPSoftmaxClassifier((4,), max_iter=4, tol=0, verbose=1, early_stopping=True, random_state=0).fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Iteration")]
    assert len(lines) == 4
    assert "loss" in lines[0] and "validation score" in lines[0] and "time" in lines[0]


# ---------------------------------------------------------------- interrupt


class _CtrlCAtEpoch(EpochCallback):
    """A callback that sends the process SIGINT (Ctrl-C) at the end of an epoch."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch):
        if epoch == self.epoch:
            signal.raise_signal(signal.SIGINT)
        return False


@pytest.mark.skipif(not hasattr(signal, "raise_signal"), reason="needs signal.raise_signal")
@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("early_stopping", [False, True])
def test_ctrl_c_keeps_a_usable_estimator(Estimator, early_stopping, data):
    X, y = data
    clf = _small(Estimator, solver="sgd", learning_rate_init=0.1, max_iter=1000, tol=0.0, early_stopping=early_stopping)
    clf.set_callbacks(_CtrlCAtEpoch(5))
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    # The interrupt arrived after epoch 5: training stopped there, the
    # estimator is fitted and predicts.
    assert clf.n_iter_ in (5, 6)
    assert clf.score(X, y) > 0.6
    assert np.isfinite(clf.predict_proba(X)).all()
    if early_stopping:
        assert clf.best_validation_score_ == max(clf.validation_scores_)


# ------------------------------------------------------- scikit-learn tools


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_works_with_scikit_learn_tools(Estimator, data):
    X, y = data
    clf = _small(Estimator)
    assert is_classifier(clf)
    assert cross_val_score(make_pipeline(StandardScaler(), clf), X, y, cv=3).mean() > 0.7
    calibrated = CalibratedClassifierCV(clf, cv=3).fit(X, y)
    np.testing.assert_allclose(calibrated.predict_proba(X).sum(axis=1), 1.0)
    importances = permutation_importance(clf.fit(X, y), X, y, n_repeats=2, random_state=0)
    assert importances.importances_mean.shape == (X.shape[1],)
    voting = VotingClassifier([("a", clf), ("b", _small(BCELogisticClassifier))], voting="soft").fit(X, y)
    assert voting.score(X, y) > 0.7
    stacking = StackingClassifier([("a", clf)], final_estimator=_small(BCELogisticClassifier), cv=3).fit(X, y)
    assert stacking.score(X, y) > 0.7


def test_decision_boundary_display(data):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    X, y = data
    clf = MLPSoftmaxClassifier((8,), random_state=0).fit(X[:, :2], y)
    display = DecisionBoundaryDisplay.from_estimator(clf, X[:, :2], response_method="predict_proba")
    assert display.response.shape == display.xx0.shape
