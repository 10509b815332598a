"""Every script in examples/ runs on its own and writes its figure.

Each ``examples/plot_NAME.py`` must write ``NAME.png`` into the current
directory; ``quickstart.py`` (run by the README's first set-up command) must
run. Each script runs in this process, as sphinx-gallery runs them, but in a
fresh namespace (``runpy.run_path``, as ``python SCRIPT`` would: a name it
does not import fails) and in its own temporary directory. Running them in
process saves starting an interpreter and importing torch and scikit-learn
once per script, which cost more than most of the examples themselves.
"""

import runpy
import sys
import warnings
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the examples draw with matplotlib")

import matplotlib.pyplot as plt  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPTS = sorted(p.name for p in EXAMPLES.glob("*.py"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _expected_png(script):
    return script[len("plot_"):-len(".py")] + ".png" if script.startswith("plot_") else None


def test_every_plot_example_is_tested():
    assert {"plot_lecture_linear.py", "plot_iris_mlp.py", "plot_risk_coverage.py",
            "plot_grid_search.py", "plot_autograd_gradients.py", "plot_training_monitor.py",
            "plot_per_class_risk.py", "quickstart.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_example_runs_and_writes_its_figure(script, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(EXAMPLES / script)])
    backend = plt.get_backend()
    plt.switch_backend("Agg")  # no windows
    try:
        # The examples silence the warnings they expect (ConvergenceWarning
        # where a fixed budget is the point); any other warning is a bug a
        # reader would see.
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    finally:
        plt.close("all")
        plt.switch_backend(backend)
    assert capsys.readouterr().out.strip(), f"{script} printed nothing"
    png = _expected_png(script)
    if png is not None:
        path = tmp_path / png
        assert path.is_file(), f"{script} did not write {png} in the current directory"
        assert path.read_bytes()[:8] == PNG_SIGNATURE
        assert path.stat().st_size > 10_000
