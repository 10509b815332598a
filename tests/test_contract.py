"""The engine's contract with a user's module, loss and head, and torch's global settings."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.datasets import make_classification
from sklearn.utils.estimator_checks import check_estimator, parametrize_with_checks

from sklearn_autodiff import AutodiffClassifier, BCELogisticClassifier, MLPSoftmaxClassifier
from sklearn_autodiff.heads import ClassificationHead, OneVsRestBinaryCrossEntropy
from sklearn_autodiff.losses import weighted_mean

X, Y = make_classification(120, 4, n_informative=3, n_redundant=0, n_classes=3, random_state=0)


class Net(AutodiffClassifier):
    def __init__(self, *, extra=0, **kwargs):
        super().__init__(**kwargs)
        self.extra = extra

    def build_module(self, n_features, n_classes):
        return torch.nn.Linear(n_features, n_classes + self.extra)


@pytest.mark.parametrize("extra, width", [(1, 4), (-1, 2)])
def test_output_too_wide_or_too_narrow_names_both_shapes(extra, width):
    with pytest.raises(ValueError, match=rf"shape \(2, {width}\).*expected \(n_samples, 3\)"):
        Net(extra=extra).fit(X, Y)


def test_one_dimensional_output_is_refused():
    class Flat(AutodiffClassifier):
        def build_module(self, n_features, n_classes):
            return torch.nn.Sequential(torch.nn.Linear(n_features, 1), torch.nn.Flatten(0))

    with pytest.raises(ValueError, match=r"output of shape \(2,\).*2-D"):
        Flat().fit(X, Y)


def test_build_module_returning_a_function_is_a_type_error():
    class Functional(AutodiffClassifier):
        def build_module(self, n_features, n_classes):
            return lambda x: x

    with pytest.raises(TypeError, match="build_module must return a torch.nn.Module"):
        Functional().fit(X, Y)


# The "float" case converts the loss with float() on purpose, which torch warns about.
@pytest.mark.filterwarnings(
    "ignore:Converting a tensor with requires_grad=True to a scalar:UserWarning"
)
@pytest.mark.parametrize("solver", ["lbfgs", "adam", "sgd", "gd"])
@pytest.mark.parametrize("bad", ["float", "detached", "vector"])
def test_a_loss_that_is_not_a_scalar_tensor_with_a_gradient(solver, bad):
    class BadLoss(Net):
        def loss(self, output, target, sample_weight=None):
            value = F.cross_entropy(output, target)
            if bad == "float":
                return float(value)
            if bad == "detached":
                return value.detach()
            return F.cross_entropy(output, target, reduction="none")

    with pytest.raises(TypeError, match=r"BadLoss\.loss"):
        BadLoss(solver=solver).fit(X, Y)


# Deliberately short fits: the test compares two identical fits, not a converged model.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize(
    "context", [torch.no_grad, torch.inference_mode, lambda: torch.set_grad_enabled(False)]
)
@pytest.mark.parametrize("solver", ["lbfgs", "adam", "newton"])
def test_fit_under_a_caller_without_gradients_gives_the_same_model(context, solver):
    make = (BCELogisticClassifier if solver == "newton" else MLPSoftmaxClassifier)
    params = {"solver": solver, "random_state": 0, "max_iter": 5}
    if make is MLPSoftmaxClassifier:
        params["hidden_layer_sizes"] = (8,)
    reference = make(**params).fit(X, Y)
    with context():
        model = make(**params).fit(torch.as_tensor(X), Y)
        assert not torch.is_grad_enabled()
    np.testing.assert_array_equal(model.predict_proba(X), reference.predict_proba(X))


# Deliberately short fits: the test compares two identical fits, not a converged model.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_initialisation_ignores_the_default_dtype():
    reference = MLPSoftmaxClassifier((8,), random_state=0, max_iter=3).fit(X, Y)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        model = MLPSoftmaxClassifier((8,), random_state=0, max_iter=3).fit(X, Y)
        assert torch.get_default_dtype() == torch.float64
    finally:
        torch.set_default_dtype(before)
    np.testing.assert_array_equal(model.predict_proba(X), reference.predict_proba(X))


class SigmoidFocalHead(OneVsRestBinaryCrossEntropy):
    """A user's head: sigmoid outputs with a focal loss, link and loss in one object."""

    newton = False  # not the binary cross-entropy any more

    def __init__(self, gamma=2.0):
        self.gamma = gamma

    def pointwise_loss(self, logits, target):
        p = torch.sigmoid(logits)
        p_true = torch.where(target > 0.5, p, 1 - p)
        bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        return (1 - p_true) ** self.gamma * bce

    def loss(self, logits, target, sample_weight=None):
        return weighted_mean(self.pointwise_loss(logits, target), sample_weight)

    loss_derivatives = None


class FocalNet(AutodiffClassifier):  # 12 lines with the head: a classifier with its own loss
    head = SigmoidFocalHead()

    def build_module(self, n_features, n_classes):
        return torch.nn.Linear(n_features, self.head.n_outputs(n_classes))


# scikit-learn's checks fit with tiny max_iter and degenerate data: ConvergenceWarning is theirs.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# Its read-only memmap checks reach torch.as_tensor, which warns on non-writable arrays.
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable:UserWarning")
# check_estimator skips its array-API checks where no such namespace or device is installed.
@pytest.mark.filterwarnings(
    "ignore:Skipping check check_array_api:sklearn.exceptions.SkipTestWarning"
)
def test_a_user_head_brings_its_link_and_passes_the_checks():
    model = FocalNet(solver="lbfgs").fit(X, Y)
    assert model.solver_ == "lbfgs"
    logits = model.module_(torch.as_tensor(X)).detach()
    np.testing.assert_allclose(
        model.predict_proba(X), SigmoidFocalHead().log_proba(logits.double()).exp().numpy()
    )
    check_estimator(FocalNet())


def test_a_user_head_that_declares_newton_gets_newton():
    class OwnBCE(ClassificationHead):
        separable = True

        def n_outputs(self, n_classes):
            return n_classes

        def encode_target(self, y_index, n_classes, dtype):
            return F.one_hot(y_index, n_classes).to(dtype)

        def pointwise_loss(self, logits, target):
            return F.binary_cross_entropy_with_logits(logits, target, reduction="none")

        def log_proba(self, logits):
            log_p = F.logsigmoid(logits)
            return log_p - torch.logsumexp(log_p, dim=1, keepdim=True)

    class OwnLogistic(BCELogisticClassifier):
        head = OwnBCE()

    ours = OwnLogistic(solver="newton").fit(X, Y)
    shipped = BCELogisticClassifier(solver="newton").fit(X, Y)
    assert ours.solver_ == "newton"
    np.testing.assert_allclose(ours.coef_, shipped.coef_, rtol=1e-8, atol=1e-10)


def test_newton_refused_for_an_overridden_loss_names_the_head():
    class Overridden(BCELogisticClassifier):
        def loss(self, logits, target, sample_weight=None):
            return self.head.loss(logits, target, sample_weight)

    with pytest.raises(ValueError, match="solver='newton'"):
        Overridden(solver="newton").fit(X, Y)


class FocalLinear(AutodiffClassifier):  # a user's classifier with its own loss: 9 lines
    def __init__(self, *, gamma=2.0, **kwargs):
        super().__init__(**kwargs)
        self.gamma = gamma

    def build_module(self, n_features, n_classes):
        return torch.nn.Linear(n_features, n_classes)

    def loss(self, logits, target, sample_weight=None):
        logp = torch.log_softmax(logits, 1).gather(1, target[:, None]).squeeze(1)
        return weighted_mean(-((1 - logp.exp()) ** self.gamma) * logp, sample_weight)


# scikit-learn's checks fit with tiny max_iter and odd data (their ConvergenceWarning),
# and hand torch read-only memmaps.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable:UserWarning")
@parametrize_with_checks([FocalLinear()])
def test_a_nine_line_classifier_with_its_own_loss_passes_every_check(estimator, check):
    check(estimator)
