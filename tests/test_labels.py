"""check_class_labels: y of mixed label types or with missing labels, named clearly."""

import numpy as np
import pandas as pd
import pytest

from sklearn_autodiff._labels import check_class_labels


@pytest.mark.parametrize(
    "y",
    [
        np.array([0, 1, 2, 1]),
        np.array([0.0, 1.0, 1.0]),
        np.array(["a", "b", "a"]),
        np.array(["a", "b"], dtype=object),
        np.array([0, 1, 2.5, True], dtype=object),  # numbers compare with each other
        np.array([b"a", b"b"], dtype=object),
        ["x", "y"],
        pd.Series(["u", "v"], dtype="category"),
    ],
)
def test_labels_of_one_kind_pass_unchanged(y):
    out = check_class_labels(y)
    np.testing.assert_array_equal(out, np.asarray(y))


@pytest.mark.parametrize(
    ("y", "types"),
    [
        (np.array([0, "1", 2], dtype=object), "int and str"),
        ([1, "a"], None),  # a list: numpy makes it all strings, which is fine
        (np.array([1.5, "a"], dtype=object), "float and str"),
        (np.array(["a", b"b"], dtype=object), "bytes and str"),
        (np.array([np.int64(3), "c"], dtype=object), "int and str"),
    ],
)
def test_mixed_label_types_name_y_and_the_types(y, types):
    if types is None:
        check_class_labels(y)
        return
    with pytest.raises(ValueError, match=f"y mixes label types {types} .*Convert y to one type"):
        check_class_labels(y)


@pytest.mark.parametrize(
    "missing", [np.nan, None, float("nan"), pd.NA, pd.NaT], ids=repr
)
def test_missing_string_labels_say_y_contains_nan_or_none(missing):
    y = np.array(["a", "b", missing, "a"], dtype=object)
    with pytest.raises(ValueError, match=r"y contains NaN or None .* at index 2\)"):
        check_class_labels(y)


def test_nan_in_float_labels_names_y():
    with pytest.raises(ValueError, match=r"y contains NaN or None .* at index 1\)"):
        check_class_labels(np.array([0.0, np.nan, 1.0]))
