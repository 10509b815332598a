"""Input conversion: validated arrays to tensors on a device, and back."""

import numpy as np
import scipy.sparse as sp
import torch

# Rows per chunk when predicting: bounds the memory of one forward pass.
PREDICT_CHUNK_ROWS = 65_536

_TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ``"cuda:k"``, ``"auto"`` (CUDA when available)
        or a :class:`torch.device`.

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        If the string is not a device, or CUDA is asked for but not usable.
    """
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'cpu', 'cuda', "
            "'cuda:k', 'auto' or a torch.device."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine (torch.cuda.is_available() is False). Use device='cpu' or "
                "device='auto', or install a CUDA build of torch."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) are visible."
            )
    elif resolved.type not in ("cpu", "mps", "xpu"):
        raise ValueError(f"device={device!r} is not supported; use 'cpu' or 'cuda'.")
    return resolved


def torch_dtype(name):
    """The torch dtype for ``"float32"`` / ``"float64"`` or a numpy dtype."""
    return _TORCH_DTYPES[np.dtype(name).name]


def to_tensor(X, dtype, device):
    """Move a validated 2-D array to ``device`` as a ``dtype`` tensor.

    Dense numpy arrays are shared with torch when no cast or move is needed;
    scipy sparse matrices become sparse COO tensors (row selection for
    mini-batches is supported on that layout), never densified.
    """
    if sp.issparse(X):
        coo = X.tocoo()
        indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
        values = torch.from_numpy(coo.data)
        tensor = torch.sparse_coo_tensor(
            indices, values, size=coo.shape, check_invariants=False
        )
        return tensor.to(device=device, dtype=dtype).coalesce()
    if isinstance(X, torch.Tensor):
        return X.to(device=device, dtype=dtype)
    array = np.ascontiguousarray(X)
    if not array.flags.writeable:
        # torch.from_numpy warns on read-only memory; copy once instead.
        array = array.copy()
    return torch.from_numpy(array).to(device=device, dtype=dtype)


def iter_row_chunks(X, chunk_rows=PREDICT_CHUNK_ROWS):
    """Yield consecutive row blocks of ``X`` (numpy, scipy.sparse or tensor)."""
    n = X.shape[0]
    for start in range(0, n, chunk_rows):
        yield X[start : start + chunk_rows]


def to_numpy(tensor):
    """Detach ``tensor`` and return it as a numpy array on the host."""
    return tensor.detach().cpu().numpy()
