"""Sample weights that survive the model's dtype.

The objective is a weighted *mean*, so multiplying every weight by the same
positive number does not change the fit. The weights are validated in
float64 and then cast to the model's dtype; without care, float32 turns
weights of 1e300 into infinity and weights of 1e-320 into zero (both then
count as uniform), and a float64 sum of weights of 1e308 overflows. Here the
weights are divided by their largest value, in float64, before the cast, so
the largest weight is 1 and their sum at most the number of samples.
"""

import numbers
import warnings

import numpy as np
from sklearn.utils._param_validation import InvalidParameterError

__all__ = ["check_class_weight", "rescaled_sample_weight"]


def check_class_weight(estimator):
    """Refuse a ``class_weight`` dict whose values are not finite non-negative numbers.

    Raises
    ------
    InvalidParameterError
        Naming the offending entries.
    """
    if not isinstance(estimator.class_weight, dict):
        return
    bad = {
        k: v for k, v in estimator.class_weight.items()
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0
    }
    if bad:
        raise InvalidParameterError(
            f"The 'class_weight' parameter of {type(estimator).__name__} must map "
            f"classes to finite non-negative weights; got {bad!r}."
        )


def _largest(weights):
    return float(weights.max()) if weights.shape[0] else 0.0


def rescaled_sample_weight(sample_weight, dtype, largest=None):
    """Weights divided by their largest value, checked against ``dtype``.

    Parameters
    ----------
    sample_weight : ndarray or torch.Tensor of shape (n_samples,)
        Finite non-negative float64 weights with a positive sum.
    dtype : numpy or torch dtype
        The model's dtype, which the weights are cast to for training.
    largest : float, optional
        The value to divide by; default the largest weight. A distributed
        fit passes the largest of every rank's, so the ranks' weights keep
        their ratios.

    Returns
    -------
    weights : ndarray or torch.Tensor of shape (n_samples,)
        float64, largest value 1. Positive weights that are zero once cast
        to ``dtype`` (below about its smallest subnormal number times the
        largest weight) are set to 0, with a warning: they could not count
        in the fit anyway.

    Warns
    -----
    UserWarning
        When some positive weights are zero in ``dtype``.
    """
    if largest is None:
        largest = _largest(sample_weight)
    if not largest > 0:
        return sample_weight
    weights = sample_weight / largest
    name = str(dtype).replace("torch.", "")
    positive = sample_weight > 0
    lost = positive & (_cast(weights, name) == 0)
    n_lost = int(lost.sum())
    if n_lost:
        tiny = float(np.finfo(np.dtype(name)).smallest_subnormal)
        warnings.warn(
            f"{n_lost} of the {int(positive.sum())} positive sample weights are too small next "
            f"to the largest one (below about {tiny:.2g} times it) to be told apart from "
            f"zero in {name}, the model's dtype, so those samples do not count in the fit. "
            + (
                "Raise those weights, drop those samples, or use dtype='float64'."
                if name == "float32"
                else "Raise those weights or drop those samples."
            ),
            UserWarning,
            stacklevel=8,  # the user's fit call
        )
        weights = weights * ~lost
    return weights


def _cast(weights, name):
    """``weights`` in the dtype called ``name``, numpy or torch as given."""
    if isinstance(weights, np.ndarray):
        return weights.astype(name)
    import torch

    return weights.to(getattr(torch, name))
