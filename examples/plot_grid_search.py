"""
Grid search over a pipeline with MLPSoftmaxClassifier
=====================================================

The estimators are ordinary scikit-learn classifiers, so they go into a
:class:`~sklearn.pipeline.Pipeline` and :class:`~sklearn.model_selection.GridSearchCV`
unchanged: ``clone``, ``set_params`` with the ``step__parameter`` names,
cross-validation and refitting all work as for any scikit-learn estimator.

Here a standardizer and an MLP are tuned together on the handwritten digits:
the width of the hidden layer and the L2 strength ``alpha``.
"""

# %%
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autodiff import MLPSoftmaxClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

pipeline = Pipeline([
    ("scale", StandardScaler()),
    ("mlp", MLPSoftmaxClassifier(solver="lbfgs", tol=1e-3, max_iter=100, random_state=0)),
])
param_grid = {
    "mlp__hidden_layer_sizes": [(4,), (32,)],
    "mlp__alpha": [1e-4, 1e-2, 1e-1],
}
search = GridSearchCV(pipeline, param_grid, cv=3)
# ``max_iter=100`` keeps the search short (a few seconds): the wide networks
# converge well within it, while the narrow ones stop at max_iter before
# L-BFGS's gradient test passes (more iterations do not change their ranking).
# Their ConvergenceWarnings are silenced to keep the output short (their
# scores count as they are).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X_train, y_train)

print("best parameters:", search.best_params_)
print(f"best cross-validated accuracy: {search.best_score_:.3f}")
print(f"test accuracy of the refitted pipeline: {search.score(X_test, y_test):.3f}")

# %%
# Cross-validated accuracy of every candidate
# -------------------------------------------
results = search.cv_results_
alphas = param_grid["mlp__alpha"]
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for sizes in param_grid["mlp__hidden_layer_sizes"]:
    rows = [i for i, p in enumerate(results["params"]) if p["mlp__hidden_layer_sizes"] == sizes]
    rows.sort(key=lambda i: results["params"][i]["mlp__alpha"])
    ax.errorbar(
        alphas, results["mean_test_score"][rows], yerr=results["std_test_score"][rows],
        marker="o", capsize=3, label=f"hidden_layer_sizes={sizes}",
    )
best = search.best_params_
ax.plot(best["mlp__alpha"], search.best_score_, "k*", markersize=14, label="best")
ax.set(xscale="log", xlabel="alpha", ylabel="mean CV accuracy (3 folds)",
       title="GridSearchCV over StandardScaler + MLPSoftmaxClassifier")
ax.legend()
fig.savefig("grid_search.png", dpi=100)
