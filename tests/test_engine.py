"""The engine's own promises: interrupts, bounded prediction memory, messages about y."""

import tracemalloc
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier
from sklearn_autodiff._data import PREDICT_CHUNK_ROWS


def _xy(n=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] > 0).astype(int)


class InterruptedFirstStep(MLPSoftmaxClassifier):
    """Ctrl-C arrives while the first epoch runs (when ``interrupt`` is set)."""

    interrupt = True

    def loss(self, output, target, sample_weight=None):
        # Past the contract's probe of two rows.
        if self.interrupt and torch.is_grad_enabled() and output.shape[0] > 2:
            raise KeyboardInterrupt
        return self.head.loss(output, target, sample_weight)


def test_interrupt_before_the_first_step_leaves_an_unfitted_estimator_unfitted():
    X, y = _xy()
    est = InterruptedFirstStep((4,), random_state=0)
    before = dict(est.__dict__)
    with pytest.warns(UserWarning, match="interrupted before the first iteration") as record:
        est.fit(X, y)
    assert record[0].filename == __file__
    assert est.__dict__ == before
    with pytest.raises(NotFittedError):
        est.predict(X)


def test_interrupt_before_the_first_step_keeps_the_fitted_model():
    X, y = _xy()
    est = InterruptedFirstStep((4,), solver="lbfgs", random_state=0)
    est.interrupt = False
    est.fit(X, y)  # a normal fit first
    est.interrupt = True
    proba = est.predict_proba(X)
    keys = set(est.__dict__)
    with pytest.warns(UserWarning, match="left as it was"):
        est.fit(X[:50], y[:50])
    assert set(est.__dict__) == keys
    np.testing.assert_array_equal(est.predict_proba(X), proba)


@pytest.mark.parametrize(
    "make",
    [lambda: BCELogisticClassifier(dtype="float32"),
     lambda: MLPSoftmaxClassifier((16,), solver="lbfgs", dtype="float32")],
)
def test_predict_memory_is_bounded_by_the_chunk(make):
    X, y = _xy(2000)
    est = make().fit(X.astype(np.float32), y)
    big = np.random.default_rng(1).normal(size=(6 * PREDICT_CHUNK_ROWS, 3)).astype(np.float32)
    est.predict(big[:10])  # warm up torch's allocator
    tracemalloc.start()
    labels = est.predict(big)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # Beyond its own output (8 bytes a label), predict holds one chunk's work:
    # no array of n float64 log-probabilities (16 bytes a row here) or n int64 indices.
    extra = peak - labels.nbytes
    assert extra < 3 * 16 * PREDICT_CHUNK_ROWS, extra


def test_labels_that_only_a_previous_fit_would_know_name_the_right_source():
    X, y = _xy()
    est = BCELogisticClassifier(warm_start=True).fit(X, y)
    with pytest.raises(ValueError, match="previous fit"):
        est.fit(X, y + 5)
    est = BCELogisticClassifier().partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="first partial_fit"):
        est.partial_fit(X, y + 5)


def test_no_warning_from_a_plain_fit():
    X, y = _xy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BCELogisticClassifier().fit(X, y).predict(X)
