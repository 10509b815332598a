"""Selective classification: metrics, a threshold-learning meta-estimator, a plot.

A selective classifier either answers a class or abstains (predicts a
*reject label*). Its quality has two sides: how much it answers (coverage)
and how often those answers are wrong (selective risk). This module holds

- the metrics of that trade-off (:func:`coverage_score`,
  :func:`selective_accuracy_score`, :func:`selective_risk_score`,
  :func:`chow_loss`, :func:`risk_coverage_curve`, :func:`aurc_score`), all
  usable with :func:`sklearn.metrics.make_scorer`;
- :class:`SelectiveClassifierCV`, which learns the confidence threshold below
  which a classifier abstains, from cross-validated probabilities, optionally
  with a statistical guarantee on the risk;
- :class:`RiskCoverageDisplay`, the risk-coverage plot (matplotlib optional).

Throughout, the *confidence* of a prediction is the largest class
probability :math:`\\kappa(x) = \\max_k P(k \\mid x)`, and a threshold
:math:`\\tau` accepts a sample when :math:`\\kappa(x) \\ge \\tau` and rejects
it when :math:`\\kappa(x) < \\tau`, as the estimators' ``reject_threshold``
does.
"""


from ._risk_coverage_display import RiskCoverageDisplay
from ._selective_cv import SelectiveClassifierCV
from ._selective_metrics import (
    aurc_score,
    chow_loss,
    coverage_score,
    risk_coverage_curve,
    selective_accuracy_score,
    selective_risk_score,
)

__all__ = [
    "RiskCoverageDisplay",
    "SelectiveClassifierCV",
    "aurc_score",
    "chow_loss",
    "coverage_score",
    "risk_coverage_curve",
    "selective_accuracy_score",
    "selective_risk_score",
]
