"""Linear classifiers: the lecture's tanh model and logistic regression.

Both are binary models; with K > 2 classes they train K one-vs-rest models
jointly, as one weight matrix, and normalise the K probabilities.
"""

from numbers import Real

import torch
import torch.nn.functional as F
from sklearn.utils._param_validation import Interval

from ._base import COMMON_ATTRIBUTES_DOC, COMMON_PARAMETERS_DOC, AutodiffClassifier
from ._data import to_numpy
from ._modules import LinearScorer, TanhScorer
from .losses import binary_cross_entropy_loss, l2_penalty, tanh_logistic_loss


class _OneVsRestLinear(AutodiffClassifier):
    """Shared math of the one-vs-rest linear models (one logit per output)."""

    _convex = True

    def _encode_target(self, y_index, n_classes, dtype):
        # Binary: one output, target 1 for classes_[1]; else one-hot columns.
        if n_classes == 2:
            return y_index.to(dtype).unsqueeze(1)
        return F.one_hot(y_index, n_classes).to(dtype)

    def _log_proba_from_logits(self, logits):
        if logits.shape[1] == 1:
            return torch.cat([F.logsigmoid(-logits), F.logsigmoid(logits)], dim=1)
        # One-vs-rest: normalise the K binary probabilities sigma(z_k).
        log_p = F.logsigmoid(logits)
        return log_p - torch.logsumexp(log_p, dim=1, keepdim=True)

    def _decision_from_logits(self, logits):
        return logits[:, 0] if logits.shape[1] == 1 else logits


class BCELogisticClassifier(_OneVsRestLinear):
    __doc__ = f"""Logistic regression trained on binary cross-entropy with autograd.

    The model is :math:`p(x) = \\sigma(x^\\top w + b)`, trained on

    .. math:: \\frac{{1}}{{\\sum_i s_i}} \\sum_i s_i \\left[-t_i \\log p(x_i)
              - (1 - t_i) \\log(1 - p(x_i))\\right]
              + \\frac{{\\alpha}}{{2}} \\lVert w \\rVert^2,

    with targets :math:`t \\in \\{{0, 1\\}}` and sample weights :math:`s`.
    With ``alpha = 1 / (C n)`` its optimum is that of
    ``sklearn.linear_model.LogisticRegression(C=C)`` (binary case).
    More than two classes are handled one-vs-rest.

    Parameters
    ----------
{COMMON_PARAMETERS_DOC}
    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights :math:`w`.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Biases :math:`b`.
{COMMON_ATTRIBUTES_DOC}
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

    def __init__(
        self,
        *,
        alpha=1e-4,
        solver="lbfgs",
        learning_rate_init=None,
        momentum=0.9,
        nesterovs_momentum=True,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        class_weight=None,
        shuffle=True,
        random_state=None,
        warm_start=False,
        device="cpu",
        dtype=None,
        verbose=0,
        reject_threshold=None,
        reject_label=None,
    ):
        super().__init__(
            alpha=alpha,
            solver=solver,
            learning_rate_init=learning_rate_init,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            batch_size=batch_size,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            class_weight=class_weight,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            device=device,
            dtype=dtype,
            verbose=verbose,
            reject_threshold=reject_threshold,
            reject_label=reject_label,
        )

    def _build_module(self, n_features, n_classes, generator):
        return LinearScorer(n_features, 1 if n_classes == 2 else n_classes)

    def _objective(self, module, X, target, sample_weight):
        loss = binary_cross_entropy_loss(module(X), target, sample_weight)
        return loss + l2_penalty([module.weight], self.alpha)

    def _fitted_arrays(self, module):
        return {"coef_": to_numpy(module.weight), "intercept_": to_numpy(module.bias)}


class TanhLogisticClassifier(_OneVsRestLinear):
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
{COMMON_PARAMETERS_DOC}
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
{COMMON_ATTRIBUTES_DOC}
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

    def __init__(
        self,
        *,
        alpha=1e-4,
        solver="lbfgs",
        learning_rate_init=None,
        momentum=0.9,
        nesterovs_momentum=True,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        class_weight=None,
        shuffle=True,
        random_state=None,
        warm_start=False,
        device="cpu",
        dtype=None,
        verbose=0,
        reject_threshold=None,
        reject_label=None,
        beta=1.0,
        learn_beta=True,
    ):
        super().__init__(
            alpha=alpha,
            solver=solver,
            learning_rate_init=learning_rate_init,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            batch_size=batch_size,
            max_iter=max_iter,
            tol=tol,
            n_iter_no_change=n_iter_no_change,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            class_weight=class_weight,
            shuffle=shuffle,
            random_state=random_state,
            warm_start=warm_start,
            device=device,
            dtype=dtype,
            verbose=verbose,
            reject_threshold=reject_threshold,
            reject_label=reject_label,
        )
        self.beta = beta
        self.learn_beta = learn_beta

    _parameter_constraints = {
        **AutodiffClassifier._parameter_constraints,
        "beta": [Interval(Real, 0, None, closed="neither")],
        "learn_beta": ["boolean"],
    }

    def _build_module(self, n_features, n_classes, generator):
        n_outputs = 1 if n_classes == 2 else n_classes
        return TanhScorer(n_features, n_outputs, beta=self.beta, learn_beta=self.learn_beta)

    def _encode_target(self, y_index, n_classes, dtype):
        # Bipolar labels: +1 for the class of the column, -1 otherwise.
        return 2.0 * super()._encode_target(y_index, n_classes, dtype) - 1.0

    def _objective(self, module, X, target, sample_weight):
        beta = module.beta
        loss = tanh_logistic_loss(module.margin(X), target, beta, sample_weight)
        return loss + l2_penalty([2.0 * beta.unsqueeze(1) * module.weight], self.alpha)

    def _fitted_arrays(self, module):
        return {
            "coef_": to_numpy(module.weight),
            "intercept_": -to_numpy(module.threshold),
            "beta_": to_numpy(module.beta),
        }
