"""
Poisson counts and a quantile band
==================================

Two regressions whose loss is not the squared error, on the same engine as
the classifiers.

*Counts.* For counts :math:`y \\in \\{0, 1, 2, \\dots\\}` whose mean grows
multiplicatively with x, ``loss="poisson"`` fits
:math:`\\hat y = e^{x^\\top w + b}` by minimising the half Poisson deviance

.. math:: \\ell(y, \\hat y) = y \\log \\frac{y}{\\hat y} - y + \\hat y,

plus :math:`\\frac{\\alpha}{2} \\lVert w \\rVert^2`: the objective of
:class:`sklearn.linear_model.PoissonRegressor`, whose optimum
:class:`~sklearn_autodiff.LinearAutodiffRegressor` reaches with Newton steps.
A least-squares line through the same counts predicts negative counts.

*A quantile band.* ``loss="quantile"`` minimises the pinball loss
:math:`q \\max(r, 0) + (1 - q) \\max(-r, 0)` of the residual
:math:`r = y - \\hat y`, whose minimiser is the q-quantile of y given x. Three
:class:`~sklearn_autodiff.MLPAutodiffRegressor` fits, at q = 0.1, 0.5 and 0.9,
give a band that widens where the noise does. The linear model with the same
loss equals :class:`sklearn.linear_model.QuantileRegressor` (``alpha=0``).
"""

# %%
# Counts with a log link
# ----------------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import PoissonRegressor, QuantileRegressor
from sklearn.metrics import mean_pinball_loss, mean_poisson_deviance
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autodiff import LinearAutodiffRegressor, MLPAutodiffRegressor

rng = np.random.default_rng(0)
x = rng.uniform(0, 3, size=400)
counts = rng.poisson(np.exp(0.9 * x - 0.5))
X = x[:, None]

poisson = LinearAutodiffRegressor("poisson", alpha=1e-3, tol=1e-8).fit(X, counts)
reference = PoissonRegressor(alpha=1e-3, tol=1e-10, max_iter=1000).fit(X, counts)
least_squares = LinearAutodiffRegressor("squared_error", alpha=0.0).fit(X, counts)

relative = np.max(np.abs(poisson.predict(X) / reference.predict(X) - 1))
print(f"poisson ({poisson.solver_}): w = {poisson.coef_[0]:.6f}, b = {poisson.intercept_:.6f}")
print(f"PoissonRegressor:  w = {reference.coef_[0]:.6f}, b = {reference.intercept_:.6f}")
print(f"largest relative difference of the predictions: {relative:.1e}")
for name, model in [("poisson", poisson), ("squared_error", least_squares)]:
    prediction = model.predict(X)
    deviance = mean_poisson_deviance(counts, np.clip(prediction, 1e-9, None))
    print(f"{name:14s} smallest prediction {prediction.min():6.2f}, "
          f"mean Poisson deviance {deviance:.3f}")

# %%
# A quantile band
# ---------------
# The noise grows with x, so the 10% and 90% quantiles spread apart. The
# network's quantiles are fitted one model per level, on standardized t (L-BFGS
# converges in a few hundred iterations there); the linear ones are compared
# with scikit-learn's linear program.
t = np.sort(rng.uniform(0, 10, size=500))
y = 2 * np.sin(t) + rng.normal(size=t.size) * (0.2 + 0.15 * t)
T = t[:, None]

levels = [0.1, 0.5, 0.9]
band, linear = {}, {}
for q in levels:
    band[q] = make_pipeline(StandardScaler(), MLPAutodiffRegressor(
        (32,), "tanh", loss="quantile", quantile=q, solver="lbfgs", max_iter=500,
        random_state=0,
    )).fit(T, y)
    linear[q] = LinearAutodiffRegressor("quantile", quantile=q, alpha=0.0).fit(T, y)
    sk = QuantileRegressor(quantile=q, alpha=0.0).fit(T, y)
    gap = np.max(np.abs(linear[q].predict(T) - sk.predict(T)))
    ours_loss = mean_pinball_loss(y, linear[q].predict(T), alpha=q)
    sk_loss = mean_pinball_loss(y, sk.predict(T), alpha=q)
    below = np.mean(y <= band[q].predict(T))
    print(f"q = {q}: MLP has {below:.1%} of y below its curve; linear vs QuantileRegressor: "
          f"largest gap {gap:.1e} (std(y) = {y.std():.2f}), pinball loss "
          f"{ours_loss:.6f} vs {sk_loss:.6f}")

# %%
# The figure
# ----------
fig, (ax_counts, ax_band) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")

grid = np.linspace(0, 3, 200)[:, None]
jitter = rng.uniform(-0.15, 0.15, size=counts.size)
ax_counts.scatter(x, counts + jitter, s=8, c="0.6", label="counts (jittered)")
ax_counts.plot(grid, poisson.predict(grid), c="C0", lw=2.5, label='loss="poisson"')
ax_counts.plot(grid, reference.predict(grid), c="k", ls="--", lw=1,
               label="PoissonRegressor")
ax_counts.plot(grid, least_squares.predict(grid), c="C3", lw=1.5,
               label='loss="squared_error"')
ax_counts.axhline(0, c="k", lw=0.5)
ax_counts.set(xlabel="x", ylabel="count", title=r"counts: $\hat y = e^{xw + b}$")
ax_counts.legend(loc="upper left", fontsize=8)

grid = np.linspace(0, 10, 300)[:, None]
ax_band.scatter(t, y, s=8, c="0.6")
ax_band.fill_between(grid[:, 0], band[0.1].predict(grid), band[0.9].predict(grid),
                     color="C0", alpha=0.2, label="MLP, q = 0.1 to 0.9")
ax_band.plot(grid, band[0.5].predict(grid), c="C0", lw=2, label="MLP, q = 0.5")
for q in levels:
    ax_band.plot(grid, linear[q].predict(grid), c="C1", ls="--", lw=1,
                 label="linear (= QuantileRegressor)" if q == levels[0] else None)
ax_band.set(xlabel="t", ylabel="y", title='loss="quantile": quantiles 0.1, 0.5, 0.9')
ax_band.legend(loc="upper left", fontsize=8)
fig.savefig("regression.png", dpi=100)
