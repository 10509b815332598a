"""Test-session set-up shared by tests/ and the doctests in the package."""

import importlib.util
import os

# scikit-learn's array API dispatch (and so its check_array_api_input) needs
# scipy's array API mode, which must be switched on before scipy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import torch  # noqa: E402

# The suite runs thousands of tiny fits; torch's intra-op threads only add
# synchronisation to those, and thrash when the cores are shared. The library
# itself never changes this setting.
torch.set_num_threads(1)

# sklearn_autodiff/onnx.py needs the optional skl2onnx; without it the
# doctest collection would fail on its ImportError instead of skipping.
if importlib.util.find_spec("skl2onnx") is None or importlib.util.find_spec("onnx") is None:
    collect_ignore = ["sklearn_autodiff/onnx.py"]
