"""Scaling: fit time of the linear model and the MLP for n = 1e3 ... 1e6.

Fixed work per fit, so the cost is comparable across n: the linear model
runs 10 L-BFGS iterations (100 features, ``tol=0``), the MLP 2 epochs of
Adam (50 features, hidden (100, 100), batch 256, ``tol=0``). The cost
must grow linearly in n: the table gives the time per sample and the
log-log slopes over n >= 1e4 and n >= 1e5 (1.0 is linear); the plot is written to
``benchmarks/scaling.png``.

Run from the repository root::

    python -m benchmarks.scaling
"""

import os
import sys

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from benchmarks._common import report, timed, wait_for_quiet  # noqa: E402
from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier  # noqa: E402

SIZES = [1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]
LINEAR_ITER = 10
MLP_EPOCHS = 2
PLOT = Path(__file__).resolve().parent / "scaling.png"


def repeats_for(n):
    return 5 if n <= 100_000 else 3 if n <= 300_000 else 1


def slope(ns, seconds, n_min=10_000):
    """Least-squares slope of log(time) against log(n) for n >= n_min."""
    ns, seconds = np.asarray(ns, float), np.asarray(seconds, float)
    keep = ns >= n_min
    return float(np.polyfit(np.log(ns[keep]), np.log(seconds[keep]), 1)[0])


def main():
    background = wait_for_quiet()
    n_max = max(SIZES)
    X_lin, y_lin = make_classification(n_max, 100, n_informative=30, random_state=0)
    X_lin = X_lin.astype(np.float32)
    X_mlp, y_mlp = make_classification(
        n_max, 50, n_informative=20, n_classes=5, random_state=0
    )
    X_mlp = X_mlp.astype(np.float32)

    models = {
        "linear": (
            f"BCELogisticClassifier lbfgs, {LINEAR_ITER} iterations, 100 features",
            lambda: BCELogisticClassifier(alpha=1e-4, max_iter=LINEAR_ITER, tol=0.0),
            X_lin, y_lin,
        ),
        "mlp": (
            f"MLPSoftmaxClassifier (100, 100) adam, {MLP_EPOCHS} epochs, 50 features",
            lambda: MLPSoftmaxClassifier(
                (100, 100), batch_size=256, max_iter=MLP_EPOCHS, tol=0.0, random_state=0
            ),
            X_mlp, y_mlp,
        ),
    }
    rows, curves = [], {}
    for key, (label, make, X, y) in models.items():
        ns, times = [], []
        for n in SIZES:
            Xn, yn = X[:n], y[:n]
            # One warm-up, at the smallest n: later sizes run in a warm process.
            seconds, _, est = timed(lambda: make().fit(Xn, yn), repeats_for(n),
                                    warmup=1 if n == SIZES[0] else 0)
            ns.append(n)
            times.append(seconds)
            rows.append(dict(model=key, n=n, fit_s=seconds, n_iter=int(est.n_iter_),
                             us_per_sample=1e6 * seconds / n,
                             ns_per_sample_iter=1e9 * seconds / n / est.n_iter_))
            print(f"# {key} n={n}: {seconds:.3f} s", file=sys.stderr, flush=True)
        curves[key] = (label, ns, times)

    slopes = {key: {"n>=1e4": slope(ns, times), "n>=1e5": slope(ns, times, 100_000)}
              for key, (_, ns, times) in curves.items()}
    notes = [f"{curves[k][0]}: log-log slope of fit time {s['n>=1e4']:.2f} over n >= 1e4, "
             f"{s['n>=1e5']:.2f} over n >= 1e5 (1.00 is linear; t(1e6) / t(1e5) = "
             f"{curves[k][2][-1] / curves[k][2][SIZES.index(100_000)]:.1f}); below, fixed "
             "per-fit costs flatten the curve"
             for k, s in slopes.items()]
    notes.append("times: medians of 5 fits (n <= 1e5), 3 (3e5) or 1 (1e6), after one "
                 "warm-up fit at the smallest n.")
    try:
        _plot(curves)
        notes.append(f"plot: {PLOT.name}")
    except ImportError:
        notes.append("plot skipped: matplotlib is not installed (pip install matplotlib).")
    columns = [
        ("model", "model", ""),
        ("n", "n", ",d"),
        ("fit_s", "fit (s)", ".4f"),
        ("n_iter", "n_iter", "d"),
        ("us_per_sample", "µs / sample", ".2f"),
        ("ns_per_sample_iter", "ns / sample / iter", ".1f"),
    ]
    report("scaling", "Scaling: fit time against n", columns, rows, notes,
           extra={"loglog_slopes": slopes}, background=background)


def _plot(curves):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for label, ns, times in curves.values():
        (line,) = ax.loglog(ns, times, "o-", label=label)
        # A linear-cost reference through the largest n.
        ref = [times[-1] * n / ns[-1] for n in ns]
        ax.loglog(ns, ref, ":", color=line.get_color(), alpha=0.7)
    ax.set_xlabel("training samples n")
    ax.set_ylabel("fit time (s)")
    ax.set_title("sklearn_autodiff fit time (dotted: linear in n)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(PLOT, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        main()
