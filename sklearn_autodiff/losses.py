"""Training losses as pure functions of tensors.

Every loss takes raw scores (logits or margins), never probabilities, and is
written with ``softplus`` / log-sum-exp so it stays finite for any finite
score (|z| = 1e4 included). Each returns the weighted mean over samples,

.. math:: L = \\frac{\\sum_i s_i \\, \\ell_i}{\\sum_i s_i},

where :math:`s_i` is ``sample_weight`` (all ones when None). Normalising by
the weight sum makes an integer weight equivalent to repeating the row.
All functions are differentiable with :mod:`torch.autograd`.
"""

import torch.nn.functional as F

__all__ = [
    "tanh_logistic_loss",
    "binary_cross_entropy_loss",
    "softmax_cross_entropy_loss",
    "l2_penalty",
]


def _weighted_mean(per_sample, sample_weight):
    """Mean of ``per_sample`` (shape (n,)) weighted by ``sample_weight``."""
    if sample_weight is None:
        return per_sample.mean()
    sample_weight = sample_weight.to(per_sample.dtype)
    return (per_sample * sample_weight).sum() / sample_weight.sum()


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
    per_entry = F.softplus(-2.0 * beta * y * margin)
    per_sample = per_entry if per_entry.ndim == 1 else per_entry.sum(dim=1)
    return _weighted_mean(per_sample, sample_weight)


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
    per_sample = per_entry if per_entry.ndim == 1 else per_entry.sum(dim=1)
    return _weighted_mean(per_sample, sample_weight)


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
    per_sample = F.cross_entropy(logits, target, reduction="none")
    return _weighted_mean(per_sample, sample_weight)


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
