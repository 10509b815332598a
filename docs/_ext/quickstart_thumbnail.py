"""Draw docs/_static/quickstart_thumbnail.png, the gallery card of quickstart.py.

quickstart.py draws no figure (the gallery shows it without running it), so
its card shows the command and what it prints. Refresh after changing the
script, from the repository root::

    python examples/quickstart.py > /tmp/quickstart.txt
    python docs/_ext/quickstart_thumbnail.py /tmp/quickstart.txt
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "_static" / "quickstart_thumbnail.png"


def main(output_file):
    lines = ["$ python examples/quickstart.py"] + Path(output_file).read_text().splitlines()
    # Keep the card legible: spaces collapsed, long lines cut.
    lines = [" ".join(line.split()) for line in lines]
    lines = [line if len(line) <= 34 else line[:33] + "…" for line in lines]
    fig = plt.figure(figsize=(4, 3), dpi=100, facecolor="#1e1e2e")
    for i, line in enumerate(lines):
        fig.text(0.04, 0.92 - i * 0.12, line, family="monospace", fontsize=9.5,
                 color="#a6e3a1" if i == 0 else "#cdd6f4", va="top")
    fig.savefig(OUT, facecolor=fig.get_facecolor())


if __name__ == "__main__":
    main(sys.argv[1])
