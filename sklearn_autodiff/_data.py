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
    elif resolved.type in ("mps", "xpu"):
        backend = getattr(torch.backends, "mps", None) if resolved.type == "mps" else getattr(torch, "xpu", None)
        if backend is None or not backend.is_available():
            raise ValueError(
                f"device={device!r} was requested but this machine or torch build has no "
                f"{resolved.type} device. Use device='cpu' or device='auto'."
            )
    elif resolved.type != "cpu":
        raise ValueError(
            f"device={device!r} is not supported (it holds no data to train on); use "
            "'cpu', 'cuda', 'cuda:k' or 'auto'."
        )
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


# ------------------------------------------------------------ array API


def _dispatch_enabled():
    from sklearn import get_config

    return get_config().get("array_api_dispatch", False)


def host_array(a):
    """Return ``a`` as something numpy understands, without changing numpy input.

    torch tensors (on any device) and other array API arrays are copied to a
    numpy array on the host; everything else (lists, pandas, numpy, scipy
    sparse) is returned unchanged for scikit-learn's validation.
    """
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    namespace = getattr(a, "__array_namespace__", None)
    if namespace is not None and not isinstance(a, np.ndarray):
        from sklearn.utils._array_api import _convert_to_numpy

        return _convert_to_numpy(a, namespace())
    return a


class OutputSpace:
    """Where an estimator's outputs go: numpy, or the input's namespace and device.

    By default outputs are numpy arrays whatever the input. Under
    ``sklearn.config_context(array_api_dispatch=True)``, a ``torch.Tensor``
    input gives tensors on the input's device, and another array API input
    gives arrays of its namespace on its device.
    """

    def __init__(self, xp=None, device=None):
        self.xp = xp
        self.device = device

    @classmethod
    def of(cls, X):
        """The output space for input ``X``."""
        if not _dispatch_enabled():
            return cls()
        if isinstance(X, torch.Tensor):
            return cls("torch", X.device)
        namespace = getattr(X, "__array_namespace__", None)
        if namespace is None or isinstance(X, np.ndarray):
            return cls()
        from sklearn.utils._array_api import device as array_device

        return cls(namespace(), array_device(X))

    @property
    def is_numpy(self):
        return self.xp is None

    def from_tensor(self, tensor):
        """Convert a result tensor to this space."""
        if self.xp == "torch":
            return tensor.detach().to(self.device)
        return self.from_numpy(to_numpy(tensor))

    def from_numpy(self, array):
        """Convert a numpy result to this space (string arrays stay numpy)."""
        if self.is_numpy or array.dtype.kind in "USO":
            return array
        if self.xp == "torch":
            return torch.as_tensor(array, device=self.device)
        return self.xp.asarray(array, device=self.device)


def check_tensor_input(X, dtype=None):
    """Validate a ``torch.Tensor`` of samples without leaving its device.

    Parameters
    ----------
    X : torch.Tensor
        Must be 2-D, dense, real and finite, with at least one row.
    dtype : torch.dtype or None
        Cast to this dtype; None keeps float32 and float64 and turns other
        real dtypes into float64.

    Returns
    -------
    X : torch.Tensor
        The same tensor when no cast is needed (no copy).
    """
    if X.layout != torch.strided:
        raise TypeError(
            "Sparse torch tensors are not supported; pass a scipy.sparse matrix "
            "or a dense tensor."
        )
    if X.device.type == "meta":
        raise ValueError("X is a tensor on the 'meta' device, which holds no values; pass real data.")
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D tensor, got a tensor with {X.ndim} dimension(s) and "
            f"shape {tuple(X.shape)}. Reshape your data."
        )
    if X.is_complex():
        raise ValueError("Complex data not supported; pass a real-valued tensor.")
    if X.shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={tuple(X.shape)}).")
    if X.shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={tuple(X.shape)}).")
    if dtype is None:
        dtype = X.dtype if X.dtype in (torch.float32, torch.float64) else torch.float64
    X = X.to(dtype)
    if not bool(torch.isfinite(X).all()):
        raise ValueError("Input X contains NaN or infinity.")
    return X


def tensor_rows(X, rows, dtype, device):
    """Rows ``rows`` (all when None) of numpy, sparse or tensor X, as a tensor on ``device``."""
    if isinstance(X, torch.Tensor):
        if rows is not None:
            X = X[torch.as_tensor(rows, device=X.device)]
        return X.detach().to(device=device, dtype=dtype)
    return to_tensor(X if rows is None else X[rows], dtype, device)
