"""Clear messages for class labels numpy cannot sort or scikit-learn refuses tersely.

Labels are sorted to make ``classes_``; a y that mixes numbers and strings,
or holds a missing value among strings, fails deep inside numpy or
scikit-learn with a message that does not say it is about y.
"""

import numbers

import numpy as np


def check_label_types(y):
    """Refuse object labels that mix kinds or hold NaN / None, naming y.

    Parameters
    ----------
    y : array-like
        The targets of a classifier, as given (anything else than object
        labels is left to scikit-learn's checks).

    Raises
    ------
    ValueError
        If y holds None or NaN, or mixes numbers with strings (or other kinds).
    """
    try:
        y = np.asarray(y if not hasattr(y, "to_numpy") else y.to_numpy())
    except (ValueError, TypeError):  # ragged or exotic: scikit-learn's checks say why
        return
    if y.dtype.kind != "O":
        return
    missing = [v for v in y.ravel() if v is None or (isinstance(v, float) and np.isnan(v))]
    if missing:
        raise ValueError(
            f"y contains {len(missing)} missing label(s) ({_describe(missing[:3])}); every "
            "sample needs a class. Drop those samples or give them a label."
        )
    kinds = {_kind(v) for v in y.ravel()}
    if len(kinds) > 1:
        examples = {}
        for v in y.ravel():
            examples.setdefault(_kind(v), v)
        listing = ", ".join(f"{kind} (e.g. {examples[kind]!r})" for kind in sorted(kinds))
        raise ValueError(
            f"y mixes labels of different types: {listing}. Labels are sorted to "
            "make classes_, so they must be all numbers or all strings; convert them "
            "first, e.g. y.astype(str)."
        )


def _kind(value):
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, numbers.Number):
        return "number"
    if isinstance(value, (str, bytes)):
        return "str"
    return type(value).__name__


def _describe(values):
    return ", ".join(repr(v) for v in values)
