#!/usr/bin/env bash
# Wheels for an offline GPU machine, into .whl/ (git-ignored), for benchmarks/run_gpu.sh.
#
#   bash benchmarks/fetch_gpu_wheels.sh [PYTHON_VERSION]     # default 3.12
#
# The lent GPU machines reach no package index; their python3 (3.12) already
# holds torch, numpy, scipy, pytest, hypothesis, pandas, ... but maybe not
# scikit-learn >= 1.9 (which this project needs) nor the array API packages of
# the [test] extra. This downloads those (no dependencies: the rest is there)
# for CPython PYTHON_VERSION on manylinux x86-64; run it where pip reaches an
# index, then name ".whl" in the device call's carry. run_gpu.sh installs
# whatever .whl/ holds with `pip install --no-index --no-deps`.
set -eu -o pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYV=${1:-3.12}
PY=${PYTHON:-python3}
SKLEARN=${SKLEARN_VERSION:-$("$PY" -c 'import sklearn; print(sklearn.__version__)' 2>/dev/null || echo 1.9.1)}
mkdir -p "$ROOT/.whl"
"$PY" -m pip download --no-deps --only-binary=:all: --python-version "$PYV" --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$ROOT/.whl" "scikit-learn==$SKLEARN" array-api-compat array-api-strict
ls -l "$ROOT/.whl"
echo "carry: [\".whl\"]  (about $(du -sh "$ROOT/.whl" | cut -f1) of the 64 MiB a call may carry)"
