r"""Heads: the math of a model's output in one object.

A *head* owns everything about the raw output :math:`z` of a module that is
not the module itself, as scikit-learn's ``_loss`` objects do:

- the pointwise loss and its weighted mean (:meth:`Head.loss`), from
  :mod:`sklearn_autodiff.losses`;
- the link: what :math:`z` predicts (class probabilities for a classifier,
  :math:`\hat y` for a regressor);
- the target encoding (what the loss expects from class indices or from y);
- the constant model (:meth:`Head.constant_output`): the best raw output
  that ignores X, against which a fit is judged degenerate;
- what the solvers may rely on:

``convex``
    The loss is convex in the raw output.
``separable``
    The loss is a sum of one term per output entry, so its Hessian in the
    raw output is diagonal. With a module whose output is affine in X, the
    objective's Hessian is then :math:`[X, 1]^\top D [X, 1]` per output.
``smooth``
    Twice differentiable (the pinball loss is not).
``newton``
    Newton-type solvers apply (by default: convex, separable and smooth).

A user gives a head by setting the class attribute ``head`` of an
:class:`~sklearn_autodiff.AutodiffClassifier` or
:class:`~sklearn_autodiff.AutodiffRegressor` subclass; the loss and the
prediction then come from the same object and can never disagree.
"""

import torch
import torch.nn.functional as F

from .losses import (
    binary_cross_entropy_loss,
    half_poisson_loss,
    huber_loss,
    pinball_loss,
    softmax_cross_entropy_loss,
    squared_error_loss,
    weighted_mean,
)

__all__ = [
    "Head",
    "ClassificationHead",
    "RegressionHead",
    "SoftmaxCrossEntropy",
    "OneVsRestBinaryCrossEntropy",
    "OneVsRestTanh",
    "SquaredError",
    "Huber",
    "HalfPoisson",
    "Pinball",
    "SmoothedPinball",
]


def local_total(tensors):
    """The ``total`` of a fit in one process: the tensors themselves (nothing to add)."""
    return tensors


class Head:
    """Base of every head: a loss with its link, target encoding and constant model.

    Subclasses implement :meth:`pointwise_loss` (or :meth:`loss`),
    :meth:`encode_target` and the link of their task.
    """

    convex = True
    separable = False
    smooth = True
    #: How messages name the model of :meth:`constant_output`.
    constant_model = "the best constant model"

    @property
    def newton(self):
        """Whether Newton-type solvers apply: convex, separable and smooth by default."""
        return self.convex and self.separable and self.smooth

    def n_outputs(self, n_targets):
        """Raw outputs the module must return for ``n_targets`` classes or target columns."""
        return n_targets

    def pointwise_loss(self, raw, target):
        """Loss per sample (n,) or per sample and output (n, k)."""
        raise NotImplementedError(f"{type(self).__name__} must implement pointwise_loss.")

    def loss(self, raw, target, sample_weight=None):
        """Weighted mean of :meth:`pointwise_loss` (:func:`.losses.weighted_mean`)."""
        return weighted_mean(self.pointwise_loss(raw, target), sample_weight)

    def constant_output(self, target, sample_weight, n_outputs, total):
        """The best constant raw output (shape (k,)), or None when not known.

        Parameters
        ----------
        target : torch.Tensor
            The encoded targets.
        sample_weight : torch.Tensor of shape (n,), float64
        total : callable
            ``total(tensors) -> tensors`` sums tensors over the processes of a
            distributed fit; :func:`local_total` (the identity) when alone.
        """
        return None


class ClassificationHead(Head):
    """A head whose link gives class probabilities."""

    constant_model = "the constant model that predicts the class frequencies"

    def encode_target(self, y_index, n_classes, dtype):
        """Class indices (int64)."""
        return y_index.long()

    def log_proba(self, raw):
        """Log-probabilities, shape (n, n_classes)."""
        raise NotImplementedError(f"{type(self).__name__} must implement log_proba (its link).")

    def decision(self, raw):
        """What ``decision_function`` returns."""
        return raw


class RegressionHead(Head):
    """A head whose link gives :math:`\\hat y` (the identity by default).

    Targets are float tensors of shape (n, k).
    """

    separable = True
    constant_model = "the constant model that predicts the mean of y"
    #: Whether y may have several columns.
    multi_output = True

    def encode_target(self, y, n_outputs, dtype):
        """y as a float (n, k) tensor."""
        return y.to(dtype).reshape(y.shape[0], -1)

    def predict(self, raw):
        """:math:`\\hat y` from the raw output (the inverse link)."""
        return raw

    def check_target(self, y):
        """Raise ValueError when y is outside the loss's domain (numpy array)."""

    def constant_output(self, target, sample_weight, n_outputs, total):
        """The weighted mean of y (the optimum of the squared error)."""
        w = sample_weight.to(target.dtype)[:, None]
        sums, mass = total([(w * target).sum(0), w.sum().reshape(1)])
        return sums / mass


class SoftmaxCrossEntropy(ClassificationHead):
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

    def pointwise_loss(self, logits, target):
        """:math:`-\\log \\operatorname{softmax}(z)_y` per sample."""
        return F.cross_entropy(logits, target, reduction="none")

    def loss(self, logits, target, sample_weight=None):
        """Weighted mean cross-entropy (:func:`~sklearn_autodiff.losses.softmax_cross_entropy_loss`)."""
        return softmax_cross_entropy_loss(logits, target, sample_weight)

    def constant_output(self, target, sample_weight, n_outputs, total):
        """The log of the weighted class frequencies (the prior)."""
        frequency = torch.zeros(n_outputs, dtype=torch.float64, device=target.device)
        frequency.index_add_(0, target, sample_weight)
        frequency, mass = total([frequency, sample_weight.sum().reshape(1)])
        return (frequency / mass).clamp_min(torch.finfo(torch.float32).tiny).log()

    def log_proba(self, logits):
        """:math:`\\log \\operatorname{softmax}(z)`, shape (n, n_classes)."""
        return F.log_softmax(logits, dim=1)

    def decision(self, logits):
        """Binary: the log-odds :math:`z_1 - z_0` of ``classes_[1]``; else the logits."""
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits


class OneVsRestBinaryCrossEntropy(ClassificationHead):
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

    def pointwise_loss(self, logits, target):
        """:math:`\\operatorname{softplus}(z) - t z` per sample and output."""
        return F.binary_cross_entropy_with_logits(
            logits, self._indicator(target), reduction="none"
        )

    def loss(self, logits, target, sample_weight=None):
        """Weighted mean of the summed binary cross-entropies."""
        return binary_cross_entropy_loss(logits, target, sample_weight)

    def constant_output(self, target, sample_weight, n_outputs, total):
        """The log-odds of each output's weighted positive rate."""
        positive = self._indicator(target).to(torch.float64)
        weighted = (sample_weight[:, None] * positive).sum(0)
        hits, mass = total([weighted, sample_weight.sum().reshape(1)])
        eps = torch.finfo(torch.float32).eps
        rate = (hits / mass).clamp(eps, 1.0 - eps)
        return rate.log() - (-rate).log1p()

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


def _scaled_derivatives(pointwise, first, second, sample_weight):
    """``(loss, gradient, second derivative)`` of the weighted mean of ``pointwise``.

    ``first`` and ``second`` are the pointwise derivatives in the raw output;
    both are scaled by :math:`s_i / \\sum s`, as Newton's solver expects.
    """
    loss = weighted_mean(pointwise, sample_weight)
    if sample_weight is None:
        scale = 1.0 / pointwise.shape[0]
    else:
        w = sample_weight.to(pointwise.dtype)
        scale = (w / w.sum()).unsqueeze(1)
    return loss, scale * first, scale * second


class SquaredError(RegressionHead):
    r"""Half squared error with the identity link: :math:`\ell = \tfrac12 (y - z)^2`.

    Its objective on a linear model is quadratic (``quadratic = True``): one
    Newton step reaches the optimum, as Ridge's Cholesky solver does.
    """

    quadratic = True

    def pointwise_loss(self, raw, target):
        """:math:`\\tfrac12 (y - z)^2`."""
        return 0.5 * (target - raw).square()

    def loss(self, raw, target, sample_weight=None):
        """:func:`~sklearn_autodiff.losses.squared_error_loss`."""
        return squared_error_loss(raw, target, sample_weight)

    def loss_derivatives(self, raw, target, sample_weight=None):
        """Closed forms: gradient :math:`z - y`, second derivative 1."""
        r = raw - target
        return _scaled_derivatives(0.5 * r.square(), r, torch.ones_like(r), sample_weight)


class Huber(RegressionHead):
    r"""Huber loss (identity link), threshold :math:`\varepsilon` in units of y.

    :math:`\ell = \tfrac12 r^2` for :math:`|r| \le \varepsilon`, else
    :math:`\varepsilon(|r| - \tfrac12\varepsilon)`, with :math:`r = y - z`.
    Once differentiable; its second derivative (1 inside the band, 0 outside)
    is what Newton's method uses, as in iteratively reweighted least squares.

    Parameters
    ----------
    epsilon : float, default=1.35
    """

    def __init__(self, epsilon=1.35):
        self.epsilon = float(epsilon)

    def pointwise_loss(self, raw, target):
        """The Huber term of each residual."""
        return F.huber_loss(raw, target, reduction="none", delta=self.epsilon)

    def loss(self, raw, target, sample_weight=None):
        """:func:`~sklearn_autodiff.losses.huber_loss`."""
        return huber_loss(raw, target, self.epsilon, sample_weight)

    def loss_derivatives(self, raw, target, sample_weight=None):
        """Closed forms: gradient :math:`\\operatorname{clip}(z - y, \\pm\\varepsilon)`."""
        r = raw - target
        inside = (r.abs() <= self.epsilon).to(r.dtype)
        return _scaled_derivatives(
            self.pointwise_loss(raw, target), r.clamp(-self.epsilon, self.epsilon), inside,
            sample_weight,
        )

    def constant_output(self, target, sample_weight, n_outputs, total):
        """Not in closed form (None)."""
        return None


class HalfPoisson(RegressionHead):
    r"""Half Poisson deviance with the log link, :math:`\hat y = e^{z}`.

    :math:`\ell = e^{z} - y z + y \log y - y`
    (:func:`~sklearn_autodiff.losses.half_poisson_loss`); y must be
    non-negative with a positive sum.
    """

    #: y must be non-negative (scikit-learn's ``positive_only`` target tag).
    positive_only = True
    #: One column, as scikit-learn's ``PoissonRegressor``.
    multi_output = False

    def pointwise_loss(self, raw, target):
        """The half deviance of each entry."""
        return torch.exp(raw) - target * raw + torch.special.xlogy(target, target) - target

    def loss(self, raw, target, sample_weight=None):
        """:func:`~sklearn_autodiff.losses.half_poisson_loss`."""
        return half_poisson_loss(raw, target, sample_weight)

    def loss_derivatives(self, raw, target, sample_weight=None):
        """Closed forms: gradient :math:`e^z - y`, second derivative :math:`e^z`."""
        mean = torch.exp(raw)
        return _scaled_derivatives(
            self.pointwise_loss(raw, target), mean - target, mean, sample_weight
        )

    def predict(self, raw):
        """:math:`e^{z}`."""
        return torch.exp(raw)

    def check_target(self, y):
        """Refuse negative y and a column that sums to zero."""
        if (y < 0).any():
            raise ValueError(
                "loss='poisson' needs non-negative y (counts or rates); y contains "
                f"{int((y < 0).sum())} negative value(s), the smallest {y.min():.6g}."
            )
        sums = y.reshape(y.shape[0], -1).sum(axis=0)
        if not (sums > 0).all():
            raise ValueError(
                "loss='poisson' needs y with a positive sum (in every column): the "
                "log link cannot fit all-zero targets."
            )

    def constant_output(self, target, sample_weight, n_outputs, total):
        """The log of the weighted mean of y (the mean of y is the constant model)."""
        return super().constant_output(target, sample_weight, n_outputs, total).log()


class Pinball(RegressionHead):
    r"""Pinball loss at level q (identity link): the q-quantile of y given x.

    :math:`\ell = q \max(r, 0) + (1 - q) \max(-r, 0)`, :math:`r = y - z`.
    Convex but not differentiable at :math:`r = 0`, so Newton's method does
    not apply (``smooth = False``).

    Parameters
    ----------
    quantile : float in (0, 1), default=0.5
    """

    smooth = False
    constant_model = "the constant model that predicts the quantile of y"

    def __init__(self, quantile=0.5):
        self.quantile = float(quantile)

    def pointwise_loss(self, raw, target):
        """The pinball term of each residual."""
        r = target - raw
        return torch.maximum(self.quantile * r, (self.quantile - 1.0) * r)

    def loss(self, raw, target, sample_weight=None):
        """:func:`~sklearn_autodiff.losses.pinball_loss`."""
        return pinball_loss(raw, target, self.quantile, sample_weight)

    def smoothed(self, width):
        """The smooth surrogate of width ``width`` that Newton's method minimises instead.

        Newton's continuation (:class:`~sklearn_autodiff._solvers._continuation.Continuation`)
        shrinks the width towards zero, reaching the pinball loss's optimum.
        """
        return SmoothedPinball(self.quantile, width)

    def constant_output(self, target, sample_weight, n_outputs, total):
        """The weighted q-quantile of each column; None when distributed (not a sum)."""
        if total is not local_total:
            return None
        order = target.argsort(dim=0)
        w = sample_weight.to(torch.float64)
        out = []
        for k in range(target.shape[1]):
            cumulative = w[order[:, k]].cumsum(0)
            at = torch.searchsorted(cumulative, self.quantile * cumulative[-1])
            out.append(target[order[min(int(at), len(w) - 1), k], k])
        return torch.stack(out).to(torch.float64)


class SmoothedPinball(RegressionHead):
    r"""The pinball loss with its kink rounded off over a width h.

    With :math:`r = y - z`, the pinball loss is
    :math:`\tfrac12|r| + (q - \tfrac12)\, r`; here :math:`|r|` becomes
    :math:`\sqrt{r^2 + h^2} - h` (the pseudo-Huber function):

    .. math:: \ell_h = \tfrac12 \left(\sqrt{r^2 + h^2} - h\right) + (q - \tfrac12)\, r,

    within :math:`h/2` of the pinball loss, strictly convex and smooth, with
    second derivative :math:`h^2 / (2 (r^2 + h^2)^{3/2}) > 0` everywhere, so
    every Newton system is definite.

    Parameters
    ----------
    quantile : float in (0, 1)
    width : float > 0
    """

    def __init__(self, quantile, width):
        self.quantile = float(quantile)
        self.width = float(width)

    def pointwise_loss(self, raw, target):
        """:math:`\\ell_h` of each residual."""
        r = target - raw
        h = self.width
        return 0.5 * (torch.sqrt(r.square() + h * h) - h) + (self.quantile - 0.5) * r

    def loss_derivatives(self, raw, target, sample_weight=None):
        """Closed forms of the first and second derivatives in the raw output."""
        r = target - raw
        h = self.width
        root = torch.sqrt(r.square() + h * h)
        first = -(0.5 * r / root + (self.quantile - 0.5))
        second = 0.5 * h * h / root.pow(3)
        return _scaled_derivatives(self.pointwise_loss(raw, target), first, second, sample_weight)
