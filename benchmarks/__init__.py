"""Benchmarks of sklearn_autodiff against scikit-learn, bare torch and skorch.

Run one with ``python -m benchmarks.<name>`` (or ``python benchmarks/<name>.py``)
from the repository root; see ``benchmarks/README.md``.
"""
