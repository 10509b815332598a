"""Fail when the built documentation loads math, scripts or styles from the network.

Usage: python .ci/check_docs_offline.py [docs/_build/html]

Every formula must render from the build folder alone: each page's MathJax
script is a local file that exists, no page names a MathJax URL, and no page
loads any script or stylesheet over http(s). Links (``<a href>``) may point
anywhere; they load nothing.
"""

import re
import sys
from pathlib import Path

REMOTE_MATHJAX = re.compile(r"""https?://[^"'\s>]*mathjax""", re.IGNORECASE)
SCRIPT_SRC = re.compile(r"""<script\b[^>]*\bsrc=["']([^"']+)["']""", re.IGNORECASE)
STYLESHEET = re.compile(r"""<link\b[^>]*\bhref=["']([^"']+)["'][^>]*>""", re.IGNORECASE)
REMOTE = re.compile(r"^(?:https?:)?//", re.IGNORECASE)


def problems(root):
    pages = sorted(root.rglob("*.html"))
    if not pages:
        yield f"no HTML pages under {root}"
        return
    math_pages = 0
    for page in pages:
        html = page.read_text(encoding="utf-8", errors="replace")
        name = page.relative_to(root)
        for url in REMOTE_MATHJAX.findall(html):
            yield f"{name}: MathJax from the network: {url}"
        for src in SCRIPT_SRC.findall(html):
            if REMOTE.match(src):
                yield f"{name}: script from the network: {src}"
            elif "mathjax" in src.lower():
                math_pages += 1
                local = (page.parent / src.split("?")[0]).resolve()
                if not local.is_file():
                    yield f"{name}: MathJax script {src} is not in the build"
        for tag in STYLESHEET.findall(html):
            if REMOTE.match(tag):
                yield f"{name}: stylesheet or preload from the network: {tag}"
    if math_pages == 0:
        yield "no page loads MathJax at all (the math would show as raw TeX)"


def main(argv):
    root = Path(argv[1] if len(argv) > 1 else "docs/_build/html")
    found = list(problems(root))
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(f"{len(found)} problem(s): the built docs are not self-contained", file=sys.stderr)
        return 1
    print(f"{root}: every page renders without the network")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
