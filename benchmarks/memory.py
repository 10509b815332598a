"""Memory: the peak memory a fit (and a predict_proba) adds, against the size of X.

Each measurement runs in a fresh Python process, which

1. imports the libraries and fits the estimator once on 1000 rows (one-time
   allocations of the libraries: thread pools, allocator arenas);
2. creates X (float32, in blocks, so that making it costs no more memory
   than X itself) and y;
3. notes its resident set size (RSS) and resets the kernel's peak-RSS mark
   (``/proc/self/clear_refs``; where that is refused the peak also covers
   step 2);
4. runs the fit, or ``predict_proba`` with a model fitted on 100k rows
   before step 2, and reads the peak RSS (``resource.getrusage``
   ``ru_maxrss``, which sees torch's allocations, unlike ``tracemalloc``).

Fit memory is reported as (peak - RSS after X) / X.nbytes; predict memory as
bytes per row beyond the returned array. ``BCELogisticClassifier`` and
``TanhLogisticClassifier`` with their defaults, against ``LogisticRegression()``,
on 1M x 50 (fit) and 5M x 50 (predict_proba), binary. Target (issue 13): a
fit adds at most 0.5 x the size of X for both linear models.

Run from the repository root::

    python -m benchmarks.memory
    python -m benchmarks.memory --n 300000 --predict-n 1000000   # smaller
    python -m benchmarks.memory --quick     # seconds: 20k / 100k rows (checks the script)
"""

import os
import sys

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
N_FIT, N_PREDICT, N_FEATURES = 1_000_000, 5_000_000, 50
N_PREDICT_FIT = 100_000  # rows the model for predict_proba is fitted on
BLOCK = 65_536  # rows per block when X is created
FIT_TARGET = 0.5  # added peak / X.nbytes
MODELS = {
    "bce": "BCELogisticClassifier()",
    "tanh": "TanhLogisticClassifier()",
    "sklearn": "LogisticRegression()",
}
OURS = ("bce", "tanh")


# --- the child process ----------------------------------------------------------


def _rss():
    """Current resident set size in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise OSError("VmRSS not found")


def _peak_rss():
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


def _trim():
    """Hand freed heap pages back to the kernel (glibc), so RSS counts live memory only.

    Otherwise a later allocation may reuse pages that are still resident and
    the peak would not show it.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak():
    """Reset the peak-RSS mark to the current RSS; False where refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def make_data(n, d, seed, w=None):
    """float32 X (standard normal, made in blocks) and y from a noisy linear rule."""
    import numpy as np

    rng = np.random.default_rng(seed)
    if w is None:
        w = np.random.default_rng(12345).standard_normal(d).astype(np.float32)
    X = np.empty((n, d), dtype=np.float32)
    y = np.empty(n, dtype=np.int64)
    for start in range(0, n, BLOCK):
        stop = min(n, start + BLOCK)
        rng.standard_normal(size=(stop - start, d), dtype=np.float32, out=X[start:stop])
        noise = rng.standard_normal(stop - start, dtype=np.float32)
        y[start:stop] = (X[start:stop] @ w + 2.0 * noise) > 0
    return X, y


def _make(model):
    from sklearn.linear_model import LogisticRegression

    from sklearn_autodiff import BCELogisticClassifier, TanhLogisticClassifier

    return {
        "bce": BCELogisticClassifier,
        "tanh": TanhLogisticClassifier,
        "sklearn": LogisticRegression,
    }[model]()


def child(task, model, n, d):
    import gc
    import warnings

    warnings.simplefilter("ignore")
    X_warm, y_warm = make_data(1_000, d, seed=1)
    _make(model).fit(X_warm, y_warm)
    est = None
    if task == "predict":
        X_fit, y_fit = make_data(N_PREDICT_FIT, d, seed=2)
        est = _make(model).fit(X_fit, y_fit)
        del X_fit, y_fit
    del X_warm, y_warm
    gc.collect()

    X, y = make_data(n, d, seed=0)
    gc.collect()
    _trim()
    reset = _reset_peak()
    baseline = _peak_rss() if reset else _rss()  # after a reset: the RSS now
    start = time.perf_counter()
    if task == "fit":
        est = _make(model).fit(X, y)
        out_bytes = 0
    else:
        out = est.predict_proba(X)
        out_bytes = out.nbytes
    seconds = time.perf_counter() - start
    peak = _peak_rss()
    if task == "predict":
        del out
    del X, y
    gc.collect()
    X_test, y_test = make_data(50_000, d, seed=3)
    print(json.dumps({
        "baseline_rss": baseline, "peak_rss": peak, "peak_reset": reset,
        "x_bytes": n * d * 4, "out_bytes": out_bytes, "seconds": seconds,
        "accuracy": float(est.score(X_test, y_test)),
    }))


# --- the parent -----------------------------------------------------------------


def measure(task, model, n, d, timeout):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "benchmarks.memory", "--child", task, model,
               "--n", str(n), "--d", str(d)]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{task} {model} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=None, help=f"fit rows (default {N_FIT:,})")
    parser.add_argument("--predict-n", type=int, default=None,
                        help=f"predict_proba rows (default {N_PREDICT:,})")
    parser.add_argument("--d", type=int, default=N_FEATURES, help="features (default 50)")
    parser.add_argument("--quick", action="store_true",
                        help="20k fit rows, 100k predict rows: checks the script, its "
                             "multiples mean little at that size")
    parser.add_argument("--child", nargs=2, metavar=("TASK", "MODEL"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        child(args.child[0], args.child[1], args.n, args.d)
        return
    from benchmarks._common import report

    n_fit = args.n or (20_000 if args.quick else N_FIT)
    n_predict = args.predict_n or (100_000 if args.quick else N_PREDICT)
    timeout = 120.0 if args.quick else 1800.0
    rows, resets = [], []
    for task, n in (("fit", n_fit), ("predict", n_predict)):
        for model, name in MODELS.items():
            r = measure(task, model, n, args.d, timeout)
            resets.append(r["peak_reset"])
            added = r["peak_rss"] - r["baseline_rss"]
            row = dict(task="fit" if task == "fit" else "predict_proba", model=name, n=n,
                       x_mb=r["x_bytes"] / 2**20, baseline_mb=r["baseline_rss"] / 2**20,
                       peak_mb=r["peak_rss"] / 2**20, added_mb=added / 2**20,
                       out_mb=r["out_bytes"] / 2**20, seconds=r["seconds"],
                       accuracy=r["accuracy"])
            if task == "fit":
                row["x_multiple"] = added / r["x_bytes"]
                if model in OURS:
                    row["misses"] = ("ok" if row["x_multiple"] <= FIT_TARGET else
                                     f"{row['x_multiple']:.2f} > {FIT_TARGET:g}")
            else:
                row["beyond_out_mb"] = (added - r["out_bytes"]) / 2**20
                row["bytes_per_row"] = (added - r["out_bytes"]) / n
            rows.append(row)
            print(f"# {task} {name} n={n}: adds {added / 2**20:.1f} MiB", file=sys.stderr,
                  flush=True)

    missed = [r for r in rows if r.get("misses") not in (None, "ok")]
    notes = [
        f"target (issue 13): a fit of BCELogisticClassifier or TanhLogisticClassifier adds at "
        f"most {FIT_TARGET:g} x X.nbytes; missed by {len(missed)} of 2"
        + ("" if not missed else ": " + ", ".join(r["model"] for r in missed)) + ".",
        "each row is a fresh process: libraries imported and one warm-up fit on 1000 rows, "
        "then X created (float32, standard normal, in blocks of 65,536 rows; y from a noisy "
        "linear rule, binary), freed heap pages handed back (malloc_trim), then the fit or "
        "predict_proba; added = peak RSS during it "
        "(getrusage ru_maxrss, the peak mark reset after X was made) - RSS after X was made. "
        f"predict_proba uses a model fitted on {N_PREDICT_FIT:,} rows before X was made; "
        "'beyond output' subtracts the returned array.",
        f"fit rows {n_fit:,}, predict rows {n_predict:,}, {args.d} features; defaults "
        "(ours alpha=1e-4, LogisticRegression C=1); accuracy on 50,000 fresh rows; time is "
        "the fit or predict_proba call alone (one run).",
    ]
    if not all(resets):
        notes.append("the kernel refused to reset the peak mark (/proc/self/clear_refs): "
                     "those peaks also cover making X.")
    columns = [
        ("task", "task", ""),
        ("model", "model", ""),
        ("n", "rows", ",d"),
        ("x_mb", "X (MiB)", ".1f"),
        ("baseline_mb", "RSS after X (MiB)", ".1f"),
        ("peak_mb", "peak RSS (MiB)", ".1f"),
        ("added_mb", "added (MiB)", ".1f"),
        ("x_multiple", "added / X", ".3f"),
        ("out_mb", "output (MiB)", ".1f"),
        ("bytes_per_row", "bytes / row beyond output", ".1f"),
        ("seconds", "time (s)", ".2f"),
        ("accuracy", "test acc", ".4f"),
        ("misses", "target missed", ""),
    ]
    command = "python -m benchmarks.memory " + " ".join(sys.argv[1:] if argv is None else argv)
    default_sizes = args.n is None and args.predict_n is None and args.d == N_FEATURES
    name = "memory_quick" if args.quick else "memory" if default_sizes else "memory_custom"
    report(name, f"Memory: what a fit ({n_fit:,} x {args.d}) and predict_proba "
                 f"({n_predict:,} rows) add", columns, rows, notes, command=command.strip())


if __name__ == "__main__":
    main()
