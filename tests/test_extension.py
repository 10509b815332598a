"""The public extension API: classifiers written from a torch module and a loss.

The two classes of the architecture issue, as written there, and a linear
squared-hinge model (the user guide's "Writing your own estimator").
"""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklearn_autodiff import AutodiffClassifier, SelectiveClassifierCV


class WideTanhNet(AutodiffClassifier):
    def __init__(self, *, width=16, **kwargs):
        super().__init__(**kwargs)
        self.width = width

    def build_module(self, n_features, n_classes):   # logits of shape (n, n_classes)
        return torch.nn.Sequential(torch.nn.Linear(n_features, self.width), torch.nn.Tanh(),
                                   torch.nn.Linear(self.width, n_classes))


class FocalWideTanhNet(WideTanhNet):
    def __init__(self, *, gamma=2.0, **kwargs):
        super().__init__(**kwargs)
        self.gamma = gamma

    def loss(self, logits, target, sample_weight=None):  # target: class indices
        logp = torch.log_softmax(logits, 1).gather(1, target[:, None]).squeeze(1)
        per_sample = -((1 - logp.exp()) ** self.gamma) * logp
        return per_sample.mean() if sample_weight is None else (sample_weight * per_sample).sum() / sample_weight.sum()


class SquaredHingeClassifier(AutodiffClassifier):
    """Linear one-vs-rest squared hinge: sum_k max(0, 1 - y_k z_k)^2, y_k = +-1."""

    def build_module(self, n_features, n_classes):
        return torch.nn.Linear(n_features, n_classes)

    def loss(self, logits, target, sample_weight=None):
        signs = 2.0 * torch.nn.functional.one_hot(target, logits.shape[1]).to(logits.dtype) - 1.0
        per_sample = torch.relu(1.0 - signs * logits).square().sum(dim=1)
        if sample_weight is None:
            return per_sample.mean()
        return (sample_weight * per_sample).sum() / sample_weight.sum()


# scikit-learn's checks fit with tiny max_iter and degenerate data: ConvergenceWarning is theirs.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
# Its read-only memmap checks reach torch.as_tensor, which warns on non-writable arrays.
@pytest.mark.filterwarnings("ignore:The given NumPy array is not writable:UserWarning")
@parametrize_with_checks([WideTanhNet(), FocalWideTanhNet()])
def test_user_estimators_pass_every_check(estimator, check):
    check(estimator)


def test_parameters_of_the_subclass_and_of_the_base_are_all_parameters():
    est = FocalWideTanhNet(gamma=1.0, width=4, alpha=0.1, solver="adam")
    params = est.get_params()
    assert params["gamma"] == 1.0 and params["width"] == 4 and params["alpha"] == 0.1
    assert params["solver"] == "adam" and params["max_iter"] == 200
    copy = clone(est)
    assert copy.get_params() == params
    copy.set_params(width=8, learning_rate_init=0.01)
    assert copy.width == 8 and copy.learning_rate_init == 0.01
    assert repr(FocalWideTanhNet(gamma=3.0)) == "FocalWideTanhNet(gamma=3.0)"


def test_grid_search_over_own_and_common_parameters():
    X, y = load_iris(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search = GridSearchCV(
            WideTanhNet(random_state=0, max_iter=50),
            {"width": [4, 8], "alpha": [1e-4, 1e-2]},
            cv=3,
        ).fit(X, y)
    assert search.best_score_ > 0.9
    assert set(search.best_params_) == {"width", "alpha"}


def test_user_estimator_gets_reject_option_selective_cv_and_pickling():
    X, y = make_classification(300, 6, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = SquaredHingeClassifier(reject_threshold=0.8, max_iter=100).fit(X, y)
        selective = SelectiveClassifierCV(SquaredHingeClassifier(max_iter=50), target_coverage=0.8, cv=3).fit(X, y)
    predicted = est.predict(X)
    assert set(np.unique(predicted)) <= {-1, 0, 1}
    np.testing.assert_array_equal(predicted == -1, est.reject_mask(X))
    assert 0.6 < 1 - (selective.predict(X) == -1).mean() <= 1.0
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))


def test_focal_loss_is_the_one_trained():
    X, y = make_classification(200, 4, random_state=0)
    est = FocalWideTanhNet(gamma=2.0, random_state=0, max_iter=20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    logits = est.module_(torch.as_tensor(X)).detach()
    target = torch.as_tensor(y)
    penalty = est._penalty(est.module_).detach()
    assert est.solver_ == "lbfgs"
    torch.testing.assert_close(
        torch.tensor(est.loss_, dtype=torch.float64), est.loss(logits, target) + penalty
    )


def test_missing_build_module_is_a_clear_error():
    class Incomplete(AutodiffClassifier):
        pass

    X, y = make_classification(50, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(NotImplementedError, match="must implement build_module"):
        Incomplete().fit(X, y)


def test_squared_hinge_model_agrees_with_linear_svc():
    from sklearn.svm import LinearSVC

    X, y = make_classification(400, 5, n_informative=3, class_sep=2.0, random_state=1)
    C = 1.0
    ours = SquaredHingeClassifier(alpha=1 / (C * len(y)), tol=1e-8, max_iter=1000).fit(X, y)
    theirs = LinearSVC(C=C, loss="squared_hinge", dual=False, tol=1e-10).fit(X, y)
    assert ours.score(X, y) > 0.85
    # liblinear penalises the intercept too, so the models agree on most labels, not all.
    assert (ours.predict(X) == theirs.predict(X)).mean() > 0.97
