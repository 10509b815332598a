"""The classification layer: labels, class weights, probabilities and the reject option."""

import numbers

import numpy as np
import torch
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.metrics import accuracy_score
from sklearn.utils import compute_class_weight
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets

from ._data import OutputSpace, host_array
from ._distributed import agree_on_shards, shared_parameters
from ._docs import CLASSIFIER_ATTRIBUTES_DOC, CLASSIFIER_PARAMETERS_DOC
from ._estimator import AutodiffEstimator
from ._fit_call import TrainingData
from ._labels import check_class_labels
from ._reject_option import RejectOptionMixin
from ._weights import check_class_weight, rescaled_sample_weight
from .heads import SoftmaxCrossEntropy


class AutodiffClassifier(RejectOptionMixin, ClassifierMixin, AutodiffEstimator):
    __doc__ = f"""Base class for classifiers made of a torch module and a head.

    Subclass it, implement :meth:`build_module` (and, optionally, set the
    class attribute ``head`` to a :mod:`sklearn_autodiff.heads` object, or
    override :meth:`loss`), and the class gets what the shipped estimators
    have: validation, label encoding, dtype and device handling, every
    solver, early stopping, callbacks, the reject option, pickling and
    skops, and scikit-learn's estimator checks. The objective is

    .. math:: \\frac{{1}}{{\\sum_i s_i}} \\sum_i s_i \\, \\ell(z_i, y_i)
              + \\frac{{\\alpha}}{{2}} \\sum_W \\lVert W \\rVert^2,

    where :math:`z_i` are the module's logits, :math:`\\ell` the head's
    pointwise loss (by default the softmax cross-entropy) or :meth:`loss`,
    and the penalty, added by this class, runs over the module's
    ``penalized_weights()`` if it has that method, else over its parameters
    with two or more dimensions (weight matrices; biases are never
    penalised). A custom :meth:`loss` must not add the penalty again.

    A head owns the loss *and* the link (how logits become probabilities),
    so prediction follows training; a head that declares ``newton`` gets the
    Newton solvers on a linear module. An overridden :meth:`loss` keeps the
    head's link and is trained by the gradient solvers.

    A subclass's ``__init__`` takes its own parameters and passes the others
    on with ``**kwargs``; they appear in ``get_params`` like its own.

    Parameters
    ----------
{CLASSIFIER_PARAMETERS_DOC}
    Attributes
    ----------
{CLASSIFIER_ATTRIBUTES_DOC}
    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_autodiff import AutodiffClassifier
    >>> class WideTanhNet(AutodiffClassifier):
    ...     def __init__(self, *, width=16, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.width = width
    ...     def build_module(self, n_features, n_classes):
    ...         return torch.nn.Sequential(
    ...             torch.nn.Linear(n_features, self.width), torch.nn.Tanh(),
    ...             torch.nn.Linear(self.width, n_classes))
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = WideTanhNet(width=8, tol=1e-3, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    head = SoftmaxCrossEntropy()

    _parameter_constraints = {
        **AutodiffEstimator._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "reject_threshold": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "reject_label": "no_validation",
    }

    def __init__(self, *, class_weight=None, reject_threshold=None, reject_label=None, **kwargs):
        super().__init__(**kwargs)
        self.class_weight = class_weight
        self.reject_threshold = reject_threshold
        self.reject_label = reject_label

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch (one iteration for full-batch solvers) on a batch.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, ignored after.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._guarded_fit(X, y, sample_weight, partial=True, classes=classes)

    def _check_fit_call(self, call):
        if call.partial and not call.continuing and call.classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit "
                "(all the labels that can appear in any batch)."
            )
        if call.partial and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit, which "
                "sees one batch at a time; pass a dict computed with "
                "sklearn.utils.compute_class_weight on all the labels instead."
            )

    def _validate_training_data(self, X, y, reset):
        # Before scikit-learn sorts y (a bare TypeError) or checks it (no word of
        # y). Only host containers: a device array is left to scikit-learn.
        if isinstance(y, (np.ndarray, list, tuple)) or hasattr(y, "to_numpy"):
            check_class_labels(y.to_numpy() if hasattr(y, "to_numpy") else y)
        return super()._validate_training_data(X, y, reset)

    def _validate_targets(self, y):
        check_classification_targets(y)
        check_class_weight(self)
        return y

    def _encode_targets(self, X, y, sample_weight, call):
        """Class labels, class indices and the weights times the class weights.

        Distributed, the ranks agree on the labels (their union), the seed
        (rank 0's) and the class counts, and a bad shard raises everywhere.
        """
        comm = call.comm
        if call.continuing:
            candidates = self.classes_
        elif call.partial:
            candidates = np.unique(np.asarray(call.classes))
        else:
            candidates = np.unique(y)
        class_counts = None
        if comm.active:
            call.seed, candidates, class_counts = agree_on_shards(
                comm, call.seed, X, y, candidates, shared_parameters(self)
            )

        def index_shard():
            labels = self._class_labels(candidates, y, call)
            self._check_reject_label(labels)  # fail before training
            index = np.searchsorted(labels, y)
            return labels, index, *self._class_weighted(sample_weight, index, labels, class_counts)

        labels, index, weight, weight_total = comm.agree(index_shard)
        # One normalisation, by the largest weight of all ranks (a weighted
        # mean does not change), so that no dtype overflows.
        largest = comm.max(weight.max() if len(weight) else 0.0)
        if not largest > 0:
            raise ValueError(
                "The sample weights (times the class weights) sum to zero; at least "
                "one sample needs a positive weight."
            )
        return TrainingData(
            X=X,
            y=y,
            values=index,
            sample_weight=rescaled_sample_weight(weight, X.dtype, largest),
            n_targets=len(labels),
            attributes={"classes_": labels},
            strata=index,
            weight_total=weight_total,
        )

    def _class_labels(self, labels, y, call):
        """The sorted class labels ``labels``, checked against y and earlier fits."""
        if not call.continuing and len(labels) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: {labels[0]!r}."
            )
        unseen = np.setdiff1d(np.unique(y), labels)
        if len(unseen):
            if call.partial:
                where = "the classes of the first partial_fit call"
            elif call.continuing:
                where = "the classes of the previous fit (warm_start=True)"
            else:
                where = "the union of every rank's labels (do all ranks' y have one type?)"
            raise ValueError(
                f"y contains labels {unseen.tolist()!r} that are not among {where}: "
                f"{labels.tolist()!r}."
            )
        return labels

    def _class_weighted(self, sample_weight, y_index, class_labels, class_counts=None):
        """Sample weights times class weights, and the sum of that product.

        ``class_counts``: the counts of every rank. The class weights are
        divided by their largest value, so the product cannot overflow; the
        sum is that of the product as given (for ``alpha="auto"``).
        """
        if self.class_weight is None:
            per_class = None
        elif self.class_weight == "balanced" and class_counts is not None:
            counts = np.array([class_counts.get(label, 0) for label in class_labels.tolist()])
            if not counts.all():
                raise ValueError(
                    "class_weight='balanced' needs every class among the samples; "
                    f"{class_labels[counts == 0].tolist()!r} has none on any rank."
                )
            per_class = counts.sum() / (len(counts) * counts)
        else:
            per_class = compute_class_weight(
                self.class_weight, classes=class_labels, y=class_labels[y_index]
            )
        if per_class is None:
            return sample_weight, float(sample_weight.sum())
        largest = per_class.max()
        if largest > 0:
            per_class = per_class / largest
        sample_weight = sample_weight * per_class[y_index]
        return sample_weight, float(sample_weight.sum()) * largest

    def _validation_score(self, output, values, weight, comm):
        """Weighted accuracy of the held-out rows (over every rank's); ``values``: class indices."""
        hits = (self.head.log_proba(output).argmax(dim=1) == values).to(torch.float64)
        totals = comm.sum([torch.stack([(hits * weight).sum(), weight.sum()])])[0]
        return float(totals[0] / totals[1])

    def _module_targets(self):
        """The ``n_classes`` the fitted module was built for."""
        return len(self.classes_)

    def _fitted_attributes(self, module, data, space):
        attributes = super()._fitted_attributes(module, data, space)
        attributes.update(self._reject_attributes(data.attributes["classes_"]))
        return attributes

    # -------------------------------------------------------------- predict

    def _log_proba(self, X, method):
        # Probabilities are formed in float64 whatever the model's dtype, so
        # exp(log_proba) and log(proba) agree to float64 precision.
        return self._per_chunk(X, method, lambda z: self.head.log_proba(z.to(torch.float64)))

    def decision_function(self, X):
        """Scores whose sign (binary) or argmax (multi-class) gives the class.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Binary problems: the log-odds of ``classes_[1]``. A tensor on the
            input's device under ``array_api_dispatch=True`` with tensor input.
        """
        scores = self._per_chunk(X, "decision_function", self.head.decision)
        return OutputSpace.of(X).from_tensor(scores)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed stably from the logits.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return OutputSpace.of(X).from_tensor(self._log_proba(X, "predict_log_proba"))

    def predict_proba(self, X):
        """Class probabilities; rows sum to one, columns follow ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            float64. A tensor on the input's device under
            ``array_api_dispatch=True`` with tensor input.
        """
        proba = self._per_chunk(
            X, "predict_proba", lambda z: self.head.log_proba(z.to(torch.float64)).exp()
        )
        return OutputSpace.of(X).from_tensor(proba)

    def score(self, X, y, sample_weight=None):
        """Accuracy of :meth:`predict`; rejections count as errors.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return float(
            accuracy_score(
                host_array(y), host_array(self.predict(X)), sample_weight=host_array(sample_weight)
            )
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True
        return tags

