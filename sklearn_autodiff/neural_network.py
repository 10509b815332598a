"""Multi-layer perceptrons: a softmax classifier and a regressor."""

import numbers
import os

import torch
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions

from ._classifier import AutodiffClassifier
from ._data import to_numpy
from ._docs import (
    CLASSIFIER_ATTRIBUTES_DOC,
    CLASSIFIER_PARAMETERS_DOC,
    COMMON_PARAMETERS_DOC,
    REGRESSOR_ATTRIBUTES_DOC,
)
from ._modules import ACTIVATIONS, MLP
from ._regressor import REGRESSION_LOSS_PARAMETERS_DOC, AutodiffRegressor, RegressionLossMixin
from .heads import SoftmaxCrossEntropy


class _MLPLayers:
    """The layer parameters both MLPs share, and the module they build."""

    _layer_constraints = {
        "hidden_layer_sizes": [tuple, list, Interval(numbers.Integral, 1, None, closed="left")],
        # Entries are checked in build_module (_hidden_sizes).
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    }

    def build_module(self, n_features, n_targets):
        """The MLP with Glorot-uniform weights (as scikit-learn's MLPs)."""
        layer_sizes = [
            n_features, *_hidden_sizes(self.hidden_layer_sizes, type(self).__name__), n_targets
        ]
        _check_memory(layer_sizes)
        return MLP(layer_sizes, self.activation, self.dropout)

    def fitted_attributes(self, module):
        """``coefs_`` (each (fan_in, fan_out)) and ``intercepts_``, as scikit-learn's MLPs."""
        layers = module.linear_layers()
        return {
            "coefs_": [to_numpy(layer.weight.T) for layer in layers],
            "intercepts_": [to_numpy(layer.bias) for layer in layers],
        }


class MLPSoftmaxClassifier(_MLPLayers, AutodiffClassifier):
    __doc__ = f"""Multi-layer perceptron with softmax output, trained with autograd.

    Hidden layers :math:`h_s = \\mathrm{{act}}(W_s h_{{s-1}} + b_s)` (with
    dropout after each during training), output
    :math:`p(x) = \\operatorname{{softmax}}(W_d h_{{d-1}} + b_d)`, trained on

    .. math:: \\frac{{1}}{{\\sum_i s_i}} \\sum_i s_i \\left(-\\log p_{{y_i}}(x_i)\\right)
              + \\frac{{\\alpha}}{{2}} \\sum_s \\lVert W_s \\rVert^2 .

    Any number of classes (two included) uses one softmax output per class.
    Parameter names follow :class:`sklearn.neural_network.MLPClassifier`.
    Unlike there, ``alpha`` multiplies the penalty on the mean loss (it is
    not divided by the batch size), as in the linear classifiers here.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Width of each hidden layer; ``()`` is softmax regression.
    activation : {{"relu", "tanh", "logistic", "identity"}}, default="relu"
        Hidden-layer nonlinearity.
    dropout : float in [0, 1), default=0.0
        Probability of zeroing a hidden unit during training.
{CLASSIFIER_PARAMETERS_DOC}
    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[s]`` has shape (fan_in, fan_out), as in MLPClassifier.
    intercepts_ : list of ndarray
        ``intercepts_[s]`` has shape (fan_out,).
{CLASSIFIER_ATTRIBUTES_DOC}
    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_autodiff import MLPSoftmaxClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPSoftmaxClassifier(hidden_layer_sizes=(16,), solver="lbfgs",
    ...                            random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    head = SoftmaxCrossEntropy()

    _parameter_constraints = {
        **AutodiffClassifier._parameter_constraints,
        **_MLPLayers._layer_constraints,
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, dropout=0.0,
                 solver="adam", **kwargs):
        super().__init__(solver=solver, **kwargs)
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout


class MLPAutodiffRegressor(RegressionLossMixin, _MLPLayers, AutodiffRegressor):
    __doc__ = f"""Multi-layer perceptron regressor with a choice of loss, trained with autograd.

    Hidden layers :math:`h_s = \\mathrm{{act}}(W_s h_{{s-1}} + b_s)` (with
    dropout after each during training), raw output
    :math:`z = W_d h_{{d-1}} + b_d` and prediction :math:`\\hat y = h(z)`
    (the identity, or :math:`\\exp` for ``loss="poisson"``), trained on

    .. math:: \\frac{{1}}{{\\sum_i s_i}} \\sum_i s_i \\, \\ell(y_i, z_i)
              + \\frac{{\\alpha}}{{2}} \\sum_s \\lVert W_s \\rVert^2 .

    Parameter names follow :class:`sklearn.neural_network.MLPRegressor`
    (whose squared error is the same half squared error); ``alpha``
    multiplies the penalty on the mean loss, as everywhere here.

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of int, default=(100,)
        Width of each hidden layer; ``()`` is a linear model.
    activation : {{"relu", "tanh", "logistic", "identity"}}, default="relu"
        Hidden-layer nonlinearity.
    dropout : float in [0, 1), default=0.0
        Probability of zeroing a hidden unit during training.
{REGRESSION_LOSS_PARAMETERS_DOC}{COMMON_PARAMETERS_DOC}
    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[s]`` has shape (fan_in, fan_out), as in MLPRegressor.
    intercepts_ : list of ndarray
        ``intercepts_[s]`` has shape (fan_out,).
{REGRESSOR_ATTRIBUTES_DOC}
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autodiff import MLPAutodiffRegressor
    >>> X = np.linspace(-2, 2, 200).reshape(-1, 1)
    >>> reg = MLPAutodiffRegressor((16,), solver="lbfgs", random_state=0).fit(X, np.sin(X).ravel())
    >>> reg.score(X, np.sin(X).ravel()) > 0.99
    True
    """

    _parameter_constraints = {
        **AutodiffRegressor._parameter_constraints,
        **_MLPLayers._layer_constraints,
        **RegressionLossMixin._loss_constraints,
    }

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error",
                 epsilon=1.35, quantile=0.5, dropout=0.0, solver="adam", **kwargs):
        super().__init__(solver=solver, **kwargs)
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.epsilon = epsilon
        self.quantile = quantile
        self.dropout = dropout


def _hidden_sizes(sizes, owner):
    """The hidden widths as a list of positive ints; InvalidParameterError otherwise."""
    listed = [sizes] if not isinstance(sizes, (tuple, list)) else list(sizes)
    if not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in listed
    ):
        raise InvalidParameterError(
            f"The 'hidden_layer_sizes' parameter of {owner} must be a "
            f"positive int or a tuple of positive ints; got {sizes!r}."
        )
    return [int(s) for s in listed]


def _check_memory(layer_sizes):
    """Refuse a network whose parameters alone (with gradients and Adam moments) exceed RAM."""
    if torch.get_default_device().type == "meta":
        return  # a shape-only build (loading checks a stored state this way)
    n_params = sum((a + 1) * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    needed = 4 * 8 * n_params  # float64 parameters, gradients and two moments
    try:
        available = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if needed > available:
        raise MemoryError(
            f"hidden_layer_sizes={layer_sizes[1:-1]} makes {n_params:,} parameters, which "
            f"need about {needed / 2**30:.1f} GiB to train (parameters, gradients and "
            f"optimizer state in float64); this machine has {available / 2**30:.1f} GiB. "
            "Use smaller layers."
        )
