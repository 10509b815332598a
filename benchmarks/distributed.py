"""Data-parallel fits: two gloo ranks against one process on the same total data.

Rows (issue 18):

- linear: ``BCELogisticClassifier()`` (solver "auto") on 2M x 100 float32,
  binary;
- MLP: ``MLPSoftmaxClassifier((100,), solver="adam")``, two epochs on
  200k x 100 float32, reported per epoch.

Each configuration runs in fresh processes started by this script: one
process with the whole data (1 torch thread, and 2 threads: what one
process gets from this machine), and two ranks of a gloo process group with
half the rows each and 1 thread each (``distributed=True``). Every process
builds its rows from the same seeded blocks, so the single process sees the
concatenation of the ranks' shards. Reported: fit time (median of the
repeats, after a small warm-up fit), speedup and scaling efficiency
(speedup / ranks) against the one-thread process, the share of the fit spent
in collectives (all-reduce, gather; rank 0's, timed around each call), per
iteration, the largest difference of predict_proba on 10k probe rows
between the distributed and the single-process model, and both models'
accuracy on those rows.

Run from the repository root::

    python -m benchmarks.distributed
    python -m benchmarks.distributed --quick   # small shapes (checks the script)
"""

import os
import sys

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import pickle  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks._common import report, wait_for_quiet  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
N_BLOCKS = 8  # the data is made of blocks; rank r takes a contiguous half
PROBE_ROWS = 10_000
CASES = {
    "linear": {"n": 2_000_000, "d": 100, "repeats": 3},
    "mlp": {"n": 200_000, "d": 100, "repeats": 3, "epochs": 2},
}
QUICK = {
    "linear": {"n": 80_000, "d": 20, "repeats": 1},
    "mlp": {"n": 8_000, "d": 20, "repeats": 1, "epochs": 2},
}


def block(b, rows, d):
    """Block b of the data set: Gaussian features, labels from a fixed noisy hyperplane."""
    rng = np.random.default_rng(1000 + b)
    X = rng.standard_normal((rows, d), dtype=np.float32)
    w = np.random.default_rng(0).standard_normal(d).astype(np.float32)
    y = (X @ w + rng.standard_normal(rows, dtype=np.float32) * 2 > 0).astype(np.int64)
    return X, y


def rows_of(rank, world_size, n, d):
    blocks = range(N_BLOCKS) if world_size == 1 else range(
        rank * N_BLOCKS // world_size, (rank + 1) * N_BLOCKS // world_size
    )
    parts = [block(b, n // N_BLOCKS, d) for b in blocks]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def make_estimator(case, distributed, params):
    from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier

    if case == "linear":
        return BCELogisticClassifier(distributed=distributed)
    return MLPSoftmaxClassifier(
        (100,), solver="adam", max_iter=params["epochs"], random_state=0, distributed=distributed
    )


class CollectiveClock:
    """Wall time spent inside the process group's collectives (patched around them)."""

    def __init__(self):
        from sklearn_autodiff import _distributed

        self.seconds = 0.0
        self.calls = 0
        for name in ("sum", "gather", "max", "broadcast_module"):
            original = getattr(_distributed.ProcessGroup, name)
            setattr(_distributed.ProcessGroup, name, self._timed(original))

    def _timed(self, original):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls += 1

        return wrapper


def worker(rank, world_size, threads, init_file, out_file, case, quick):
    import warnings

    import torch

    torch.set_num_threads(threads)
    warnings.simplefilter("ignore")
    params = (QUICK if quick else CASES)[case]
    distributed = world_size > 1
    clock = None
    if distributed:
        import torch.distributed as dist

        dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                                world_size=world_size)
        clock = CollectiveClock()
    X, y = rows_of(rank, world_size, params["n"], params["d"])
    warm_X, warm_y = X[:2000], y[:2000]
    make_estimator(case, distributed, params).fit(warm_X, warm_y)  # lazy imports, pools
    times, comm, calls = [], [], []
    for _ in range(params["repeats"]):
        if clock:
            clock.seconds, clock.calls = 0.0, 0
        estimator = make_estimator(case, distributed, params)
        start = time.perf_counter()
        estimator.fit(X, y)
        times.append(time.perf_counter() - start)
        if clock:
            comm.append(clock.seconds)
            calls.append(clock.calls)
    probe, probe_y = block(99, PROBE_ROWS, params["d"])
    result = {
        "seconds": statistics.median(times),
        "times": times,
        "comm_seconds": statistics.median(comm) if comm else 0.0,
        "collectives": calls[-1] if calls else 0,
        "n_iter": estimator.n_iter_,
        "solver": estimator.solver_,
        "proba": estimator.predict_proba(probe),
        "accuracy_all": estimator.score(probe, probe_y),
    }
    if distributed:
        # The bare collective, for scale: one all-reduce of the gradient's size.
        n_params = sum(p.numel() for p in estimator.module_.parameters())
        buffer = torch.zeros(n_params, dtype=torch.float32)
        for _ in range(10):
            dist.all_reduce(buffer)
        start = time.perf_counter()
        for _ in range(200):
            dist.all_reduce(buffer)
        result["bare_allreduce_ms"] = 1000 * (time.perf_counter() - start) / 200
        result["n_params"] = n_params
        dist.destroy_process_group()
    with open(out_file, "wb") as f:
        pickle.dump(result, f)


def launch(world_size, threads, case, quick):
    """Start ``world_size`` worker processes; their results, in rank order."""
    with tempfile.TemporaryDirectory() as folder:
        init = os.path.join(folder, "init")
        outs = [os.path.join(folder, f"rank{r}.pkl") for r in range(world_size)]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "benchmarks.distributed", "--worker", str(r),
                 str(world_size), str(threads), init, outs[r], case]
                + (["--quick"] if quick else []),
                cwd=REPO, env=env,
            )
            for r in range(world_size)
        ]
        for process in processes:
            if process.wait(timeout=3600) != 0:
                raise RuntimeError(f"a worker of {case} (world size {world_size}) failed")
        results = []
        for out in outs:
            with open(out, "rb") as f:
                results.append(pickle.load(f))
        return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", nargs=6, metavar=("RANK", "WORLD", "THREADS", "INIT", "OUT", "CASE"))
    args = parser.parse_args()
    if args.worker:
        rank, world, threads, init, out, case = args.worker
        worker(int(rank), int(world), int(threads), init, out, case, args.quick)
        return
    background = wait_for_quiet()
    rows = []
    for case in CASES:
        params = (QUICK if args.quick else CASES)[case]
        alone = launch(1, 1, case, args.quick)[0]
        alone_two = launch(1, 2, case, args.quick)[0]
        ranks = launch(2, 1, case, args.quick)
        seconds = max(r["seconds"] for r in ranks)
        per = "epoch" if case == "mlp" else "iteration"
        speedup = alone["seconds"] / seconds
        rows.append({
            "case": f"{case} {params['n']:,} x {params['d']}",
            "solver": ranks[0]["solver"],
            "n_iter": ranks[0]["n_iter"],
            "one_1t": alone["seconds"],
            "one_2t": alone_two["seconds"],
            "two": seconds,
            "speedup": speedup,
            "efficiency": speedup / 2,
            "vs_2t": alone_two["seconds"] / seconds,
            "per_iter_ms": 1000 * seconds / ranks[0]["n_iter"],
            "comm_share": ranks[0]["comm_seconds"] / ranks[0]["seconds"],
            "comm_per_iter_ms": 1000 * ranks[0]["comm_seconds"] / ranks[0]["n_iter"],
            "bare_ms": ranks[0]["bare_allreduce_ms"],
            "n_params": ranks[0]["n_params"],
            "per": per,
            "proba_diff": float(np.abs(ranks[0]["proba"] - alone["proba"]).max()),
            "acc_one": alone["accuracy_all"],
            "acc_two": ranks[0]["accuracy_all"],
            "ranks_equal": bool(np.array_equal(ranks[0]["proba"], ranks[1]["proba"])),
        })
    columns = [
        ("case", "case", ""),
        ("solver", "solver", ""),
        ("n_iter", "iterations", "d"),
        ("one_1t", "1 process, 1 thread (s)", ".2f"),
        ("one_2t", "1 process, 2 threads (s)", ".2f"),
        ("two", "2 ranks x 1 thread (s)", ".2f"),
        ("speedup", "speedup vs 1 thread", ".2f"),
        ("efficiency", "scaling efficiency", ".2f"),
        ("vs_2t", "speedup vs 2 threads", ".2f"),
        ("per_iter_ms", "ms per iteration/epoch (2 ranks)", ".1f"),
        ("comm_per_iter_ms", "of which collectives (ms)", ".1f"),
        ("comm_share", "collectives share", ".2f"),
        ("n_params", "parameters", "d"),
        ("bare_ms", "one bare all-reduce of them (ms)", ".3f"),
        ("proba_diff", "max |proba diff| vs 1 process", ".1e"),
        ("acc_one", "probe accuracy, 1 process", ".4f"),
        ("acc_two", "probe accuracy, 2 ranks", ".4f"),
    ]
    report(
        "distributed" + ("_quick" if args.quick else ""),
        "distributed=True: 2 gloo ranks against 1 process on the same total data",
        columns,
        rows,
        notes=[
            "Fit times are medians of the repeats, after a small warm-up fit in the same process; "
            "the 2-rank time is the slower rank's.",
            "Scaling efficiency = (1-thread single-process time / 2-rank time) / 2.",
            "Collectives: wall time inside the process group's all-reduce / gather / broadcast "
            "calls on rank 0 (includes waiting for the other rank).",
            "max |proba diff|: full-batch fits (linear) are the single-process fit to rounding; "
            "mini-batch fits (MLP) take other batches, hence another model: compare accuracies.",
            "Ranks ended with bit-identical predictions: "
            + ", ".join(f"{r['case']}: {r['ranks_equal']}" for r in rows) + ".",
        ],
        background=background,
        command="python -m benchmarks.distributed" + (" --quick" if args.quick else ""),
    )


if __name__ == "__main__":
    main()
