r"""The math of a model's output: loss, link and target encoding in one object.

A *head* turns the module's logits into everything the estimator needs:
the training loss, log-probabilities, the decision function, and the
targets the loss expects from class indices. It also says what the
solvers may rely on:

``convex``
    The loss is convex in the logits.
``separable``
    The loss is a sum of one term per logit entry, so its Hessian in the
    logits is diagonal. With a module whose logits are affine in X, the
    objective's Hessian is then :math:`[X, 1]^\top D [X, 1]` per output
    (plus the penalty), which :class:`~sklearn_autodiff._solvers.Newton`
    builds in one BLAS-3 pass.

The heads play the part of scikit-learn's ``HalfBinomialLoss`` (the loss and
its link) inside ``LinearModelLoss``; the losses themselves are the public
functions of :mod:`sklearn_autodiff.losses`.
"""

import torch
import torch.nn.functional as F

from .losses import binary_cross_entropy_loss, softmax_cross_entropy_loss


class SoftmaxCrossEntropy:
    r"""Softmax output with cross-entropy: :math:`\ell = -\log \operatorname{softmax}(z)_y`.

    One logit per class (two for a binary problem); the targets are class
    indices.
    """

    convex = True
    separable = False

    def n_outputs(self, n_classes):
        """Number of logits the module must return."""
        return n_classes

    def encode_target(self, y_index, n_classes, dtype):
        """Class indices (int64), as :func:`torch.nn.functional.cross_entropy` takes."""
        return y_index.long()

    def loss(self, logits, target, sample_weight=None):
        """Weighted mean cross-entropy (:func:`~sklearn_autodiff.losses.softmax_cross_entropy_loss`)."""
        return softmax_cross_entropy_loss(logits, target, sample_weight)

    def log_proba(self, logits):
        """:math:`\\log \\operatorname{softmax}(z)`, shape (n, n_classes)."""
        return F.log_softmax(logits, dim=1)

    def decision(self, logits):
        """Binary: the log-odds :math:`z_1 - z_0` of ``classes_[1]``; else the logits."""
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits


class OneVsRestBinaryCrossEntropy:
    r"""Sigmoid outputs with binary cross-entropy, one binary problem per output.

    Binary problems use one logit :math:`z` with :math:`P(\text{classes\_}[1]) =
    \sigma(z)`; K > 2 classes use K one-vs-rest logits whose probabilities
    :math:`\sigma(z_k)` are normalised to sum to one. Targets are
    :math:`t \in \{0, 1\}` per output and
    :math:`\ell = \sum_k \operatorname{softplus}(z_k) - t_k z_k`.
    """

    convex = True
    separable = True

    def n_outputs(self, n_classes):
        """One logit for two classes, else one per class."""
        return 1 if n_classes == 2 else n_classes

    def encode_target(self, y_index, n_classes, dtype):
        """Column of ``classes_[1]`` indicators (binary) or one-hot columns."""
        if n_classes == 2:
            return y_index.to(dtype).unsqueeze(1)
        return F.one_hot(y_index, n_classes).to(dtype)

    def loss(self, logits, target, sample_weight=None):
        """Weighted mean of the summed binary cross-entropies."""
        return binary_cross_entropy_loss(logits, target, sample_weight)

    def _indicator(self, target):
        """The targets as :math:`t \\in \\{0, 1\\}`."""
        return target

    def loss_derivatives(self, logits, target, sample_weight=None):
        r"""The loss and its first and second derivatives in the logits, in closed form.

        With :math:`p = \sigma(z)` and :math:`s_i` the sample weights over
        their sum (:math:`1/n` without weights),

        .. math:: \frac{\partial L}{\partial z_{ik}} = s_i (p_{ik} - t_{ik}), \qquad
                  \frac{\partial^2 L}{\partial z_{ik}^2} = s_i\, \sigma(z_{ik})\, \sigma(-z_{ik})

        (the second form of :math:`p(1 - p)` keeps its precision where p is
        near 1). What Newton's solver would get from two backward passes of
        autograd through :meth:`loss`, for a fraction of their cost.

        Parameters
        ----------
        logits : torch.Tensor of shape (n, k)
        target : torch.Tensor of shape (n, k)
            :meth:`encode_target` of the class indices.
        sample_weight : torch.Tensor of shape (n,) or None

        Returns
        -------
        loss : torch.Tensor
            Scalar, equal to :meth:`loss`.
        gradient, second : torch.Tensor of the shape of ``logits``
        """
        t = self._indicator(target)
        per_sample = F.binary_cross_entropy_with_logits(logits, t, reduction="none").sum(dim=1)
        if sample_weight is None:
            scale = 1.0 / logits.shape[0]
            loss = per_sample.mean()
        else:
            w = sample_weight.to(logits.dtype)
            scale = (w / w.sum()).unsqueeze(1)
            loss = (per_sample * w).sum() / w.sum()
        p = torch.sigmoid(logits)
        return loss, scale * (p - t), scale * (p * torch.sigmoid(-logits))

    def log_proba(self, logits):
        """Log-probabilities, normalised over the one-vs-rest outputs."""
        if logits.shape[1] == 1:
            return torch.cat([F.logsigmoid(-logits), F.logsigmoid(logits)], dim=1)
        log_p = F.logsigmoid(logits)
        return log_p - torch.logsumexp(log_p, dim=1, keepdim=True)

    def decision(self, logits):
        """Binary: the logit of ``classes_[1]``; else the K logits."""
        return logits[:, 0] if logits.shape[1] == 1 else logits


class OneVsRestTanh(OneVsRestBinaryCrossEntropy):
    r"""The lecture's tanh model seen from its logits :math:`z = 2\beta(x^\top w - b)`.

    Targets are bipolar, :math:`y \in \{-1, +1\}`, and the loss
    :math:`\log(1 + e^{-2\beta y (x^\top w - b)}) = \operatorname{softplus}(-y z)`
    is :func:`~sklearn_autodiff.losses.tanh_logistic_loss` with the margin
    :math:`z / (2\beta)`. It equals the binary cross-entropy of
    :class:`OneVsRestBinaryCrossEntropy` with :math:`t = (1 + y) / 2`, so
    the link is the same.
    """

    def encode_target(self, y_index, n_classes, dtype):
        """+1 for the class of the column, -1 otherwise."""
        return 2.0 * super().encode_target(y_index, n_classes, dtype) - 1.0

    def _indicator(self, target):
        """:math:`t = (1 + y) / 2` of the bipolar targets."""
        return (target + 1.0) * 0.5

    def loss(self, logits, target, sample_weight=None):
        """Weighted mean tanh logistic loss :math:`\\operatorname{softplus}(-y z)`.

        Evaluated as the binary cross-entropy with :math:`t = (1 + y)/2`, the
        same function (``tanh_logistic_loss(z / (2 beta), y, beta)``), through
        torch's fused kernel: fewer temporaries of the size of the data.
        """
        return binary_cross_entropy_loss(logits, (target + 1.0) * 0.5, sample_weight)

    # The loss is the binary cross-entropy of t = (1 + y) / 2 (see _indicator),
    # so its closed-form derivatives are the parent's.
    loss_derivatives = OneVsRestBinaryCrossEntropy.loss_derivatives
