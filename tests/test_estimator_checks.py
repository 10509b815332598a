"""scikit-learn's estimator checks over every public estimator.

Defaults must pass every check with no expected failure. Other
configurations may list a check as expected to fail, each with its reason.
"""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier, TanhLogisticClassifier

DEFAULTS = [BCELogisticClassifier(), TanhLogisticClassifier(), MLPSoftmaxClassifier()]

_FLOAT32_WEIGHTS = (
    "float32 arithmetic cannot reproduce a fit to the check's rtol=1e-7"
)
_FLOAT32 = {
    "check_sample_weight_equivalence_on_dense_data": _FLOAT32_WEIGHTS,
    "check_sample_weight_equivalence_on_sparse_data": _FLOAT32_WEIGHTS,
}
_UNSCALED_FIXED_STEP = (
    "a first-order solver with its default step on unscaled features (std 20) "
    "stops on the loss-improvement rule before the extreme class weights dominate"
)

_SPLIT_OVER_ROWS = (
    "the validation split is drawn over rows, so repeating a row instead of "
    "weighting it changes which samples are held out"
)

CONFIGURATIONS = [
    (
        BCELogisticClassifier(solver="adam", random_state=0),
        {"check_class_weight_classifiers": _UNSCALED_FIXED_STEP},
    ),
    (BCELogisticClassifier(solver="sgd", random_state=0), {}),
    (
        BCELogisticClassifier(solver="gd", random_state=0),
        {"check_class_weight_classifiers": _UNSCALED_FIXED_STEP},
    ),
    (TanhLogisticClassifier(solver="adam", random_state=0), {}),
    (
        TanhLogisticClassifier(solver="sgd", random_state=0),
        {"check_class_weight_classifiers": _UNSCALED_FIXED_STEP},
    ),
    (TanhLogisticClassifier(solver="gd", random_state=0), {}),
    (TanhLogisticClassifier(learn_beta=False, beta=0.5), {}),
    (BCELogisticClassifier(dtype="float32"), _FLOAT32),
    (TanhLogisticClassifier(dtype="float32"), _FLOAT32),
    (
        BCELogisticClassifier(early_stopping=True, random_state=0),
        {
            "check_sample_weight_equivalence_on_dense_data": _SPLIT_OVER_ROWS,
            "check_sample_weight_equivalence_on_sparse_data": _SPLIT_OVER_ROWS,
        },
    ),
]
_DROPOUT = (
    "dropout draws a different mask for each row, so repeating a row instead "
    "of weighting it trains on different noise"
)
CONFIGURATIONS += [
    (MLPSoftmaxClassifier((8,), "tanh", solver="sgd", random_state=0), {}),
    (MLPSoftmaxClassifier((8,), "logistic", solver="lbfgs", random_state=0), {}),
    (MLPSoftmaxClassifier((8,), "identity", solver="gd", random_state=0), {}),
    (MLPSoftmaxClassifier((), solver="lbfgs", random_state=0), {}),
    (MLPSoftmaxClassifier((8, 8, 8), random_state=0), {}),
    (
        MLPSoftmaxClassifier((32,), dropout=0.1, random_state=0),
        {
            "check_sample_weight_equivalence_on_dense_data": _DROPOUT,
            "check_sample_weight_equivalence_on_sparse_data": _DROPOUT,
        },
    ),
]
_EXPECTED = {id(est): failures for est, failures in CONFIGURATIONS}


# scikit-learn's checks fit with tiny max_iter and degenerate data: ConvergenceWarning is theirs.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# Its read-only memmap checks reach torch.as_tensor, which warns on non-writable arrays.
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable:UserWarning")
@parametrize_with_checks(DEFAULTS)
def test_defaults_pass_every_check(estimator, check):
    check(estimator)


# scikit-learn's checks fit with tiny max_iter and degenerate data: ConvergenceWarning is theirs.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# Its read-only memmap checks reach torch.as_tensor, which warns on non-writable arrays.
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable:UserWarning")
@parametrize_with_checks(
    [est for est, _ in CONFIGURATIONS],
    expected_failed_checks=lambda est: _EXPECTED[id(est)],
)
def test_configurations(estimator, check):
    check(estimator)
