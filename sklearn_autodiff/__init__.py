"""scikit-learn classifiers whose training objective is a PyTorch autograd graph."""

from ._base import AutodiffClassifier
from .linear_model import BCELogisticClassifier, TanhLogisticClassifier
from .neural_network import MLPSoftmaxClassifier
from ._risk_coverage_display import RiskCoverageDisplay
from ._selective_cv import SelectiveClassifierCV
from .selective import (
    aurc_score,
    chow_loss,
    coverage_score,
    risk_coverage_curve,
    selective_accuracy_score,
    selective_risk_score,
)

__all__ = [
    "AutodiffClassifier",
    "BCELogisticClassifier",
    "MLPSoftmaxClassifier",
    "RiskCoverageDisplay",
    "SelectiveClassifierCV",
    "TanhLogisticClassifier",
    "aurc_score",
    "chow_loss",
    "coverage_score",
    "risk_coverage_curve",
    "selective_accuracy_score",
    "selective_risk_score",
]
__version__ = "0.1.0"
