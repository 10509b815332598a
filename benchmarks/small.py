"""Small data: fit time on Iris and breast cancer (what a grid search pays per fit).

``BCELogisticClassifier`` against ``LogisticRegression()`` and
``MLPSoftmaxClassifier`` against ``MLPClassifier()``, all with their default
settings except where noted; medians of many fits in one process.

Run from the repository root::

    python -m benchmarks.small
"""

import os
import sys

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from benchmarks._common import report, timed_interleaved, wait_for_quiet  # noqa: E402
from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier  # noqa: E402

REPEATS_LINEAR = 7
REPEATS_MLP = 5


def datasets():
    X, y = load_iris(return_X_y=True)
    yield "iris (150 x 4, 3 classes, raw)", X, y
    X, y = load_breast_cancer(return_X_y=True)
    yield "breast cancer (569 x 30, standardized)", StandardScaler().fit_transform(X), y


def _time_fits(makes, X, y, repeats):
    """Median seconds of one fit for each estimator factory, and a fitted one.

    Fits are timed in groups lasting at least 0.2 s (long enough for the
    background-load check of :func:`timed`), divided by the group size; the
    estimators alternate round by round (:func:`timed_interleaved`).
    """
    fns = {}
    for index, make in enumerate(makes):
        start = time.perf_counter()
        make().fit(X, y)
        group = max(1, math.ceil(0.2 / max(time.perf_counter() - start, 1e-6)))
        fns[index] = (lambda make=make, group=group:
                      (group, [make().fit(X, y) for _ in range(group)][-1]))
    timings = timed_interleaved(fns, repeats)
    out = []
    for index in range(len(makes)):
        seconds, _, (group, fitted) = timings[index]
        out.append((seconds / group, fitted))
    return out


def main():
    background = wait_for_quiet()
    rows = []
    for name, X, y in datasets():
        n = len(y)
        pairs = [
            (
                "linear, same objective (alpha = 1/n, C = 1)",
                "BCELogisticClassifier(alpha=1/n)",
                lambda: BCELogisticClassifier(alpha=1.0 / n),
                "LogisticRegression()",
                lambda: LogisticRegression(),
                REPEATS_LINEAR,
            ),
            (
                "linear, each library's defaults",
                "BCELogisticClassifier()",
                lambda: BCELogisticClassifier(),
                "LogisticRegression()",
                lambda: LogisticRegression(),
                REPEATS_LINEAR,
            ),
            (
                "MLP, defaults (100,) relu adam",
                "MLPSoftmaxClassifier(random_state=0)",
                lambda: MLPSoftmaxClassifier(random_state=0),
                "MLPClassifier(random_state=0)",
                lambda: MLPClassifier(random_state=0),
                REPEATS_MLP,
            ),
        ]
        for task, ours_name, ours_make, ref_name, ref_make, repeats in pairs:
            (ours_s, ours), (ref_s, ref) = _time_fits([ours_make, ref_make], X, y, repeats)
            ref_iter = ref.n_iter_
            ref_iter = int(ref_iter[0]) if hasattr(ref_iter, "__len__") else int(ref_iter)
            rows.append(dict(
                data=name, task=task, ours=ours_name, ours_ms=1e3 * ours_s,
                ours_iter=int(ours.n_iter_), ours_acc=ours.score(X, y), reference=ref_name,
                ref_ms=1e3 * ref_s, ref_iter=ref_iter, ref_acc=ref.score(X, y),
                ratio=ours_s / ref_s,
            ))
    notes = [
        f"times: median over {REPEATS_LINEAR} (linear) or {REPEATS_MLP} (MLP) rounds, after "
        "warm-up, of a group of fits lasting at least 0.2 s, divided by the group size; ours "
        "and the reference alternate round by round; accuracy on the training data.",
        "LogisticRegression() fits one multinomial model; BCELogisticClassifier fits "
        "one-vs-rest binary models (its lbfgs solver takes exact Newton steps on models "
        "this small). On raw Iris LogisticRegression stops at max_iter=100 unconverged.",
        "ratio: our fit time / the reference's.",
    ]
    columns = [
        ("data", "data", ""),
        ("task", "task", ""),
        ("ours_ms", "ours (ms)", ".1f"),
        ("ours_iter", "ours n_iter", "d"),
        ("ours_acc", "ours acc", ".3f"),
        ("reference", "reference", ""),
        ("ref_ms", "reference (ms)", ".1f"),
        ("ref_iter", "ref n_iter", "d"),
        ("ref_acc", "ref acc", ".3f"),
        ("ratio", "ours / ref", ".2f"),
    ]
    report("small", "Small data: fit time", columns, rows, notes, background=background)


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        main()
