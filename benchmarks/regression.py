"""The regressors against scikit-learn at its best (issue 25's targets), in one run.

References, each the fastest of its configurations in the same run, with
the default BLAS threads and under ``threadpoolctl.threadpool_limits(1)``,
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` removed from the process's
environment (the script re-executes itself without them):

- squared error: ``Ridge(alpha=alpha * n)`` with solvers auto, cholesky,
  lsqr and sparse_cg; ours ``LinearAutodiffRegressor(alpha=alpha)``;
- Poisson: ``PoissonRegressor(alpha=alpha)`` with lbfgs and newton-cholesky;
- quantile: ``QuantileRegressor(alpha=0, solver="highs")`` (one BLAS
  setting: HiGHS does not use BLAS threads), with the pinball loss of both;
- MLP: one epoch of ``MLPRegressor((100, 100))`` against one of
  ``MLPAutodiffRegressor((100, 100))`` on 40k x 50, and R² after 10 epochs.

float32 X, ``alpha = 1/n``. First fits (new data) and warm fits (median of
repeats) are reported separately; the ratio is ours over the reference, warm.

Run from the repository root::

    python -m benchmarks.regression            # all rows
    python -m benchmarks.regression --quick    # n <= 1e4 only
"""

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import _common  # noqa: E402

if __name__ == "__main__":
    _common.reexec_without_openblas_variables()

import argparse  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

SQUARED_SHAPES = [(10_000, 10), (10_000, 100), (100_000, 30), (100_000, 100)]
POISSON_SHAPES = [(10_000, 10), (100_000, 30)]
QUANTILE_SHAPES = [(10_000, 10), (20_000, 20)]


def _data(n, d, kind, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=d) / np.sqrt(d)
    if kind == "poisson":
        return X, rng.poisson(np.exp(X @ w * 0.5 + 0.3)).astype(np.float64)
    return X, X @ w + 0.5 + rng.standard_t(3, size=n)


def _references(kind, n):
    from sklearn.linear_model import PoissonRegressor, QuantileRegressor, Ridge

    alpha = 1.0 / n
    if kind == "squared_error":
        makes = {f"Ridge {s}": (lambda s=s: Ridge(alpha=alpha * n, solver=s))
                 for s in ("auto", "cholesky", "lsqr", "sparse_cg")}
    elif kind == "poisson":
        makes = {f"PoissonRegressor {s}": (lambda s=s: PoissonRegressor(alpha=alpha, solver=s))
                 for s in ("lbfgs", "newton-cholesky")}
    else:
        return {"QuantileRegressor highs": _common.with_blas_threads(
            lambda: QuantileRegressor(alpha=0.0, quantile=0.8, solver="highs"), None)}
    configs = {}
    for label, make in makes.items():
        configs[f"{label}, default threads"] = _common.with_blas_threads(make, None)
        configs[f"{label}, 1 thread"] = _common.with_blas_threads(make, 1)
    return configs


def _ours(kind, n):
    from sklearn_autodiff import LinearAutodiffRegressor

    if kind == "quantile":
        return lambda X, y: LinearAutodiffRegressor("quantile", quantile=0.8, alpha=0.0).fit(X, y)
    return lambda X, y: LinearAutodiffRegressor(kind, alpha=1.0 / n).fit(X, y)


def linear_rows(kind, shapes, repeats):
    from sklearn.metrics import mean_pinball_loss

    rows = []
    for n, d in shapes:
        X, y = _data(n, d, kind)
        best, times = _common.time_best_of(_references(kind, n), X, y, repeats)
        _, ours = _common.time_best_of({"ours": _ours(kind, n)}, X, y, repeats)
        first, warm, model = ours["ours"]
        ref_first, ref_warm, ref_model = times[best]
        if kind == "quantile":
            agreement = (mean_pinball_loss(y, model.predict(X), alpha=0.8)
                         / mean_pinball_loss(y, ref_model.predict(X), alpha=0.8) - 1)
            what = f"pinball {agreement:+.1e}"
        else:  # PoissonRegressor.score is D², not R²: compare the predictions
            gap = np.abs(model.predict(X) - ref_model.predict(X)).max() / y.std()
            what = f"predictions within {gap:.1e} std(y)"
        rows.append([f"{kind}, {n:.0e} x {d}", f"{best}: {ref_warm * 1e3:.1f} ms",
                     f"{warm * 1e3:.1f} ms (first {first * 1e3:.1f})",
                     f"{warm / ref_warm:.3g}x", what, model.solver_])
    return rows


def mlp_rows(repeats):
    from sklearn.neural_network import MLPRegressor

    from sklearn_autodiff import MLPAutodiffRegressor

    X, y = _data(40_000, 50, "squared_error", seed=1)
    y = y.astype(np.float32)
    common = {"hidden_layer_sizes": (100, 100), "batch_size": 200, "shuffle": True,
              "random_state": 0}

    def ours(epochs):
        return lambda X, y: MLPAutodiffRegressor(max_iter=epochs, **common).fit(X, y)

    def theirs(epochs, limit):
        return _common.with_blas_threads(
            lambda: MLPRegressor(max_iter=epochs, tol=0, n_iter_no_change=epochs + 1, **common),
            limit)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        configs = {"MLPRegressor, default threads": theirs(1, None),
                   "MLPRegressor, 1 thread": theirs(1, 1)}
        best, times = _common.time_best_of(configs, X, y, repeats)
        _, mine = _common.time_best_of({"ours": ours(1)}, X, y, repeats)
        r2_ours = ours(10)(X, y).score(X, y)
        r2_theirs = theirs(10, 1)(X, y).score(X, y)
    return [["MLP (100, 100) epoch, 40k x 50", f"{best}: {times[best][1]:.3f} s",
             f"{mine['ours'][1]:.3f} s", f"{mine['ours'][1] / times[best][1]:.2f}x",
             f"R² after 10 epochs {r2_ours:.4f} vs {r2_theirs:.4f}", "adam"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only n <= 1e4, no MLP")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(_common.describe_run())
    keep = (lambda shapes: [s for s in shapes if s[0] <= 10_000]) if args.quick else (lambda s: s)
    rows = []
    rows += linear_rows("squared_error", keep(SQUARED_SHAPES), args.repeats)
    rows += linear_rows("poisson", keep(POISSON_SHAPES), args.repeats)
    rows += linear_rows("quantile", keep(QUANTILE_SHAPES), max(1, args.repeats // 2))
    if not args.quick:
        rows += mlp_rows(args.repeats)
    header = ["workload", "scikit-learn at its best (warm)", "ours (warm)", "ratio", "agreement",
              "our solver"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(f"loadavg after: {_common.load_average()}")


if __name__ == "__main__":
    main()
