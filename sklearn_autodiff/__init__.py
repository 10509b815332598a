"""scikit-learn classifiers whose training objective is a PyTorch autograd graph."""

from .linear_model import BCELogisticClassifier, TanhLogisticClassifier
from .neural_network import MLPSoftmaxClassifier

__all__ = ["BCELogisticClassifier", "MLPSoftmaxClassifier", "TanhLogisticClassifier"]
__version__ = "0.1.0"
