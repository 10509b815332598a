"""Loading a crafted state: every size and dtype is checked before anything is allocated."""

import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sklearn_autodiff import BCELogisticClassifier, LinearAutodiffRegressor, MLPSoftmaxClassifier

RNG = np.random.default_rng(0)
X = RNG.normal(size=(60, 3))
Y = (X[:, 0] > 0).astype(int)


def _tampered(model, **changes):
    state = model.__getstate__()
    for key, value in changes.items():
        if value is None:
            state.pop(key)
        elif callable(value):
            state[key] = value(state[key])
        else:
            state[key] = value
    return state


def _load(model, state):
    fresh = type(model).__new__(type(model))
    fresh.__setstate__(state)
    return fresh


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"n_features_in_": 2 * 10**9}, "shape"),
        ({"_module_n_classes_": 10**9}, "built for 1000000000 targets"),
        ({"classes_": np.arange(4)}, "built for 2 targets, the fitted attributes say 4"),
        ({"classes_": None}, "missing"),
        ({"n_features_in_": -1}, "positive int"),
        ({"_module_state_": lambda s: {k: v.astype(np.complex128) for k, v in s.items()}},
         "not a real number"),
        ({"_module_state_": lambda s: {k: v.astype(np.float16) for k, v in s.items()}},
         "float32 or float64"),
        ({"_module_state_": lambda s: {**s, "extra": np.zeros(3)}}, "are not the module's"),
    ],
)
def test_inconsistent_linear_states_are_refused(changes, match):
    model = BCELogisticClassifier().fit(X, Y)
    with pytest.raises(ValueError, match=match):
        _load(model, _tampered(model, **changes))


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"n_features_in_": 2 * 10**9}, r"shape \(16, 3\), expected \(16, 2000000000\)"),
        ({"hidden_layer_sizes": (10**9,)}, "shape"),
        ({"_module_state_": lambda s: {k: v.astype(np.complex64) for k, v in s.items()}},
         "not a real number"),
    ],
)
def test_inconsistent_mlp_states_are_refused_without_allocating(changes, match):
    model = MLPSoftmaxClassifier((16,), max_iter=5, random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match=match):
        _load(model, _tampered(model, **changes))


def test_a_regressor_state_without_its_output_count_is_refused():
    model = LinearAutodiffRegressor().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="missing"):
        _load(model, _tampered(model, n_outputs_=None))
    with pytest.raises(ValueError, match="built for 1 targets, the fitted attributes say 3"):
        _load(model, _tampered(model, n_outputs_=3))


def test_a_consistent_state_still_loads_bit_identically():
    for model in (BCELogisticClassifier().fit(X, Y),
                  MLPSoftmaxClassifier((8,), max_iter=5, random_state=0).fit(X, Y)):
        loaded = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    with pytest.raises(NotFittedError):
        pickle.loads(pickle.dumps(BCELogisticClassifier())).predict(X)


def test_skops_refuses_a_tampered_state_with_the_same_error():
    sio = pytest.importorskip("skops.io")
    model = BCELogisticClassifier().fit(X, Y)
    data = sio.dumps(model)
    tampered = sio.loads(data, trusted=sio.get_untrusted_types(data=data))
    state = _tampered(tampered, classes_=np.arange(4))
    with pytest.raises(ValueError, match="inconsistent"):
        _load(tampered, state)
