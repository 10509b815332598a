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
        ({"_module_n_classes_": 10**9}, "module was built for 1000000000"),
        ({"classes_": np.arange(4)}, "classes_ holds 4 classes but the module was built for 2"),
        ({"classes_": None}, "classes_ must be a 1-d numpy array of class labels"),
        ({"n_features_in_": -1}, "n_features_in_"),
        ({"_module_state_": lambda s: {k: v.astype(np.complex128) for k, v in s.items()}},
         "not an array of real numbers"),
        ({"_module_state_": lambda s: {k: v.astype(np.float16) for k, v in s.items()}},
         "must all be float32 or all float64"),
        ({"_module_state_": lambda s: {**s, "extra": np.zeros(3)}}, "extra"),
    ],
)
def test_inconsistent_linear_states_are_refused(changes, match):
    model = BCELogisticClassifier().fit(X, Y)
    with pytest.raises(ValueError, match=match):
        _load(model, _tampered(model, **changes))


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"n_features_in_": 2 * 10**9}, r"shape \(16, 3\) but the module built .* has \(16, 2000000000\)"),
        ({"hidden_layer_sizes": (10**9,)}, "shape"),
        ({"_module_state_": lambda s: {k: v.astype(np.complex64) for k, v in s.items()}},
         "not an array of real numbers"),
    ],
)
# A five-epoch fit to tamper with.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_inconsistent_mlp_states_are_refused_without_allocating(changes, match):
    model = MLPSoftmaxClassifier((16,), max_iter=5, random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match=match):
        _load(model, _tampered(model, **changes))


def test_a_regressor_state_without_its_output_count_is_refused():
    model = LinearAutodiffRegressor().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="n_outputs_ is None but the module was built for 1"):
        _load(model, _tampered(model, n_outputs_=None))
    with pytest.raises(ValueError, match="n_outputs_ is 3 but the module was built for 1"):
        _load(model, _tampered(model, n_outputs_=3))
    with pytest.raises(ValueError, match="head_ must be the regression head"):
        _load(model, _tampered(model, head_=None))


# Five-epoch fits: loading must reproduce them, converged or not.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
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
    with pytest.raises(ValueError, match="Cannot restore BCELogisticClassifier from this state"):
        _load(tampered, state)
