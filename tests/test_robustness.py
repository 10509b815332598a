"""Failure behaviour as a feature: bad input, numerical trouble, determinism.

Every bad input either works (with finite probabilities that sum to one) or
raises ValueError / TypeError / NotFittedError with a message naming the
problem; never a raw torch error, never NaN output. A failed call leaves an
earlier fitted state exactly as it was.
"""

import copy
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier, TanhLogisticClassifier

ESTIMATORS = [TanhLogisticClassifier, BCELogisticClassifier, MLPSoftmaxClassifier]
SOLVERS = ["lbfgs", "adam", "sgd", "gd"]


def _quick(Estimator, **params):
    if Estimator is MLPSoftmaxClassifier:
        params = {"hidden_layer_sizes": (4,), **params}
    # A fixed alpha: "auto" (1 / the weight sum) would follow the weights' scale,
    # which these tests show does not otherwise matter.
    return Estimator(**{"random_state": 0, "max_iter": 20, "alpha": 1e-4, **params})


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _fit_outcome(estimator, X, y, **fit_params):
    """Fit; return None on success or the exception, checking it is a clean one."""
    try:
        estimator.fit(X, y, **fit_params)
    except (ValueError, TypeError) as exc:
        _assert_clean_message(exc)
        return exc
    _assert_sane_output(estimator, np.asarray(X, dtype=float) if not hasattr(X, "tocsr") else X)
    return None


def _snapshot(estimator):
    """Every attribute of ``estimator``, copied (module weights as tensors)."""
    state = {}
    for name, value in vars(estimator).items():
        if isinstance(value, torch.nn.Module):
            value = {k: v.clone() for k, v in value.state_dict().items()}
        state[name] = copy.deepcopy(value)
    return state


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for name in a:
        x, y = a[name], b[name]
        if isinstance(x, dict) and x and all(isinstance(v, torch.Tensor) for v in x.values()):
            assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), name
        elif isinstance(x, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=name)
        elif isinstance(x, list) and x and isinstance(x[0], np.ndarray):
            assert all(np.array_equal(u, v) for u, v in zip(x, y)), name
        elif name == "_optimizer_state_":
            continue  # compared through the weights it produced
        else:
            assert x == y, name


def _assert_clean_message(exc):
    message = str(exc)
    assert len(message) > 15, message
    # No torch internals leaking through: dispatch keys, C++ frames, aten ops.
    assert not re.search(r"aten::|c10::|Dispatch|\.cpp", message), message


def _assert_sane_output(estimator, X):
    proba = estimator.predict_proba(X)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-7)
    assert set(np.unique(estimator.predict(X))) <= set(estimator.classes_)


# ------------------------------------------------------ distinct bad inputs

X0 = np.random.default_rng(0).normal(size=(30, 3))
Y0 = np.arange(30) % 2

BAD_FIT_INPUTS = {
    "nan": (np.where(X0 > 1, np.nan, X0), Y0, "NaN"),
    "+inf": (np.where(X0 > 1, np.inf, X0), Y0, "infinity"),
    "-inf": (np.where(X0 > 1, -np.inf, X0), Y0, "infinity"),
    "empty": (np.empty((0, 3)), np.empty(0), "0 sample"),
    "no features": (np.empty((30, 0)), Y0, "0 feature"),
    "strings in X": (np.array([["a", "b", "c"]] * 30), Y0, "could not convert|float"),
    "mixed object X": (np.array([[1.0, "x", None]] * 30, dtype=object), Y0, "could not convert|float|NoneType"),
    "complex X": (X0 + 1j, Y0, "[Cc]omplex"),
    "3-D X": (X0[:, :, None], Y0, "dim"),
    "1-D X": (X0[:, 0], Y0, "2D array"),
    "len(y) != len(X)": (X0, Y0[:-1], "inconsistent numbers of samples"),
    "one class": (X0, np.zeros(30), "at least 2 classes"),
    "continuous y": (X0, np.linspace(0, 1, 30), "Unknown label type"),
    "NaN in y": (X0, np.where(Y0 == 0, np.nan, 1.0), "NaN|Unknown label type"),
    "2-D y": (X0, np.c_[Y0, Y0], "multilabel|multiclass-multioutput|Unknown label type|1d"),
}


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("case", list(BAD_FIT_INPUTS))
def test_bad_fit_input_raises_a_clear_error(Estimator, case):
    X, y, pattern = BAD_FIT_INPUTS[case]
    with pytest.raises((ValueError, TypeError), match=pattern) as info:
        _quick(Estimator).fit(X, y)
    _assert_clean_message(info.value)


BAD_WEIGHTS = {
    "short": (np.ones(29), r"sample_weight.shape == \(29,\)|inconsistent"),
    "negative": (np.where(Y0 == 0, -1.0, 1.0), "[Nn]egative"),
    "all zero": (np.zeros(30), "non-zero|sum to zero"),
    "nan": (np.full(30, np.nan), "NaN"),
}


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("case", list(BAD_WEIGHTS))
def test_bad_sample_weight(Estimator, case):
    weights, pattern = BAD_WEIGHTS[case]
    with pytest.raises(ValueError, match=pattern):
        _quick(Estimator).fit(X0, Y0, sample_weight=weights)


ODD_BUT_VALID = {
    "one sample per class": (X0[:2], np.array([0, 1])),
    "one feature": (X0[:, :1], Y0),
    "constant features": (np.ones((30, 3)), Y0),
    "duplicated rows": (np.repeat(X0[:5], 6, axis=0), np.repeat(Y0[:5], 6)),
    "values up to 1e30": (X0 * 1e30, Y0),
    "features around 1e6": (X0 * 1e6 + 1e6, Y0),
    "int X": (np.round(X0 * 10).astype(int), Y0),
    "bool X": (X0 > 0, Y0),
    "float16 X": (X0.astype(np.float16), Y0),
}


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("case", list(ODD_BUT_VALID))
def test_odd_but_valid_input_works_or_says_why(Estimator, solver, case):
    X, y = ODD_BUT_VALID[case]
    error = _fit_outcome(_quick(Estimator, solver=solver), X, y)
    if error is not None:
        # The only acceptable failure is the divergence guard, with its hint.
        assert "Scale the inputs" in str(error), str(error)


# Arrays without names after a fit on a DataFrame warn (scikit-learn); the test checks the errors.
@pytest.mark.filterwarnings("ignore:X does not have valid feature names:UserWarning")
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_predict_side_errors(Estimator):
    with pytest.raises(NotFittedError):
        _quick(Estimator).predict(X0)
    frame = pd.DataFrame(X0, columns=["a", "b", "c"])
    clf = _quick(Estimator).fit(frame, Y0)
    with pytest.raises(ValueError, match="3 features"):
        clf.predict_proba(X0[:, :2])
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(frame.rename(columns={"a": "z"}))
    with pytest.raises(ValueError, match="NaN"):
        clf.decision_function(np.full((2, 3), np.nan))
    with pytest.raises(ValueError, match="0 sample"):
        clf.predict_log_proba(np.empty((0, 3)))
    with pytest.raises(ValueError, match="2D array"):
        clf.predict(X0[0])


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_partial_fit_errors(Estimator):
    clf = _quick(Estimator, solver="sgd")
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X0, Y0)
    clf.partial_fit(X0, Y0, classes=[0, 1])
    state = copy.deepcopy(clf.__dict__)
    with pytest.raises(ValueError, match=r"labels \[5\]"):
        clf.partial_fit(X0, np.full(30, 5))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X0[:, :2], Y0)
    assert clf.n_iter_ == state["n_iter_"] and clf.n_features_in_ == 3


# ------------------------------------------------ property-based bad input

special = st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e30, -1e30, 1e-30, 1e6])
finite = st.floats(-1e3, 1e3, allow_nan=False)


@st.composite
def matrices(draw):
    n = draw(st.integers(2, 25))
    d = draw(st.integers(1, 4))
    X = draw(hnp.arrays(np.float64, (n, d), elements=st.one_of(finite, special)))
    y = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 2)))
    return X, y


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=matrices(), which=st.sampled_from(ESTIMATORS), solver=st.sampled_from(SOLVERS))
# numpy warns reducing the random matrices with NaN/inf that the test feeds on purpose.
@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce:RuntimeWarning")
def test_random_matrices_work_or_raise_cleanly(data, which, solver):
    X, y = data
    error = _fit_outcome(_quick(which, solver=solver), X, y)
    if error is not None:
        has_special = not np.isfinite(X).all()
        assert has_special or len(np.unique(y)) < 2 or "Scale the inputs" in str(error), str(error)


@settings(max_examples=25, deadline=None)
@given(
    weights=hnp.arrays(np.float64, 30, elements=st.one_of(st.floats(0, 10), st.sampled_from([0.0, 1e-300, 1e30]))),
    which=st.sampled_from(ESTIMATORS),
)
def test_random_non_negative_weights(weights, which):
    error = _fit_outcome(_quick(which), X0, Y0, sample_weight=weights)
    if error is not None:
        assert re.search("non-zero|sum to zero|Scale the inputs|at least 2 classes", str(error)), str(error)


# --------------------------------------------------- numerical trouble


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("trouble", ["huge learning rate", "unscaled 1e30 features"])
def test_divergence_raises_with_hint_and_loses_nothing(Estimator, trouble):
    # float32, where 1e30 features overflow the logits at the first step.
    clf = _quick(Estimator, solver="gd", warm_start=True, dtype="float32").fit(X0, Y0)
    before_state = _snapshot(clf)
    before_proba = clf.predict_proba(X0)
    clf.set_params(max_iter=200)
    if trouble == "huge learning rate":
        clf.set_params(learning_rate_init=1e30)
        X = X0
    else:
        X = X0 * 1e30
    with pytest.raises(ValueError, match="Scale the inputs.*lower learning_rate_init"):
        clf.fit(X, Y0)
    clf.set_params(learning_rate_init=None, max_iter=20)
    np.testing.assert_array_equal(clf.predict_proba(X0), before_proba)
    _assert_same_state(_snapshot(clf), before_state)


def test_learning_rate_beyond_the_dtype_is_refused():
    clf = BCELogisticClassifier(solver="sgd", dtype="float32", learning_rate_init=1e300)
    with pytest.raises(ValueError, match="overflows the model's dtype"):
        clf.fit(X0, Y0)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_failed_refit_of_a_cold_estimator_keeps_the_old_fit(Estimator):
    clf = _quick(Estimator).fit(X0, Y0)
    before = _snapshot(clf)
    for bad in (np.where(X0 > 1, np.nan, X0), X0[:, :2]):
        with pytest.raises(ValueError):
            clf.fit(bad, np.zeros(30) if bad.shape[1] == 2 else Y0)
    _assert_same_state(_snapshot(clf), before)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_extreme_finite_inputs_give_finite_probabilities(Estimator):
    clf = _quick(Estimator).fit(X0, Y0)
    huge = np.array([[1e6, -1e6, 1e6], [-1e6, 1e6, -1e6], [1e4, 1e4, 1e4]])
    _assert_sane_output(clf, huge)
    # Logits of about 1e4 directly on the linear models.
    if Estimator is not MLPSoftmaxClassifier:
        clf.module_.weight.data.fill_(1e4)
        _assert_sane_output(clf, np.ones((2, 3)) * np.array([[1.0], [-1.0]]))


# --------------------------------------------------------- determinism


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_bit_identical_refits_and_untouched_global_rng(Estimator, solver):
    X = np.random.default_rng(1).normal(size=(120, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    params = {"dropout": 0.2} if Estimator is MLPSoftmaxClassifier else {}
    a = _quick(Estimator, solver=solver, random_state=7, **params).fit(X, y)
    b = _quick(Estimator, solver=solver, random_state=7, **params).fit(X, y)
    _quick(Estimator, solver=solver, random_state=None, **params).fit(X, y)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert all(np.array_equal(u, v) for u, v in zip(np.random.get_state(), numpy_state))
    for p, q in zip(a.module_.parameters(), b.module_.parameters()):
        assert torch.equal(p, q)
    assert a.loss_curve_ == b.loss_curve_


# ------------------------------------------------ break-it pass, round two


def _xy():
    from sklearn.datasets import make_classification

    return make_classification(120, 4, n_informative=2, n_redundant=0, random_state=0)


@pytest.mark.parametrize("solver", ["gd", "adam", "sgd"])
def test_fit_worse_than_the_constant_model_warns_with_the_hint(solver):
    from sklearn.exceptions import ConvergenceWarning

    from sklearn_autodiff import BCELogisticClassifier

    X, y = _xy()
    with pytest.warns(ConvergenceWarning, match="worse than the constant model.*StandardScaler"):
        BCELogisticClassifier(solver=solver, max_iter=20).fit(X * 1e15, y)


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf")])
def test_bad_class_weight_values_are_parameter_errors(bad):
    from sklearn.utils._param_validation import InvalidParameterError

    from sklearn_autodiff import BCELogisticClassifier

    X, y = _xy()
    with pytest.raises(InvalidParameterError, match="finite non-negative weights"):
        BCELogisticClassifier(class_weight={0: 1.0, 1: bad}).fit(X, y)


@pytest.mark.parametrize("device", ["meta", "mps", "xpu"])
def test_unusable_devices_are_clear_value_errors(device):
    from sklearn_autodiff import BCELogisticClassifier

    X, y = _xy()
    with pytest.raises(ValueError, match=device):
        BCELogisticClassifier(device=device).fit(X, y)


def test_meta_tensor_input_is_a_clear_error():
    from sklearn_autodiff import BCELogisticClassifier

    X, y = _xy()
    with pytest.raises(ValueError, match="'meta' device"):
        BCELogisticClassifier().fit(torch.empty(120, 4, device="meta"), y)


@pytest.mark.parametrize("sizes", [True, (True,), (0,), (-3,), (2.0,)])
def test_bad_hidden_layer_sizes_are_parameter_errors(sizes):
    from sklearn.utils._param_validation import InvalidParameterError

    from sklearn_autodiff import MLPSoftmaxClassifier

    X, y = _xy()
    with pytest.raises(InvalidParameterError):
        MLPSoftmaxClassifier(sizes).fit(X, y)


def test_huge_hidden_layer_is_refused_before_allocating():
    from sklearn_autodiff import MLPSoftmaxClassifier

    X, y = _xy()
    with pytest.raises(MemoryError, match="GiB"):
        MLPSoftmaxClassifier((10**9,)).fit(X, y)


def test_requires_grad_tensor_input_is_left_alone():
    from sklearn_autodiff import BCELogisticClassifier

    X, y = _xy()
    X_t = torch.tensor(X, requires_grad=True)
    BCELogisticClassifier(solver="adam", max_iter=3).fit(X_t, y)
    assert X_t.grad is None


def test_failed_partial_fit_restores_the_optimizer_state():
    from sklearn_autodiff import MLPSoftmaxClassifier

    X, y = _xy()
    twin, est = (MLPSoftmaxClassifier((8,), batch_size=40, random_state=0) for _ in range(2))
    for model in (twin, est):
        model.partial_fit(X, y, classes=[0, 1])
    calls = []
    good_loss = est.loss

    def nan_on_the_third_batch(logits, target, sample_weight=None):
        calls.append(1)
        value = good_loss(logits, target, sample_weight)
        return value * float("nan") if len(calls) == 3 else value

    est.loss = nan_on_the_third_batch  # two Adam steps run before the NaN
    with pytest.raises(ValueError, match="diverged"):
        est.partial_fit(X, y)
    del est.loss
    est.partial_fit(X, y)
    twin.partial_fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), twin.predict_proba(X))


def test_mlp_lbfgs_nan_in_a_warm_fit_is_the_divergence_error():
    from sklearn_autodiff import MLPSoftmaxClassifier

    X, y = _xy()
    est = MLPSoftmaxClassifier((8,), solver="lbfgs", max_iter=5, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    with pytest.raises(ValueError, match="diverged"):
        est.fit(X * 1e300, y)


def test_fit_leaves_the_environment_as_it_was(monkeypatch):
    import os

    from sklearn_autodiff import MLPSoftmaxClassifier

    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    X, y = _xy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPSoftmaxClassifier((4,), max_iter=2).fit(X, y)
    assert "TORCHINDUCTOR_CACHE_DIR" not in os.environ


def test_coverage_score_refuses_numpy_float32_nan():
    from sklearn_autodiff import coverage_score

    with pytest.raises(ValueError, match="nan"):
        coverage_score([0, 1], [0, 1], reject_label=np.float32("nan"))


# ------------------------------------------------------ extreme sample weights


def _power_of_two_weights(n):
    # Powers of two: w * 1e300 / max(w * 1e300) == w / max(w) exactly.
    return 2.0 ** np.random.default_rng(3).integers(-2, 1, n)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("scale", [1e300, 1e-320])
def test_float32_fit_with_extreme_sample_weights_equals_the_rescaled_fit(Estimator, scale):
    X, y = _xy()
    w = _power_of_two_weights(len(y))
    reference = _quick(Estimator, dtype="float32").fit(X, y, sample_weight=w)
    extreme = _quick(Estimator, dtype="float32").fit(X, y, sample_weight=w * scale)
    np.testing.assert_array_equal(extreme.predict_proba(X), reference.predict_proba(X))
    unweighted = _quick(Estimator, dtype="float32").fit(X, y)
    assert not np.array_equal(unweighted.predict_proba(X), reference.predict_proba(X))


@pytest.mark.parametrize("solver", ["auto", "lbfgs", "adam"])
def test_sample_weights_whose_sum_overflows_fit_like_their_ratios(solver):
    X, y = _xy()
    w = _power_of_two_weights(len(y))
    with np.errstate(over="ignore"):
        assert not np.isfinite((w * 1e308).sum())
    reference = _quick(BCELogisticClassifier, solver=solver).fit(X, y, sample_weight=w)
    huge = _quick(BCELogisticClassifier, solver=solver).fit(X, y, sample_weight=w * 1e308)
    np.testing.assert_array_equal(huge.predict_proba(X), reference.predict_proba(X))


def test_weights_below_the_model_dtype_warn_and_count_as_zero():
    X, y = _xy()
    w = np.ones(len(y))
    w[:3] = 1e-50  # zero in float32 next to a weight of 1
    with pytest.warns(UserWarning, match=r"3 of the 120 positive sample weights.*float32"):
        tiny = _quick(BCELogisticClassifier, dtype="float32").fit(X, y, sample_weight=w)
    w[:3] = 0.0
    zero = _quick(BCELogisticClassifier, dtype="float32").fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(tiny.predict_proba(X), zero.predict_proba(X))


# ------------------------------------------- no better than the constant model

_NO_BETTER = "no better than the .* constant model that predicts the class frequencies, and "


@pytest.mark.parametrize("solver", ["gd", "sgd"])
def test_collapsed_tanh_beta_warns_with_the_hint(solver):
    X, y = _xy()
    pattern = _NO_BETTER + "the tanh scale beta_ collapsed to 0.*StandardScaler"
    with pytest.warns(ConvergenceWarning, match=pattern):
        clf = TanhLogisticClassifier(solver=solver, max_iter=20).fit(X * 1e15, y)
    assert clf.beta_[0] == 0.0


@pytest.mark.parametrize("Estimator", [TanhLogisticClassifier, BCELogisticClassifier])
@pytest.mark.parametrize("solver", ["auto", "lbfgs", "gd", "sgd", "adam"])
def test_features_scaled_to_1e_minus_15_warn_with_the_hint(Estimator, solver):
    X, y = _xy()
    pattern = (
        _NO_BETTER
        + r"the features are far from unit scale \(largest magnitude .*e-15\).*StandardScaler"
    )
    with pytest.warns(ConvergenceWarning, match=pattern):
        Estimator(solver=solver, max_iter=20).fit(X * 1e-15, y)


def test_solver_that_stops_short_of_a_clear_improvement_warns():
    # L-BFGS stops after one iteration at the zero model on features of scale 1e11.
    X, y = _xy()
    pattern = _NO_BETTER + "one gradient step from the final parameters reaches 0.3.*StandardScaler"
    with pytest.warns(ConvergenceWarning, match=pattern):
        clf = BCELogisticClassifier(solver="lbfgs").fit(X * 1e11, y)
    assert clf.n_iter_ == 1 and not clf.coef_.any()


def _no_better_warnings(estimator, X, y, **fit_params):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimator.fit(X, y, **fit_params)
    return [str(w.message) for w in caught if "no better than" in str(w.message)]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("solver", SOLVERS)
def test_noise_where_the_constant_model_is_the_optimum_does_not_warn(Estimator, solver):
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(400, 3)), (rng.random(400) < 0.3).astype(int)
    for params in ({}, {"alpha": 1.0}, {"max_iter": 200}):
        assert not _no_better_warnings(_quick(Estimator, solver=solver, **params), X, y)
    # Constant features: the constant model is the optimum.
    constant = np.ones((40, 2))
    assert not _no_better_warnings(_quick(Estimator, solver=solver), constant, np.arange(40) % 2)


# ----------------------------------------- early stopping with rare classes


def _rare_class(n=102, rare=2):
    rng = np.random.default_rng(0)
    y = np.zeros(n, dtype=int)
    y[:rare] = 1
    X = rng.normal(size=(n, 3)) + 3 * y[:, None]
    return X, y


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("seed", range(4))
def test_validation_split_puts_every_class_on_both_sides(fraction, seed):
    from sklearn_autodiff._split import validation_split

    _, y = _rare_class()
    weights = np.ones(len(y))
    weights[2:40] = 0.0  # class 0 keeps positive weight on rows 40 and on
    for w in (None, weights):
        train, val = validation_split(y, w, 2, fraction, seed)
        assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(y)
        positive = np.ones(len(y), bool) if w is None else w > 0
        for rows in (train, val):
            assert set(y[rows[positive[rows]]]) == {0, 1}


def test_early_stopping_with_a_rare_class_validates_on_it(monkeypatch):
    from sklearn_autodiff import _validation as _base

    seen = []
    split = _base.validation_split
    monkeypatch.setattr(
        _base, "validation_split", lambda *a, **k: seen.append(split(*a, **k)) or seen[-1]
    )
    X, y = _rare_class()
    clf = _quick(BCELogisticClassifier, early_stopping=True).fit(X, y)
    train, val = seen[0]
    assert 1 in y[train] and 1 in y[val]
    assert 0 < min(clf.validation_scores_)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_early_stopping_refuses_a_class_without_two_weighted_samples(Estimator):
    X, y = _rare_class(rare=5)
    single = y.copy()
    single[1:5] = 0  # one sample of class 1
    weights = np.where(np.arange(len(y)) < 4, 0.0, 1.0)  # one class-1 sample of positive weight
    pattern = r"classes_\[1\].* has 1\..*early_stopping=False"
    for labels, w in ((single, None), (y, weights)):
        clf = _quick(Estimator, early_stopping=True)
        with pytest.raises(ValueError, match=pattern) as info:
            clf.fit(X, labels, sample_weight=w)
        _assert_clean_message(info.value)
        assert not hasattr(clf, "classes_")
    # Without early stopping the same data fits.
    _quick(Estimator).fit(X, single)


def test_early_stopping_ignores_a_single_sample_class_of_zero_weight():
    X, y = _rare_class(rare=5)
    y = y.copy()
    y[-1] = 2  # one sample of class 2, weight 0: it takes no part in the fit
    w = np.ones(len(y))
    w[-1] = 0.0
    clf = _quick(BCELogisticClassifier, early_stopping=True).fit(X, y, sample_weight=w)
    assert list(clf.classes_) == [0, 1, 2]


def test_last_step_overflowing_is_the_divergence_error_and_loses_nothing():
    # gd's last step on features of 1e15 leaves weights whose logits are
    # infinite: every probability would be NaN.
    X, y = _xy()
    clf = MLPSoftmaxClassifier((4,), solver="gd", warm_start=True, random_state=0).fit(X, y)
    before = _snapshot(clf)
    with pytest.raises(ValueError, match="diverged: the loss became nan after the last iteration"):
        clf.fit(X * 1e15, y)
    _assert_same_state(_snapshot(clf), before)


# ------------------------------ property: configurations x a second call

_THREE_CLASS_CW = {0: 1.0, 1: 3.0, 2: 0.5}


@st.composite
def configurations(draw):
    which = draw(st.sampled_from(ESTIMATORS))
    params = {
        "solver": draw(st.sampled_from(["auto", "newton", *SOLVERS])),
        "early_stopping": draw(st.booleans()),
        "class_weight": draw(
            st.sampled_from([None, "balanced", _THREE_CLASS_CW, {0: 1.0, 1: 0.0, 2: 1.0}])
        ),
        "dtype": draw(st.sampled_from([None, "float32", "float64"])),
        "warm_start": draw(st.booleans()),
    }
    if which is MLPSoftmaxClassifier:
        params["activation"] = draw(st.sampled_from(["relu", "tanh", "logistic", "identity"]))
        params["dropout"] = draw(st.sampled_from([0.0, 0.25]))
    return which, params


SECOND_CALLS = [
    "same", "scaled", "extreme weights", "nan", "new label", "rare class", "partial_fit"
]


def _second_call(kind, X, y, draw_value):
    """(method, X, y, fit keyword arguments) of the call made after the first fit."""
    if kind == "scaled":
        return "fit", X * draw_value([1e-15, 1e15, 1e30]), y, {}
    if kind == "extreme weights":
        w = 2.0 ** -(np.arange(len(y)) % 3)  # powers of two: rescaling them is exact
        return "fit", X, y, {"sample_weight": w * draw_value([1e300, 1e-320, 1e308])}
    if kind == "nan":
        return "fit", np.where(X > 1.5, np.nan, X), y, {}
    if kind == "new label":
        return "fit", X, np.where(y == 0, 7, y), {}
    if kind == "rare class":
        rare = y.copy()
        rare[rare == 2] = 1
        rare[0] = 2
        return "fit", X, rare, {}
    if kind == "partial_fit":
        return "partial_fit", X, y, {"classes": [0, 1, 2]}
    return "fit", X, y, {}


def _outcome(estimator, method, X, y, **kwargs):
    """Call; return the exception if it is a clean one, None on sane success."""
    try:
        getattr(estimator, method)(X, y, **kwargs)
    except (ValueError, TypeError) as exc:
        _assert_clean_message(exc)
        return exc
    _assert_sane_output(estimator, X)
    return None


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configurations(), kind=st.sampled_from(SECOND_CALLS), data=st.data())
def test_configurations_work_or_fail_cleanly_and_keep_their_state(config, kind, data):
    which, params = config
    rng = np.random.default_rng(2)
    y = np.arange(60) % 3
    X = rng.normal(size=(60, 3)) + y[:, None]
    estimator = _quick(which, max_iter=15, **params)
    def draw_value(values):
        return data.draw(st.sampled_from(values))

    method, X2, y2, kwargs = _second_call(kind, X, y, draw_value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _outcome(estimator, "fit", X, y)
        before = _snapshot(estimator)
        proba = estimator.predict_proba(X) if hasattr(estimator, "classes_") else None
        error = _outcome(estimator, method, X2, y2, **kwargs)
        if error is not None:
            _assert_same_state(_snapshot(estimator), before)
            if proba is not None:
                np.testing.assert_array_equal(estimator.predict_proba(X), proba)
        if kind == "extreme weights":
            # Only the weights' ratios count: a twin given the ratios ends the same.
            twin = _quick(which, max_iter=15, **params)
            _outcome(twin, "fit", X, y)
            ratios = kwargs["sample_weight"] / kwargs["sample_weight"].max()
            twin_error = _outcome(twin, "fit", X2, y2, sample_weight=ratios)
            assert (error is None) == (twin_error is None), (error, twin_error)
            if error is None:
                np.testing.assert_array_equal(estimator.predict_proba(X), twin.predict_proba(X))


def test_class_weights_that_are_all_zero_are_refused():
    X, y = np.random.default_rng(0).normal(size=(40, 3)), np.arange(40) % 2
    with pytest.raises(ValueError, match="sum to zero"):
        BCELogisticClassifier(class_weight={0: 0.0, 1: 0.0}).fit(X, y)


# ------------------------------------------------ crafted persisted states


def _fitted(Estimator, n_classes=2, **params):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = np.arange(60) % n_classes
    return _quick(Estimator, **params).fit(X, y), X


def _load_tampered(estimator, how, tamper, monkeypatch):
    """Save ``estimator`` with its state changed by ``tamper``, then load it."""
    state = tamper(estimator.__getstate__())
    with monkeypatch.context() as patch:
        patch.setattr(type(estimator), "__getstate__", lambda self: state)
        if how == "pickle":
            import pickle

            data = pickle.dumps(estimator)
        else:
            sio = pytest.importorskip("skops.io")
            data = sio.dumps(estimator)
    if how == "pickle":
        return pickle.loads(data)
    return sio.loads(data, trusted=sio.get_untrusted_types(data=data))


def _with(**changes):
    def tamper(state):
        state = {**state, **changes}
        return {k: v for k, v in state.items() if v is not _DROP}

    return tamper


def _weights_as(dtype):
    def tamper(state):
        weights = {k: v.astype(dtype) for k, v in state["_module_state_"].items()}
        return {**state, "_module_state_": weights}

    return tamper


_DROP = object()
CRAFTED_STATES = {
    "n_features_in_=2e9": (BCELogisticClassifier, _with(n_features_in_=2 * 10**9),
                           "n_features_in_"),
    "n_classes=1e9": (TanhLogisticClassifier, _with(_module_n_classes_=10**9),
                      "_module_n_classes_"),
    "huge hidden size": (MLPSoftmaxClassifier, _with(hidden_layer_sizes=(10**7,)),
                         "shape"),
    "4 classes, 2 outputs": (MLPSoftmaxClassifier, _with(classes_=np.arange(4)), "classes_"),
    "no classes_": (BCELogisticClassifier, _with(classes_=_DROP), "classes_"),
    "complex weights": (MLPSoftmaxClassifier, _weights_as(np.complex128), "complex"),
    "int weights": (BCELogisticClassifier, _weights_as(np.int64), "they are int64"),
    "float16 weights": (TanhLogisticClassifier, _weights_as(np.float16), "they are float16"),
    "float n_features_in_": (BCELogisticClassifier, _with(n_features_in_=3.0), "n_features_in_"),
}


@pytest.mark.parametrize("how", ["pickle", "skops"])
@pytest.mark.parametrize("case", list(CRAFTED_STATES))
def test_crafted_state_is_refused_with_one_clear_error(case, how, monkeypatch):
    Estimator, tamper, named = CRAFTED_STATES[case]
    estimator, _ = _fitted(Estimator)
    with pytest.raises(ValueError, match=f"Cannot restore {Estimator.__name__}") as info:
        _load_tampered(estimator, how, tamper, monkeypatch)
    assert named in str(info.value)
    assert "refit the estimator" in str(info.value)


def test_huge_crafted_sizes_fail_fast_without_allocating():
    # In a child process whose address space is capped at 3 GB: building
    # the 8 GB (or 16 GB) model first would fail there with a MemoryError or
    # a torch allocation error, not with the ValueError.
    import subprocess
    import sys

    script = """
import pickle, resource, numpy as np
from sklearn_autodiff import BCELogisticClassifier, TanhLogisticClassifier
X = np.random.default_rng(0).normal(size=(40, 3)); y = np.arange(40) % 2
for est, key, value in [(BCELogisticClassifier(), "n_features_in_", 2 * 10**9),
                        (TanhLogisticClassifier(), "_module_n_classes_", 10**9)]:
    state = {**est.fit(X, y).__getstate__(), key: value}
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY))
    try:
        type(est).__new__(type(est)).__setstate__(state)
    except ValueError as exc:
        assert key in str(exc), exc
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_untampered_state_still_loads(Estimator, monkeypatch):
    estimator, X = _fitted(Estimator, n_classes=3)
    loaded = _load_tampered(estimator, "pickle", lambda state: state, monkeypatch)
    np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))


# ------------------------------------------- a last step that overflows


def _well_fitted(Estimator, solver, **params):
    if Estimator is TanhLogisticClassifier:
        params = {"learning_rate_init": 0.5, **params}
    y = (X0[:, 0] > 0).astype(int)  # separable: the fit ends far below the prior
    return _quick(Estimator, solver=solver, max_iter=200, **params).fit(X0, y), y


def _one_more_step_keeps_a_finite_model_or_says_diverged(clf, y, call):
    """After a good fit, one step by ``call``; a non-finite result must be refused."""
    params, method = CALLS[call]
    clf.set_params(**params)
    before = _snapshot(clf)
    try:
        getattr(clf, method)(X0, y)
    except ValueError as exc:
        assert "Training diverged" in str(exc) and "lower learning_rate_init" in str(exc)
        _assert_same_state(_snapshot(clf), before)
        return
    assert np.isfinite(clf.loss_)
    _assert_sane_output(clf, X0)


CALLS = {  # (parameters to set first, method)
    "partial_fit": ({}, "partial_fit"),
    "warm fit, 1 step": ({"warm_start": True, "max_iter": 1}, "fit"),
}


# Tanh with sgd or adam is left out: its first step sends log(beta) to
# -1e300, a collapsed but finite model (the degenerate-fit warning's case).
OVERFLOWING = [
    (TanhLogisticClassifier, "gd"),
    *[(E, s) for E in (BCELogisticClassifier, MLPSoftmaxClassifier) for s in ("gd", "sgd", "adam")],
]


@pytest.mark.parametrize(("Estimator", "solver"), OVERFLOWING)
@pytest.mark.parametrize("call", list(CALLS))
def test_last_step_that_overflows_is_the_divergence_error(Estimator, solver, call):
    # The loss recorded for the step is the one before it, better than the
    # prior's: only the loss after it shows the overflow.
    clf, y = _well_fitted(Estimator, solver)
    params, method = CALLS[call]
    clf.set_params(learning_rate_init=1e300, **params)
    before = _snapshot(clf)
    with pytest.raises(ValueError, match=r"Training diverged: the loss became (nan|inf) after "
                                         r"the last iteration \(1\)\..*left as it was"):
        getattr(clf, method)(X0, y)
    _assert_same_state(_snapshot(clf), before)


def test_mlp_sgd_early_stopping_keeps_no_overflowed_parameters():
    clf, y = _well_fitted(MLPSoftmaxClassifier, "sgd", early_stopping=True)
    clf.set_params(learning_rate_init=1e300, warm_start=True, max_iter=1)
    before = _snapshot(clf)
    with pytest.raises(ValueError, match="Training diverged"):
        clf.fit(X0, y)
    _assert_same_state(_snapshot(clf), before)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exponent=st.floats(0, 300),
    which=st.sampled_from(ESTIMATORS),
    solver=st.sampled_from(["gd", "sgd", "adam"]),
    call=st.sampled_from(list(CALLS)),
)
def test_random_learning_rates_never_leave_a_non_finite_model(exponent, which, solver, call):
    clf, y = _well_fitted(which, solver)
    clf.set_params(learning_rate_init=10.0**exponent)
    _one_more_step_keeps_a_finite_model_or_says_diverged(clf, y, call)


_FITTED_FOR_STATES = {}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.sampled_from(ESTIMATORS),
    n_features=st.one_of(st.just(3), st.integers(-1, 10**12)),
    n_outputs=st.one_of(st.just(2), st.integers(-1, 10**12)),
    n_classes=st.one_of(st.just(2), st.integers(0, 5)),
)
def test_random_crafted_sizes_load_exactly_or_are_refused(which, n_features, n_outputs, n_classes):
    if which not in _FITTED_FOR_STATES:
        _FITTED_FOR_STATES[which] = _fitted(which)
    estimator, X = _FITTED_FOR_STATES[which]
    state = {
        **estimator.__getstate__(),
        "n_features_in_": n_features,
        "_module_n_classes_": n_outputs,
        "classes_": np.arange(n_classes),
    }
    loaded = which.__new__(which)
    if (n_features, n_outputs, n_classes) == (3, 2, 2):
        loaded.__setstate__(state)
        np.testing.assert_array_equal(loaded.predict_proba(X), estimator.predict_proba(X))
        return
    with pytest.raises(ValueError, match=f"Cannot restore {which.__name__} from this state"):
        loaded.__setstate__(state)
