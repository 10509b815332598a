"""
Abstention: risk-coverage curves and Chow's threshold
=====================================================

A classifier that may abstain trades *coverage* (the fraction of samples it
answers) for *selective risk* (the error rate on the samples it answers).
Ranking the test samples by the model's confidence
:math:`\\max_k P(k \\mid x)`, highest first, and accepting the top ones gives
the risk-coverage curve (:func:`~sklearn_autodiff.risk_coverage_curve`); the
area under it (:func:`~sklearn_autodiff.aurc_score`) summarises it in one
number, lower is better.

If a rejection costs :math:`c` and an error costs 1, Chow's rule rejects
where the confidence is below :math:`t = 1 - c`: answering costs the
probability of an error, :math:`1 - \\max_k P(k \\mid x)`, rejecting costs
:math:`c`. Every estimator here applies that rule with
``reject_threshold=t``; :class:`~sklearn_autodiff.SelectiveClassifierCV`
instead learns the threshold that minimises the cost on held-out data.

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
    RiskCoverageDisplay,
    SelectiveClassifierCV,
    TanhLogisticClassifier,
    aurc_score,
    chow_loss,
    coverage_score,
    risk_coverage_curve,
    selective_risk_score,
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
# Curves, Chow's threshold and a learned threshold
# ------------------------------------------------
# On the left, each estimator's risk-coverage curve on the test set, and (dots)
# where ``predict`` with ``reject_threshold=0.9`` lands on it. On the right,
# the cost per sample of every threshold, read off the same curve:
# (errors + c x rejections) / n = risk x coverage + c x (1 - coverage).
# The dotted lines are the thresholds :class:`~sklearn_autodiff.SelectiveClassifierCV`
# learns from 3-fold cross-validation on the training half.
#
# The tanh and the logistic model reach the same optimum (see below), so their
# curves lie on top of each other: the tanh model is drawn as a wide solid line
# and the logistic model dashed over it, so that both stay visible.
styles = {
    "TanhLogisticClassifier": dict(color="C0", linewidth=4, alpha=0.45),
    "BCELogisticClassifier": dict(color="C1", linewidth=1.5, linestyle="--"),
    "MLPSoftmaxClassifier": dict(color="C2", linewidth=1.5),
}
fig, (ax_rc, ax_chow) = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
print(f"{'':24s} {'':>9s} {'':>7s}    Chow, t = {threshold}        learned threshold")
print(f"{'estimator':24s} {'accuracy':>9s} {'AURC':>7s}   {'coverage':>8s} {'cost':>7s}"
      f"   {'t':>6s} {'coverage':>8s} {'cost':>7s}")
for name, model in models.items():
    proba = model.predict_proba(X_test)
    aurc = aurc_score(y_test, proba, labels=model.classes_)
    style = styles[name]
    display = RiskCoverageDisplay.from_estimator(
        model, X_test, y_test, ax=ax_rc, label=f"{name} (AURC {aurc:.4f})", **style
    )
    color = style["color"]

    # Chow's rule through the estimator's own reject option (-1 = rejected).
    predicted = model.predict(X_test)
    coverage_t = coverage_score(y_test, predicted, reject_label=-1)
    risk_t = selective_risk_score(y_test, predicted, reject_label=-1)
    cost_t = chow_loss(y_test, predicted, reject_label=-1, cost=cost)
    ax_rc.plot(coverage_t, risk_t, "o", color=color, alpha=style.get("alpha", 1.0),
               markersize=12 if style["linewidth"] > 2 else 6)

    # The cost of every threshold, from the curve.
    coverage, risk, thresholds = risk_coverage_curve(y_test, proba, labels=model.classes_)
    # (below the lowest confidence every sample is accepted: the plain error rate)
    cost_curve = risk * coverage + cost * (1 - coverage)
    ax_chow.step(np.r_[thresholds, 0.0], np.r_[cost_curve, cost_curve[-1]], where="post",
                 label=name, **style)

    # A threshold learned on held-out data of the training half.
    selective = SelectiveClassifierCV(model, reject_cost=cost, cv=3).fit(X_train, y_train)
    learned = selective.predict(X_test)
    ax_chow.axvline(selective.threshold_, color=color, linestyle=":",
                    linewidth=style["linewidth"], alpha=style.get("alpha", 1.0))

    accuracy = np.mean(model.classes_[proba.argmax(axis=1)] == y_test)
    print(f"{name:24s} {accuracy:9.3f} {aurc:7.4f}   {coverage_t:8.3f} {cost_t:7.4f}"
          f"   {selective.threshold_:6.3f} "
          f"{coverage_score(y_test, learned, reject_label=-1):8.3f} "
          f"{chow_loss(y_test, learned, reject_label=-1, cost=cost):7.4f}")

ax_rc.set(xlabel="coverage", ylabel="selective risk (error rate on accepted)",
          title="risk-coverage on the digits test set")
fig.suptitle("The Tanh and BCE curves coincide (the same model at the optimum): "
             "Tanh drawn wide and light, BCE dashed on top", fontsize=10)
ax_rc.legend(fontsize=8, loc="upper left", title=f"dots: reject_threshold = {threshold}",
             title_fontsize=8)
ax_chow.axvline(threshold, color="k", linestyle="--", linewidth=1,
                label=f"Chow's threshold 1 - c = {threshold}")
ax_chow.set(xlim=(0.3, 1.0), xlabel="reject threshold t",
            ylabel="(errors + c × rejections) / n",
            title=f"cost of each threshold, rejection cost c = {cost}")
ax_chow.legend(fontsize=8, title="dotted: SelectiveClassifierCV", title_fontsize=8)
fig.savefig("risk_coverage.png", dpi=100)

# %%
# Reading the plots
# -----------------
# The tanh and the logistic model have the same optimum (the tanh model is the
# logistic model with its weights written as :math:`2\beta w`), so their
# curves coincide. The dots are what ``predict`` does with
# ``reject_threshold=0.9``: every model answers most of the test set and
# makes (almost) no error on what it answers. Chow's threshold is the best
# one when the probabilities are calibrated; here the cheapest thresholds sit
# lower, a sign that these regularised models are under-confident, and the
# thresholds learned by cross-validation move there.
