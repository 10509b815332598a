"""The public base class: a scikit-learn classifier around a torch module.

An estimator is a module (:meth:`AutodiffClassifier.build_module`), a head
(the loss, link and target encoding: :mod:`._heads`) and its fitted arrays.
This class holds the scikit-learn side: parameters, ``fit`` as a chain of
small steps, the predict methods and the tags. Solvers live in
:mod:`._solvers`, the training loop and its policies in :mod:`._training`,
input conversion in :mod:`._data`, the reject option in :mod:`._reject`,
persistence in :mod:`._persistence`, the thread policy in :mod:`._threads`,
what ranks of a distributed fit agree on in :mod:`._distributed`.
"""

import contextlib
import copy
import inspect
import numbers
import os
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.callback import CallbackSupportMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.utils import compute_class_weight
from sklearn.utils._array_api import check_same_namespace
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from . import _persistence
from ._data import (
    PREDICT_CHUNK_ROWS,
    OutputSpace,
    check_tensor_input,
    host_array,
    iter_row_chunks,
    resolve_device,
    tensor_rows,
    to_numpy,
    to_tensor,
    torch_dtype,
)
from ._degenerate import degenerate_fit_message
from ._distributed import agree_on_shards, communicator, shared_parameters
from ._docs import COMMON_ATTRIBUTES_DOC, COMMON_PARAMETERS_DOC
from ._heads import SoftmaxCrossEntropy
from ._reject import reject_mask_from_log_proba, resolve_reject_label
from ._solvers import (
    DEFAULT_LEARNING_RATE,
    FULL_BATCH_SOLVERS,
    SOLVERS,
    NonFiniteLossError,
    Problem,
    TrainingOptions,
    choose_solver,
)
from ._split import validation_split
from ._threads import thread_budget
from ._training import NoImprovement, PrintProgress, train
from ._weights import check_class_weight, rescaled_sample_weight
from .losses import l2_penalty

_SPARSE_FORMATS = ("csr", "csc")

DIVERGENCE_HINT = (
    "Scale the inputs (for example with sklearn.preprocessing.StandardScaler) "
    "or lower learning_rate_init."
)


def _merged_signature(cls):
    """``cls.__init__``'s signature with the ``**kwargs`` it forwards spelled out.

    A subclass may write ``def __init__(self, *, width=16, **kwargs)`` and
    pass ``kwargs`` on; scikit-learn reads parameters from the signature, so
    the parent's parameters are added to it (the subclass's defaults win).
    """
    init = cls.__dict__["__init__"]
    signature = inspect.signature(init)
    params = list(signature.parameters.values())
    if not any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    own = [p for p in params if p.kind != p.VAR_KEYWORD]
    names = {p.name for p in own}
    parent = inspect.signature(super(cls, cls).__init__)
    inherited = [
        p.replace(kind=p.KEYWORD_ONLY)
        for p in parent.parameters.values()
        if p.name not in names and p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
    ]
    positional = [p for p in own if p.kind != p.KEYWORD_ONLY]
    keyword = [p for p in own if p.kind == p.KEYWORD_ONLY]
    return signature.replace(parameters=positional + keyword + inherited)


class AutodiffClassifier(CallbackSupportMixin, ClassifierMixin, BaseEstimator):
    __doc__ = f"""Base class for classifiers made of a torch module and a loss.

    Subclass it, implement :meth:`build_module` (and, optionally, override
    :meth:`loss`), and the class gets what the shipped estimators have:
    validation, label encoding, dtype and device handling, every solver,
    early stopping, callbacks, the reject option, pickling, and
    scikit-learn's estimator checks. The objective is

    .. math:: \\frac{{1}}{{\\sum_i s_i}} \\sum_i s_i \\, \\ell(z_i, y_i)
              + \\frac{{\\alpha}}{{2}} \\sum_W \\lVert W \\rVert^2,

    where :math:`z_i` are the module's logits, :math:`\\ell` is :meth:`loss`
    (by default the softmax cross-entropy) and the penalty, added by this
    class, runs over the module's ``penalized_weights()`` if it has that
    method, else over its parameters with two or more dimensions (weight
    matrices; biases are never penalised). A custom :meth:`loss` must not add
    the penalty again.

    A subclass's ``__init__`` takes its own parameters and passes the others
    on with ``**kwargs``; they appear in ``get_params`` like its own.

    Parameters
    ----------
{COMMON_PARAMETERS_DOC}
    Attributes
    ----------
{COMMON_ATTRIBUTES_DOC}
    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_iris
    >>> from sklearn_autodiff import AutodiffClassifier
    >>> class WideTanhNet(AutodiffClassifier):
    ...     def __init__(self, *, width=16, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.width = width
    ...     def build_module(self, n_features, n_classes):
    ...         return torch.nn.Sequential(
    ...             torch.nn.Linear(n_features, self.width), torch.nn.Tanh(),
    ...             torch.nn.Linear(self.width, n_classes))
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = WideTanhNet(width=8, random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:1]).shape
    (1, 3)
    """

    #: The loss, link and target encoding (see :mod:`sklearn_autodiff._heads`).
    head = SoftmaxCrossEntropy()

    _parameter_constraints = {
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "solver": [StrOptions(set(SOLVERS))],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "dtype": [StrOptions({"float32", "float64"}), None],
        "distributed": ["boolean"],
        "verbose": ["verbose"],
        "reject_threshold": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "reject_label": "no_validation",
    }

    def __init__(
        self,
        *,
        alpha=1e-4,
        solver="auto",
        learning_rate_init=None,
        momentum=0.9,
        nesterovs_momentum=True,
        batch_size="auto",
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        class_weight=None,
        shuffle=True,
        random_state=None,
        warm_start=False,
        device="cpu",
        dtype=None,
        distributed=False,
        verbose=0,
        reject_threshold=None,
        reject_label=None,
    ):
        self.alpha = alpha
        self.solver = solver
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.class_weight = class_weight
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.device = device
        self.dtype = dtype
        self.distributed = distributed
        self.verbose = verbose
        self.reject_threshold = reject_threshold
        self.reject_label = reject_label

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            signature = _merged_signature(cls)
            if signature is not None:
                cls.__init__.__signature__ = signature

    # ---------------------------------------------- the extension API

    def build_module(self, n_features, n_classes):
        """Return the untrained :class:`torch.nn.Module` (on the CPU).

        Called at the start of a fit (not a warm one) under a torch random
        state seeded from ``random_state`` (the global state is restored after).

        Parameters
        ----------
        n_features : int
        n_classes : int

        Returns
        -------
        module : torch.nn.Module
            Maps a (n, n_features) tensor to logits of shape
            (n, ``head.n_outputs(n_classes)``), n_classes for the default head.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement build_module(n_features, n_classes)."
        )

    def loss(self, logits, target, sample_weight=None):
        """Weighted mean loss of the logits; the head's (softmax cross-entropy by default).

        Parameters
        ----------
        logits : torch.Tensor of shape (n, n_outputs)
        target : torch.Tensor
            ``head.encode_target`` of the class indices (the indices for the
            default head).
        sample_weight : torch.Tensor of shape (n,) or None
            None when all weights are equal.

        Returns
        -------
        loss : torch.Tensor
            Scalar, without the L2 penalty (the base adds it).
        """
        return self.head.loss(logits, target, sample_weight)

    def _fitted_arrays(self, module):
        """Named numpy arrays (``coef_``, ...) to publish after a fit; none by default."""
        return {}

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the loss is the weighted mean over samples.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._guarded_fit(X, y, sample_weight, classes=None, partial=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch (one iteration for full-batch solvers) on a batch.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            All the classes; required on the first call, ignored after.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._guarded_fit(X, y, sample_weight, classes=classes, partial=True)

    def _guarded_fit(self, X, y, sample_weight, classes, partial):
        # A failed call restores every attribute, so nothing fitted is lost.
        snapshot = dict(self.__dict__)
        try:
            return self._fit(X, y, sample_weight, classes, partial)
        except BaseException:
            # Keep the callback bookkeeping scikit-learn tears down after fit.
            callback_state = {
                k: v for k, v in self.__dict__.items() if k.startswith(("_callback", "_skl_"))
            }
            self.__dict__.clear()
            self.__dict__.update(snapshot)
            self.__dict__.update(callback_state)
            raise

    def _fit(self, X, y, sample_weight, classes, partial):
        continuing = hasattr(self, "module_") and (partial or self.warm_start)
        comm = communicator(self.distributed)

        def read_call():
            self._check_fit_call(classes, partial, continuing)
            return resolve_device(self.device), self._seed(), OutputSpace.of(X)

        device, seed, space = comm.agree(read_call)
        X, y, class_labels, y_index, sample_weight, seed = self._prepare_data(
            X, y, sample_weight, classes, partial, continuing, comm, seed
        )
        dtype = torch_dtype(str(X.dtype).replace("torch.", ""))
        callback_ctx = self._init_callback_context(max_subtasks=1 if partial else self.max_iter)
        callback_ctx.call_on_fit_task_begin(estimator=self, X=X, y=y)
        module = self._initial_module(X.shape[1], len(class_labels), seed, continuing)
        module = module.to(device=device, dtype=dtype)
        comm.broadcast_module(module)  # every rank starts from rank 0's parameters
        # Each rank shuffles and drops out with its own stream.
        generator = torch.Generator(device=device).manual_seed(seed + 1 + comm.rank)

        validation_score, X_train, y_train, w_train = None, X, y_index, sample_weight
        if self.early_stopping and not partial:
            validation_score, X_train, y_train, w_train = comm.agree(
                lambda: self._split_validation(
                    X, y_index, sample_weight, len(class_labels), seed, dtype, device, comm
                )
            )
        problem = Problem(
            module=module,
            loss=self.loss,
            penalty=self._penalty,
            X=tensor_rows(X_train, None, dtype, device),
            target=self.head.encode_target(
                torch.as_tensor(y_train, device=device), len(class_labels), dtype
            ),
            sample_weight=torch.as_tensor(w_train, dtype=dtype, device=device),
            comm=comm,
        )
        options = self._training_options(problem.n_samples, dtype)
        # Distributed: one thread count for all ranks (the same rounding everywhere).
        work = comm.max(_largest_operation(module, problem, options))
        with thread_budget(work), _environment_kept():
            history = self._run_solver(
                problem, options, generator, validation_score, partial, callback_ctx,
                lambda: self._fitted_attributes(copy.deepcopy(module).eval(), class_labels, space),
                X, y,
            )
        if history.interrupted and history.n_iter == 0:
            warnings.warn(
                "Training interrupted before the first iteration ended; nothing was "
                "trained and the estimator was left as it was before this call.",
                UserWarning,
                stacklevel=5,
            )
            return self
        comm.broadcast_module(module)  # the same bits everywhere, whatever each rank's BLAS did
        self._commit(module, class_labels, space, history, continuing, validation_score)
        self._warn_if_degenerate(problem, history)
        callback_ctx.call_on_fit_task_end(estimator=self, X=X, y=y, reconstruction_attributes={})
        if not (partial or history.converged or history.interrupted):
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} without "
                "converging; increase max_iter or tol, or scale the inputs.",
                ConvergenceWarning,
                stacklevel=5,  # the user's call, past fit, _guarded_fit and sklearn's wrapper
            )
        return self

    def _warn_if_degenerate(self, problem, history):
        """Warn when the fit ends worse than, or no better than, a constant model."""
        message = degenerate_fit_message(self, problem, history)
        if message is not None:
            warnings.warn(f"{message} {DIVERGENCE_HINT}", ConvergenceWarning, stacklevel=6)

    def _check_fit_call(self, classes, partial, continuing):
        if partial and not continuing and classes is None:
            raise ValueError(
                "classes must be passed on the first call to partial_fit "
                "(all the labels that can appear in any batch)."
            )
        if partial and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported by partial_fit, which "
                "sees one batch at a time; pass a dict computed with "
                "sklearn.utils.compute_class_weight on all the labels instead."
            )

    def _prepare_data(self, X, y, sample_weight, classes, partial, continuing, comm, seed):
        """Validated X, y, the class labels, class indices, sample weights and the seed.

        Distributed, the ranks agree on the labels (their union), the seed
        (rank 0's) and the class counts, and a bad shard raises everywhere.
        """

        def read_shard():
            X_, y_ = self._validate_training_data(X, y, reset=not continuing)
            check_classification_targets(y_)
            weight = _check_sample_weight(
                host_array(sample_weight), X_, dtype=np.float64, ensure_non_negative=True
            )
            check_class_weight(self)
            return X_, y_, weight

        X, y, sample_weight = comm.agree(read_shard)
        # Divided by the largest weight of all ranks (a weighted mean does not
        # change), so that class weights cannot make them overflow.
        largest = comm.max(sample_weight.max() if len(sample_weight) else 0.0)
        if largest > 0:
            sample_weight = sample_weight / largest
        if continuing:
            candidates = self.classes_
        elif partial:
            candidates = np.unique(np.asarray(classes))
        else:
            candidates = np.unique(y)
        class_counts = None
        if comm.active:
            seed, candidates, class_counts = agree_on_shards(
                comm, seed, X, y, candidates, shared_parameters(self)
            )

        def index_shard():
            labels = self._class_labels(candidates, y, partial, continuing)
            if self.reject_threshold is not None:
                resolve_reject_label(labels, self.reject_label)  # fail before training
            index = np.searchsorted(labels, y)
            return labels, index, self._sample_weight(sample_weight, index, labels, class_counts)

        class_labels, y_index, sample_weight = comm.agree(index_shard)
        largest = comm.max(sample_weight.max() if len(sample_weight) else 0.0)
        if not largest > 0:
            raise ValueError(
                "The sample weights (times the class weights) sum to zero; at least "
                "one sample needs a positive weight."
            )
        sample_weight = rescaled_sample_weight(sample_weight, X.dtype, largest)
        return X, y, class_labels, y_index, sample_weight, seed

    def _initial_module(self, n_features, n_classes, seed, continuing):
        """A copy of the fitted module (warm start), or a new one seeded by ``seed``."""
        if continuing:
            return copy.deepcopy(self.module_)
        return _persistence.build_seeded(self, n_features, n_classes, seed)

    def _penalty(self, module):
        if not self.alpha:
            return 0.0
        return l2_penalty(_penalized_weights(module), self.alpha)

    def _run_solver(self, problem, options, generator, validation_score, partial,
                    callback_ctx, reconstruction, X, y):
        solver = choose_solver(
            options, problem, self.head, type(self).loss is not AutodiffClassifier.loss,
            self.alpha, generator,
        )
        self._solver_name = solver.name
        if partial and hasattr(self, "_optimizer_state_"):
            solver.load_state_dict(self._optimizer_state_)
        policies = [PrintProgress()] if options.verbose else []
        if not partial and options.solver in ("gd", "sgd", "adam"):
            policies.append(NoImprovement(options.tol, options.n_iter_no_change))
        on_step_end = None
        if getattr(callback_ctx, "_callbacks", True):
            def on_step_end(iteration):
                task = callback_ctx.subcontext(task_name="epoch")
                task.call_on_fit_task_begin(estimator=self, X=X, y=y)
                return task.call_on_fit_task_end(
                    estimator=self, X=X, y=y, reconstruction_attributes=reconstruction
                )
        comm = problem.comm
        _set_generator(problem.module, generator)
        try:
            return train(
                solver,
                problem.module,
                max_steps=1 if partial else options.max_iter,
                policies=policies,
                validation_score=validation_score,
                on_step_end=on_step_end,
                # Distributed: every rank stops at the same step (a callback or
                # a convergence test on one rank stops all), and Ctrl-C is not
                # absorbed by one rank while the others wait in a collective.
                agree=comm.any if comm.active else None,
                interruptible=not comm.active,
            )
        except NonFiniteLossError as exc:
            raise ValueError(
                f"Training diverged: the {exc}. {DIVERGENCE_HINT} The estimator was "
                "left as it was before this call."
            ) from exc
        finally:
            _set_generator(problem.module, None)

    def _commit(self, module, class_labels, space, history, continuing, validation_score):
        """Write every fitted attribute (only after a successful run)."""
        previous_curve = list(self.loss_curve_) if continuing else []
        previous_iter = self.n_iter_ if continuing else 0
        self.__dict__.pop("reject_label_", None)
        for name, value in self._fitted_attributes(module, class_labels, space).items():
            setattr(self, name, value)
        self.solver_ = self._solver_name
        del self._solver_name
        self._optimizer_state_ = history.optimizer_state
        self.n_iter_ = previous_iter + history.n_iter
        self.loss_curve_ = previous_curve + history.loss_curve
        self.loss_ = self.loss_curve_[-1]
        if validation_score is not None:
            self.validation_scores_ = history.validation_scores
            self.best_validation_score_ = history.best_validation_score

    def _split_validation(self, X, y_index, sample_weight, n_classes, seed, dtype, device, comm):
        """(validation score, training X, class indices, weights) for early stopping.

        Distributed, each rank holds out part of its shard and the score is
        the weighted accuracy over every rank's held-out rows.
        """
        if comm.active:  # a shard need not hold every class
            n_classes = len(np.unique(y_index))
        train_rows, val_rows = validation_split(
            y_index, sample_weight, n_classes, self.validation_fraction, seed,
            every_class_on_both_sides=not comm.active,
        )
        X_val = tensor_rows(X, val_rows, dtype, device)
        y_val = torch.as_tensor(y_index[val_rows], device=device)
        w_val = torch.as_tensor(sample_weight[val_rows], dtype=torch.float64, device=device)
        head = self.head

        def score(module):
            with torch.no_grad():
                predicted = head.log_proba(module(X_val)).argmax(dim=1)
            hits = (predicted == y_val).to(torch.float64)
            totals = comm.sum([torch.stack([(hits * w_val).sum(), w_val.sum()])])[0]
            return float(totals[0] / totals[1])

        X_train = tensor_rows(X, train_rows, dtype, device)
        return score, X_train, y_index[train_rows], sample_weight[train_rows]

    def _validate_training_data(self, X, y, reset):
        """Validate (X, y); torch tensors keep their device, the rest goes numpy."""
        if self.dtype is not None:
            dtype = np.dtype(self.dtype)
        elif not reset:
            dtype = self._numpy_dtype()
        else:
            dtype = None
        if isinstance(X, torch.Tensor):
            X = check_tensor_input(X, None if dtype is None else torch_dtype(dtype))
            _check_n_features(self, X, reset=reset)
            _check_feature_names(self, X, reset=reset)
            y = validate_data(self, X="no_validation", y=host_array(y))
            check_consistent_length(X, y)
            return X, y
        return validate_data(
            self,
            host_array(X),
            host_array(y),
            accept_sparse=_SPARSE_FORMATS,
            dtype=[np.float64, np.float32] if dtype is None else dtype,
            reset=reset,
        )

    def _fitted_attributes(self, module, class_labels, space):
        """The fitted attributes for ``module``, arrays in the output space."""
        attributes = {
            "classes_": class_labels,
            "module_": module,
            # An array in fit's namespace and device, for check_same_namespace.
            "_fit_array_probe_": space.from_numpy(np.zeros(1)),
        }
        for name, value in self._fitted_arrays(module).items():
            if isinstance(value, list):
                attributes[name] = [space.from_numpy(v) for v in value]
            else:
                attributes[name] = space.from_numpy(value)
        if self.reject_threshold is not None:
            attributes["reject_label_"], _ = resolve_reject_label(class_labels, self.reject_label)
        return attributes

    def _class_labels(self, labels, y, partial, continuing):
        """The sorted class labels ``labels``, checked against y and earlier fits."""
        if not continuing and len(labels) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the "
                f"data, but the data contains only one class: {labels[0]!r}."
            )
        unseen = np.setdiff1d(np.unique(y), labels)
        if len(unseen):
            where = (
                "the classes of the first partial_fit call"
                if partial
                else "the classes of the previous fit (warm_start=True)"
            )
            raise ValueError(
                f"y contains labels {unseen.tolist()!r} that are not among {where}: "
                f"{labels.tolist()!r}."
            )
        return labels

    def _sample_weight(self, sample_weight, y_index, class_labels, class_counts=None):
        """Sample weights times class weights (``class_counts``: the counts of every rank).

        The class weights are divided by their largest value: with sample
        weights at most 1, the product cannot overflow.
        """
        if self.class_weight is None:
            per_class = None
        elif self.class_weight == "balanced" and class_counts is not None:
            counts = np.array([class_counts.get(label, 0) for label in class_labels.tolist()])
            if not counts.all():
                raise ValueError(
                    "class_weight='balanced' needs every class among the samples; "
                    f"{class_labels[counts == 0].tolist()!r} has none on any rank."
                )
            per_class = counts.sum() / (len(counts) * counts)
        else:
            per_class = compute_class_weight(
                self.class_weight, classes=class_labels, y=class_labels[y_index]
            )
        if per_class is not None:
            if per_class.max() > 0:
                per_class = per_class / per_class.max()
            sample_weight = sample_weight * per_class[y_index]
        if isinstance(sample_weight, np.ndarray) and not sample_weight.flags.writeable:
            # Read-only weights (pandas 3 gives them) would make torch warn; copy once.
            sample_weight = sample_weight.copy()
        return sample_weight

    def _seed(self):
        """An integer seed drawn from random_state, fixed for this fit call.

        random_state=None draws fresh entropy without touching numpy's or
        torch's global generators.
        """
        rs = self.random_state
        if isinstance(rs, numbers.Integral):
            return int(rs)
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(np.iinfo(np.int32).max))
        return int(np.random.SeedSequence().generate_state(1)[0])

    def _training_options(self, n_samples, dtype):
        solver = self.solver
        if solver in FULL_BATCH_SOLVERS:
            batch_size = n_samples
        elif self.batch_size == "auto":
            batch_size = min(200, n_samples)
        else:
            batch_size = self.batch_size
            if batch_size > n_samples:
                warnings.warn(
                    f"batch_size={batch_size} is larger than the number of training "
                    f"samples ({n_samples}); using {n_samples}.",
                    UserWarning,
                    stacklevel=6,
                )
                batch_size = n_samples
        learning_rate = self.learning_rate_init
        if learning_rate is None:
            learning_rate = DEFAULT_LEARNING_RATE.get(solver, 1.0)
        if learning_rate > torch.finfo(dtype).max:
            raise ValueError(
                f"learning_rate_init={learning_rate:g} overflows the model's dtype "
                f"({str(dtype).replace('torch.', '')}); lower learning_rate_init."
            )
        return TrainingOptions(
            solver=solver,
            learning_rate=learning_rate,
            momentum=self.momentum,
            nesterov=self.nesterovs_momentum,
            batch_size=batch_size,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            shuffle=self.shuffle,
            verbose=self.verbose,
        )

    # -------------------------------------------------------------- predict

    def _numpy_dtype(self):
        return np.float32 if self.module_dtype_ == torch.float32 else np.float64

    @property
    def module_dtype_(self):
        """The torch dtype the fitted module computes in."""
        return next(self.module_.parameters()).dtype

    def _prediction_device(self):
        """The requested device if usable, else where the module already is.

        A model fitted on CUDA and loaded on a machine without it predicts
        on the CPU; ``set_params(device=...)`` moves it.
        """
        try:
            device = resolve_device(self.device)
        except ValueError:
            device = next(self.module_.parameters()).device
        if next(self.module_.parameters()).device != device:
            self.module_ = self.module_.to(device)
        return device

    def _per_chunk(self, X, method, transform):
        """Validate X and return ``transform(logits)`` computed chunk by chunk.

        Each row chunk is cast and moved to the model's device on its own and
        its result written into one preallocated output where the input lives
        (the host for numpy), so memory beyond the input and the output is
        bounded by the chunk size.
        """
        check_is_fitted(self)
        # Under array API dispatch, inputs must match fit's namespace and device.
        check_same_namespace(X, self, attribute="_fit_array_probe_", method=method)
        if isinstance(X, torch.Tensor):
            X = check_tensor_input(X)
            _check_n_features(self, X, reset=False)
            _check_feature_names(self, X, reset=False)
        else:
            X = validate_data(
                self,
                host_array(X),
                accept_sparse=_SPARSE_FORMATS,
                dtype=[np.float64, np.float32],
                reset=False,
            )
        device = self._prediction_device()
        dtype = self.module_dtype_
        home = X.device if isinstance(X, torch.Tensor) else torch.device("cpu")
        rows = min(X.shape[0], PREDICT_CHUNK_ROWS)
        self.module_.eval()
        out = None
        with torch.no_grad(), thread_budget(rows * _largest_weight(self.module_, X.shape[1])):
            start = 0
            for chunk in iter_row_chunks(X):
                result = transform(self.module_(to_tensor(chunk, dtype, device))).to(home)
                if out is None:
                    out = result.new_empty((X.shape[0], *result.shape[1:]))
                out[start : start + result.shape[0]] = result
                start += result.shape[0]
        return out

    def _log_proba(self, X, method):
        # Probabilities are formed in float64 whatever the model's dtype, so
        # exp(log_proba) and log(proba) agree to float64 precision.
        return self._per_chunk(X, method, lambda z: self.head.log_proba(z.to(torch.float64)))

    def decision_function(self, X):
        """Scores whose sign (binary) or argmax (multi-class) gives the class.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            Binary problems: the log-odds of ``classes_[1]``. A tensor on the
            input's device under ``array_api_dispatch=True`` with tensor input.
        """
        scores = self._per_chunk(X, "decision_function", self.head.decision)
        return OutputSpace.of(X).from_tensor(scores)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed stably from the logits.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
        """
        return OutputSpace.of(X).from_tensor(self._log_proba(X, "predict_log_proba"))

    def predict_proba(self, X):
        """Class probabilities; rows sum to one, columns follow ``classes_``.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            float64. A tensor on the input's device under
            ``array_api_dispatch=True`` with tensor input.
        """
        proba = self._per_chunk(
            X, "predict_proba", lambda z: self.head.log_proba(z.to(torch.float64)).exp()
        )
        return OutputSpace.of(X).from_tensor(proba)

    def predict(self, X):
        """Most probable class, or ``reject_label_`` where the model abstains.

        With ``reject_threshold=t`` a sample is rejected when
        :math:`\\max_k P(k \\mid x) < t`.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        log_proba = self._log_proba(X, "predict")
        labels = self.classes_[to_numpy(log_proba.argmax(dim=1))]
        if self.reject_threshold is not None:
            mask = reject_mask_from_log_proba(log_proba, self.reject_threshold)
            # Resolved here too, so a threshold set after fit works as well.
            reject_label, dtype = resolve_reject_label(self.classes_, self.reject_label)
            labels = labels.astype(dtype, copy=False)
            labels[mask] = reject_label
        return OutputSpace.of(X).from_numpy(labels)

    def score(self, X, y, sample_weight=None):
        """Accuracy of :meth:`predict`; rejections count as errors.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return float(
            accuracy_score(
                host_array(y), host_array(self.predict(X)), sample_weight=host_array(sample_weight)
            )
        )

    def reject_mask(self, X):
        """Which samples :meth:`predict` rejects.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)

        Returns
        -------
        mask : ndarray of bool, shape (n_samples,)
            True where :math:`\\max_k P(k \\mid x) <` ``reject_threshold``
            (all False when the threshold is None).
        """
        log_proba = self._log_proba(X, "reject_mask")
        if self.reject_threshold is None:
            mask = np.zeros(log_proba.shape[0], dtype=bool)
        else:
            mask = reject_mask_from_log_proba(log_proba, self.reject_threshold)
        return OutputSpace.of(X).from_numpy(mask)

    # -------------------------------------------------------- persistence

    def __getstate__(self):
        return _persistence.get_state(self, super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(_persistence.set_state(self, state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        tags.classifier_tags.multi_class = True
        return tags


@contextlib.contextmanager
def _environment_kept():
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


def _penalized_weights(module):
    """The module's ``penalized_weights()``, else its parameters of 2 or more dimensions."""
    if hasattr(module, "penalized_weights"):
        return module.penalized_weights()
    return [p for p in module.parameters() if p.ndim >= 2 and p.requires_grad]


def _set_generator(module, generator):
    """Give a module's stochastic layers the fit's generator, if it takes one."""
    if hasattr(module, "set_generator"):
        module.set_generator(generator)


def _largest_operation(module, problem, options):
    """Multiply-adds of the largest product in one step (for the thread policy)."""
    rows = options.batch_size if options.solver not in FULL_BATCH_SOLVERS else problem.n_samples
    return rows * _largest_weight(module, problem.X.shape[1])


def _largest_weight(module, n_features):
    """Entries of the module's largest weight matrix: multiply-adds per row of its largest product."""
    return max([p.numel() for p in module.parameters() if p.ndim >= 2] or [n_features])
