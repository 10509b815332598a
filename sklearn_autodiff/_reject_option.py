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
    """``predict`` with abstention and ``reject_mask``, for a classifier with ``_output_chunks``.

    Needs ``reject_threshold``, ``reject_label``, ``classes_`` and ``head``
    (with ``log_proba``) on the class it is mixed into.
    """

    def _check_reject_label(self, classes):
        """Resolve the reject label for ``classes`` when a threshold is set (raises if none fits)."""
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

    def _labels_and_mask(self, X, method):
        """Predicted labels (rejections included) and the reject mask, chunk by chunk.

        Only one chunk's probabilities exist at a time: memory beyond the
        input and the two outputs is bounded by the chunk size.
        """
        check_is_fitted(self)
        threshold = self.reject_threshold
        if threshold is None:
            label, dtype = None, self.classes_.dtype
        else:
            label, dtype = resolve_reject_label(self.classes_, self.reject_label)
        n, chunks = self._output_chunks(X, method)
        labels = np.empty(n, dtype=dtype)
        mask = np.zeros(n, dtype=bool)
        for rows, output in chunks:
            log_proba = self.head.log_proba(output.to(torch.float64))
            best, index = log_proba.max(dim=1)
            labels[rows] = self.classes_[to_numpy(index)]
            if threshold is not None:
                rejected = to_numpy(best.exp() < threshold)
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
