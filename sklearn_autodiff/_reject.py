"""The reject option: which label rejections get, and which samples are rejected."""

import warnings

import numpy as np


def resolve_reject_label(classes, reject_label):
    """Choose and check the label :meth:`predict` uses for rejections.

    Parameters
    ----------
    classes : ndarray
        The fitted ``classes_``.
    reject_label : scalar or None
        The user's choice; None picks ``"reject"`` for string classes and
        -1 for numeric classes (0 if -1 is a class, then one below the
        smallest class).

    Returns
    -------
    label : scalar
        The reject label, as an element of the prediction dtype.
    dtype : numpy dtype
        The dtype of predictions with rejections: the classes' dtype, widened
        for longer strings, never object unless the classes already are.

    Raises
    ------
    ValueError
        If the label collides with a class or does not fit the classes'
        dtype without loss (for example any label with boolean classes).
    """
    kind = classes.dtype.kind
    if kind == "b":
        raise ValueError(
            "The classes are booleans, so no reject label fits beside True and "
            "False. Encode the labels (for example as 0/1 integers or strings) to "
            "use reject_threshold."
        )
    all_strings = kind in "US" or (
        kind == "O" and all(isinstance(c, str) for c in classes)
    )
    if reject_label is None and all_strings:
        reject_label = "reject"
    elif reject_label is None:
        # -1, unless it is a class (the lecture's labels are -1 and +1): then 0,
        # then one below the smallest class.
        taken = set(classes.tolist())
        reject_label = next((c for c in (-1, 0) if c not in taken), None)
        if reject_label is None:
            reject_label = min(taken) - 1
    if kind in "US":
        if not isinstance(reject_label, str):
            raise ValueError(
                f"reject_label={reject_label!r} cannot be used with string classes; "
                "use a string such as 'reject'."
            )
        dtype = np.result_type(classes.dtype, np.asarray(reject_label).dtype)
    elif kind == "O":
        dtype = classes.dtype
    else:
        dtype = classes.dtype
        if isinstance(reject_label, str) or not np.isscalar(reject_label):
            raise ValueError(
                f"reject_label={reject_label!r} cannot be stored with numeric classes "
                f"of dtype {classes.dtype}; use a number that is not a class."
            )
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                cast = np.asarray(reject_label).astype(dtype)
            except (OverflowError, ValueError):
                cast = None
        if cast is None or not np.isfinite(float(reject_label)) or cast != reject_label:
            raise ValueError(
                f"reject_label={reject_label!r} cannot be represented exactly in the "
                f"classes' dtype {classes.dtype}; pass reject_label explicitly."
            )
        reject_label = cast.item()
    if any(reject_label == c for c in classes.tolist()):
        raise ValueError(
            f"reject_label={reject_label!r} is one of the classes {classes.tolist()!r}; "
            "choose a label that is not a class."
        )
    return reject_label, np.dtype(dtype)


def reject_mask_from_log_proba(log_proba, threshold):
    """True where :math:`\\max_k P(k \\mid x) <` ``threshold`` (numpy bool array)."""
    confidence = log_proba.max(dim=1).values.exp()
    return (confidence < threshold).cpu().numpy()
