"""The training / validation split of early stopping.

The split is scikit-learn's stratified ``train_test_split``. Stratification
alone does not put every class on both sides: a class of 2 samples among
100 gets both into the training set at ``validation_fraction=0.1``, and a
class whose held-out samples all have zero weight is absent from the
validation score. Either way the validation score no longer measures what
it should. Here every class that carries weight gets samples of positive
weight on both sides (moved over from the other side where stratification
left it out), and a class with fewer than two such samples is refused with a
clear error.
"""

import numpy as np
from sklearn.model_selection import train_test_split

__all__ = ["validation_split"]


def validation_split(y_index, sample_weight, n_classes, fraction, seed, every_class_on_both_sides=True):
    """Rows for training and for the validation score of early stopping.

    Parameters
    ----------
    y_index : ndarray of shape (n_samples,)
        Class indices (positions in ``classes_``).
    sample_weight : ndarray, torch.Tensor or None
        The fit's weights; classes are judged by their samples of positive weight.
    n_classes : int
    fraction : float
        ``validation_fraction``.
    seed : int
    every_class_on_both_sides : bool, default=True
        False for a shard of a distributed fit, where another rank may hold
        the rest of a class: a class of one weighted sample is then no error
        and stays wherever the split puts it.

    Returns
    -------
    train_rows, validation_rows : ndarray of int
        Every class with positive total weight has a sample of positive
        weight in both.

    Raises
    ------
    ValueError
        If there are too few samples for the two sets, or a class has fewer
        than two samples of positive weight.
    """
    y_index = np.asarray(y_index)
    n = len(y_index)
    positive = np.ones(n, dtype=bool) if sample_weight is None else _numpy(sample_weight) > 0
    counts = np.bincount(y_index[positive], minlength=n_classes)
    short = np.flatnonzero((counts > 0) & (counts < 2))
    if len(short) and every_class_on_both_sides:
        k = int(short[0])
        raise ValueError(
            "early_stopping=True holds out a validation set, and every class needs a "
            "sample of positive weight in both it and the training set, so at least 2; "
            f"classes_[{k}] (the class at position {k} of the sorted labels) has "
            f"{int(counts[k])}. Add samples of that class, give them positive weights, "
            "or use early_stopping=False."
        )
    # At least one held-out sample per class.
    n_val = max(int(np.ceil(fraction * n)), n_classes)
    if n - n_val < n_classes:
        raise ValueError(
            f"early_stopping needs more samples: {n} cannot be split into a "
            f"training and a validation set that both hold all {n_classes} "
            "classes. Use early_stopping=False."
        )
    train, val = train_test_split(
        np.arange(n), test_size=n_val, stratify=_strata(y_index), random_state=seed % (2**32)
    )
    needed = counts > 0 if every_class_on_both_sides else counts >= 2
    return _both_sides(train, val, y_index, positive, needed, seed)


def _strata(y_index):
    """Class indices to stratify on; a class of one sample joins the largest class.

    Such a class has no positive weight (it was refused otherwise, except in
    a shard of a distributed fit) and would make ``train_test_split`` refuse
    to stratify.
    """
    sizes = np.bincount(y_index)
    single = sizes == 1
    if not single.any():
        return y_index
    return np.where(single[y_index], int(np.argmax(sizes)), y_index)


def _both_sides(train, val, y_index, positive, needed, seed):
    """Move one sample of positive weight of each class missing from a side there."""
    rng = np.random.default_rng(seed % (2**32))
    for k in np.flatnonzero(needed):
        for source, target in ((train, val), (val, train)):
            if not (positive[target] & (y_index[target] == k)).any():
                candidates = np.flatnonzero(positive[source] & (y_index[source] == k))
                moved = candidates[rng.integers(len(candidates))]
                row = source[moved]
                if source is train:
                    train, val = np.delete(train, moved), np.append(val, row)
                else:
                    val, train = np.delete(val, moved), np.append(train, row)
                break
    return train, val


def _numpy(a):
    if hasattr(a, "detach"):
        return a.detach().cpu().numpy()
    return np.asarray(a)
