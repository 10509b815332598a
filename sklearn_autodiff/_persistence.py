"""Building, saving and loading an estimator's torch module.

The pickled (and skops-stored) state of a fitted estimator holds numpy
arrays and plain Python values only: the module's ``state_dict`` and the
optimizer state, with every tensor as a numpy array. Loading rebuilds the
module with :meth:`~sklearn_autodiff.AutodiffClassifier.build_module` and
fills it, so a model fitted on CUDA loads anywhere, and skops can store it
without trusting torch types.
"""

import threading

import numpy as np
import torch

from ._torch_state import float32_default

# torch's global random state is shared by all threads: concurrent fits
# building their modules at once would draw from each other's seeds.
_BUILD_LOCK = threading.Lock()

_MODULE_KEY = "module_"
_TENSOR_TAG = "__tensor__"


def build_seeded(estimator, n_features, n_classes, seed):
    """``estimator.build_module(n_features, n_classes)`` under torch's random state seeded by ``seed``.

    The module is built with float32 as torch's default dtype, so its
    initial values do not depend on ``torch.set_default_dtype``. The global
    random state is restored afterwards, so building leaves it as
    it was and the same seed gives the same initial module; a lock keeps
    concurrent fits in threads from drawing from each other's seeds.
    """
    with _BUILD_LOCK, torch.random.fork_rng(devices=[]), float32_default():
        # The CPU generator only: torch.manual_seed also queues a reseed of
        # every lazy accelerator backend, which costs a millisecond per fit.
        torch.default_generator.manual_seed(seed)
        return estimator.build_module(n_features, n_classes)


def _to_plain(value):
    """Tensors inside dicts, lists and tuples as tagged numpy arrays."""
    if isinstance(value, torch.Tensor):
        return {_TENSOR_TAG: value.detach().cpu().numpy()}
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_plain(v) for v in value)
    return value


def _from_plain(value):
    """Inverse of :func:`_to_plain`."""
    if isinstance(value, dict):
        if set(value) == {_TENSOR_TAG}:
            return torch.from_numpy(np.array(value[_TENSOR_TAG]))
        return {k: _from_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_from_plain(v) for v in value)
    return value


def get_state(estimator, state):
    """The picklable state: module weights and every tensor as numpy arrays."""
    state = dict(state)
    module = state.pop(_MODULE_KEY, None)
    plain = {k: _to_plain(v) for k, v in state.items()}
    if module is not None:
        plain["_module_state_"] = {
            name: tensor.detach().cpu().numpy() for name, tensor in module.state_dict().items()
        }
        plain["_module_n_classes_"] = estimator._module_targets()
    return plain


def set_state(estimator, state):
    """Rebuild the module from a state made by :func:`get_state`; return the rest.

    A state may be crafted (a tampered pickle or skops file). Before anything
    of the size it names is allocated, every size is checked against the
    stored arrays: the module is first built on torch's ``meta`` device (no
    memory), and its parameters' shapes and dtypes must be those stored.

    Raises
    ------
    ValueError
        If the state is inconsistent (sizes, dtypes, the targets the module
        was built for), with what does not match.
    """
    state = dict(state)
    module_state = state.pop("_module_state_", None)
    n_targets = state.pop("_module_n_classes_", None)
    restored = {k: _from_plain(v) for k, v in state.items()}
    if module_state is None:
        return restored
    arrays = _stored_arrays(module_state)
    estimator.__dict__.update(restored)
    n_features = _checked_sizes(estimator, restored, n_targets)
    expected = _meta_state(estimator, n_features, n_targets)
    dtype = _check_against(expected, arrays)
    module = build_seeded(estimator, n_features, n_targets, 0).to(dtype)
    module.load_state_dict({name: torch.from_numpy(array) for name, array in arrays.items()})
    module.eval()
    restored[_MODULE_KEY] = module
    return restored


def _inconsistent(what):
    return ValueError(f"Cannot load this estimator: its stored state is inconsistent ({what}).")


def _stored_arrays(module_state):
    """The stored parameter arrays, as real numeric numpy arrays."""
    if not isinstance(module_state, dict):
        raise _inconsistent("the module's parameters are not a mapping")
    arrays = {}
    for name, value in module_state.items():
        array = np.asarray(value)
        if array.dtype.kind not in "fiub":
            raise _inconsistent(f"parameter {name!r} has dtype {array.dtype}, not a real number")
        arrays[name] = np.array(array)  # writable, for torch.from_numpy
    return arrays


def _checked_sizes(estimator, restored, n_targets):
    """``n_features_in_``, checked to be a positive int, and the targets against the module's."""
    n_features = restored.get("n_features_in_")
    for name, value in (("n_features_in_", n_features), ("the module's targets", n_targets)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise _inconsistent(f"{name} is {value!r}, not a positive int")
    try:
        targets = estimator._module_targets()
    except AttributeError as exc:
        raise _inconsistent(f"a fitted attribute is missing: {exc}") from None
    if targets != n_targets:
        raise _inconsistent(
            f"the module was built for {n_targets} targets, the fitted attributes say {targets}"
        )
    return int(n_features)


def _meta_state(estimator, n_features, n_targets):
    """Shapes and dtypes of the module ``build_module`` makes, without allocating it."""
    try:
        with torch.device("meta"):
            module = build_seeded(estimator, n_features, int(n_targets), 0)
    except Exception as exc:  # a size the builder refuses (MemoryError included)
        raise _inconsistent(
            f"building the module for n_features_in_={n_features} and {n_targets} "
            f"targets failed: {exc}"
        ) from None
    return {name: (tuple(t.shape), t.dtype) for name, t in module.state_dict().items()}


def _check_against(expected, arrays):
    """The one float dtype of the stored parameters, after checking names and shapes."""
    if set(expected) != set(arrays):
        raise _inconsistent(
            f"stored parameters {sorted(arrays)} are not the module's {sorted(expected)}"
        )
    float_dtypes = set()
    for name, (shape, dtype) in expected.items():
        array = arrays[name]
        if tuple(array.shape) != shape:
            raise _inconsistent(f"parameter {name!r} has shape {array.shape}, expected {shape}")
        if dtype.is_floating_point:
            float_dtypes.add(array.dtype)
    if not float_dtypes <= {np.dtype(np.float32), np.dtype(np.float64)} or len(float_dtypes) > 1:
        raise _inconsistent(
            f"the parameters' dtypes are {sorted(map(str, float_dtypes))}, not one of "
            "float32 or float64"
        )
    return torch.float64 if np.dtype(np.float64) in float_dtypes else torch.float32
