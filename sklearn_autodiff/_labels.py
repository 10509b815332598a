"""Checks of classification labels, with messages that name y and what is wrong.

scikit-learn sorts the labels (``np.unique``) and so fails on y mixing
numbers and strings with a bare ``TypeError: '<' not supported between
instances of 'int' and 'str'``, and on string labels holding a NaN with
``Input contains NaN``, neither naming y. :func:`check_class_labels` runs
first and says which.
"""

import numbers

import numpy as np

__all__ = ["check_class_labels"]


def check_class_labels(y):
    """Refuse class labels of mixed kinds, or with missing values, naming y.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The class labels of a fit (before they are sorted or encoded).

    Returns
    -------
    y : ndarray
        ``y`` as a numpy array, unchanged.

    Raises
    ------
    ValueError
        If y holds NaN or None (a missing label), or mixes numbers with
        strings (or other label types that cannot be sorted together).
    """
    y = np.asarray(y)
    if y.dtype.kind == "f":
        if np.isnan(y).any():
            raise ValueError(_missing_message(y, np.flatnonzero(np.isnan(y.ravel()))[0]))
        return y
    if y.dtype.kind != "O":
        return y  # one numpy dtype: one kind of label
    flat = y.ravel()
    # One pass over the types (fast), then a look at the values only where
    # a type can hold a missing value or a mix is found.
    types = set(map(type, flat))
    if any(_may_be_missing(t) for t in types):
        missing = np.flatnonzero([_may_be_missing(type(v)) and _is_missing(v) for v in flat])
        if len(missing):
            raise ValueError(_missing_message(y, missing[0]))
    kinds = {_kind(t) for t in types}
    if len({"number" if kind in _NUMBER_KINDS else kind for kind in kinds}) > 1:
        examples = {}
        for value in flat:
            examples.setdefault(_kind(type(value)), value)
        raise ValueError(
            f"y mixes label types {' and '.join(sorted(kinds))} (for example "
            f"{', '.join(repr(v) for v in examples.values())}); the labels of a fit are "
            "sorted together, so they must be of one type. Convert y to one type, for "
            "example y.astype(str)."
        )
    return y


# Label types that compare with each other, so may appear together.
_NUMBER_KINDS = {"bool", "int", "float"}


def _kind(label_type):
    """A short name of a label type: bool, int, float, str, bytes, or the type's name."""
    for kind, bases in _KINDS:
        if issubclass(label_type, bases):
            return kind
    return label_type.__name__


_KINDS = [
    ("bool", (bool, np.bool_)),
    ("int", numbers.Integral),
    ("float", numbers.Real),
    ("str", str),
    ("bytes", bytes),
]


def _may_be_missing(label_type):
    """Whether labels of this type can be missing values (None, NaN, pandas.NA, NaT)."""
    return label_type is type(None) or _kind(label_type) not in ("bool", "int", "str", "bytes")


def _is_missing(value):
    """Whether a label is None, NaN, or another missing-value marker (pandas.NA, NaT)."""
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN and NaT differ from themselves
    except TypeError:  # pandas.NA: its comparison is NA, whose truth is ambiguous
        return True


def _missing_message(y, index):
    found = y.ravel()[index]
    return (
        f"y contains NaN or None (a missing label; the first, {found!r}, at index {index}). "
        "Every sample needs a class label: drop the samples without one, or give them "
        "a label of their own."
    )
