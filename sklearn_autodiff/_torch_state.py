"""Process-wide torch settings a fit must neither depend on nor change.

- Gradient mode: ``fit`` may be called under ``torch.no_grad()``,
  ``torch.inference_mode()`` or ``torch.set_grad_enabled(False)``; training
  needs gradients, so it runs with them enabled, and the caller's mode is
  back when the call returns.
- The default dtype: modules are built under float32, whatever
  ``torch.set_default_dtype`` says, so a ``random_state`` gives the same
  initial weights everywhere (the fit then casts them to its dtype).
- The environment: torch's fused optimizers set ``TORCHINDUCTOR_CACHE_DIR``
  on first use; it is removed again.
"""

import contextlib
import os

import torch


@contextlib.contextmanager
def training_mode():
    """Gradients on (inference mode off) for the body, the caller's mode after."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def usable_tensor(X):
    """``X``, or a normal copy of it when it was made under inference mode.

    Inference tensors cannot take part in autograd (not even as inputs whose
    products are differentiated), so such an X is copied once.
    """
    if isinstance(X, torch.Tensor) and X.is_inference():
        with torch.inference_mode(False):
            return X.clone()
    return X


@contextlib.contextmanager
def float32_default():
    """``torch.get_default_dtype()`` is float32 in the body, the caller's after."""
    before = torch.get_default_dtype()
    if before == torch.float32:
        yield
        return
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


@contextlib.contextmanager
def environment_kept():
    """Undo what torch's fused optimizers do to the process on first use.

    Their first step imports torch's compiler stack, which sets
    ``TORCHINDUCTOR_CACHE_DIR`` in ``os.environ`` and creates that folder; a
    library call should leave the user's environment as it found it.
    """
    before = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
    existed = before is not None or os.path.isdir(_default_inductor_dir())
    try:
        yield
    finally:
        after = os.environ.get("TORCHINDUCTOR_CACHE_DIR")
        if before is None and after is not None:
            del os.environ["TORCHINDUCTOR_CACHE_DIR"]
            if not existed:
                with contextlib.suppress(OSError):
                    os.rmdir(after)  # only if empty


def _default_inductor_dir():
    import getpass
    import tempfile

    try:
        user = getpass.getuser()
    except Exception:  # no user name in this environment
        return ""
    return os.path.join(tempfile.gettempdir(), f"torchinductor_{user}")
