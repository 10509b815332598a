"""
Abstention: risk-coverage curves and Chow's threshold
=====================================================

A classifier that may abstain trades *coverage* (the fraction of samples it
answers) for *selective risk* (the error rate on the samples it answers).
Ranking the test samples by the model's confidence
:math:`\\max_k P(k \\mid x)`, highest first, and accepting the top ones gives
the risk-coverage curve; the area under it (AURC) summarises it in one number,
lower is better.

If a rejection costs :math:`c` and an error costs 1, Chow's rule rejects
where the confidence is below :math:`t = 1 - c`: answering costs the
probability of an error, :math:`1 - \\max_k P(k \\mid x)`, rejecting costs
:math:`c`. Every estimator here applies that rule with
``reject_threshold=t``.

The data are the handwritten digits shipped with scikit-learn (8x8 images,
10 classes), half for training and half for testing.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autodiff import (
    BCELogisticClassifier,
    MLPSoftmaxClassifier,
    TanhLogisticClassifier,
)

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.5, stratify=y, random_state=0
)

cost = 0.1  # a rejection costs a tenth of an error
threshold = 1 - cost  # Chow's rule

# The reject option changes ``predict`` only; ``predict_proba`` stays the
# same, so one fit gives both the curve and the abstaining predictions.
estimators = {
    "TanhLogisticClassifier": TanhLogisticClassifier(alpha=1e-3),
    "BCELogisticClassifier": BCELogisticClassifier(alpha=1e-3),
    "MLPSoftmaxClassifier": MLPSoftmaxClassifier((64,), solver="lbfgs", alpha=1e-2,
                                                 tol=1e-3, random_state=0),
}
models = {
    name: make_pipeline(StandardScaler(), est.set_params(reject_threshold=threshold))
    .fit(X_train, y_train)
    for name, est in estimators.items()
}


# %%
# The risk-coverage curve
# -----------------------
# Computed here from ``predict_proba`` directly: sort by confidence, highest
# first, and accept every sample whose confidence is at least each distinct
# confidence value in turn (tied samples enter together).
def risk_coverage(y_true, proba, classes):
    confidence = proba.max(axis=1)
    wrong = classes[proba.argmax(axis=1)] != y_true
    order = np.argsort(-confidence, kind="stable")
    confidence, wrong = confidence[order], wrong[order]
    # the last position of each group of equal confidences
    last = np.r_[np.flatnonzero(np.diff(confidence)), len(confidence) - 1]
    accepted = last + 1
    coverage = accepted / len(y_true)
    risk = np.cumsum(wrong)[last] / accepted
    return coverage, risk, confidence[last]


fig, (ax_rc, ax_chow) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
thresholds_grid = np.linspace(0.3, 1.0, 141)
print(f"{'estimator':24s} {'accuracy':>8s} {'AURC':>7s} | at t = {threshold}: "
      f"{'coverage':>8s} {'sel. risk':>9s} {'Chow loss':>9s}")
for name, model in models.items():
    proba = model.predict_proba(X_test)
    coverage, risk, thresholds = risk_coverage(y_test, proba, model.classes_)
    aurc = risk.mean()
    line, = ax_rc.step(coverage, risk, where="post", label=f"{name} (AURC {aurc:.4f})")

    # Chow's rule through the estimator's own reject option (-1 = rejected).
    predicted = model.predict(X_test)
    accepted = predicted != -1
    sel_risk = np.mean(predicted[accepted] != y_test[accepted])
    chow = (np.sum(predicted[accepted] != y_test[accepted]) + cost * np.sum(~accepted)) / len(y_test)
    ax_rc.plot(accepted.mean(), sel_risk, "o", color=line.get_color(), markersize=7)
    accuracy = np.mean(model.classes_[proba.argmax(axis=1)] == y_test)
    print(f"{name:24s} {accuracy:8.3f} "
          f"{aurc:7.4f} | {'':14s}{accepted.mean():8.3f} {sel_risk:9.4f} {chow:9.4f}")

    # The empirical Chow loss of every threshold, from the probabilities.
    confidence = proba.max(axis=1)
    wrong = model.classes_[proba.argmax(axis=1)] != y_test
    losses = [np.mean(np.where(confidence >= t, wrong, cost)) for t in thresholds_grid]
    ax_chow.plot(thresholds_grid, losses, color=line.get_color(), label=name)

ax_rc.set(xlabel="coverage", ylabel="selective risk (error rate on accepted)",
          title="risk-coverage on the digits test set", ylim=(0, None))
ax_rc.legend(fontsize=8, title=f"dots: reject_threshold = {threshold}", title_fontsize=8)
ax_chow.axvline(threshold, color="k", linestyle="--", linewidth=1,
                label=f"Chow's threshold 1 - c = {threshold}")
ax_chow.set(xlabel="reject threshold t", ylabel="(errors + c × rejections) / n",
            title=f"Chow loss for rejection cost c = {cost}")
ax_chow.legend(fontsize=8)
fig.savefig("risk_coverage.png", dpi=100)

# %%
# Reading the plots
# -----------------
# The tanh and the logistic model have the same optimum (the tanh model is the
# logistic model with its weights written as :math:`2\\beta w`), so their
# curves coincide. The dots are what ``predict`` does with
# ``reject_threshold=0.9``: every model answers most of the test set and
# makes (almost) no error on what it answers. Chow's threshold is the best
# one when the probabilities are calibrated; on the right, the empirical
# optimum sits at a lower threshold, a sign that these regularised models
# are under-confident. Choosing the threshold on held-out data instead is
# the job of cross-validation.
