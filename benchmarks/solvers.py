"""Calibration of ``solver="auto"``: each solver's fit time on the grid's shapes.

``BCELogisticClassifier(alpha=1/n, solver=s)`` for s in newton, newton-cg,
lbfgs on the shapes of issue 23's grid (float32 ``make_classification``,
80 % of n used for training, as in :mod:`benchmarks.grid`): median of warm
fits, iterations, and which solver ``"auto"`` picks there
(:func:`sklearn_autodiff._solvers.auto_solver`). The constants of the
cost model in ``sklearn_autodiff/_solvers/_choice.py`` come from these figures.

Run from the repository root::

    python -m benchmarks.solvers            # the grid's 12 shapes
    python -m benchmarks.solvers --max-n 100000
"""

import os
import sys

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402

import torch  # noqa: E402

from benchmarks._common import report, timed_interleaved  # noqa: E402
from benchmarks.grid import make_data  # noqa: E402
from sklearn_autodiff import BCELogisticClassifier  # noqa: E402
from sklearn_autodiff._solvers import auto_solver  # noqa: E402

#: (n, d, classes): the cells of issue 23's table.
SHAPES = [
    (1_000, 10, 2), (1_000, 100, 2), (10_000, 10, 2), (10_000, 30, 2), (10_000, 100, 2),
    (100_000, 10, 2), (100_000, 30, 2), (100_000, 60, 2), (100_000, 100, 2), (100_000, 300, 2),
    (1_000_000, 30, 2), (30_000, 30, 5),
]
NAMES = ("newton", "newton-cg", "lbfgs")


def measure(n, d, classes, repeats):
    """Warm-fit medians (seconds) and iterations of each solver on one shape."""
    X, y, _, _ = make_data(n, d, classes)
    alpha = 1.0 / len(y)
    fns = {s: (lambda s=s: BCELogisticClassifier(alpha=alpha, solver=s).fit(X, y)) for s in NAMES}
    timings = timed_interleaved(fns, repeats=repeats, warmup=1)
    k = 1 if classes == 2 else classes
    row = dict(n=n, d=d, classes=classes,
               auto=auto_solver(len(y), d, k, torch.get_num_threads()))
    for s in NAMES:
        seconds, _, fitted = timings[s]
        row[f"{s}_ms"] = 1e3 * seconds
        row[f"{s}_iter"] = int(fitted.n_iter_)
        row[f"{s}_loss"] = float(fitted.loss_)
    row["fastest"] = min(NAMES, key=lambda s: row[f"{s}_ms"])
    row["auto_over_fastest"] = row[f"{row['auto']}_ms"] / row[f"{row['fastest']}_ms"]
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-n", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    shapes = [s for s in SHAPES if args.max_n is None or s[0] <= args.max_n]
    rows = []
    for shape in shapes:
        rows.append(measure(*shape, repeats=args.repeats))
        print(rows[-1], flush=True)
    columns = [("n", "n", "d"), ("d", "d", "d"), ("classes", "classes", "d")]
    for s in NAMES:
        columns += [(f"{s}_ms", f"{s} ms", ".1f"), (f"{s}_iter", "iter", "d")]
    columns += [("fastest", "fastest", "s"), ("auto", "auto picks", "s"),
                ("auto_over_fastest", "auto / fastest", ".2f")]
    name = "solvers" if args.max_n is None else f"solvers_max-n{args.max_n}"
    report(name, "Solver calibration: warm fits of BCELogisticClassifier(alpha=1/n)",
           columns, rows, command="python -m benchmarks.solvers" + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
