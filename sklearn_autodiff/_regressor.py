"""The regression layer: float targets of one or several columns, and R²."""

import numbers

import numpy as np
import torch
from sklearn.base import RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import column_or_1d

from ._data import OutputSpace
from ._distributed import agree_on_shards, shared_parameters
from ._docs import COMMON_PARAMETERS_DOC, REGRESSOR_ATTRIBUTES_DOC
from ._estimator import AutodiffEstimator
from ._fit_call import TrainingData
from ._persistence import StateError
from ._weights import rescaled_sample_weight
from .heads import HalfPoisson, Huber, Pinball, RegressionHead, SquaredError


class AutodiffRegressor(RegressorMixin, AutodiffEstimator):
    __doc__ = f"""Base class for regressors made of a torch module and a head.

    Subclass it and implement :meth:`build_module`; optionally set the class
    attribute ``head`` (a :mod:`sklearn_autodiff.heads` regression head:
    :class:`~sklearn_autodiff.heads.SquaredError` by default,
    :class:`~sklearn_autodiff.heads.Huber`,
    :class:`~sklearn_autodiff.heads.HalfPoisson`,
    :class:`~sklearn_autodiff.heads.Pinball` or your own) or override
    :meth:`loss`. The class gets what the shipped estimators have:
    validation, dtypes and devices, every solver, early stopping, callbacks,
    ``partial_fit``, ``warm_start``, ``distributed=True``, pickling and
    skops, and scikit-learn's estimator checks. The objective is

    .. math:: \\frac{{1}}{{\\sum_i s_i}} \\sum_i s_i \\, \\ell(z_i, y_i)
              + \\frac{{\\alpha}}{{2}} \\sum_W \\lVert W \\rVert^2,

    :math:`z_i` being the module's raw output and :math:`\\ell` the head's
    pointwise loss; :meth:`predict` returns the head's link of :math:`z`
    (the identity, or :math:`e^z` for the Poisson head), with y's shape:
    a 1-D y gives 1-D predictions. :meth:`score` is R².

    Parameters
    ----------
{COMMON_PARAMETERS_DOC}
    Attributes
    ----------
{REGRESSOR_ATTRIBUTES_DOC}
    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from sklearn_autodiff import AutodiffRegressor
    >>> class TinyNet(AutodiffRegressor):
    ...     def build_module(self, n_features, n_outputs):
    ...         return torch.nn.Sequential(torch.nn.Linear(n_features, 8), torch.nn.Tanh(),
    ...                                    torch.nn.Linear(8, n_outputs))
    >>> X = np.linspace(-2, 2, 50).reshape(-1, 1)
    >>> reg = TinyNet(solver="lbfgs", random_state=0).fit(X, np.sin(X).ravel())
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    head = SquaredError()
    _y_validation = {"multi_output": True, "y_numeric": True}

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch (one iteration for full-batch solvers) on a batch.

        Parameters
        ----------
        X : {{array-like, sparse matrix, torch.Tensor}} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._guarded_fit(X, y, sample_weight, partial=True)

    def _validate_targets(self, y):
        single = not getattr(self.head, "multi_output", True)
        if single and y.ndim == 2 and y.shape[1] == 1:
            # A column vector, as scikit-learn's single-output models take it.
            y = column_or_1d(y, warn=True)
        if single and y.ndim == 2:
            raise ValueError(
                f"{type(self).__name__} with this loss fits one target column; y has "
                f"{y.shape[1]}. Fit one model per column (sklearn.multioutput."
                "MultiOutputRegressor)."
            )
        y = np.asarray(y, dtype=np.float64)
        self.head.check_target(y)
        return y

    def _encode_targets(self, X, y, sample_weight, call):
        """y as float values and the weights, checked against the previous fit and other ranks."""
        n_outputs = 1 if y.ndim == 1 else y.shape[1]
        if call.continuing and (n_outputs, y.ndim) != (self.n_outputs_, self._y_ndim_):
            raise ValueError(
                f"y has {n_outputs} column(s) (ndim {y.ndim}), but {type(self).__name__} was "
                f"fitted on {self.n_outputs_} (ndim {self._y_ndim_}); pass y of the same shape "
                "or fit anew (warm_start=False)."
            )
        comm = call.comm
        if comm.active:
            call.seed, _, _ = agree_on_shards(
                comm, call.seed, X, np.empty(0), np.empty(0), shared_parameters(self)
            )
            if comm.max(n_outputs) != -comm.max(-n_outputs):
                raise ValueError("The ranks' y differ in their number of columns.")
        largest = comm.max(sample_weight.max() if len(sample_weight) else 0.0)
        if not largest > 0:
            raise ValueError(
                "The sample weights sum to zero; at least one sample needs a positive weight."
            )
        return TrainingData(
            X=X,
            y=y,
            values=y,
            sample_weight=rescaled_sample_weight(sample_weight, X.dtype, largest),
            n_targets=n_outputs,
            attributes={"n_outputs_": n_outputs, "_y_ndim_": y.ndim},
            weight_total=float(sample_weight.sum()),
        )

    def _fitted_attributes(self, module, data, space):
        # The head of the fit: predict keeps its link whatever set_params changes.
        return {**super()._fitted_attributes(module, data, space), "head_": self.head}

    def _module_targets(self):
        """The ``n_outputs`` the fitted module was built for."""
        return self.n_outputs_

    def _check_restored_state(self, state, n_outputs):
        """A loaded state's ``n_outputs_``, y's dimension and head against the module's."""
        count = state.get("n_outputs_")
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count != n_outputs:
            raise StateError(
                f"n_outputs_ is {count!r} but the module was built for {n_outputs} outputs"
            )
        if state.get("_y_ndim_") not in (1, 2) or (state["_y_ndim_"] == 1 and count != 1):
            raise StateError(f"_y_ndim_ is {state.get('_y_ndim_')!r}, not 1 (one output) or 2")
        if not isinstance(state.get("head_"), RegressionHead):
            raise StateError("head_ must be the regression head of the fit; it is missing")

    def _validation_score(self, output, values, weight, comm):
        """Weighted R² of the held-out rows (over every rank's), averaged over outputs."""
        prediction = self.head.predict(output).to(torch.float64)
        y = values.to(torch.float64).reshape(prediction.shape)
        w = weight[:, None]
        sums = torch.stack([
            (w * y).sum(0), (w * y * y).sum(0), (w * (y - prediction).square()).sum(0),
            w.sum(0).expand(y.shape[1]),
        ])
        mass_y, mass_yy, residual, mass = comm.sum([sums])[0]
        total = mass_yy - mass_y.square() / mass
        r2 = torch.where(total > 0, 1.0 - residual / total.clamp_min(1e-300),
                         (residual == 0).to(torch.float64))
        return float(r2.mean())

    def predict(self, X):
        """Predicted targets, :math:`\\hat y` = the head's link of the module's output.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            The shape of the y the model was fitted on, in the model's dtype.
            The link is that of the head the model was fitted with (``head_``).
        """
        prediction = self._per_chunk(X, "predict", lambda z: self.head_.predict(z))
        if self._y_ndim_ == 1:
            prediction = prediction[:, 0]
        return OutputSpace.of(X).from_tensor(prediction)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = getattr(self.head, "multi_output", True)
        tags.target_tags.single_output = True
        tags.target_tags.positive_only = getattr(self.head, "positive_only", False)
        return tags


#: ``loss`` parameter value -> head factory ``(epsilon, quantile) -> head``.
REGRESSION_LOSSES = {
    "squared_error": lambda epsilon, quantile: SquaredError(),
    "huber": lambda epsilon, quantile: Huber(epsilon),
    "poisson": lambda epsilon, quantile: HalfPoisson(),
    "quantile": lambda epsilon, quantile: Pinball(quantile),
}

REGRESSION_LOSS_PARAMETERS_DOC = """\
    loss : {"squared_error", "huber", "poisson", "quantile"}, default="squared_error"
        The pointwise loss, as scikit-learn's ``_loss`` module defines it
        (:mod:`sklearn_autodiff.heads`): ``"squared_error"``
        :math:`\\\\tfrac12 (y - \\\\hat y)^2`; ``"huber"`` quadratic within
        ``epsilon`` of the fit, linear beyond; ``"poisson"`` the half Poisson
        deviance with the log link (:math:`\\\\hat y = e^{z}`, y >= 0);
        ``"quantile"`` the pinball loss at level ``quantile``.
    epsilon : float > 0, default=1.35
        Huber threshold, in units of y.
    quantile : float in (0, 1), default=0.5
        Level of the pinball loss (0.5: the conditional median).
"""


class RegressionLossMixin:
    """The ``loss``, ``epsilon`` and ``quantile`` parameters of the shipped regressors.

    The head is made from them at each use, so ``set_params`` takes effect
    at the next fit.
    """

    _loss_constraints = {
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "quantile": [Interval(numbers.Real, 0, 1, closed="neither")],
    }

    @property
    def head(self):
        """The head of the ``loss`` parameter (:mod:`sklearn_autodiff.heads`)."""
        return REGRESSION_LOSSES[self.loss](self.epsilon, self.quantile)
