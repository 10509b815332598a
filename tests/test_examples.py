"""Every script in examples/ runs on its own and writes its figure.

Each ``examples/plot_NAME.py`` must write ``NAME.png`` into the current
directory; ``quickstart.py`` (run by the README's first set-up command) must
run. The scripts run as subprocesses, each in its own temporary directory,
two at a time with one torch thread each (the problems are small, and two
processes spinning two threads each on two cores are slower, not faster).
"""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the examples draw with matplotlib")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _expected_png(script):
    return script[len("plot_"):-len(".py")] + ".png" if script.startswith("plot_") else None


def _run(script, directory):
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=directory, env=env, capture_output=True, text=True, timeout=600,
    )
    return result, time.perf_counter() - start


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run every example once, two at a time; {script: (result, seconds, dir)}."""
    directories = {s: tmp_path_factory.mktemp(s.removesuffix(".py")) for s in SCRIPTS}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {s: pool.submit(_run, s, directories[s]) for s in SCRIPTS}
        return {s: (*f.result(), directories[s]) for s, f in futures.items()}


def test_every_plot_example_is_tested():
    assert {"plot_lecture_linear.py", "plot_iris_mlp.py", "plot_risk_coverage.py",
            "plot_grid_search.py", "plot_autograd_gradients.py", "quickstart.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_and_writes_its_figure(runs, script):
    result, _seconds, directory = runs[script]
    assert result.returncode == 0, f"{script} failed:\n{result.stdout}\n{result.stderr}"
    png = _expected_png(script)
    if png is not None:
        path = directory / png
        assert path.is_file(), f"{script} did not write {png} in the current directory"
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        assert path.stat().st_size > 10_000
