"""Linear models: the lecture's tanh model, logistic regression, and linear regression.

The classifiers are binary models; with K > 2 classes they train K one-vs-rest models
jointly, as one weight matrix, and normalise the K probabilities. Their
logits are affine in X and their losses separable and convex, so the
default ``solver="auto"`` can take exact Newton steps.
"""

from numbers import Real

from sklearn.utils._param_validation import Interval

from ._classifier import AutodiffClassifier
from ._data import to_numpy
from ._docs import (
    CLASSIFIER_ATTRIBUTES_DOC,
    CLASSIFIER_PARAMETERS_DOC,
    COMMON_PARAMETERS_DOC,
    REGRESSOR_ATTRIBUTES_DOC,
)
from ._modules import LinearScorer, TanhScorer
from ._regressor import REGRESSION_LOSS_PARAMETERS_DOC, AutodiffRegressor, RegressionLossMixin
from .heads import OneVsRestBinaryCrossEntropy, OneVsRestTanh

# The linear classifiers default to alpha="auto": LogisticRegression()'s C=1.
_LINEAR_PARAMETERS_DOC = CLASSIFIER_PARAMETERS_DOC.replace(
    'alpha : float or "auto", default=1e-4', 'alpha : float or "auto", default="auto"'
)


class BCELogisticClassifier(AutodiffClassifier):
    __doc__ = f"""Logistic regression trained on binary cross-entropy with autograd.

    The model is :math:`p(x) = \\sigma(x^\\top w + b)`, trained on

    .. math:: \\frac{{1}}{{\\sum_i s_i}} \\sum_i s_i \\left[-t_i \\log p(x_i)
              - (1 - t_i) \\log(1 - p(x_i))\\right]
              + \\frac{{\\alpha}}{{2}} \\lVert w \\rVert^2,

    with targets :math:`t \\in \\{{0, 1\\}}` and sample weights :math:`s`.
    With ``alpha = 1 / (C n)`` its optimum is that of
    ``sklearn.linear_model.LogisticRegression(C=C)`` (binary case); the
    default ``alpha="auto"`` is ``1 / n``, so ``BCELogisticClassifier()``
    fits ``LogisticRegression()``'s model.
    More than two classes are handled one-vs-rest.

    Parameters
    ----------
{_LINEAR_PARAMETERS_DOC}
    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights :math:`w`.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Biases :math:`b`.
{CLASSIFIER_ATTRIBUTES_DOC}
    See Also
    --------
    TanhLogisticClassifier : the same model in the lecture's tanh form.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_autodiff import BCELogisticClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), BCELogisticClassifier()).fit(X, y)
    >>> round(clf.score(X, y), 2)
    0.99
    """


    head = OneVsRestBinaryCrossEntropy()

    def __init__(self, *, alpha="auto", **kwargs):
        super().__init__(alpha=alpha, **kwargs)

    def build_module(self, n_features, n_classes):
        """The affine scorer :math:`z = X W^\\top + b`, starting at zero."""
        return LinearScorer(n_features, self.head.n_outputs(n_classes))

    def fitted_attributes(self, module):
        """The fitted weights as numpy arrays."""
        return {"coef_": to_numpy(module.weight), "intercept_": to_numpy(module.bias)}


class TanhLogisticClassifier(AutodiffClassifier):
    __doc__ = f"""The lecture's linear classifier :math:`f(x) = \\tanh(\\beta(x^\\top w - b))`.

    With bipolar labels :math:`y \\in \\{{-1, +1\\}}` it is trained on the
    logistic loss

    .. math:: \\frac{{1}}{{\\sum_i s_i}} \\sum_i s_i
              \\log\\left(1 + e^{{-2\\beta y_i (x_i^\\top w - b)}}\\right)
              + \\frac{{\\alpha}}{{2}} \\lVert 2 \\beta w \\rVert^2,

    where :math:`\\beta > 0` is learned (as :math:`\\log\\beta`) unless
    ``learn_beta=False``. Since :math:`P(y = +1 \\mid x) =
    \\sigma(2\\beta(x^\\top w - b)) = (1 + f(x))/2`, :meth:`predict_proba` is
    exact. The penalty acts on the effective logit weights :math:`2\\beta w`,
    so learning :math:`\\beta` cannot undo it, and the optimum equals that of
    :class:`BCELogisticClassifier` with the same ``alpha``; :math:`\\beta`
    changes the path of gradient descent, not the optimum.

    With ``reject_threshold=t`` (binary case) a sample is rejected exactly
    when it lies in the lecture's band
    :math:`|x^\\top w - b| < \\operatorname{{artanh}}(2t - 1) / \\beta`.

    Parameters
    ----------
{_LINEAR_PARAMETERS_DOC}
    beta : float, default=1.0
        Initial :math:`\\beta` (> 0).
    learn_beta : bool, default=True
        Whether :math:`\\beta` is trained.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights :math:`w`.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        :math:`-b`, so that ``X @ coef_.T + intercept_`` is the margin
        :math:`x^\\top w - b`.
    beta_ : ndarray of shape (1,) or (n_classes,)
        The learned :math:`\\beta`.
{CLASSIFIER_ATTRIBUTES_DOC}
    Notes
    -----
    :meth:`decision_function` returns the log-odds
    :math:`2\\beta(x^\\top w - b)` (binary case); the lecture's soft output is
    :math:`f(x) = \\tanh(\\text{{decision}} / 2) = 2 P(y=+1 \\mid x) - 1`.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autodiff import TanhLogisticClassifier
    >>> X = np.array([[-2.0, -1.0], [-1.0, -2.0], [1.0, 2.0], [2.0, 1.0]])
    >>> y = np.array([-1, -1, 1, 1])
    >>> clf = TanhLogisticClassifier(solver="gd", learning_rate_init=0.05,
    ...                              max_iter=100).fit(X, y)
    >>> clf.predict([[-1.5, -1.5], [1.5, 1.5]]).tolist()
    [-1, 1]
    """


    head = OneVsRestTanh()

    _parameter_constraints = {
        **AutodiffClassifier._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="neither")],
        "learn_beta": ["boolean"],
    }

    def __init__(self, *, alpha="auto", beta=1.0, learn_beta=True, **kwargs):
        super().__init__(alpha=alpha, **kwargs)
        self.beta = beta
        self.learn_beta = learn_beta

    def build_module(self, n_features, n_classes):
        """The scorer :math:`2\\beta(x^\\top w - b)` with (w, b) at zero and the initial beta."""
        return TanhScorer(
            n_features, self.head.n_outputs(n_classes), beta=self.beta, learn_beta=self.learn_beta
        )

    def fitted_attributes(self, module):
        """The fitted weights as numpy arrays."""
        return {
            "coef_": to_numpy(module.weight),
            "intercept_": -to_numpy(module.threshold),
            "beta_": to_numpy(module.beta),
        }


class LinearAutodiffRegressor(RegressionLossMixin, AutodiffRegressor):
    __doc__ = f"""Linear regression with a choice of loss, trained with autograd.

    The model is :math:`\\hat y = h(x^\\top w + b)`, with :math:`h` the
    loss's link (the identity, or :math:`\\exp` for ``loss="poisson"``),
    trained on

    .. math:: \\frac{{1}}{{\\sum_i s_i}} \\sum_i s_i \\, \\ell(y_i, x_i^\\top w + b)
              + \\frac{{\\alpha}}{{2}} \\lVert w \\rVert^2 .

    At the optimum, ``loss="squared_error"`` equals
    ``Ridge(alpha=alpha * n_samples)``, ``loss="poisson"`` equals
    ``PoissonRegressor(alpha=alpha)``, and ``loss="quantile"`` with
    ``alpha=0`` equals ``QuantileRegressor(alpha=0, quantile=quantile)``.
    The smooth losses (squared error, Huber, Poisson) take exact Newton
    steps by default (``solver="auto"``); the pinball loss is not smooth and
    is minimised by Newton steps on a smoothed pinball whose smoothing
    shrinks to zero.

    Parameters
    ----------
{REGRESSION_LOSS_PARAMETERS_DOC}{COMMON_PARAMETERS_DOC}
    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_outputs, n_features)
        Weights :math:`w` (1-D for a 1-D y, as scikit-learn's linear models).
    intercept_ : float or ndarray of shape (n_outputs,)
        Biases :math:`b`.
{REGRESSOR_ATTRIBUTES_DOC}
    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_autodiff import LinearAutodiffRegressor
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
    >>> reg = LinearAutodiffRegressor(alpha=0.0).fit(X, 2 * X.ravel() + 1)
    >>> np.round(reg.coef_, 6).tolist(), round(float(reg.intercept_), 6)
    ([2.0], 1.0)
    """

    _parameter_constraints = {
        **AutodiffRegressor._parameter_constraints,
        **RegressionLossMixin._loss_constraints,
    }

    def __init__(self, loss="squared_error", *, epsilon=1.35, quantile=0.5, **kwargs):
        super().__init__(**kwargs)
        self.loss = loss
        self.epsilon = epsilon
        self.quantile = quantile

    def build_module(self, n_features, n_outputs):
        """The affine scorer :math:`z = X W^\\top + b`, starting at zero."""
        return LinearScorer(n_features, n_outputs)

    def fitted_attributes(self, module):
        """``coef_`` of shape (n_outputs, n_features) and ``intercept_`` of shape (n_outputs,)."""
        return {"coef_": to_numpy(module.weight), "intercept_": to_numpy(module.bias)}

    def _fitted_attributes(self, module, data, space):
        attributes = super()._fitted_attributes(module, data, space)
        if data.y.ndim == 1:  # scikit-learn's shapes for a 1-D y
            attributes["coef_"] = attributes["coef_"][0, ...]
            attributes["intercept_"] = attributes["intercept_"][0, ...]
        return attributes
