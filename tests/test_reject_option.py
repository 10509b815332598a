"""The reject option of the three estimators (reject_threshold, reject_label)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification
from sklearn.preprocessing import StandardScaler

from sklearn_autodiff import (
    BCELogisticClassifier,
    MLPSoftmaxClassifier,
    TanhLogisticClassifier,
    selective_accuracy_score,
)

ESTIMATORS = {
    "tanh": lambda **kw: TanhLogisticClassifier(random_state=0, **kw),
    "bce": lambda **kw: BCELogisticClassifier(random_state=0, **kw),
    "mlp": lambda **kw: MLPSoftmaxClassifier(
        (16,), solver="lbfgs", alpha=1e-2, max_iter=100, random_state=0, **kw
    ),
}
# The small MLP stops at max_iter; its fit is still deterministic and good enough.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
THRESHOLD = 0.8


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


@pytest.fixture(scope="module")
def noisy():
    """Binary data with 20% label noise, standardized, split in two."""
    X, y = make_classification(
        n_samples=800, n_features=4, n_informative=2, n_redundant=0,
        flip_y=0.2, class_sep=0.8, random_state=1,
    )
    X = StandardScaler().fit_transform(X)
    return X[:400], X[400:], y[:400], y[400:]


@pytest.fixture(scope="module", params=sorted(ESTIMATORS))
def fitted_pair(request, noisy):
    """The same estimator fitted with and without the reject option."""
    X_train, _, y_train, _ = noisy
    make = ESTIMATORS[request.param]
    plain = make().fit(X_train, y_train)
    rejecting = make(reject_threshold=THRESHOLD).fit(X_train, y_train)
    return plain, rejecting


def test_rejects_exactly_below_the_threshold(fitted_pair, noisy):
    plain, rejecting = fitted_pair
    _, X_test, _, _ = noisy
    mask = rejecting.reject_mask(X_test)
    np.testing.assert_array_equal(mask, rejecting.predict_proba(X_test).max(axis=1) < THRESHOLD)
    assert 0 < mask.sum() < len(mask)
    y_pred = rejecting.predict(X_test)
    np.testing.assert_array_equal(y_pred[~mask], plain.predict(X_test)[~mask])
    assert np.all(y_pred[mask] == -1) and rejecting.reject_label_ == -1
    assert y_pred.dtype == plain.predict(X_test).dtype


def test_accepted_samples_are_more_accurate(fitted_pair, noisy):
    plain, rejecting = fitted_pair
    _, X_test, _, y_test = noisy
    overall = np.mean(plain.predict(X_test) == y_test)
    accepted = selective_accuracy_score(y_test, rejecting.predict(X_test), reject_label=-1)
    assert accepted > overall + 0.03


def test_option_changes_nothing_but_predict(fitted_pair, noisy):
    plain, rejecting = fitted_pair
    _, X_test, _, y_test = noisy
    np.testing.assert_array_equal(rejecting.classes_, plain.classes_)
    for method in ("predict_proba", "decision_function", "predict_log_proba"):
        np.testing.assert_allclose(
            getattr(rejecting, method)(X_test), getattr(plain, method)(X_test), rtol=1e-12
        )
    np.testing.assert_allclose(rejecting.predict_proba(X_test).sum(axis=1), 1.0)
    assert not hasattr(plain, "reject_label_")
    assert not plain.reject_mask(X_test).any()
    # score stays accuracy, rejections counting as errors
    hits = rejecting.predict(X_test) == y_test
    assert rejecting.score(X_test, y_test) == pytest.approx(np.mean(hits))
    assert rejecting.score(X_test, y_test) < plain.score(X_test, y_test)


def test_threshold_zero_never_rejects(fitted_pair, noisy):
    plain, _ = fitted_pair
    X_train, X_test, y_train, _ = noisy
    clf = clone(plain).set_params(reject_threshold=0.0).fit(X_train, y_train)
    assert not clf.reject_mask(X_test).any()
    np.testing.assert_array_equal(clf.predict(X_test), plain.predict(X_test))


@pytest.mark.parametrize("name", ["bce", "mlp"])
def test_multiclass_rejection(name):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    clf = ESTIMATORS[name](reject_threshold=0.9).fit(X, y)
    proba = clf.predict_proba(X)
    y_pred = clf.predict(X)
    mask = proba.max(axis=1) < 0.9
    np.testing.assert_array_equal(clf.reject_mask(X), mask)
    np.testing.assert_array_equal(y_pred[~mask], proba.argmax(axis=1)[~mask])
    assert np.all(y_pred[mask] == -1) and mask.any()


def test_tanh_rejection_band(noisy):
    """Binary tanh model: rejected exactly when |x.w - b| < artanh(2t - 1) / beta."""
    X_train, X_test, y_train, _ = noisy
    for t in (0.6, 0.8, 0.95):
        clf = TanhLogisticClassifier(reject_threshold=t, beta=0.5).fit(X_train, y_train)
        margin = X_test @ clf.coef_[0] + clf.intercept_[0]  # intercept_ is -b
        half_width = np.arctanh(2 * t - 1) / clf.beta_[0]
        in_band = np.abs(margin) < half_width
        # leave out points within rounding distance of the band's edges
        clear = np.abs(np.abs(margin) - half_width) > 1e-9 * half_width
        assert clear.sum() >= len(margin) - 1
        np.testing.assert_array_equal(clf.reject_mask(X_test)[clear], in_band[clear])
        assert 0 < in_band.sum() < len(margin)
    assert clf.beta_[0] != 0.5  # beta was learned, and the band follows it


# ---------------------------------------------------------------- labels


@pytest.fixture(scope="module")
def small():
    X, y = make_classification(
        n_samples=120, n_features=3, n_informative=2, n_redundant=0, flip_y=0.2, random_state=0
    )
    return StandardScaler().fit_transform(X), y


def _rejecting(**kw):
    return BCELogisticClassifier(reject_threshold=0.8, **kw)


def test_integer_labels_default_and_custom(small):
    X, y = small
    labels = np.where(y == 1, 7, 3)
    y_pred = _rejecting().fit(X, labels).predict(X)
    assert set(np.unique(y_pred)) == {-1, 3, 7} and y_pred.dtype == labels.dtype
    clf = _rejecting(reject_label=0).fit(X, labels)
    assert clf.reject_label_ == 0 and set(np.unique(clf.predict(X))) == {0, 3, 7}


def test_string_labels_widen_the_dtype(small):
    X, y = small
    labels = np.array(["a", "b"])[y]
    assert labels.dtype == np.dtype("<U1")
    clf = _rejecting().fit(X, labels)
    y_pred = clf.predict(X)
    assert clf.reject_label_ == "reject"
    assert y_pred.dtype == np.dtype("<U6")  # widened for "reject", not object
    assert set(np.unique(y_pred)) == {"a", "b", "reject"}
    y_pred = _rejecting(reject_label="?").fit(X, labels).predict(X)
    assert y_pred.dtype == np.dtype("<U1") and "?" in set(y_pred)


def test_object_string_labels(small):
    X, y = small
    labels = np.array(["no", "yes"], dtype=object)[y]
    y_pred = _rejecting().fit(X, labels).predict(X)
    assert y_pred.dtype == object and set(y_pred) == {"no", "yes", "reject"}


def test_float_and_unsigned_labels(small):
    X, y = small
    y_pred = _rejecting(reject_label=-1.5).fit(X, y.astype(float)).predict(X)
    assert -1.5 in set(y_pred)
    unsigned = y.astype(np.uint8)
    clf = _rejecting(reject_label=255).fit(X, unsigned)
    assert clf.predict(X).dtype == np.uint8 and 255 in set(clf.predict(X))


def test_boolean_labels_must_be_encoded(small):
    X, y = small
    with pytest.raises(ValueError, match="Encode the labels"):
        _rejecting().fit(X, y == 1)
    # without the option, boolean labels are fine
    assert BCELogisticClassifier().fit(X, y == 1).predict(X).dtype == bool


@pytest.mark.parametrize(
    "labels, reject_label, match",
    [
        (np.array([3, 7]), 7, "one of the classes"),
        (np.array(["a", "b"]), "b", "one of the classes"),
        (np.array([3, 7]), -1.5, "cannot be represented exactly"),
        (np.array([3, 7], dtype=np.uint8), None, "cannot be represented exactly"),
        (np.array([3, 7], dtype=np.uint8), -1, "cannot be represented exactly"),
        (np.array([3, 7]), "reject", "cannot be stored with numeric classes"),
        (np.array(["a", "b"]), -1, "cannot be used with string classes"),
    ],
)
def test_unusable_reject_labels(small, labels, reject_label, match):
    X, y = small
    with pytest.raises(ValueError, match=match):
        _rejecting(reject_label=reject_label).fit(X, labels[y])


def test_rejections_survive_pickling(small):
    X, y = small
    clf = _rejecting().fit(X, np.array(["a", "b"])[y])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    assert restored.reject_label_ == "reject"
