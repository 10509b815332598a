"""Multi-layer perceptron with a softmax output."""

import numbers

import torch.nn.functional as F
from sklearn.utils._param_validation import Interval, StrOptions

from ._base import COMMON_ATTRIBUTES_DOC, COMMON_PARAMETERS_DOC, AutodiffClassifier
from ._data import to_numpy
from ._modules import ACTIVATIONS, MLP
from .losses import l2_penalty, softmax_cross_entropy_loss


class MLPSoftmaxClassifier(AutodiffClassifier):
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
{COMMON_PARAMETERS_DOC}
    Attributes
    ----------
    coefs_ : list of ndarray
        ``coefs_[s]`` has shape (fan_in, fan_out), as in MLPClassifier.
    intercepts_ : list of ndarray
        ``intercepts_[s]`` has shape (fan_out,).
{COMMON_ATTRIBUTES_DOC}
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

    _parameter_constraints = {
        **AutodiffClassifier._parameter_constraints,
        "hidden_layer_sizes": [tuple, list, Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        dropout=0.0,
        alpha=1e-4,
        solver="adam",
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
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout

    def _build_module(self, n_features, n_classes, generator):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if not all(isinstance(s, numbers.Integral) and s > 0 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}."
            )
        layer_sizes = [n_features, *sizes, n_classes]
        return MLP(layer_sizes, self.activation, self.dropout, generator)

    def _set_dropout_generator(self, module, generator):
        module.set_dropout_generator(generator)

    def _encode_target(self, y_index, n_classes, dtype):
        return y_index.long()

    def _objective(self, module, X, target, sample_weight):
        loss = softmax_cross_entropy_loss(module(X), target, sample_weight)
        weights = [layer.weight for layer in module.linear_layers()]
        return loss + l2_penalty(weights, self.alpha)

    def _log_proba_from_logits(self, logits):
        return F.log_softmax(logits, dim=1)

    def _decision_from_logits(self, logits):
        # Binary: the log-odds of classes_[1], as for the linear models.
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def _fitted_arrays(self, module):
        layers = module.linear_layers()
        return {
            "coefs_": [to_numpy(layer.weight.T) for layer in layers],
            "intercepts_": [to_numpy(layer.bias) for layer in layers],
        }
