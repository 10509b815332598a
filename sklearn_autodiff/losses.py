"""Training losses as pure functions of tensors.

Every loss takes raw scores (logits or margins), never probabilities, and is
written with ``softplus`` / log-sum-exp so it stays finite for any finite
score (|z| = 1e4 included). Each returns the weighted mean over samples,

.. math:: L = \\frac{\\sum_i s_i \\, \\ell_i}{\\sum_i s_i},

where :math:`s_i` is ``sample_weight`` (all ones when None). Normalising by
the weight sum makes an integer weight equivalent to repeating the row.
All functions are differentiable with :mod:`torch.autograd`.
"""

import torch
import torch.nn.functional as F

__all__ = [
    "weighted_mean",
    "tanh_logistic_loss",
    "binary_cross_entropy_loss",
    "softmax_cross_entropy_loss",
    "squared_error_loss",
    "huber_loss",
    "half_poisson_loss",
    "pinball_loss",
    "l2_penalty",
]


def weighted_mean(pointwise, sample_weight=None):
    """The reduction of every loss here: :math:`\\sum_i s_i \\ell_i / \\sum_i s_i`.

    Write a custom loss as a pointwise term and reduce it with this function,
    so that sample weights mean what they mean for the shipped losses.

    Parameters
    ----------
    pointwise : torch.Tensor of shape (n,) or (n, k)
        One loss term per sample, or per sample and output (summed over the
        outputs first).
    sample_weight : torch.Tensor of shape (n,), default=None
        Non-negative weights; None weighs every sample equally.

    Returns
    -------
    loss : torch.Tensor
        Scalar.

    Examples
    --------
    >>> import torch
    >>> from sklearn_autodiff.losses import weighted_mean
    >>> float(weighted_mean(torch.tensor([1.0, 3.0]), torch.tensor([3.0, 1.0])))
    1.5
    """
    per_sample = pointwise if pointwise.ndim == 1 else pointwise.sum(dim=1)
    if sample_weight is None:
        return per_sample.mean()
    sample_weight = sample_weight.to(per_sample.dtype)
    return (per_sample * sample_weight).sum() / sample_weight.sum()


_weighted_mean = weighted_mean  # the name of the first release


def tanh_logistic_loss(margin, y, beta, sample_weight=None):
    """Logistic loss of the tanh classifier with bipolar labels.

    For a sample with margin :math:`z = x^\\top w - b`, label
    :math:`y \\in \\{-1, +1\\}` and scale :math:`\\beta > 0`,

    .. math:: \\ell = \\log\\left(1 + e^{-2 \\beta y z}\\right)
              = \\operatorname{softplus}(-2 \\beta y z).

    It is the negative log-likelihood of :math:`P(y \\mid x) =
    \\sigma(2 \\beta y z) = (1 + y \\tanh(\\beta z)) / 2`.

    Parameters
    ----------
    margin : torch.Tensor of shape (n,) or (n, k)
        Margins :math:`x^\\top w - b`; with k columns, one binary
        (one-vs-rest) problem per column, whose losses are summed.
    y : torch.Tensor, same shape as ``margin``
        Labels in {-1, +1}.
    beta : torch.Tensor or float, scalar or of shape (k,)
        The scale :math:`\\beta`.
    sample_weight : torch.Tensor of shape (n,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : torch.Tensor
        Scalar weighted mean over samples.
    """
    return weighted_mean(F.softplus(-2.0 * beta * y * margin), sample_weight)


def binary_cross_entropy_loss(logit, target, sample_weight=None):
    """Binary cross-entropy on logits.

    With :math:`p = \\sigma(z)` and target :math:`t \\in \\{0, 1\\}`,

    .. math:: \\ell = -t \\log p - (1 - t) \\log(1 - p)
              = \\operatorname{softplus}(z) - t z.

    Parameters
    ----------
    logit : torch.Tensor of shape (n,) or (n, k)
        Logits :math:`z = x^\\top w + b`; with k columns, one binary
        (one-vs-rest) problem per column, whose losses are summed.
    target : torch.Tensor, same shape as ``logit``
        Targets in {0, 1}.
    sample_weight : torch.Tensor of shape (n,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : torch.Tensor
        Scalar weighted mean over samples.
    """
    per_entry = F.binary_cross_entropy_with_logits(logit, target, reduction="none")
    return weighted_mean(per_entry, sample_weight)


def softmax_cross_entropy_loss(logits, target, sample_weight=None):
    """Cross-entropy of a softmax output.

    With logits :math:`z \\in \\mathbb{R}^K` and class index :math:`y`,

    .. math:: \\ell = -\\log \\operatorname{softmax}(z)_y
              = \\log \\sum_k e^{z_k} - z_y.

    Parameters
    ----------
    logits : torch.Tensor of shape (n, K)
        Unnormalised scores.
    target : torch.Tensor of shape (n,), integer dtype
        Class indices in ``[0, K)``.
    sample_weight : torch.Tensor of shape (n,), default=None
        Non-negative sample weights.

    Returns
    -------
    loss : torch.Tensor
        Scalar weighted mean over samples.
    """
    return weighted_mean(F.cross_entropy(logits, target, reduction="none"), sample_weight)


def squared_error_loss(prediction, target, sample_weight=None):
    """Half squared error, :math:`\\ell = \\tfrac12 (y - \\hat y)^2` (identity link).

    Parameters
    ----------
    prediction, target : torch.Tensor of shape (n,) or (n, k)
    sample_weight : torch.Tensor of shape (n,), default=None

    Returns
    -------
    loss : torch.Tensor
        Scalar weighted mean over samples (summed over outputs).
    """
    return weighted_mean(0.5 * (target - prediction).square(), sample_weight)


def huber_loss(prediction, target, epsilon=1.35, sample_weight=None):
    """Huber loss with threshold :math:`\\varepsilon` in units of y.

    With :math:`r = y - \\hat y`,

    .. math:: \\ell = \\begin{cases} \\tfrac12 r^2 & |r| \\le \\varepsilon \\\\
              \\varepsilon (|r| - \\tfrac12 \\varepsilon) & \\text{otherwise,} \\end{cases}

    quadratic near the fit and linear in the tails, so outliers pull less.

    Parameters
    ----------
    prediction, target : torch.Tensor of shape (n,) or (n, k)
    epsilon : float, default=1.35
    sample_weight : torch.Tensor of shape (n,), default=None

    Returns
    -------
    loss : torch.Tensor
        Scalar weighted mean over samples.
    """
    pointwise = F.huber_loss(prediction, target, reduction="none", delta=epsilon)
    return weighted_mean(pointwise, sample_weight)


def half_poisson_loss(raw, target, sample_weight=None):
    """Half Poisson deviance with the log link, :math:`\\hat y = e^{z}`.

    .. math:: \\ell = y \\log \\frac{y}{\\hat y} - y + \\hat y
              = e^{z} - y z + (y \\log y - y),

    with :math:`0 \\log 0 = 0`; zero at a perfect fit. It is scikit-learn's
    ``HalfPoissonLoss`` plus the constant that makes it a deviance.

    Parameters
    ----------
    raw : torch.Tensor of shape (n,) or (n, k)
        The raw output :math:`z = \\log \\hat y`.
    target : torch.Tensor of the same shape
        Counts or rates, :math:`y \\ge 0`.
    sample_weight : torch.Tensor of shape (n,), default=None

    Returns
    -------
    loss : torch.Tensor
        Scalar weighted mean over samples.
    """
    pointwise = torch.exp(raw) - target * raw + torch.special.xlogy(target, target) - target
    return weighted_mean(pointwise, sample_weight)


def pinball_loss(prediction, target, quantile=0.5, sample_weight=None):
    """Pinball (quantile) loss at level q.

    .. math:: \\ell = q \\max(r, 0) + (1 - q) \\max(-r, 0), \\qquad r = y - \\hat y;

    its minimiser over constants is the q-quantile of y.

    Parameters
    ----------
    prediction, target : torch.Tensor of shape (n,) or (n, k)
    quantile : float in (0, 1), default=0.5
    sample_weight : torch.Tensor of shape (n,), default=None

    Returns
    -------
    loss : torch.Tensor
        Scalar weighted mean over samples.
    """
    r = target - prediction
    pointwise = torch.maximum(quantile * r, (quantile - 1.0) * r)
    return weighted_mean(pointwise, sample_weight)


def l2_penalty(weights, alpha):
    """Ridge penalty :math:`\\frac{\\alpha}{2} \\sum_s \\lVert W_s \\rVert_F^2`.

    Parameters
    ----------
    weights : iterable of torch.Tensor
        The penalised tensors (weights only: biases and beta are never
        penalised).
    alpha : float
        Penalty strength.

    Returns
    -------
    penalty : torch.Tensor
        Scalar.
    """
    return 0.5 * alpha * sum(w.square().sum() for w in weights)
