#!/usr/bin/env bash
# Issue 19 on a bare GPU machine, in under 10 minutes: install, CUDA tests, GPU benchmark.
#
#   bash benchmarks/run_gpu.sh OUTDIR
#
# Steps, each bounded with `timeout` and cut to what is left of RUN_GPU_BUDGET_S
# (560 s by default); a failing step is logged and the next one runs anyway:
#
#   1. machine description (nvidia-smi, CPU, memory, python)  -> OUTDIR/system.txt
#   2. probe the python for a CUDA-capable torch
#   3. a venv (--system-site-packages where torch is installed; where that
#      python is itself a venv, a .pth file adds its site-packages too)
#   4. `pip install torch` (the CUDA wheel), only if no CUDA torch is there and
#      nvidia-smi sees a GPU (RUN_GPU_INSTALL_TORCH=auto|always|never)
#   5. wheels carried in .whl/ (pip install --no-index), if that folder exists
#   6. `pip install -e ".[test]"` when PyPI answers, else an offline
#      `pip install --no-deps --no-build-isolation -e .`; PYTHONPATH covers a failure
#   7. `python -m pytest -m cuda tests/test_cuda.py`     -> OUTDIR/test_cuda.txt, .xml
#      (--timeout 120 per test where pytest-timeout is installed)
#   8. `python -m benchmarks.gpu --out OUTDIR`            -> OUTDIR/gpu.json, gpu.md,
#                                                            benchmark.txt
# Everything else (steps, timings, pip output) goes to OUTDIR/run_gpu.log: seven
# files in all. The end of stdout repeats the summary, the tests' result and gpu.md.
#
# Knobs (environment): PYTHON (python3), RUN_GPU_BUDGET_S (560), RUN_GPU_VENV
# (/tmp/sklearn-autodiff-gpu-venv), RUN_GPU_INSTALL_TORCH (auto),
# RUN_GPU_INSTALL_PROJECT (1; 0 uses PYTHONPATH only), and the GPU_BENCH_*
# variables of benchmarks/gpu.py.

set -u -o pipefail

if [ $# -lt 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
mkdir -p "$1" && OUT=$(cd "$1" && pwd) || { echo "cannot create $1" >&2; exit 2; }
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2

PY=${PYTHON:-python3}
BUDGET=${RUN_GPU_BUDGET_S:-560}
VENV=${RUN_GPU_VENV:-${TMPDIR:-/tmp}/sklearn-autodiff-gpu-venv}
INSTALL_TORCH=${RUN_GPU_INSTALL_TORCH:-auto}
INSTALL_PROJECT=${RUN_GPU_INSTALL_PROJECT:-1}
export PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

LOG=$OUT/run_gpu.log
START=$SECONDS
: >"$LOG"
SUMMARY=()

log() { printf '[run_gpu %4ds] %s\n' $((SECONDS - START)) "$*" | tee -a "$LOG"; }

# cap MAX RESERVE: seconds for the next step, at most MAX, leaving RESERVE for later ones.
cap() {
    local t=$((BUDGET - (SECONDS - START) - $2))
    [ "$t" -gt "$1" ] && t=$1
    [ "$t" -lt 10 ] && t=10
    echo "$t"
}

# step NAME LIMIT OUTFILE CMD...: run CMD under `timeout`, output appended to OUTFILE.
step() {
    local name=$1 limit=$2 file=$3
    shift 3
    local cmd="$*"
    cmd=${cmd%%$'\n'*}
    log "$name: start, limit ${limit}s: ${cmd:0:200}"
    local t0=$SECONDS rc
    timeout -k 10 "$limit" "$@" >>"$file" 2>&1
    rc=$?
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && log "$name: TIMED OUT after ${limit}s"
    log "$name: rc=$rc after $((SECONDS - t0))s"
    SUMMARY+=("$name: rc=$rc, $((SECONDS - t0)) s")
    return $rc
}

# -- 1. the machine
{
    echo "## date"; date -u
    echo "## nvidia-smi"; timeout 30 nvidia-smi 2>&1 || echo "(nvidia-smi: rc=$?)"
    echo "## GPU query"
    timeout 30 nvidia-smi --format=csv --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem,power.limit,compute_cap 2>&1 || true
    echo "## CPU"; (lscpu 2>/dev/null || grep -m1 'model name' /proc/cpuinfo); echo "nproc: $(nproc)"
    echo "## memory"; free -g 2>/dev/null || head -3 /proc/meminfo
    echo "## disk"; df -h "$ROOT" /tmp 2>/dev/null
    echo "## python"; command -v "$PY"; "$PY" --version 2>&1
    echo "## git"; git -C "$ROOT" log -1 --oneline 2>/dev/null || echo "(no git)"
} >"$OUT/system.txt" 2>&1
HAVE_GPU=0
timeout 30 nvidia-smi -L >/dev/null 2>&1 && HAVE_GPU=1
log "machine: GPU seen by nvidia-smi: $HAVE_GPU; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-); $(nproc) cores"

# -- 2. torch where it is
PROBE='import sys, torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
sys.exit(0 if torch.cuda.is_available() else 3)'
timeout 120 "$PY" -c "$PROBE" >>"$LOG" 2>&1
rc=$?
SYSTEM_TORCH=0
[ $rc -eq 0 ] || [ $rc -eq 3 ] && SYSTEM_TORCH=1
log "probe: $PY has torch: $SYSTEM_TORCH, with CUDA: $([ $rc -eq 0 ] && echo 1 || echo 0)"

# -- 3. the venv
VPY=$PY
rm -rf "$VENV"
VENV_ARGS=()
[ "$SYSTEM_TORCH" = 1 ] && VENV_ARGS=(--system-site-packages)
if step venv 90 "$LOG" "$PY" -m venv ${VENV_ARGS[@]+"${VENV_ARGS[@]}"} "$VENV" \
    || { rm -rf "$VENV"; step venv-without-pip 60 "$LOG" "$PY" -m venv --system-site-packages --without-pip "$VENV"; }; then
    VPY=$VENV/bin/python
    # A venv made from a venv sees the base python's packages, not the parent
    # venv's: add those (torch, numpy, ...) with a .pth file, after the venv's own.
    PARENT_SITE=$("$PY" -c 'import site, sys
if sys.prefix != sys.base_prefix:
    print("\n".join(site.getsitepackages()))' 2>/dev/null)
    if [ -n "$PARENT_SITE" ]; then
        PURELIB=$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        printf '%s\n' "$PARENT_SITE" >"$PURELIB/_run_gpu_parent_site.pth"
        log "venv: $PY is a venv itself; its site-packages added through $PURELIB/_run_gpu_parent_site.pth"
    fi
else
    log "venv: could not be made; installing into $PY's own environment"
fi
timeout 120 "$VPY" -c "$PROBE" >>"$LOG" 2>&1
VENV_CUDA=$?
"$VPY" -m pip --version >>"$LOG" 2>&1 || log "pip: not usable from $VPY"

# -- 4. torch, only where needed
if [ "$INSTALL_TORCH" = always ] || { [ "$INSTALL_TORCH" = auto ] && [ $VENV_CUDA -ne 0 ] && [ $HAVE_GPU = 1 ]; }; then
    # --ignore-installed: a CPU-only torch seen through --system-site-packages would
    # otherwise satisfy the requirement.
    step torch "$(cap 330 200)" "$LOG" "$VPY" -m pip install --retries 2 --timeout 60 \
        --ignore-installed torch
    timeout 120 "$VPY" -c "$PROBE" >>"$LOG" 2>&1
    VENV_CUDA=$?
else
    log "torch: not installed (RUN_GPU_INSTALL_TORCH=$INSTALL_TORCH, CUDA torch already there: $([ $VENV_CUDA -eq 0 ] && echo yes || echo no), GPU: $HAVE_GPU)"
fi

# -- 5. carried wheels
FIND_LINKS=()
if compgen -G "$ROOT/.whl/*.whl" >/dev/null; then
    FIND_LINKS=(--find-links "$ROOT/.whl")
    for wheel in "$ROOT"/.whl/*.whl; do  # one by one: a wheel for another python fails alone
        step "wheel $(basename "$wheel" | cut -d- -f1-2)" "$(cap 60 200)" "$LOG" \
            "$VPY" -m pip install --no-index --no-deps "$wheel"
    done
fi

# -- 6. the project
if [ "$INSTALL_PROJECT" = 1 ]; then
    ONLINE=0
    timeout 15 "$VPY" -c 'import urllib.request; urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=10)' \
        >/dev/null 2>&1 && ONLINE=1
    log "install: PyPI reachable: $ONLINE"
    if [ $ONLINE = 1 ]; then
        step install "$(cap 180 200)" "$LOG" "$VPY" -m pip install --retries 1 --timeout 30 \
            ${FIND_LINKS[@]+"${FIND_LINKS[@]}"} -e ".[test]"
        rc=$?
    else
        rc=1
    fi
    if [ $rc -ne 0 ]; then
        step install-offline "$(cap 90 200)" "$LOG" "$VPY" -m pip install --no-index \
            --no-build-isolation --no-deps ${FIND_LINKS[@]+"${FIND_LINKS[@]}"} -e . \
            || log "install: failed; the tests and the benchmark import the checkout through PYTHONPATH"
    fi
fi

# -- what the tests will run with
ENV_CHECK='import sys, importlib
import numpy, scipy, sklearn, torch
print("python", sys.version.split()[0], sys.executable)
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
print("numpy", numpy.__version__, "scipy", scipy.__version__, "scikit-learn", sklearn.__version__)
for name in ("pytest", "hypothesis", "pandas", "array_api_compat", "array_api_strict"):
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as exc:
        print(name, "MISSING", type(exc).__name__)
import sklearn_autodiff
print("sklearn_autodiff from", sklearn_autodiff.__file__)
if tuple(int(v) for v in sklearn.__version__.split(".")[:2]) < (1, 9):
    print("WARNING: scikit-learn", sklearn.__version__, "< 1.9, which the project requires; carry a wheel in .whl/")'
step environment 120 "$OUT/system.txt" "$VPY" -c "$ENV_CHECK"
grep -E '^(torch|scikit-learn|numpy|WARNING|sklearn_autodiff)' "$OUT/system.txt" | tee -a "$LOG"
timeout 60 "$VPY" -m pip list >>"$OUT/system.txt" 2>&1

# -- 7. the CUDA tests (a hung test costs 120 s, not the run, where pytest-timeout is there)
PER_TEST=()
"$VPY" -c 'import pytest_timeout' >/dev/null 2>&1 && PER_TEST=(--timeout 120)
# One process (the project's addopts ask for pytest-xdist workers, which the
# offline GPU machine may not have; and the tests share one GPU).
step tests "$(cap 300 150)" "$OUT/test_cuda.txt" "$VPY" -m pytest -m cuda tests/test_cuda.py \
    -o addopts=--doctest-modules -q -rs -p no:cacheprovider --durations=15 --junitxml="$OUT/test_cuda.xml" \
    ${PER_TEST[@]+"${PER_TEST[@]}"}
TESTS_RC=$?

# -- 8. the benchmark, with what is left
LIMIT=$(cap 420 5)
BENCH_BUDGET=$((LIMIT - 30))
[ $BENCH_BUDGET -gt 360 ] && BENCH_BUDGET=360
export GPU_BENCH_BUDGET_S=${GPU_BENCH_BUDGET_S:-$BENCH_BUDGET}
step benchmark "$LIMIT" "$OUT/benchmark.txt" "$VPY" -m benchmarks.gpu --out "$OUT"
BENCH_RC=$?
{
    echo "## nvidia-smi after the run"
    timeout 30 nvidia-smi 2>&1 || true
} >>"$OUT/system.txt"

# -- summary (also the end of stdout)
{
    echo
    echo "== run_gpu.sh summary: $((SECONDS - START)) s of RUN_GPU_BUDGET_S=$BUDGET"
    printf '   %s\n' "${SUMMARY[@]}"
    echo "== tests/test_cuda.py (tail of test_cuda.txt)"
    tail -n 25 "$OUT/test_cuda.txt" 2>/dev/null
    echo "== gpu.md"
    cat "$OUT/gpu.md" 2>/dev/null || { echo "(no gpu.md; tail of benchmark.txt:)"; tail -n 30 "$OUT/benchmark.txt"; }
    echo "== files in $OUT"
    ls -l "$OUT"
} | tee -a "$LOG"

[ $TESTS_RC -eq 0 ] && [ $BENCH_RC -eq 0 ]
