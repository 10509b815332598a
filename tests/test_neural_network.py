"""MLPSoftmaxClassifier: the lecture's Iris example, seeds, dropout, and MLPClassifier."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

from sklearn_autodiff import MLPSoftmaxClassifier
from sklearn_autodiff.losses import softmax_cross_entropy_loss


@pytest.fixture(scope="module")
def iris_petals():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X[:, 2:]), y


def test_lecture_iris_two_features_sixteen_logistic_units(iris_petals):
    X, y = iris_petals
    clf = MLPSoftmaxClassifier(
        (16,), "logistic", solver="gd", learning_rate_init=0.5, max_iter=2000, random_state=0
    ).fit(X, y)
    assert clf.score(X, y) >= 0.93
    # The decision regions separate the three species: each class wins
    # somewhere on a grid over the data.
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 50), np.linspace(-2, 2, 50)), -1).reshape(-1, 2)
    assert set(clf.predict(grid)) == {0, 1, 2}
    assert [c.shape for c in clf.coefs_] == [(2, 16), (16, 3)]


def test_shapes_match_mlpclassifier():
    X, y = make_classification(200, 6, n_informative=4, n_classes=3, random_state=0)
    ours = MLPSoftmaxClassifier((7, 5), max_iter=5, random_state=0)
    theirs = MLPClassifier((7, 5), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]
    assert [b.shape for b in ours.intercepts_] == [b.shape for b in theirs.intercepts_]
    assert isinstance(ours.module_, torch.nn.Module)


def test_empty_hidden_layers_is_softmax_regression():
    X, y = load_iris(return_X_y=True)
    clf = MLPSoftmaxClassifier((), solver="lbfgs", alpha=1e-3).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(4, 3)]
    logits = X @ clf.coefs_[0] + clf.intercepts_[0]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), expected / expected.sum(1, keepdims=True), rtol=1e-10)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic", "identity"])
@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs", "gd"])
def test_every_activation_and_solver_learns(activation, solver, iris_petals):
    X, y = iris_petals
    lr = {"adam": 0.01, "sgd": 0.1, "lbfgs": None, "gd": 0.5}[solver]
    clf = MLPSoftmaxClassifier((8,), activation, solver=solver, learning_rate_init=lr, max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.score(X, y) > 0.9


def test_binary_problem_uses_two_softmax_outputs():
    X, y = make_classification(200, 4, random_state=0)
    clf = MLPSoftmaxClassifier((8,), random_state=0, max_iter=50, learning_rate_init=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert clf.coefs_[-1].shape == (8, 2)
    proba = clf.predict_proba(X)
    decision = clf.decision_function(X)
    assert decision.shape == (200,)
    np.testing.assert_allclose(decision, np.log(proba[:, 1] / proba[:, 0]), rtol=1e-8, atol=1e-10)


def test_same_seed_identical_different_seed_different():
    X, y = make_classification(300, 5, random_state=0)
    fit = lambda seed: MLPSoftmaxClassifier((10,), max_iter=3, random_state=seed).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a, b, c = fit(1), fit(1), fit(2)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    from sklearn_autodiff._persistence import build_seeded

    init = lambda seed: build_seeded(MLPSoftmaxClassifier((10,)), 5, 2, seed)
    assert torch.equal(init(1).layers[0].weight, init(1).layers[0].weight)
    assert not torch.equal(init(1).layers[0].weight, init(2).layers[0].weight)
    assert not np.array_equal(a.coefs_[0], c.coefs_[0])


def test_dropout_changes_training_not_prediction():
    X, y = make_classification(300, 5, random_state=0)
    kwargs = dict(hidden_layer_sizes=(32,), max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = MLPSoftmaxClassifier(**kwargs).fit(X, y)
        dropped = MLPSoftmaxClassifier(dropout=0.5, **kwargs).fit(X, y)
    assert not np.allclose(plain.coefs_[0], dropped.coefs_[0])
    np.testing.assert_array_equal(dropped.predict_proba(X), dropped.predict_proba(X))


def test_penalty_is_on_weights_only():
    X, y = make_classification(50, 4, random_state=0)
    clf = MLPSoftmaxClassifier((3,), alpha=0.7, max_iter=1, random_state=0)
    module = clf.build_module(4, 2).double()
    Xt, yt = torch.tensor(X), torch.tensor(y)
    with torch.no_grad():
        objective = clf.loss(module(Xt), yt, torch.ones(50, dtype=torch.float64)) + clf._penalty(module)
        layers = module.linear_layers()
        expected = softmax_cross_entropy_loss(module(Xt), yt) + 0.35 * sum(
            layer.weight.square().sum() for layer in layers
        )
    torch.testing.assert_close(objective, expected)


def test_early_stopping_returns_the_best_model_seen():
    X, y = make_classification(1000, 10, n_informative=6, flip_y=0.3, random_state=0)
    clf = MLPSoftmaxClassifier((64,), early_stopping=True, learning_rate_init=0.01, random_state=0)
    clf.fit(X, y)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert len(clf.validation_scores_) == clf.n_iter_ < clf.max_iter
    # Re-score the returned model on the same held-out rows.
    from sklearn.model_selection import train_test_split

    _, X_val, _, y_val = train_test_split(
        X, y, test_size=100, stratify=y, random_state=0
    )
    assert clf.score(X_val, y_val) == pytest.approx(clf.best_validation_score_)


# One partial_fit step per call: a loss still above the constant model's is expected after so few.
@pytest.mark.filterwarnings(
    r"ignore:\w+ ended at a training loss:sklearn.exceptions.ConvergenceWarning"
)
def test_partial_fit_and_warm_start():
    X, y = make_classification(400, 5, random_state=0)
    clf = MLPSoftmaxClassifier((8,), random_state=0)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1])
    assert clf.n_iter_ == 3
    warm = MLPSoftmaxClassifier((8,), max_iter=2, warm_start=True, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warm.fit(X, y)
        first = warm.coefs_[0].copy()
        warm.fit(X, y)
    assert warm.n_iter_ == 4
    assert not np.array_equal(first, warm.coefs_[0])


def test_accuracy_within_one_point_of_mlpclassifier():
    # Same architecture, solver, learning rate, batch size and epochs. Our
    # alpha multiplies the penalty on the mean loss; MLPClassifier divides
    # its alpha by the batch size, hence alpha / 200 here.
    X, y = make_classification(8000, 20, n_informative=12, n_classes=5, random_state=0)
    X_train, y_train, X_test, y_test = X[:6000], y[:6000], X[6000:], y[6000:]
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(3):
            ours.append(
                MLPSoftmaxClassifier((64,), alpha=1e-4 / 200, max_iter=30, tol=0, random_state=seed)
                .fit(X_train, y_train)
                .score(X_test, y_test)
            )
            theirs.append(
                MLPClassifier((64,), alpha=1e-4, max_iter=30, tol=0, random_state=seed)
                .fit(X_train, y_train)
                .score(X_test, y_test)
            )
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.01, (ours, theirs)


def test_bad_hidden_layer_sizes():
    X, y = make_classification(30, 3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(ValueError, match="positive int"):
        MLPSoftmaxClassifier((4, 0)).fit(X, y)
