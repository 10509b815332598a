"""
The autograd view: each loss as a function, its gradient two ways
=================================================================

The lectures derive the gradient of each training loss by hand, with the
chain rule; the estimators here never do: they write the loss as a function of
tensors (:mod:`sklearn_autodiff.losses`) and let :mod:`torch.autograd` run it
backwards. This example evaluates each loss at some parameter values, asks
autograd for the gradient, and prints it next to the lecture's closed form:

* tanh classifier, :math:`L = \\frac1n \\sum_j \\log(1 + e^{h_j})` with
  :math:`h_j = -2\\beta y_j (x_j^\\top w - b)`:
  :math:`\\partial L / \\partial \\beta
  = \\frac1n \\sum_j \\sigma(h_j)\\,(-2 y_j (x_j^\\top w - b))`,
  :math:`\\partial L / \\partial b = \\frac1n \\sum_j \\sigma(h_j)\\, 2\\beta y_j`,
  :math:`\\partial L / \\partial w = \\frac1n \\sum_j \\sigma(h_j)\\,(-2\\beta y_j x_j)`;
* logistic regression (binary cross-entropy), :math:`p_j = \\sigma(x_j^\\top w + b)`:
  :math:`\\partial L / \\partial w = \\frac1n \\sum_j (p_j - t_j) x_j`,
  :math:`\\partial L / \\partial b = \\frac1n \\sum_j (p_j - t_j)`;
* the two-layer network :math:`Z = \\sigma(XV + c)`,
  :math:`\\hat Y = \\operatorname{softmax}(ZW + d)` with the cross-entropy
  (one-hot :math:`Y`): :math:`\\partial L / \\partial W = Z^\\top (\\hat Y - Y) / n`,
  :math:`\\partial L / \\partial V
  = X^\\top \\big((\\hat Y - Y) W^\\top \\odot Z (1 - Z)\\big) / n`,
  and the bias gradients are the column means of the same error terms.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from sklearn_autodiff import BCELogisticClassifier
from sklearn_autodiff.losses import (
    binary_cross_entropy_loss,
    l2_penalty,
    softmax_cross_entropy_loss,
    tanh_logistic_loss,
)

generator = torch.Generator().manual_seed(0)


def tensor(value, requires_grad=False):
    """A float64 tensor (float64 so that the differences below are round-off)."""
    return torch.tensor(value, dtype=torch.float64, requires_grad=requires_grad)


# Two clouds with bipolar labels y and 0/1 targets t = (y + 1) / 2.
n = 200
X = torch.cat([torch.randn(n // 2, 2, generator=generator, dtype=torch.float64) - 1,
               torch.randn(n // 2, 2, generator=generator, dtype=torch.float64) + 1])
y = tensor([-1.0] * (n // 2) + [1.0] * (n // 2))
t = (y + 1) / 2


def show(title, rows):
    """Print autograd's gradient and the closed form side by side."""
    print(f"\n{title}")
    print(f"  {'parameter':10s} {'autograd':>34s}   {'closed form':>34s}   max |diff|")
    def fmt(v):
        return np.array2string(v[:3].numpy(), precision=5, suppress_small=True)

    for name, auto, closed in rows:
        auto, closed = auto.detach().ravel(), closed.detach().ravel()
        more = " ..." if auto.numel() > 3 else ""
        print(f"  {name:10s} {fmt(auto) + more:>34s}   {fmt(closed) + more:>34s}"
              f"   {float((auto - closed).abs().max()):.1e}")


# %%
# Tanh classifier (lecture 1)
# ---------------------------
w = tensor([0.5, 0.5], requires_grad=True)
b = tensor(0.2, requires_grad=True)
beta = tensor(1.0, requires_grad=True)

loss = tanh_logistic_loss(X @ w - b, y, beta)
loss.backward()

margin = (X @ w - b).detach()
s = torch.sigmoid(-2 * beta.detach() * y * margin)  # e^h / (1 + e^h)
show(f"tanh_logistic_loss = {loss.item():.6f}", [
    ("beta", beta.grad, (s * -2 * y * margin).mean()),
    ("b", b.grad, (s * 2 * beta.detach() * y).mean()),
    ("w", w.grad, ((s * -2 * beta.detach() * y)[:, None] * X).mean(dim=0)),
])

# %%
# Logistic regression (lecture 2)
# -------------------------------
w = tensor([0.5, -0.3], requires_grad=True)
b = tensor(0.1, requires_grad=True)

loss = binary_cross_entropy_loss(X @ w + b, t)
loss.backward()

p = torch.sigmoid(X @ w + b).detach()
show(f"binary_cross_entropy_loss = {loss.item():.6f}", [
    ("w", w.grad, ((p - t)[:, None] * X).mean(dim=0)),
    ("b", b.grad, (p - t).mean()),
])

# %%
# Two-layer network with a softmax output (lecture 5)
# ---------------------------------------------------
# Iris, two standardized features, 16 logistic hidden units, three classes.
iris = load_iris()
X_iris = torch.as_tensor(StandardScaler().fit_transform(iris.data[:, 2:]))
labels = torch.as_tensor(iris.target)
Y = torch.nn.functional.one_hot(labels, 3).to(X_iris.dtype)

V = (0.5 * torch.randn(2, 16, generator=generator, dtype=torch.float64)).requires_grad_()
c = tensor([0.0] * 16, requires_grad=True)
W = (0.5 * torch.randn(16, 3, generator=generator, dtype=torch.float64)).requires_grad_()
d = tensor([0.0] * 3, requires_grad=True)


def forward(X, V, c, W, d):
    Z = torch.sigmoid(X @ V + c)
    return Z, Z @ W + d


Z, logits = forward(X_iris, V, c, W, d)
loss = softmax_cross_entropy_loss(logits, labels)
loss.backward()

Z = Z.detach()
dU = (torch.softmax(logits.detach(), dim=1) - Y) / len(Y)  # (Y_hat - Y) / n
dQ = (dU @ W.detach().T) * Z * (1 - Z)
show(f"softmax_cross_entropy_loss = {loss.item():.6f}", [
    ("W", W.grad, Z.T @ dU),
    ("d", d.grad, dU.sum(dim=0)),
    ("V", V.grad, X_iris.T @ dQ),
    ("c", c.grad, dQ.sum(dim=0)),
])

# %%
# The penalty and a fitted model
# ------------------------------
# The L2 penalty :math:`\frac{\alpha}{2}\lVert W\rVert^2` has gradient
# :math:`\alpha W`. At the parameters a solver returns, the gradient of the
# whole objective (mean loss plus penalty) vanishes.
alpha = 1e-2
clf = BCELogisticClassifier(alpha=alpha).fit(X.numpy(), t.numpy())
w_fit = tensor(clf.coef_[0], requires_grad=True)
b_fit = tensor(clf.intercept_[0], requires_grad=True)
objective = binary_cross_entropy_loss(X @ w_fit + b_fit, t) + l2_penalty([w_fit], alpha)
objective.backward()
print(f"\nfitted BCELogisticClassifier(alpha={alpha}): objective {objective.item():.6f}, "
      f"largest gradient entry {max(w_fit.grad.abs().max(), b_fit.grad.abs()).item():.1e}")

# %%
# One parameter at a time
# -----------------------
# Each loss along one coordinate (top) and its derivative along it (bottom):
# autograd (line) and the closed form (dots) agree everywhere.


def slice_tanh(value):
    beta = tensor(value, requires_grad=True)
    w, b = tensor([0.5, 0.5]), tensor(0.2)
    loss = tanh_logistic_loss(X @ w - b, y, beta)
    loss.backward()
    margin = X @ w - b
    s = torch.sigmoid(-2 * value * y * margin)
    return loss.item(), beta.grad.item(), (s * -2 * y * margin).mean().item()


def slice_bce(value):
    b = tensor(value, requires_grad=True)
    w = tensor([0.5, -0.3])
    loss = binary_cross_entropy_loss(X @ w + b, t)
    loss.backward()
    return loss.item(), b.grad.item(), (torch.sigmoid(X @ w + value) - t).mean().item()


def slice_mlp(value):
    W_ = W.detach().clone()
    W_[0, 0] = value
    W_.requires_grad_()
    Z, logits = forward(X_iris, V.detach(), c.detach(), W_, d.detach())
    loss = softmax_cross_entropy_loss(logits, labels)
    loss.backward()
    closed = (Z.T @ ((torch.softmax(logits.detach(), 1) - Y) / len(Y)))[0, 0]
    return loss.item(), W_.grad[0, 0].item(), closed.item()


panels = [
    (slice_tanh, np.linspace(0.05, 4, 60), r"$\beta$", "tanh_logistic_loss"),
    (slice_bce, np.linspace(-4, 4, 60), "$b$", "binary_cross_entropy_loss"),
    (slice_mlp, np.linspace(-6, 6, 60), "$W_{11}$", "softmax_cross_entropy_loss"),
]
fig, axes = plt.subplots(2, 3, figsize=(12, 5.5), sharex="col", layout="constrained")
for (function, grid, label, title), (ax_loss, ax_grad) in zip(panels, axes.T):
    values = np.array([function(v) for v in grid])
    ax_loss.plot(grid, values[:, 0])
    ax_loss.set(title=title, ylabel="loss")
    ax_grad.plot(grid, values[:, 1], label="autograd")
    ax_grad.plot(grid[::3], values[::3, 2], "o", markersize=4, label="closed form")
    ax_grad.axhline(0, color="0.7", linewidth=0.8)
    ax_grad.set(xlabel=label, ylabel="derivative")
axes[1, 0].legend()
fig.savefig("autograd_gradients.png", dpi=100)
