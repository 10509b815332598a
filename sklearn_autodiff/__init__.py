"""scikit-learn classifiers whose training objective is a PyTorch autograd graph."""

from .linear_model import BCELogisticClassifier, TanhLogisticClassifier

__all__ = ["BCELogisticClassifier", "TanhLogisticClassifier"]
__version__ = "0.1.0"
