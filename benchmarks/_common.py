"""Shared helpers of the benchmarks: machine description, timing, output.

Every benchmark measures all its rows in one process run, reports medians
of repeats, and writes what it printed to ``benchmarks/results/<name>.json``.
"""

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_busy_fraction(seconds=0.5):
    """Busy cores (summed over all CPUs) while this process sleeps.

    Other processes on the machine share the cores and make every timing
    slower, so the figure is reported beside the results.
    """
    def read():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]
        return sum(values) - idle, sum(values)

    try:
        busy0, total0 = read()
        time.sleep(seconds)
        busy1, total1 = read()
    except OSError:
        return None
    n_cpus = os.cpu_count() or 1
    if total1 == total0:
        return 0.0
    return n_cpus * (busy1 - busy0) / (total1 - total0)


def wait_for_quiet(max_wait=120.0, threshold=0.3):
    """Wait (up to ``max_wait`` s) until other processes use < ``threshold`` cores.

    Returns the background load seen last, in cores (None where /proc/stat
    is missing). A busy machine is reported, not hidden.
    """
    deadline = time.monotonic() + max_wait
    busy = _cpu_busy_fraction()
    while busy is not None and busy > threshold and time.monotonic() < deadline:
        print(f"# machine busy ({busy:.1f} cores used by other processes); waiting...",
              file=sys.stderr)
        time.sleep(5.0)
        busy = _cpu_busy_fraction()
    if busy is not None and busy > threshold:
        print(f"# WARNING: {busy:.1f} cores busy with other processes; timings are noisy.",
              file=sys.stderr)
    return busy


def machine():
    """Describe the machine and the library versions, as a dict."""
    import numpy
    import scipy
    import sklearn
    import torch

    info = {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "sklearn": sklearn.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import skorch

        info["skorch"] = skorch.__version__
    except ImportError:
        info["skorch"] = None
    return info


def sync(device=None):
    """Wait for queued GPU work, so wall-clock times cover it."""
    import torch

    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _cpu_counters():
    """(busy jiffies of the machine, jiffies of this process), or None."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        own = int(fields[11]) + int(fields[12])  # utime + stime, all threads
    except (OSError, ValueError, IndexError):
        return None
    busy = sum(values) - values[3] - values[4]  # minus idle and iowait
    return busy, own


def _background_cores(before, after, seconds):
    """Cores other processes kept busy between two :func:`_cpu_counters`."""
    if before is None or after is None or seconds <= 0:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    other = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, other / ticks / seconds)


#: Repeats run while other processes keep this many cores busy are redone.
BACKGROUND_LIMIT = 0.3
MAX_RETRIES = 10
#: Repeats kept although they ran beside other busy processes (retries ran out).
NOISY_REPEATS = []


def timed(fn, repeats=5, warmup=1, device=None):
    """Run ``fn`` ``warmup + repeats`` times; return (median seconds, times, result).

    The warm-up calls absorb one-time costs (lazy imports, thread pools,
    allocator growth) that a user pays once per process, not once per fit.
    Other processes on the machine slow every timing: a repeat during which
    they kept more than ``BACKGROUND_LIMIT`` cores busy (from ``/proc``
    counters, where available) is discarded and run again, up to
    ``MAX_RETRIES`` times in all.
    """
    result = None
    for _ in range(warmup):
        result = fn()
        sync(device)
    times = []
    retries = 0
    while len(times) < repeats:
        sync(device)
        before = _cpu_counters()
        start = time.perf_counter()
        result = fn()
        sync(device)
        seconds = time.perf_counter() - start
        background = _background_cores(before, _cpu_counters(), seconds)
        # Shorter than a few clock ticks, the counters cannot tell: keep it.
        if background > BACKGROUND_LIMIT and seconds > 0.05:
            if retries < MAX_RETRIES:
                retries += 1
                time.sleep(1.0)
                continue
            NOISY_REPEATS.append(background)
        times.append(seconds)
    return statistics.median(times), times, result


def timed_interleaved(fns, repeats=5, warmup=1, device=None):
    """Time several callables in alternation; return ``{name: (median, times, result)}``.

    Each round runs every callable once, starting with a different one each
    round, so that slow drifts of a shared machine (other virtual machines,
    memory traffic that ``/proc`` does not show) reach all of them alike and
    their ratios stay put. Each run is checked and redone like a repeat of
    :func:`timed`.
    """
    names = list(fns)
    results = {name: None for name in names}
    times = {name: [] for name in names}
    for name in names:
        for _ in range(warmup):
            results[name] = fns[name]()
            sync(device)
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            _, [seconds], results[name] = timed(fns[name], repeats=1, warmup=0, device=device)
            times[name].append(seconds)
    return {name: (statistics.median(times[name]), times[name], results[name]) for name in names}


def format_table(columns, rows):
    """Render ``rows`` (dicts) as a Markdown table with ``columns`` (key, title, fmt)."""
    header = "| " + " | ".join(title for _, title, _ in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    lines = [header, rule]
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            if value is None:
                cells.append("—")
            elif isinstance(value, str):
                cells.append(value)
            else:
                cells.append(format(value, fmt))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_machine(info, background=None):
    text = (
        f"machine: {info['cpu']}, {info['logical_cores']} logical cores "
        f"({info['torch_threads']} torch threads); python {info['python']}, "
        f"torch {info['torch']}, scikit-learn {info['sklearn']}, numpy {info['numpy']}, "
        f"scipy {info['scipy']}"
    )
    if info.get("skorch"):
        text += f", skorch {info['skorch']}"
    if info.get("cuda"):
        text += f"; GPU {info['cuda']}"
    if background is not None:
        text += f"; background load {background:.2f} cores"
    return text


def report(name, title, columns, rows, notes=(), extra=None, background=None,
           results_dir=None, markdown=False, tables=(), command=None):
    """Print the table and write ``<results_dir>/<name>.json``; return the payload.

    ``results_dir`` defaults to ``benchmarks/results``; with ``markdown``, the
    printed text is also written to ``<name>.md`` beside the JSON. ``tables``:
    further ``(heading, columns, rows)`` printed after the main table and
    stored under ``"tables"`` in the JSON; ``command``: the command line to
    record (default ``python -m benchmarks.<name>``).
    """
    info = machine()
    notes = list(notes)
    if NOISY_REPEATS:
        notes.append(
            f"{len(NOISY_REPEATS)} timed repeat(s) ran while other processes kept up to "
            f"{max(NOISY_REPEATS):.1f} cores busy (retries exhausted): those figures are noisy."
        )
    text = [f"## {title}\n", format_machine(info, background) + "\n", format_table(columns, rows)]
    for heading, more_columns, more_rows in tables:
        text += [f"\n### {heading}\n", format_table(more_columns, more_rows)]
    text += [f"\n- {note}" for note in notes]
    text = "\n".join(text)
    print(text)
    payload = {
        "benchmark": name,
        "title": title,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": command or f"python -m benchmarks.{name}",
        "machine": info,
        "background_load_cores": background,
        "rows": rows,
        "tables": {heading: more_rows for heading, _, more_rows in tables},
        "noisy_repeats": len(NOISY_REPEATS),
        "notes": notes,
    }
    if extra:
        payload.update(extra)
    results_dir = Path(results_dir) if results_dir is not None else RESULTS_DIR
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    written = [path]
    if markdown:
        written.append(results_dir / f"{name}.md")
        written[-1].write_text(text + "\n")
    for path in written:
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        print(f"\n(written to {shown})")
    return payload


# ------------------------------------------------------- a fair reference

#: Variables of this machine's environment that slow a current OpenBLAS
#: (issue 23); the benchmarks run without them.
OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def reexec_without_openblas_variables():
    """Re-run this process without ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``.

    OpenBLAS reads them when it loads, so they must be gone before numpy is
    imported: call this first in a benchmark's ``main``. The variables are
    removed for the benchmark process only.
    """
    if any(name in os.environ for name in OPENBLAS_VARIABLES):
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARIABLES}
        sys.stdout.flush()
        os.execve(sys.executable, list(sys.orig_argv), env)


def blas_description():
    """The BLAS and OpenMP libraries threadpoolctl sees: ``api version arch (threads)`` each."""
    from threadpoolctl import threadpool_info

    return "; ".join(
        f"{lib.get('internal_api')} {lib.get('version')} {lib.get('architecture') or ''} "
        f"({lib.get('num_threads')} threads)".replace("  ", " ")
        for lib in threadpool_info()
    )


def load_average():
    """``os.getloadavg()`` rounded (1, 5, 15 minutes)."""
    return tuple(round(x, 2) for x in os.getloadavg())


def describe_run():
    """One line: CPU, cores, BLAS kernels, load average, OpenBLAS variables (for every table)."""
    info = machine()
    unset = all(name not in os.environ for name in OPENBLAS_VARIABLES)
    return (f"{info['cpu']}, {info['logical_cores']} logical cores; BLAS: {blas_description()}; "
            f"loadavg {load_average()}; OPENBLAS_CORETYPE/L2_SIZE {'unset' if unset else 'SET'}")


def with_blas_threads(make, limit):
    """A fit callable running ``make().fit(...)`` under ``threadpool_limits(limit)`` (None: default)."""
    from threadpoolctl import threadpool_limits

    def fit(X, y):
        if limit is None:
            return make().fit(X, y)
        with threadpool_limits(limit):
            return make().fit(X, y)

    return fit


def time_best_of(configs, X, y, repeats):
    """First and warm (median) fit times of each configuration; the fastest warm one.

    ``configs`` maps a label to ``fit(X, y) -> estimator``. Every
    configuration's first fit on this data is timed alone, then the warm
    fits interleaved (:func:`timed_interleaved`).

    Returns
    -------
    best : str
        The label of the fastest warm configuration.
    times : dict
        ``label -> (first seconds, warm median seconds, fitted)``.
    """
    first = {}
    for label, fit in configs.items():
        start = time.perf_counter()
        fit(X, y)
        first[label] = time.perf_counter() - start
    warm = timed_interleaved({k: (lambda f=f: f(X, y)) for k, f in configs.items()}, repeats, warmup=0)
    times = {k: (first[k], warm[k][0], warm[k][2]) for k in configs}
    return min(times, key=lambda k: times[k][1]), times
