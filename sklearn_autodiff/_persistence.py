"""Building, saving and loading an estimator's torch module.

The pickled (and skops-stored) state of a fitted estimator holds numpy
arrays and plain Python values only: the module's ``state_dict`` and the
optimizer state, with every tensor as a numpy array. Loading rebuilds the
module with :meth:`~sklearn_autodiff.AutodiffClassifier.build_module` and
fills it, so a model fitted on CUDA loads anywhere, and skops can store it
without trusting torch types.

A stored state may come from an altered file, so :func:`set_state` checks it
before allocating anything the size of the model: the sizes
(``n_features_in_``, the output count) and the task layer's attributes
(``classes_`` for a classifier) must agree, and every stored parameter's
name, shape and dtype must be those of the module ``build_module`` would
build, which is first built on torch's ``meta`` device (shapes, no memory).
"""

import numbers
import threading

import numpy as np
import torch
from sklearn.base import is_classifier
from torch.utils._python_dispatch import TorchDispatchMode

from ._torch_state import float32_default

# torch's global random state is shared by all threads: concurrent fits
# building their modules at once would draw from each other's seeds.
_BUILD_LOCK = threading.Lock()

_MODULE_KEY = "module_"
_TENSOR_TAG = "__tensor__"
_MODULE_STATE_KEY = "_module_state_"
# The second argument of build_module (the class count of a classifier).
_N_OUTPUTS_KEY = "_module_n_classes_"
_MODEL_DTYPES = {torch.float32, torch.float64}


def build_seeded(estimator, n_features, n_classes, seed):
    """``estimator.build_module(n_features, n_classes)`` under torch's random state seeded by ``seed``.

    The module is built with float32 as torch's default dtype, so its
    initial values do not depend on ``torch.set_default_dtype``. The global
    random state is restored afterwards, so building leaves it as it was and
    the same seed gives the same initial module; a lock keeps concurrent fits
    in threads from drawing from each other's seeds.
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
    """Inverse of :func:`_to_plain`; a stored tensor must be a real numeric array."""
    if isinstance(value, dict):
        if set(value) == {_TENSOR_TAG}:
            return _stored_tensor(value[_TENSOR_TAG], "a stored tensor")
        return {k: _from_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_from_plain(v) for v in value)
    return value


def _stored_tensor(value, what):
    """A stored numpy array of real numbers or booleans as a tensor; StateError otherwise."""
    array = np.array(value) if isinstance(value, np.ndarray) else None  # a writable copy
    try:
        if array is None or array.dtype.kind not in "fiub":
            raise TypeError
        return torch.from_numpy(array)
    except TypeError:  # also a dtype torch lacks, such as float128
        found = type(value).__name__ if array is None else f"dtype {array.dtype}"
        raise StateError(f"{what} is not an array of real numbers ({found})") from None


def get_state(estimator, state, n_outputs=None):
    """The picklable state: module weights and every tensor as numpy arrays.

    Parameters
    ----------
    estimator : AutodiffEstimator
        The estimator being pickled.
    state : dict
        Its ``__dict__`` (as ``BaseEstimator.__getstate__`` returns it).
    n_outputs : int, optional
        The second argument ``build_module`` took for the fitted module;
        by default the task layer's ``_module_targets()`` (the number of
        classes, or of target columns).

    Returns
    -------
    state : dict
        Plain values and numpy arrays only.
    """
    state = dict(state)
    module = state.pop(_MODULE_KEY, None)
    plain = {k: _to_plain(v) for k, v in state.items()}
    if module is not None:
        plain[_MODULE_STATE_KEY] = {
            name: tensor.detach().cpu().numpy() for name, tensor in module.state_dict().items()
        }
        if n_outputs is None:
            n_outputs = estimator._module_targets()
        plain[_N_OUTPUTS_KEY] = int(n_outputs)
    return plain


def set_state(estimator, state):
    """Rebuild the module from a state made by :func:`get_state`; return the rest.

    Everything is checked before anything the size of the model is
    allocated: ``n_features_in_`` and the output count, the task layer's
    own attributes (see :func:`_task_check`), and every stored parameter's
    name, shape and dtype against the module ``build_module`` would build
    (built first on torch's ``meta`` device, which allocates nothing).

    Parameters
    ----------
    estimator : AutodiffClassifier
        The (empty) estimator being unpickled; its ``__dict__`` is filled.
    state : dict
        What :func:`get_state` returned, from a file that may be altered.

    Returns
    -------
    state : dict
        The attributes to set, ``module_`` included.

    Raises
    ------
    ValueError
        If the state is inconsistent; nothing large was allocated then.
    """
    state = dict(state)
    module_state = state.pop(_MODULE_STATE_KEY, None)
    n_outputs = state.pop(_N_OUTPUTS_KEY, None)
    try:
        restored = {k: _from_plain(v) for k, v in state.items()}
        if module_state is None:
            return restored
        estimator.__dict__.update(restored)
        n_features = _count(restored.get("n_features_in_"), "n_features_in_")
        n_outputs = _count(n_outputs, f"{_N_OUTPUTS_KEY} (the module's output count)")
        _check_feature_names(restored, n_features)
        _task_check(estimator)(restored, n_outputs)
        tensors, dtype = _stored_tensors(module_state)
        _check_against_module(_meta_module(estimator, n_features, n_outputs), tensors, dtype)
    except ValueError as exc:  # StateError, or a task hook's own ValueError
        raise ValueError(
            f"Cannot restore {type(estimator).__name__} from this state: {exc}. The file "
            "is damaged or was altered; load a file saved by sklearn_autodiff from a "
            "source you trust, or refit the estimator."
        ) from None
    module = build_seeded(estimator, n_features, n_outputs, 0).to(dtype)
    module.load_state_dict(tensors)
    module.eval()
    restored[_MODULE_KEY] = module
    return restored


class StateError(ValueError):
    """What is wrong with a stored state (:func:`set_state` adds what to do)."""


def check_classifier_state(state, n_outputs):
    """A classifier's consistency check: ``classes_`` against the output count.

    The default task check of :func:`set_state` for classifiers; a task
    layer wires it in as ``_check_restored_state``.

    Parameters
    ----------
    state : dict
        The restored attributes.
    n_outputs : int
        The number of classes the module was built for.

    Raises
    ------
    StateError
        If ``classes_`` is missing, not a 1-d array of sorted distinct
        labels, or holds another number of classes than the module.
    """
    classes = state.get("classes_")
    if not isinstance(classes, np.ndarray) or classes.ndim != 1:
        found = "missing" if classes is None else f"a {type(classes).__name__}"
        raise StateError(f"classes_ must be a 1-d numpy array of class labels; it is {found}")
    try:
        distinct = np.unique(classes)
    except TypeError:  # labels of types that do not compare
        distinct = None
    if distinct is None or len(distinct) != len(classes) or np.any(distinct != classes):
        raise StateError("classes_ must hold distinct labels in sorted order, as fit stores them")
    if len(classes) < 2:
        raise StateError(
            f"classes_ holds {len(classes)} class(es); a fitted classifier has at least 2"
        )
    if len(classes) != n_outputs:
        raise StateError(
            f"classes_ holds {len(classes)} classes but the module was built for "
            f"{n_outputs} ({_N_OUTPUTS_KEY}={n_outputs})"
        )


def _task_check(estimator):
    """The task layer's check ``check(state, n_outputs)``.

    The estimator's ``_check_restored_state(state, n_outputs)`` if it has
    one, else :func:`check_classifier_state` for a classifier, else none.
    """
    hook = getattr(estimator, "_check_restored_state", None)
    if hook is not None:
        return hook
    if is_classifier(estimator):
        return check_classifier_state
    return lambda state, n_outputs: None


def _count(value, name):
    """``value`` as a positive int; StateError otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise StateError(f"{name} must be a positive integer; it is {value!r}")
    return int(value)


def _check_feature_names(state, n_features):
    names = state.get("feature_names_in_")
    if names is not None and len(names) != n_features:
        raise StateError(
            f"feature_names_in_ has {len(names)} names but n_features_in_ is {n_features}"
        )


def _stored_tensors(module_state):
    """The stored parameters as tensors, and their common floating dtype."""
    if not isinstance(module_state, dict) or not module_state:
        raise StateError("the module's parameters are missing")
    tensors = {}
    for name, array in module_state.items():
        tensors[name] = _stored_tensor(array, f"parameter {name!r}")
    floating = {t.dtype for t in tensors.values() if t.is_floating_point()}
    if not floating or not floating <= _MODEL_DTYPES or len(floating) > 1:
        found = sorted({str(t.dtype).replace("torch.", "") for t in tensors.values()})
        raise StateError(
            "the module's parameters must all be float32 or all float64, as fit makes "
            f"them; they are {', '.join(found)}"
        )
    return tensors, floating.pop()


def _check_against_module(module, tensors, dtype):
    """Stored names, shapes and dtypes against ``module`` (on the meta device)."""
    expected = module.state_dict()
    if set(expected) != set(tensors):
        raise StateError(
            f"the stored parameters {sorted(tensors)} are not the module's {sorted(expected)}"
        )
    for name, meta in expected.items():
        stored = tensors[name]
        if tuple(stored.shape) != tuple(meta.shape):
            raise StateError(
                f"parameter {name!r} has shape {tuple(stored.shape)} but the module built "
                f"from n_features_in_, {_N_OUTPUTS_KEY} and the hyperparameters has "
                f"{tuple(meta.shape)}"
            )
        wanted = dtype if meta.is_floating_point() else meta.dtype
        if stored.dtype != wanted:
            raise StateError(f"parameter {name!r} has dtype {stored.dtype}, expected {wanted}")


class _MetaFactories(TorchDispatchMode):
    """Create every tensor on the meta device, even where a device is named.

    ``torch.nn.utils.skip_init`` moves its module to the CPU explicitly,
    which ``with torch.device("meta")`` alone would not stop.
    """

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if "device" in kwargs:
            kwargs["device"] = torch.device("meta")
        return func(*args, **kwargs)


def _meta_module(estimator, n_features, n_outputs):
    """What ``build_module`` builds, on the meta device: shapes without memory."""
    try:
        with torch.device("meta"), _MetaFactories():
            return estimator.build_module(n_features, n_outputs)
    except Exception as exc:  # e.g. a hidden size refused by the memory check
        raise StateError(
            f"its hyperparameters with n_features_in_={n_features} and "
            f"{_N_OUTPUTS_KEY}={n_outputs} do not build a module ({type(exc).__name__}: {exc})"
        ) from exc
