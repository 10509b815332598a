"""scikit-learn classifiers and regressors whose training objective is a PyTorch autograd graph."""

from ._classifier import AutodiffClassifier
from ._regressor import AutodiffRegressor
from ._risk_coverage_display import RiskCoverageDisplay
from ._selective_cv import SelectiveClassifierCV
from .linear_model import BCELogisticClassifier, LinearAutodiffRegressor, TanhLogisticClassifier
from .neural_network import MLPAutodiffRegressor, MLPSoftmaxClassifier
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
    "AutodiffRegressor",
    "BCELogisticClassifier",
    "LinearAutodiffRegressor",
    "MLPAutodiffRegressor",
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
