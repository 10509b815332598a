"""The losses against their closed forms, and their numerical stability."""

import numpy as np
import pytest
import torch

from sklearn_autodiff.losses import (
    binary_cross_entropy_loss,
    l2_penalty,
    softmax_cross_entropy_loss,
    tanh_logistic_loss,
)

rng = np.random.default_rng(0)
N, D = 40, 5
X = torch.tensor(rng.normal(size=(N, D)), dtype=torch.float64)
SW = torch.tensor(rng.uniform(0.1, 3.0, size=N), dtype=torch.float64)


@pytest.fixture(autouse=True)
def _fresh_rng():
    # Each test draws from its own seeded generator: with the suite split over
    # pytest-xdist workers, a module-level generator's state at a test would
    # depend on which tests the same worker ran before it.
    global rng
    rng = np.random.default_rng(1)


def _params(*shapes):
    return [torch.tensor(rng.normal(size=s), dtype=torch.float64, requires_grad=True) for s in shapes]


@pytest.mark.parametrize("sample_weight", [None, SW])
def test_bce_gradient_is_sigma_minus_target_times_x(sample_weight):
    w, b = _params((D,), ())
    t = torch.tensor(rng.integers(0, 2, size=N), dtype=torch.float64)
    loss = binary_cross_entropy_loss(X @ w + b, t, sample_weight)
    loss.backward()
    s = torch.ones(N, dtype=torch.float64) if sample_weight is None else sample_weight
    residual = s * (torch.sigmoid(X @ w + b) - t) / s.sum()
    torch.testing.assert_close(w.grad, X.T @ residual.detach(), rtol=0, atol=1e-10)
    torch.testing.assert_close(b.grad, residual.detach().sum(), rtol=0, atol=1e-10)
    # And the value is the textbook cross-entropy.
    p = torch.sigmoid(X @ w + b)
    expected = (s * (-t * p.log() - (1 - t) * (1 - p).log())).sum() / s.sum()
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sample_weight", [None, SW])
def test_tanh_gradients_match_the_lecture(sample_weight):
    # The lecture's hand-derived gradients, with h = -2 beta y (x'w - b):
    # dL/dbeta = mean(sigma(h) * -2 y (x'w - b)), dL/db = mean(sigma(h) * 2 y beta),
    # dL/dw = mean(sigma(h) * -2 y beta x).
    w, b, beta = _params((D,), (), ())
    with torch.no_grad():
        beta.abs_()
    y = torch.tensor(rng.choice([-1.0, 1.0], size=N), dtype=torch.float64)
    loss = tanh_logistic_loss(X @ w - b, y, beta, sample_weight)
    loss.backward()
    s = torch.ones(N, dtype=torch.float64) if sample_weight is None else sample_weight
    with torch.no_grad():
        margin = X @ w - b
        h = -2 * beta * y * margin
        g = torch.exp(h) / (1 + torch.exp(h)) * s / s.sum()
        dbeta = (g * -2 * y * margin).sum()
        db = (g * 2 * y * beta).sum()
        dw = X.T @ (g * -2 * y * beta)
        value = (s * torch.log(1 + torch.exp(h))).sum() / s.sum()
    torch.testing.assert_close(beta.grad, dbeta, rtol=0, atol=1e-10)
    torch.testing.assert_close(b.grad, db, rtol=0, atol=1e-10)
    torch.testing.assert_close(w.grad, dw, rtol=0, atol=1e-10)
    torch.testing.assert_close(loss, value, rtol=1e-12, atol=1e-12)


def test_softmax_cross_entropy_gradient_is_p_minus_onehot():
    (W,) = _params((D, 3))
    y = torch.tensor(rng.integers(0, 3, size=N))
    logits = X @ W
    loss = softmax_cross_entropy_loss(logits, y, SW)
    loss.backward()
    with torch.no_grad():
        residual = (torch.softmax(logits, 1) - torch.nn.functional.one_hot(y, 3)) * (SW / SW.sum())[:, None]
    torch.testing.assert_close(W.grad, X.T @ residual, rtol=0, atol=1e-10)


def test_l2_penalty_value_and_gradient():
    W1, W2 = _params((3, 4), (4,))
    penalty = l2_penalty([W1, W2], alpha=0.3)
    penalty.backward()
    torch.testing.assert_close(penalty, 0.15 * (W1.square().sum() + W2.square().sum()))
    torch.testing.assert_close(W1.grad, 0.3 * W1.detach())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_losses_are_finite_for_huge_logits(dtype):
    z = torch.tensor([1e4, -1e4, 1e4, -1e4], dtype=dtype, requires_grad=True)
    t = torch.tensor([1.0, 0.0, 0.0, 1.0], dtype=dtype)
    bce = binary_cross_entropy_loss(z, t)
    # Two confident right answers cost 0, two confident wrong ones 1e4 each.
    assert bce.item() == pytest.approx(0.5e4)
    bce.backward()
    assert torch.isfinite(z.grad).all()
    z.grad = None
    y = 2 * t - 1
    tanh = tanh_logistic_loss(z, y, torch.tensor(1.0, dtype=dtype))
    assert tanh.item() == pytest.approx(1e4)  # margins are doubled by 2*beta
    tanh.backward()
    assert torch.isfinite(z.grad).all()
    logits = torch.tensor([[1e4, -1e4], [-1e4, 1e4]], dtype=dtype, requires_grad=True)
    ce = softmax_cross_entropy_loss(logits, torch.tensor([0, 0]))
    assert ce.item() == pytest.approx(1e4)
    ce.backward()
    assert torch.isfinite(logits.grad).all()


def test_integer_weights_equal_repeated_rows():
    z = torch.tensor([0.3, -1.2, 2.0], dtype=torch.float64)
    t = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    weighted = binary_cross_entropy_loss(z, t, torch.tensor([2.0, 1.0, 3.0], dtype=torch.float64))
    repeated = binary_cross_entropy_loss(z[[0, 0, 1, 2, 2, 2]], t[[0, 0, 1, 2, 2, 2]])
    torch.testing.assert_close(weighted, repeated)


def test_tanh_head_loss_is_the_tanh_logistic_loss():
    from sklearn_autodiff.heads import OneVsRestTanh

    rng = np.random.default_rng(0)
    beta = torch.tensor([0.7, 1.3, 2.0], dtype=torch.float64)
    margin = torch.as_tensor(rng.normal(size=(20, 3)))
    y = torch.as_tensor(rng.choice([-1.0, 1.0], size=(20, 3)))
    weight = torch.as_tensor(rng.uniform(0.1, 2.0, 20))
    expected = tanh_logistic_loss(margin, y, beta, weight)
    torch.testing.assert_close(OneVsRestTanh().loss(2 * beta * margin, y, weight), expected)
