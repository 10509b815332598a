"""The GPU run of issue 19 stays runnable on machines without a GPU.

``benchmarks/gpu.py`` in its smoke mode (tiny sizes on the CPU) must produce
every row and both result files, and without CUDA it must exit cleanly;
``benchmarks/run_gpu.sh`` must at least parse. The real run is
``bash benchmarks/run_gpu.sh OUTDIR`` on a GPU machine.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _benchmark(args, env, timeout):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GPU_BENCH_")} | env
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu", *args], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=timeout, check=False,
    )


def test_smoke_run_on_the_cpu_writes_every_row(tmp_path):
    env = {"GPU_BENCH_SMOKE": "1", "GPU_BENCH_LINEAR_ROWS": "1000,1500",
           "GPU_BENCH_MLP_ROWS": "1000", "GPU_BENCH_WARMUP": "0"}
    result = _benchmark(["--out", str(tmp_path)], env, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    payload = json.loads((tmp_path / "gpu.json").read_text())
    assert "partial" not in payload and payload["config"]["smoke"]
    models = [(row["workload"], row["model"]) for row in payload["rows"]]
    for size in ("1,000", "1,500"):
        linear = [model for workload, model in models if workload.startswith(f"linear fit, {size} ")]
        assert len(linear) == 5, linear  # ours x 2, bare LBFGS, LogisticRegression x 2
    mlp = [model for workload, model in models if workload.startswith("MLP epoch")]
    assert len(mlp) == 3, mlp  # ours, bare Adam, bare fused Adam (no CUDA graph on the CPU)
    assert all(row["hardware"] for row in payload["rows"])
    assert not [note for note in payload["notes"] if "failed" in note]
    assert len(payload["targets"]) == 2
    assert (tmp_path / "gpu.md").read_text().startswith("## GPU")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without CUDA")
def test_without_cuda_it_says_so_and_exits_cleanly(tmp_path):
    result = _benchmark(["--out", str(tmp_path)], {}, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "CUDA is not available" in result.stdout
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_run_gpu_sh_parses():
    for script in ("run_gpu.sh", "fetch_gpu_wheels.sh"):
        result = subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / script)],
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
