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
    """Rebuild the module from a state made by :func:`get_state`; return the rest."""
    state = dict(state)
    module_state = state.pop("_module_state_", None)
    n_classes = state.pop("_module_n_classes_", None)
    restored = {k: _from_plain(v) for k, v in state.items()}
    if module_state is None:
        return restored
    estimator.__dict__.update(restored)
    module = build_seeded(estimator, restored["n_features_in_"], n_classes, 0)
    tensors = {name: torch.from_numpy(np.array(array)) for name, array in module_state.items()}
    dtype = next(iter(tensors.values())).dtype if tensors else torch.float32
    module = module.to(dtype)
    module.load_state_dict(tensors)
    module.eval()
    restored[_MODULE_KEY] = module
    return restored
