"""Ours against scikit-learn at its best (issue 23's table), in one run.

scikit-learn's reference is, per cell, the fastest warm fit of
``LogisticRegression(solver=s)`` for s in lbfgs and newton-cholesky, each
with the default BLAS threads and under ``threadpoolctl.threadpool_limits(1)``
(``MLPClassifier()`` with both thread settings for the MLP rows), measured in
the same run as ours, with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``
removed from the process's environment (the script re-executes itself
without them). The winning configuration is printed beside its figure.
Linear cells: ``make_classification`` float32, 80 % for training, ours
``alpha = 1/n_train`` (``C = 1``). Small data sets: standardized, each
library's defaults. First fits (on new data) and warm fits (median of
repeats; fits under 50 ms are grouped) are reported separately.

Run from the repository root::

    python -m benchmarks.fair                # the 12 linear cells
    python -m benchmarks.fair --max-n 100000 # without 1e6 x 30
    python -m benchmarks.fair --small        # iris, breast cancer, digits (linear and MLP)
"""

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import _common  # noqa: E402

if __name__ == "__main__":
    _common.reexec_without_openblas_variables()

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

SHAPES = [
    (1_000, 10, 2), (1_000, 100, 2), (10_000, 10, 2), (10_000, 30, 2), (10_000, 100, 2),
    (100_000, 10, 2), (100_000, 30, 2), (100_000, 60, 2), (100_000, 100, 2), (100_000, 300, 2),
    (1_000_000, 30, 2), (30_000, 30, 5),
]
GROUP_SECONDS = 0.05


def _grouped(fit, first_seconds):
    group = max(1, math.ceil(GROUP_SECONDS / max(first_seconds, 1e-6)))

    def run(X, y):
        for _ in range(group):
            fitted = fit(X, y)
        return fitted

    return run, group


def compare(ours, reference, X, y, repeats):
    """Time ours (label -> fit) and every reference configuration; warm times per single fit."""
    configs = {**ours, **reference}
    first = {}
    for label, fit in configs.items():
        start = time.perf_counter()
        fit(X, y)
        first[label] = time.perf_counter() - start
    grouped = {label: _grouped(fit, first[label]) for label, fit in configs.items()}
    _, times = _common.time_best_of({k: g[0] for k, g in grouped.items()}, X, y, repeats)
    out = {k: (first[k], times[k][1] / grouped[k][1], times[k][2]) for k in configs}
    best = min(reference, key=lambda k: out[k][1])
    return best, out


def logistic_references():
    from sklearn.linear_model import LogisticRegression

    return {
        f"{solver}, {'1 thread' if limit else 'default threads'}": _common.with_blas_threads(
            lambda solver=solver: LogisticRegression(solver=solver, max_iter=1000), limit)
        for solver in ("lbfgs", "newton-cholesky") for limit in (None, 1)
    }


def linear_row(n, d, classes):
    from benchmarks.grid import make_data
    from sklearn_autodiff import BCELogisticClassifier, TanhLogisticClassifier

    X, y, X_test, y_test = make_data(n, d, classes)
    alpha = 1.0 / len(y)
    ours = {"bce": lambda X, y: BCELogisticClassifier(alpha=alpha).fit(X, y),
            "tanh": lambda X, y: TanhLogisticClassifier(alpha=alpha).fit(X, y)}
    best, out = compare(ours, logistic_references(), X, y, 5 if n <= 10_000 else 3)
    return _row(f"{n} x {d}" + (f", {classes} classes" if classes > 2 else ""), best, out,
                X_test, y_test, default="lbfgs, default threads")


def _row(name, best, out, X_test, y_test, default):
    acc = {k: float(v[2].score(X_test, y_test)) for k, v in out.items()}
    row = dict(cell=name, sk_best=best, sk_ms=1e3 * out[best][1], sk_default_ms=1e3 * out[default][1],
               bce_ms=1e3 * out["bce"][1], solver=out["bce"][2].solver_,
               bce_over_sk=out["bce"][1] / out[best][1],
               bce_first_over_sk=out["bce"][0] / out[best][0],
               bce_acc_diff=acc["bce"] - acc[best])
    if "tanh" in out:
        row.update(tanh_over_bce=out["tanh"][1] / out["bce"][1], tanh_acc_diff=acc["tanh"] - acc[best])
    return row


def small_rows():
    from sklearn.datasets import load_breast_cancer, load_digits, load_iris
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier

    rows = []
    for name, load in (("iris", load_iris), ("breast cancer", load_breast_cancer), ("digits", load_digits)):
        X, y = load(return_X_y=True)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        ours = {"bce": lambda X, y: BCELogisticClassifier().fit(X, y)}
        best, out = compare(ours, logistic_references(), X_train, y_train, 7)
        rows.append(_row(f"{name}, linear", best, out, X_test, y_test, "lbfgs, default threads"))
        mlp_ref = {f"adam, {'1 thread' if limit else 'default threads'}": _common.with_blas_threads(
            lambda: MLPClassifier(random_state=0), limit) for limit in (None, 1)}
        ours = {"bce": lambda X, y: MLPSoftmaxClassifier(random_state=0).fit(X, y)}
        best, out = compare(ours, mlp_ref, X_train, y_train, 3)
        rows.append(_row(f"{name}, MLP", best, out, X_test, y_test, "adam, default threads"))
    return rows


COLUMNS = [
    ("cell", "workload", "s"), ("sk_best", "scikit-learn at its best", "s"),
    ("sk_ms", "its ms", ".1f"), ("sk_default_ms", "sklearn default config ms", ".1f"),
    ("bce_ms", "ours ms", ".1f"), ("solver", "our solver", "s"),
    ("bce_over_sk", "ours / best (warm)", ".2f"), ("bce_first_over_sk", "first fits", ".2f"),
    ("tanh_over_bce", "Tanh / BCE", ".2f"), ("bce_acc_diff", "acc diff", "+.4f"),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=None)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    from sklearn.exceptions import ConvergenceWarning

    from scipy.linalg import LinAlgWarning

    warnings.simplefilter("ignore", ConvergenceWarning)
    warnings.simplefilter("ignore", LinAlgWarning)  # newton-cholesky's fallback notice
    print("#", _common.describe_run(), flush=True)
    if args.small:
        rows, name = small_rows(), "fair_small"
    else:
        rows = []
        for shape in SHAPES:
            if args.max_n is None or shape[0] <= args.max_n:
                rows.append(linear_row(*shape))
                print("#", rows[-1], flush=True)
        name = "fair" if args.max_n is None else f"fair_max-n{args.max_n}"
    linear = [r["bce_over_sk"] for r in rows if "MLP" not in r["cell"]]
    note = f"geometric mean of ours / best (linear rows): {float(np.exp(np.mean(np.log(linear)))):.2f}"
    _common.report(name, "Ours against scikit-learn at its best (same run)", COLUMNS, rows,
                   notes=[_common.describe_run() + " (at the end)", note],
                   command="python -m benchmarks.fair " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
