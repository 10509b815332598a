"""The truncated Newton solver (``solver="newton-cg"``) and the solver registry."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier, TanhLogisticClassifier
from sklearn_autodiff.heads import OneVsRestBinaryCrossEntropy
from sklearn_autodiff._modules import LinearScorer
from sklearn_autodiff._solvers import (
    FULL_BATCH_SOLVERS,
    REGISTRY,
    SOLVERS,
    Newton,
    NewtonCG,
    Problem,
    SolverContext,
    TrainingOptions,
    auto_solver,
)
from sklearn_autodiff._solvers._newton import _preconditioned_cg
from sklearn_autodiff._training import train
from sklearn_autodiff.losses import l2_penalty


def _data(n_classes=2, n=400, d=12, seed=0):
    return make_classification(n, d, n_informative=min(6, d - 2), n_redundant=min(2, d - 2),
                               n_classes=n_classes, random_state=seed)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_newton_cg_reaches_logistic_regressions_optimum(n_classes):
    X, y = _data(n_classes)
    C = 0.5
    alpha = 1 / (C * len(y))
    ours = BCELogisticClassifier(alpha=alpha, solver="newton-cg", tol=1e-12, max_iter=100).fit(X, y)
    if n_classes == 2:
        reference = LogisticRegression(C=C, tol=1e-14, max_iter=10_000, solver="newton-cholesky")
        reference.fit(X, y)
        np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=1e-8, atol=1e-10)
    exact = BCELogisticClassifier(alpha=alpha, solver="newton", tol=1e-12, max_iter=100).fit(X, y)
    np.testing.assert_allclose(ours.coef_, exact.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(ours.intercept_, exact.intercept_, rtol=1e-8, atol=1e-10)
    assert ours.solver_ == "newton-cg"


def test_newton_cg_with_weights_and_the_tanh_model():
    X, y = _data(2, seed=1)
    weight = np.random.default_rng(0).uniform(0.2, 3.0, len(y))
    kw = dict(alpha=1e-2, tol=1e-12, max_iter=100)
    ours = TanhLogisticClassifier(solver="newton-cg", **kw).fit(X, y, sample_weight=weight)
    exact = TanhLogisticClassifier(solver="newton", **kw).fit(X, y, sample_weight=weight)
    np.testing.assert_allclose(ours.predict_proba(X), exact.predict_proba(X), rtol=1e-8, atol=1e-12)


def test_newton_cg_uses_autograd_for_a_head_without_closed_forms():
    # A head that redefines its loss: D comes from autograd's double backward.
    class Squared(OneVsRestBinaryCrossEntropy):
        def loss(self, logits, target, sample_weight=None):
            return 0.5 * ((logits - target) ** 2).sum(dim=1).mean()

    X, y = _data(2, n=200, d=5)
    Xt = torch.as_tensor(X)
    target = torch.as_tensor(y, dtype=torch.float64)[:, None]
    alpha = 0.1
    module = LinearScorer(5, 1).double()
    problem = Problem(module=module, loss=Squared().loss,
                      penalty=lambda m: l2_penalty(m.penalized_weights(), alpha), X=Xt, target=target)
    solver = NewtonCG(problem, TrainingOptions(solver="newton-cg", tol=1e-12),
                      SolverContext(head=Squared(), alpha=alpha))
    assert train(solver, module, max_steps=50).converged
    # Ridge in closed form: (X1^T X1 / n + alpha diag(1, .., 1, 0)) w = X1^T t / n.
    X1 = torch.cat([Xt, torch.ones(len(y), 1, dtype=torch.float64)], dim=1)
    A = X1.T @ X1 / len(y) + alpha * torch.diag(torch.tensor([1.0] * 5 + [0.0], dtype=torch.float64))
    w = torch.linalg.solve(A, X1.T @ target[:, 0] / len(y))
    np.testing.assert_allclose(module.weight.detach()[0].numpy(), w[:5].numpy(), rtol=1e-8)
    np.testing.assert_allclose(float(module.bias.detach()[0]), float(w[5]), rtol=1e-8)


def test_float32_newton_cg_reaches_the_float64_optimum_to_float32_rounding():
    X, y = _data(2, n=2000, d=40)
    alpha = 1 / len(y)
    f32 = BCELogisticClassifier(alpha=alpha, solver="newton-cg").fit(X.astype(np.float32), y)
    f64 = BCELogisticClassifier(alpha=alpha, solver="newton", tol=1e-10).fit(X, y)
    assert f32.coef_.dtype == np.float32
    np.testing.assert_allclose(f32.coef_, f64.coef_, rtol=0, atol=1e-3)
    assert np.mean(f32.predict(X) == f64.predict(X)) >= 0.999


def test_cg_solves_a_positive_definite_system():
    g = torch.Generator().manual_seed(0)
    A = torch.randn(8, 8, dtype=torch.float64, generator=g)
    H = A @ A.T + 8 * torch.eye(8, dtype=torch.float64)
    grad = torch.randn(1, 8, dtype=torch.float64, generator=g) * 1e-6  # small: tight forcing term
    x, x_logits = _preconditioned_cg(lambda v: (v @ H, v), grad, 1 / H.diagonal()[None])
    g_norm = float(grad.norm())
    assert float((x @ H + grad).norm()) <= g_norm**1.5  # the forcing term's residual
    torch.testing.assert_close(x_logits, x)


def test_registry_names_are_the_solver_parameter():
    assert set(SOLVERS) == {"auto", *REGISTRY}
    assert "newton-cg" in SOLVERS and "newton-cg" in FULL_BATCH_SOLVERS
    assert "adam" not in FULL_BATCH_SOLVERS
    assert REGISTRY["newton"] is Newton and REGISTRY["newton-cg"] is NewtonCG


def test_newton_cg_refused_where_it_does_not_apply():
    X, y = _data(2, n=100, d=4)
    with pytest.raises(ValueError, match="solver='newton-cg' needs a model whose logits are affine"):
        MLPSoftmaxClassifier((4,), solver="newton-cg").fit(X, y)


def test_a_head_can_turn_newton_off():
    from sklearn_autodiff._solvers import newton_applies

    class NotSmooth(OneVsRestBinaryCrossEntropy):
        newton = False

    assert newton_applies(OneVsRestBinaryCrossEntropy())
    assert not newton_applies(NotSmooth())
    assert auto_solver(1000, 10, 1, newton=False) == "lbfgs"
