"""README.md works as written: its set-up commands are the ones CI runs, and
every Python block runs as pasted."""

import contextlib
import io
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _commands():
    lines = README.splitlines()
    return [line for line in lines if line.startswith("python -m venv")]


def test_readme_has_exactly_two_setup_commands():
    commands = _commands()
    assert len(commands) == 2
    assert commands[0].endswith("python examples/quickstart.py")
    assert commands[1].endswith("python -m pytest")


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert _commands()[1] in ci


def _python_blocks():
    """(section heading, code) of every ```python block in the README."""
    blocks, section = [], None
    fence = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
    headings = [(m.start(), m.group(1)) for m in re.finditer(r"^## (.+)$", README, re.MULTILINE)]
    for match in fence.finditer(README):
        section = [title for start, title in headings if start < match.start()][-1]
        blocks.append((section, match.group(1)))
    return blocks


# The CUDA block needs a GPU; everything else must run anywhere.
RUNNABLE = [(section, code) for section, code in _python_blocks() if section != "CUDA"]


def test_readme_python_blocks_are_found():
    sections = [section for section, _ in RUNNABLE]
    assert {"Example", "Abstention", "Progress bars and monitoring"} <= set(sections)
    assert [section for section, _ in _python_blocks()].count("CUDA") == 1


@pytest.mark.parametrize("code", [code for _, code in RUNNABLE],
                         ids=[section for section, _ in RUNNABLE])
def test_readme_python_block_runs_as_pasted(code):
    # A fresh namespace, as in a new interpreter: a block that uses a name it
    # does not import or define fails with NameError. Warnings are errors: a
    # reader pasting the block should see none.
    namespace = {"__name__": "__main__"}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()) as out:
        warnings.simplefilter("error")
        exec(compile(code, "README.md", "exec"), namespace)
    assert out.getvalue().strip(), "each README block prints what it shows"


def test_docs_quick_start_is_the_readme_one():
    # docs/index.rst repeats the README's install command and example; a
    # change to one must reach the other.
    index = (ROOT / "docs" / "index.rst").read_text()
    assert _commands()[0] in index
    example = dict(_python_blocks())["Example"]
    assert "\n".join("   " + line if line else "" for line in example.splitlines()) in index


def test_readme_cuda_block_is_complete():
    # Run on the CPU: a block that pastes into a new interpreter without a
    # NameError, and the same call on a GPU machine.
    code = dict(_python_blocks())["CUDA"]
    assert 'device="cuda"' in code
    namespace = {"__name__": "__main__"}
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()) as out:
        warnings.simplefilter("ignore")  # a short CPU fit may not converge
        exec(compile(code.replace('device="cuda"', 'device="cpu", max_iter=20'), "README.md", "exec"),
             namespace)
    assert float(out.getvalue()) > 0.8
