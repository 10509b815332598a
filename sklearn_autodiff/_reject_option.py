"""The reject option of a classifier (Chow's rule), as a mixin.

With ``reject_threshold=t`` a sample is rejected when
:math:`\\max_k P(k \\mid x) < t`, and :meth:`predict` gives it
``reject_label_``. The label is resolved in one place
(:meth:`RejectOptionMixin._reject_dtype`), at fit to fail early and at
predict so that a threshold set after fit works too.
"""

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._data import OutputSpace, to_numpy
from ._reject import resolve_reject_label


class RejectOptionMixin:
    """``predict`` with abstention and ``reject_mask``, shared by the classifiers and
    :class:`~sklearn_autodiff.SelectiveClassifierCV`.

    Needs ``reject_label`` and ``classes_``; the confidences come from
    :meth:`_confidence_chunks` (by default from ``_output_chunks`` and the
    head's ``log_proba``) and the thresholds from :meth:`_reject_thresholds`
    (by default ``reject_threshold``; a meta-estimator may give one per class).
    """

    def _check_reject_label(self, classes):
        """Resolve the reject label for ``classes`` with a threshold set (raises if none fits)."""
        if self.reject_threshold is not None:
            resolve_reject_label(classes, self.reject_label)

    def _reject_attributes(self, classes):
        """``{"reject_label_": ...}`` with a threshold set, else nothing."""
        if self.reject_threshold is None:
            return {}
        return {"reject_label_": resolve_reject_label(classes, self.reject_label)[0]}

    def _commit(self, *args, **kwargs):
        self.__dict__.pop("reject_label_", None)  # a refit without a threshold drops it
        super()._commit(*args, **kwargs)

    def _reject_thresholds(self):
        """The confidence below which a prediction is rejected: None, a number, or one per class."""
        return self.reject_threshold

    def _confidence_chunks(self, X, method):
        """``(n_samples, chunks)``; chunks yield ``(rows, confidence, predicted class index)``.

        The confidence is :math:`\\max_k P(k \\mid x)`, from the log-probabilities
        of one chunk at a time (float64, as :meth:`predict_proba`).
        """
        n, outputs = self._output_chunks(X, method)

        def chunks():
            for rows, output in outputs:
                best, index = self.head.log_proba(output.to(torch.float64)).max(dim=1)
                yield rows, to_numpy(best.exp()), to_numpy(index)

        return n, chunks()

    def _labels_and_mask(self, X, method):
        """Predicted labels (rejections included) and the reject mask, chunk by chunk.

        Only one chunk's probabilities exist at a time: memory beyond the
        input and the two outputs is bounded by the chunk size.
        """
        check_is_fitted(self)
        thresholds = self._reject_thresholds()
        if thresholds is None:
            label, dtype = None, self.classes_.dtype
        else:
            label, dtype = resolve_reject_label(self.classes_, self.reject_label)
            thresholds = np.asarray(thresholds)
        n, chunks = self._confidence_chunks(X, method)
        labels = np.empty(n, dtype=dtype)
        mask = np.zeros(n, dtype=bool)
        for rows, confidence, index in chunks:
            labels[rows] = self.classes_[index]
            if thresholds is not None:
                rejected = confidence < (thresholds if thresholds.ndim == 0 else thresholds[index])
                mask[rows] = rejected
                labels[rows][rejected] = label
        return labels, mask

    def predict(self, X):
        """Most probable class, or ``reject_label_`` where the model abstains.

        With ``reject_threshold=t`` a sample is rejected when
        :math:`\\max_k P(k \\mid x) < t`.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return OutputSpace.of(X).from_numpy(self._labels_and_mask(X, "predict")[0])

    def reject_mask(self, X):
        """Which samples :meth:`predict` rejects.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        mask : ndarray of bool, shape (n_samples,)
            True where :math:`\\max_k P(k \\mid x) <` ``reject_threshold``
            (all False when the threshold is None).
        """
        return OutputSpace.of(X).from_numpy(self._labels_and_mask(X, "reject_mask")[1])
