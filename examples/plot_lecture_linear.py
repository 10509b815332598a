"""
The lecture's linear classifier and its rejection band
======================================================

The first lecture trains a linear classifier whose soft output is

.. math:: f(x) = \\tanh\\big(\\beta (x^\\top w - b)\\big)

and whose hard output is :math:`\\operatorname{sign} f(x)`, by plain gradient
descent on the logistic loss with bipolar labels
:math:`\\log(1 + e^{-2\\beta y (x^\\top w - b)})`, step size
:math:`\\eta = 0.05`, 100 iterations. :class:`~sklearn_autodiff.TanhLogisticClassifier`
with ``solver="gd"`` runs that loop, with the gradients taken by autograd.

The lecture also keeps a *rejection class* for the points the classifier is
unsure about. Rejecting where the model's confidence
:math:`\\max(P(+1 \\mid x), P(-1 \\mid x))` is below a threshold :math:`t`
is the same as rejecting a band around the decision line:

.. math:: |x^\\top w - b| < \\frac{\\operatorname{artanh}(2t - 1)}{\\beta},

since :math:`P(y = +1 \\mid x) = (1 + f(x)) / 2`. The estimator stores
:math:`w` as ``coef_``, :math:`-b` as ``intercept_`` and :math:`\\beta` as
``beta_``.
"""

# %%
# Two clouds and the lecture's training loop
# ------------------------------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklearn_autodiff import TanhLogisticClassifier

rng = np.random.default_rng(0)
n = 100
X = np.vstack([
    rng.normal(loc=(-1.0, -0.5), scale=0.8, size=(n, 2)),
    rng.normal(loc=(1.0, 0.5), scale=0.8, size=(n, 2)),
])
y = np.repeat([-1, 1], n)

# Reject where the model is less than 90% sure. The labels are -1 and +1, so
# the default reject label (-1) is taken: rejections are predicted as 0.
t = 0.9
clf = TanhLogisticClassifier(
    solver="gd", learning_rate_init=0.05, max_iter=100,
    reject_threshold=t, reject_label=0,
)
# 100 steps is the lecture's budget, not convergence: silence the warning.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    clf.fit(X, y)

w = clf.coef_[0]
b = -clf.intercept_[0]
beta = clf.beta_[0]
print(f"learned w = {np.round(w, 3)}, b = {b:.3f}, beta = {beta:.3f}")
print(f"training loss after {clf.n_iter_} iterations: {clf.loss_:.4f}")

# %%
# For comparison, the lecture's numpy loop with the hand-derived gradients,
# started from the same point (w = 0, b = 0, beta = 1). The two land close
# together but not on the same point: the estimator keeps beta positive by
# learning log(beta), and a gradient step on log(beta) is a step on beta
# scaled by beta (dL/dlog(beta) = beta dL/dbeta), so the paths differ.
w_np, b_np, beta_np, eta = np.zeros(2), 0.0, 1.0, 0.05
for _ in range(100):
    margin = X @ w_np - b_np
    s = 1.0 / (1.0 + np.exp(2 * beta_np * y * margin))  # e^h / (1 + e^h)
    beta_np, b_np, w_np = (
        beta_np - eta * np.mean(s * (-2 * y * margin)),
        b_np - eta * np.mean(s * 2 * beta_np * y),
        w_np - eta * np.mean((s * -2 * beta_np * y)[:, None] * X, axis=0),
    )
print(f"numpy loop: w = {np.round(w_np, 3)}, b = {b_np:.3f}, beta = {beta_np:.3f}")

# %%
# The rejection band
# ------------------
# The half-width of the band in margin units is artanh(2t - 1) / beta. The
# points inside it are exactly those :meth:`reject_mask` flags.
half_width = np.arctanh(2 * t - 1) / beta
in_band = np.abs(X @ w - b) < half_width
rejected = clf.reject_mask(X)
assert np.array_equal(in_band, rejected)
print(f"band |x.w - b| < {half_width:.3f}: {rejected.sum()} of {len(X)} points rejected")

# %%
# Soft and hard output
# --------------------
xx, yy = np.meshgrid(np.linspace(-4, 4, 300), np.linspace(-4, 4, 300))
grid = np.c_[xx.ravel(), yy.ravel()]
margin = (grid @ w - b).reshape(xx.shape)
soft = np.tanh(beta * margin)

fig, (ax_soft, ax_hard) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
image = ax_soft.contourf(xx, yy, soft, levels=np.linspace(-1, 1, 21), cmap="coolwarm", alpha=0.7)
fig.colorbar(image, ax=ax_soft, label=r"$\tanh(\beta(x^\top w - b))$")
ax_soft.set_title(r"soft output $f(x) = \tanh(\beta(x^\top w - b))$")

ax_hard.contourf(xx, yy, np.where(margin >= 0, 1, -1), levels=[-2, 0, 2],
                 colors=["#c6dbef", "#fcbba1"])
ax_hard.contourf(xx, yy, np.abs(margin), levels=[0, half_width], colors=["0.75"])
ax_hard.contour(xx, yy, margin, levels=[-half_width, 0, half_width],
                colors="k", linestyles=["--", "-", "--"], linewidths=1)
ax_hard.set_title(rf"hard output sign$(\cdot)$; rejection band for $t = {t}$ (grey)")

for ax in (ax_soft, ax_hard):
    ax.scatter(*X[y == -1].T, s=22, marker="o", c="#08519c", edgecolors="w",
               linewidths=0.6, label="y = -1")
    ax.scatter(*X[y == 1].T, s=26, marker="^", c="#a50f15", edgecolors="w",
               linewidths=0.6, label="y = +1")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", aspect="equal")
ax_hard.scatter(*X[rejected].T, s=8, marker="x", c="k", linewidths=0.8, label="rejected")
ax_hard.legend(loc="lower right", fontsize=8, framealpha=0.9)
fig.suptitle(rf"gradient descent, $\eta = 0.05$, 100 iterations: learned $\beta = {beta:.2f}$")
fig.savefig("lecture_linear.png", dpi=100)
