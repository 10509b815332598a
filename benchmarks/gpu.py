"""The GPU figures of issue 19, measured side by side in one run on one machine.

- Linear: ``BCELogisticClassifier(device="cuda")`` fit on n x 100 float32
  (n = 1M and 10M by default), given CUDA tensors and given numpy arrays,
  against scikit-learn's ``LogisticRegression()`` on this machine's CPU (and,
  where it runs, on the same CUDA tensors through array API dispatch) and
  against a bare ``torch.optim.LBFGS`` loop on the GPU.
- MLP epoch: ``MLPSoftmaxClassifier((256, 256), batch_size=1024,
  device="cuda")`` on 1M x 100 float32 (CUDA tensors) against bare torch
  loops on the GPU: Adam, ``Adam(fused=True)`` and the whole step captured in
  a CUDA graph.

The table names the GPU and the CPU beside each row. Without CUDA the script
says so and exits cleanly (status 0).

Run from the repository root::

    python -m benchmarks.gpu [--out DIR]

``--out DIR`` writes ``gpu.json`` and ``gpu.md`` to DIR (the JSON is
rewritten after every workload, so a run cut short keeps what it measured);
without it they go to ``benchmarks/results/``. Sizes come from environment
variables; the defaults take about 3 to 5 minutes on one H200 and a 16-core
CPU, and ``GPU_BENCH_BUDGET_S`` bounds the whole: a row whose estimated time
does not fit in what is left is skipped, with a note (``LogisticRegression``
at 10M rows is then extrapolated from its 1M-row time, and marked so).

==========================  =================  ====================================
variable                    default            meaning
==========================  =================  ====================================
GPU_BENCH_DEVICE            cuda               the device (``cpu`` for a dry run)
GPU_BENCH_LINEAR_ROWS       1000000,10000000   training rows of the linear fits
GPU_BENCH_FEATURES          100                features (linear and MLP)
GPU_BENCH_MLP_ROWS          1000000            training rows of the MLP
GPU_BENCH_MLP_HIDDEN        256,256            hidden layer sizes
GPU_BENCH_MLP_BATCH         1024               mini-batch size
GPU_BENCH_MLP_EPOCHS        2                  epochs per timed MLP fit
GPU_BENCH_REPEATS           3                  timed rounds of the GPU rows
GPU_BENCH_WARMUP            1                  untimed warm-up runs of each GPU row
GPU_BENCH_BUDGET_S          300                soft limit on the whole run, seconds
GPU_BENCH_SMOKE             (unset)            1: tiny sizes on the CPU, 1 repeat;
                                               checks that the script runs
==========================  =================  ====================================
"""

import os
import sys

# scikit-learn's array API support needs scipy's, switched on before scipy loads.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks import _common  # noqa: E402
from benchmarks._common import report, timed  # noqa: E402
from benchmarks.linear import bare_torch_lbfgs  # noqa: E402

SMOKE = os.environ.get("GPU_BENCH_SMOKE", "") not in ("", "0")


def _env(name, default, smoke_default=None):
    value = os.environ.get(name)
    if value is None:
        value = smoke_default if SMOKE and smoke_default is not None else default
    return value


def _ints(text):
    return tuple(int(v) for v in str(text).replace(" ", "").split(",") if v)


DEVICE = _env("GPU_BENCH_DEVICE", "cuda", "cpu")
LINEAR_ROWS = _ints(_env("GPU_BENCH_LINEAR_ROWS", "1000000,10000000", "2000,4000"))
N_FEATURES = int(_env("GPU_BENCH_FEATURES", 100, 20))
MLP_ROWS = int(_env("GPU_BENCH_MLP_ROWS", 1_000_000, 2000))
MLP_HIDDEN = _ints(_env("GPU_BENCH_MLP_HIDDEN", "256,256", "16,16"))
MLP_BATCH = int(_env("GPU_BENCH_MLP_BATCH", 1024, 256))
MLP_EPOCHS = int(_env("GPU_BENCH_MLP_EPOCHS", 2, 1))
REPEATS = int(_env("GPU_BENCH_REPEATS", 3, 1))
WARMUP = int(_env("GPU_BENCH_WARMUP", 1))
BUDGET_S = float(_env("GPU_BENCH_BUDGET_S", 300, 120))
N_TEST = 100_000 if not SMOKE else 500
N_CLASSES = 5
MLP_LR = 1e-3
# MLPClassifier's alpha=1e-4 divided by the batch size: the same objective
# (as in benchmarks.mlp); the bare loops have no penalty.
MLP_ALPHA = 1e-4 / MLP_BATCH
#: Kept free at the end of the budget for the report.
RESERVE_S = 5.0


class Budget:
    """The soft time limit of the whole run."""

    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds
        self.skipped = []

    def left(self):
        return self.deadline - time.monotonic()

    def allows(self, estimate_s, what):
        if estimate_s <= self.left() - RESERVE_S:
            return True
        self.skipped.append(
            f"{what}: skipped, about {estimate_s:.0f} s estimated and "
            f"{max(self.left(), 0):.0f} s of GPU_BENCH_BUDGET_S left."
        )
        print(f"# {self.skipped[-1]}", file=sys.stderr)
        return False


def _sync():
    _common.sync(DEVICE)


def _free():
    if torch.device(DEVICE).type == "cuda":
        torch.cuda.empty_cache()


def time_rounds(fns, budget, repeats=REPEATS, warmup=WARMUP):
    """Like ``_common.timed_interleaved``, cut short where the budget ends.

    One warm-up of each callable (timed, as the estimate of a round), then
    up to ``repeats`` rounds, each running every callable once in rotating
    order. Returns ``{name: (median s, times, result)}``; at least one timed
    run of each.
    """
    names = list(fns)
    results, times, estimate = {}, {name: [] for name in names}, 0.0
    for name in names:
        for _ in range(warmup):
            start = time.perf_counter()
            results[name] = fns[name]()
            _sync()
            estimate += time.perf_counter() - start
    for round_ in range(repeats):
        if round_ > 0 and estimate > budget.left() - RESERVE_S:
            budget.skipped.append(
                f"{', '.join(names)}: {round_} of {repeats} timed rounds (budget)."
            )
            break
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            _, [seconds], results[name] = timed(fns[name], repeats=1, warmup=0, device=DEVICE)
            times[name].append(seconds)
    return {name: (statistics.median(times[name]), times[name], results[name]) for name in names}


def _generator(seed):
    return torch.Generator(device=DEVICE).manual_seed(seed)


def linear_data(n, seed=0):
    """Binary logistic data made on the device: (X, y, X_test, y_test), float32.

    Columns scaled over a decade (raw, unstandardized features: the Hessian's
    condition number is about 100); labels drawn from a logistic model with
    logits of standard deviation 3 (the best accuracy is about 0.85).
    """
    g = _generator(seed)
    scales = torch.logspace(-0.5, 0.5, N_FEATURES, device=DEVICE)
    w_true = torch.randn(N_FEATURES, generator=g, device=DEVICE) * 3 / math.sqrt(N_FEATURES)

    def draw(rows):
        Z = torch.randn(rows, N_FEATURES, generator=g, device=DEVICE)
        p = torch.sigmoid(Z @ w_true)
        y = (torch.rand(rows, generator=g, device=DEVICE) < p).long()
        return Z.mul_(scales), y

    X, y = draw(n)
    X_test, y_test = draw(N_TEST)
    return X, y, X_test, y_test


def mlp_data(n, seed=1):
    """``N_CLASSES``-class data from a random one-hidden-layer teacher, on the device."""
    g = _generator(seed)
    W1 = torch.randn(N_FEATURES, 64, generator=g, device=DEVICE) / math.sqrt(N_FEATURES)
    W2 = torch.randn(64, N_CLASSES, generator=g, device=DEVICE) * 3 / math.sqrt(64)

    def draw(rows):
        X = torch.randn(rows, N_FEATURES, generator=g, device=DEVICE)
        logits = torch.tanh(X @ W1) @ W2
        noise = -torch.log(-torch.log(torch.rand(rows, N_CLASSES, generator=g, device=DEVICE)))
        return X, (logits + noise).argmax(1)

    X, y = draw(n)
    X_test, y_test = draw(N_TEST)
    return X, y, X_test, y_test


def make_mlp():
    sizes = [N_FEATURES, *MLP_HIDDEN]
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], N_CLASSES))
    return nn.Sequential(*layers)


def bare_mlp_loop(X, y, epochs, fused=False, seed=0):
    """The plain torch loop of :mod:`benchmarks.mlp`, at this benchmark's sizes."""
    torch.manual_seed(seed)
    generator = _generator(seed)
    model = make_mlp().to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=MLP_LR, fused=fused or None)
    loss_fn = nn.CrossEntropyLoss()
    n = X.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator, device=DEVICE)
        for start in range(0, n, MLP_BATCH):
            index = order[start : start + MLP_BATCH]
            optimizer.zero_grad()
            loss = loss_fn(model(X[index]), y[index])
            loss.backward()
            optimizer.step()
    return model


def bare_mlp_graph_loop(X, y, epochs, seed=0):
    """The same loop with the whole step (gather, forward, backward, Adam) in a CUDA graph.

    The pattern of PyTorch's "whole network capture" example: three eager
    warm-up steps on a side stream, one capture, then one index copy and one
    replay per mini-batch. The last, partial batch of each epoch is dropped
    (fewer than ``MLP_BATCH`` rows of ``n``). A ceiling for what capturing
    the estimator's step could give (issue 19 suggests it).
    """
    torch.manual_seed(seed)
    generator = _generator(seed)
    model = make_mlp().to(DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=MLP_LR, capturable=True)
    loss_fn = nn.CrossEntropyLoss()
    n = X.shape[0]
    index = torch.arange(MLP_BATCH, device=DEVICE)

    def step():
        loss = loss_fn(model(X[index]), y[index])
        loss.backward()
        optimizer.step()

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        step()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator, device=DEVICE)
        for start in range(0, n - MLP_BATCH + 1, MLP_BATCH):
            index.copy_(order[start : start + MLP_BATCH])
            graph.replay()
    return model


def torch_accuracy(model, X, y):
    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


def _hardware():
    info = _common.machine()
    cpu = f"{info['cpu']} ({info['logical_cores']} logical cores)"
    if torch.device(DEVICE).type == "cuda":
        return torch.cuda.get_device_name(torch.device(DEVICE)), cpu
    return f"CPU as device: {info['cpu']}", cpu


class Run:
    """Rows, notes and the partial JSON written after each workload."""

    def __init__(self, out, budget):
        self.out = out
        self.budget = budget
        self.rows, self.notes, self.targets = [], [], []
        self.gpu_name, self.cpu_name = _hardware()
        #: LogisticRegression's seconds per row under array API dispatch, once measured.
        self.array_api_seconds_per_row = None
        #: Seconds per row of the timed GPU rows of the last linear size.
        self.linear_seconds_per_row = None

    def add(self, **row):
        self.rows.append(row)
        print(f"# {row.get('workload')}: {row.get('model')}: "
              + ", ".join(f"{k}={v:.4g}" for k, v in row.items() if isinstance(v, float)),
              file=sys.stderr)

    def failed(self, what, exc):
        self.notes.append(f"{what} failed: {type(exc).__name__}: {exc}")
        print(f"# {self.notes[-1]}", file=sys.stderr)
        traceback.print_exc()

    def checkpoint(self):
        if self.out is None:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        payload = {"benchmark": "gpu", "partial": True, "rows": self.rows,
                   "notes": self.notes + self.budget.skipped}
        (self.out / "gpu.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")


def run_mlp(run):
    from sklearn_autodiff import MLPSoftmaxClassifier

    X, y, X_test, y_test = mlp_data(MLP_ROWS)
    y_test_host = y_test.cpu().numpy()  # scikit-learn's metrics read y on the host
    workload = f"MLP epoch, {MLP_ROWS:,} x {N_FEATURES}"

    def ours():
        return MLPSoftmaxClassifier(
            MLP_HIDDEN, "relu", solver="adam", learning_rate_init=MLP_LR,
            batch_size=MLP_BATCH, alpha=MLP_ALPHA, max_iter=MLP_EPOCHS, tol=0.0,
            random_state=0, device=DEVICE,
        ).fit(X, y)

    fns = {
        "ours": ours,
        "bare": lambda: bare_mlp_loop(X, y, MLP_EPOCHS),
        "fused": lambda: bare_mlp_loop(X, y, MLP_EPOCHS, fused=True),
    }
    if torch.device(DEVICE).type == "cuda":
        try:  # a failure to capture must not cost the other rows
            bare_mlp_graph_loop(X[: 4 * MLP_BATCH], y[: 4 * MLP_BATCH], 1)
            fns["graph"] = lambda: bare_mlp_graph_loop(X, y, MLP_EPOCHS)
        except Exception as exc:  # noqa: BLE001 - reported in the notes
            run.failed("bare loop in a CUDA graph", exc)
    else:
        run.notes.append("CUDA-graph row: needs CUDA (not run on this device).")
    timings = time_rounds(fns, run.budget)
    seconds, _, est = timings["ours"]
    ours_epoch = seconds / est.n_iter_
    names = {
        "ours": "MLPSoftmaxClassifier (ours), tensors on the device",
        "bare": "bare torch loop, Adam",
        "fused": "bare torch loop, Adam(fused=True)",
        "graph": "bare torch loop, whole step in a CUDA graph",
    }
    for key, (seconds, times, result) in timings.items():
        epochs = result.n_iter_ if key == "ours" else MLP_EPOCHS
        accuracy = (result.score(X_test, y_test_host) if key == "ours"
                    else torch_accuracy(result, X_test, y_test))
        run.add(workload=workload, model=names[key], hardware=run.gpu_name,
                s_per_epoch=seconds / epochs, samples_per_s=epochs * MLP_ROWS / seconds,
                accuracy=float(accuracy), ratio=ours_epoch / (seconds / epochs),
                repeats=len(times))
    bare_epoch = timings["bare"][0] / MLP_EPOCHS
    run.targets.append(dict(
        target="MLP epoch <= 1.0 x the bare GPU loop (Adam)",
        measured=f"{ours_epoch / bare_epoch:.2f} x",
        met=ours_epoch <= bare_epoch,
    ))
    run.notes.append(
        f"MLP: {MLP_HIDDEN} relu, Adam lr {MLP_LR}, batch {MLP_BATCH}, {MLP_EPOCHS} epochs per "
        f"fit (tol=0), data already on the device for every row; {N_CLASSES} classes from a "
        f"random tanh teacher; ours alpha = 1e-4 / batch, the bare loops none; test set "
        f"{N_TEST:,} rows. s/epoch = median fit time / epochs."
    )


def run_linear(run, n, sklearn_seconds_per_row):
    """One linear size; returns LogisticRegression's seconds per row (CPU) when measured."""
    import sklearn
    from sklearn.linear_model import LogisticRegression

    from sklearn_autodiff import BCELogisticClassifier

    X, y, X_test, y_test = linear_data(n)
    y_float = y.to(torch.float32)
    alpha = 1.0 / n  # = LogisticRegression's C=1
    workload = f"linear fit, {n:,} x {N_FEATURES}"
    X_host, y_host = X.cpu().numpy(), y.cpu().numpy()
    X_test_host, y_test_host = X_test.cpu().numpy(), y_test.cpu().numpy()

    def ours():
        return BCELogisticClassifier(alpha=alpha, device=DEVICE).fit(X, y)

    def ours_numpy():
        return BCELogisticClassifier(alpha=alpha, device=DEVICE).fit(X_host, y_host)

    fns = {"ours": ours, "numpy": ours_numpy,
           "bare": lambda: bare_torch_lbfgs(X, y_float, alpha)}
    start = time.perf_counter()
    timings = time_rounds(fns, run.budget)
    run.linear_seconds_per_row = (time.perf_counter() - start) / n
    ours_time, times, est = timings["ours"]
    ours_iter = int(est.n_iter_)
    run.add(workload=workload, model="BCELogisticClassifier (ours), tensors on the device",
            hardware=run.gpu_name, fit_s=ours_time, n_iter=ours_iter,
            ms_per_iter=1e3 * ours_time / ours_iter,
            accuracy=float(est.score(X_test, y_test_host)),
            ratio=1.0, repeats=len(times))
    seconds, times, est_np = timings["numpy"]
    run.add(workload=workload, model="BCELogisticClassifier (ours), numpy in (copied to the device)",
            hardware=run.gpu_name, fit_s=seconds, n_iter=int(est_np.n_iter_),
            ms_per_iter=1e3 * seconds / est_np.n_iter_,
            accuracy=float(est_np.score(X_test_host, y_test_host)),
            ratio=ours_time / seconds, repeats=len(times))
    seconds, times, (w, b, bare_iter) = timings["bare"]
    accuracy = float((((X_test @ w + b) > 0).long() == y_test).float().mean())
    run.add(workload=workload, model="bare torch.optim.LBFGS (strong Wolfe)",
            hardware=run.gpu_name, fit_s=seconds, n_iter=int(bare_iter),
            ms_per_iter=1e3 * seconds / bare_iter, accuracy=accuracy,
            ratio=ours_time / seconds, repeats=len(times))
    run.checkpoint()

    # scikit-learn on the CPU: long at 10M rows, so once, and only if it fits.
    measured = None
    estimate = 1.3 * n * sklearn_seconds_per_row if sklearn_seconds_per_row else 0.0
    sk_model = "LogisticRegression() lbfgs, numpy"
    if run.budget.allows(estimate, f"{sk_model} at n={n:,}"):
        repeats = REPEATS if estimate * REPEATS < run.budget.left() / 4 else 1
        seconds, times, sk = timed(lambda: LogisticRegression().fit(X_host, y_host),
                                   repeats=repeats, warmup=0)
        measured = seconds / n
        sk_iter = int(sk.n_iter_[0])
        run.add(workload=workload, model=sk_model, hardware=run.cpu_name, fit_s=seconds,
                n_iter=sk_iter, ms_per_iter=1e3 * seconds / sk_iter,
                accuracy=float(sk.score(X_test_host, y_test_host)),
                ratio=ours_time / seconds, repeats=len(times))
    elif sklearn_seconds_per_row:
        seconds = n * sklearn_seconds_per_row
        run.add(workload=workload, model=sk_model + " (extrapolated linearly, not run)",
                hardware=run.cpu_name, fit_s=seconds, ratio=ours_time / seconds)
    sk_rows = [r for r in run.rows if r["workload"] == workload and r["model"].startswith(sk_model)]
    if sk_rows and n == max(LINEAR_ROWS):  # the target is at 10M rows
        speedup = sk_rows[-1]["fit_s"] / ours_time
        run.targets.append(dict(
            target=f"linear >= 20 x faster than LogisticRegression on the CPU at {n:,} rows",
            measured=f"{speedup:.1f} x" + (" (extrapolated)" if "extrapolated"
                                           in sk_rows[-1]["model"] else ""),
            met=speedup >= 20,
        ))
    run.checkpoint()

    # scikit-learn's own GPU path: LogisticRegression under array API dispatch.
    if torch.device(DEVICE).type == "cuda" or SMOKE:
        aa_model = "LogisticRegression() lbfgs, array API on the same tensors"
        estimate = 1.3 * n * run.array_api_seconds_per_row if run.array_api_seconds_per_row else 0
        if run.budget.allows(estimate, f"{aa_model} at n={n:,}"):
            try:
                with sklearn.config_context(array_api_dispatch=True):
                    seconds, times, aa = timed(lambda: LogisticRegression().fit(X, y),
                                               repeats=1, warmup=0, device=DEVICE)
                    accuracy = float(aa.score(X_test, y_test))
                run.array_api_seconds_per_row = seconds / n
                aa_iter = int(aa.n_iter_[0])
                run.add(workload=workload, model=aa_model, hardware=run.gpu_name,
                        fit_s=seconds, n_iter=aa_iter, ms_per_iter=1e3 * seconds / aa_iter,
                        accuracy=accuracy, ratio=ours_time / seconds, repeats=len(times))
            except Exception as exc:  # noqa: BLE001 - reported in the notes
                run.failed(f"{aa_model} at n={n:,}", exc)
                run.array_api_seconds_per_row = math.inf
    run.checkpoint()
    return measured


def _tf32():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "on" if torch.backends.cuda.matmul.allow_tf32 else "off (the default)"
        except Exception:  # noqa: BLE001 - only a note
            return "unknown"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for gpu.json and gpu.md (default benchmarks/results)")
    args = parser.parse_args(argv)
    device = torch.device(DEVICE)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("benchmarks.gpu: CUDA is not available on this machine "
              "(torch.cuda.is_available() is False); nothing to measure. "
              "GPU_BENCH_SMOKE=1 runs the script on the CPU with tiny sizes.")
        return 0
    out = args.out
    if out is None and SMOKE:  # a dry run never replaces the stored figures
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="gpu-bench-smoke-"))
    # The GPU machine is not shared: no redoing of repeats for background load
    # (they cost budget); any noisy repeat is still reported.
    _common.MAX_RETRIES = 0
    budget = Budget(BUDGET_S)
    run = Run(out, budget)
    started = time.monotonic()

    try:
        run_mlp(run)
    except Exception as exc:  # noqa: BLE001 - the linear rows still run
        run.failed("MLP workload", exc)
    _free()  # the workload's tensors went with its frame
    run.checkpoint()
    sklearn_seconds_per_row = None
    for n in sorted(LINEAR_ROWS):
        if run.linear_seconds_per_row is not None and not budget.allows(
            1.2 * n * run.linear_seconds_per_row, f"linear workload at n={n:,}"
        ):
            continue
        try:
            measured = run_linear(run, n, sklearn_seconds_per_row)
            sklearn_seconds_per_row = measured or sklearn_seconds_per_row
        except Exception as exc:  # noqa: BLE001 - report what was measured
            run.failed(f"linear workload at n={n:,}", exc)
        _free()
        run.checkpoint()

    notes = [
        f"GPU: {run.gpu_name}; CPU: {run.cpu_name}. Same process, same data for every row.",
        f"linear: binary, float32 made on the device (standard normal columns scaled over "
        f"10^-0.5..10^0.5, logistic labels), alpha = 1/n for ours (= C=1), LogisticRegression() "
        f"defaults; test set {N_TEST:,} rows. LogisticRegression on the CPU gets the data as a "
        "numpy array; ours and the bare loop get tensors on the device, except the 'numpy in' row "
        "(validation and the copy to the GPU included).",
        f"times: median of up to {REPEATS} rounds after {WARMUP} warm-up(s), every row once per round "
        "in rotating order, synchronized; LogisticRegression: no warm-up, one run where long. "
        "ratio: our fit time (s/epoch for the MLP) / this row's; below 1 means ours is faster.",
        f"torch {torch.__version__}, TF32 matmul {_tf32()}.",
        f"whole run {time.monotonic() - started:.0f} s of GPU_BENCH_BUDGET_S={BUDGET_S:.0f}.",
    ]
    if SMOKE:
        notes.insert(0, "SMOKE RUN (GPU_BENCH_SMOKE=1): tiny sizes, figures meaningless.")
    notes += run.notes + budget.skipped
    notes += [f"target: {t['target']}: {t['measured']} ({'met' if t['met'] else 'missed'})"
              for t in run.targets]
    columns = [
        ("workload", "workload", ""),
        ("model", "model", ""),
        ("hardware", "hardware", ""),
        ("fit_s", "fit (s)", ".3f"),
        ("n_iter", "n_iter", "d"),
        ("ms_per_iter", "ms / iter", ".2f"),
        ("s_per_epoch", "s / epoch", ".4f"),
        ("samples_per_s", "samples / s", ",.0f"),
        ("accuracy", "test acc", ".4f"),
        ("ratio", "ours / this", ".3f"),
    ]
    extra = {
        "targets": run.targets,
        "config": dict(device=DEVICE, linear_rows=LINEAR_ROWS, features=N_FEATURES,
                       mlp_rows=MLP_ROWS, mlp_hidden=MLP_HIDDEN, mlp_batch=MLP_BATCH,
                       mlp_epochs=MLP_EPOCHS, repeats=REPEATS, warmup=WARMUP, budget_s=BUDGET_S,
                       smoke=SMOKE),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        extra["gpu"] = dict(name=props.name, total_memory_gib=props.total_memory / 2**30,
                            multiprocessors=props.multi_processor_count,
                            capability=f"{props.major}.{props.minor}",
                            cuda_runtime=torch.version.cuda)
    title = f"GPU: linear and MLP fits on {run.gpu_name}, against the CPU and bare torch"
    report("gpu", title, columns, run.rows, notes, extra=extra, results_dir=out, markdown=True,
           command="python -m benchmarks.gpu" + (f" --out {out}" if args.out else ""))
    return 0


if __name__ == "__main__":
    with warnings.catch_warnings():
        from sklearn.exceptions import ConvergenceWarning

        warnings.simplefilter("ignore", category=ConvergenceWarning)
        sys.exit(main())
