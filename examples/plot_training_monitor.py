"""
Watching a fit: progress bar and per-epoch scores
=================================================

The estimators accept scikit-learn's fit callbacks (:mod:`sklearn.callback`),
set with ``set_callbacks``. They are called after every epoch (every
iteration for the full-batch solvers):

* :class:`~sklearn.callback.ProgressBar` draws a progress bar (it needs
  ``rich``: ``pip install -e ".[progress]"``);
* :class:`~sklearn.callback.ScoringMonitor` scores the model on the data passed
  to ``fit`` and keeps the scores, which ``get_logs()`` returns.

Here an MLP is trained on the handwritten digits with early stopping, and the
monitored training accuracy is drawn next to the accuracy on the held-out
validation fraction that the estimator records itself in
``validation_scores_``.
"""

# %%
import matplotlib.pyplot as plt
from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

from sklearn_autodiff import MLPSoftmaxClassifier

X, y = load_digits(return_X_y=True)
X = StandardScaler().fit_transform(X)

monitor = ScoringMonitor(scoring="accuracy")
clf = MLPSoftmaxClassifier((32,), early_stopping=True, random_state=0)
clf.set_callbacks(ProgressBar(), monitor)
clf.fit(X, y)
print(f"early stopping after {clf.n_iter_} epochs")

# %%
# The log
# -------
# ``get_logs()`` returns the log of the latest fit; its ``data`` holds one row
# for the whole fit (``task_name == "fit"``) and one per epoch.
log = monitor.get_logs()
epochs = [row for row in log.data if row["task_name"] == "epoch"]
print(f"{len(epochs)} epochs logged; training accuracy "
      f"{epochs[0]['accuracy']:.3f} after the first, {epochs[-1]['accuracy']:.3f} after the last")
print(f"best validation accuracy {clf.best_validation_score_:.3f}")

# %%
# Training and validation accuracy per epoch
# ------------------------------------------
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
ax.plot(range(1, len(epochs) + 1), [row["accuracy"] for row in epochs],
        label="ScoringMonitor: data passed to fit")
ax.plot(range(1, len(clf.validation_scores_) + 1), clf.validation_scores_, "--",
        label="validation_scores_: held-out fraction")
ax.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
       title="MLPSoftmaxClassifier on the digits, early stopping")
ax.legend(loc="lower right")
fig.savefig("training_monitor.png", dpi=100)
