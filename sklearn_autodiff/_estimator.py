"""The task-agnostic engine: a scikit-learn estimator around a torch module and a head.

:class:`AutodiffEstimator` holds what every task shares: the parameters, the
fit skeleton (validate → tensors → solver → commit, with rollback on
failure), chunked prediction and persistence. The task layers on top
(:class:`~sklearn_autodiff.AutodiffClassifier`,
:class:`~sklearn_autodiff.AutodiffRegressor`) say what the targets are:

``_validate_targets(y)``
    y checked for the task (labels, or finite numbers in the loss's domain).
``_encode_targets(X, y, sample_weight, call)``
    The :class:`~._fit_call.TrainingData`: encoded values, final weights,
    the number of targets and the fitted attributes they define.
``_validation_score(output, target, weight, comm)``
    The default early-stopping score (accuracy, R²).
``_check_fit_call(call)``
    Refuse a call that cannot be made (optional).

Everything else (solvers, the loop and its policies, threads, distributed
agreement, callbacks, degenerate-fit diagnostics) is shared.
"""

import copy
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, _fit_context
from sklearn.callback import CallbackSupportMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._array_api import check_same_namespace
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from . import _persistence
from ._contract import check_first_forward, check_module
from ._data import (
    PREDICT_CHUNK_ROWS,
    OutputSpace,
    check_tensor_input,
    host_array,
    iter_row_chunks,
    resolve_device,
    tensor_rows,
    to_tensor,
    torch_dtype,
)
from ._degenerate import DIVERGENCE_HINT, degenerate_fit_message, objective
from ._distributed import communicator
from ._fit_call import FitCall
from ._options import training_options, training_policies
from ._signature import merged_signature
from ._solvers import SOLVERS, NonFiniteLossError, Problem, choose_solver
from ._threads import thread_budget
from ._torch_state import environment_kept, training_mode, usable_tensor
from ._training import train
from ._validation import early_stopping_split
from .losses import l2_penalty

SPARSE_FORMATS = ("csr", "csc")


class _NothingTrained(Exception):
    """Ctrl-C ended the call before its first step: the estimator is restored."""


class AutodiffEstimator(CallbackSupportMixin, BaseEstimator):
    """Base of the task layers: parameters, the fit skeleton, prediction, persistence.

    Not used directly: subclass :class:`~sklearn_autodiff.AutodiffClassifier`
    or :class:`~sklearn_autodiff.AutodiffRegressor`. The parameters are
    documented there.
    """

    #: The loss, link, target encoding and constant model (:mod:`sklearn_autodiff.heads`).
    head = None
    #: Extra keyword arguments of ``validate_data`` for y (the task's).
    _y_validation = {}

    _parameter_constraints = {
        "alpha": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
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
        "scoring": [StrOptions({"loss"}), str, callable, None],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "dtype": [StrOptions({"float32", "float64"}), None],
        "distributed": ["boolean"],
        "verbose": ["verbose"],
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
        scoring=None,
        shuffle=True,
        random_state=None,
        warm_start=False,
        device="cpu",
        dtype=None,
        distributed=False,
        verbose=0,
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
        self.scoring = scoring
        self.shuffle = shuffle
        self.random_state = random_state
        self.warm_start = warm_start
        self.device = device
        self.dtype = dtype
        self.distributed = distributed
        self.verbose = verbose

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            signature = merged_signature(cls)
            if signature is not None:
                cls.__init__.__signature__ = signature

    # ---------------------------------------------------- the extension API

    def build_module(self, n_features, n_targets):
        """Return the untrained :class:`torch.nn.Module` (on the CPU).

        Called at the start of a fit (not a warm one) under a torch random
        state seeded from ``random_state`` and float32 as torch's default
        dtype (both restored after).

        Parameters
        ----------
        n_features : int
        n_targets : int
            Classes (classifiers) or target columns (regressors).

        Returns
        -------
        module : torch.nn.Module
            Maps a (n, n_features) tensor to raw outputs of shape
            (n, ``head.n_outputs(n_targets)``).
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement build_module(n_features, n_targets)."
        )

    def loss(self, output, target, sample_weight=None):
        """Weighted mean loss of the raw output; the head's by default.

        Parameters
        ----------
        output : torch.Tensor of shape (n, n_outputs)
        target : torch.Tensor
            ``head.encode_target`` of the targets.
        sample_weight : torch.Tensor of shape (n,) or None
            None when all weights are equal.

        Returns
        -------
        loss : torch.Tensor
            Scalar, with a gradient, without the L2 penalty (the base adds it).
        """
        return self.head.loss(output, target, sample_weight)

    def fitted_attributes(self, module):
        """Named numpy arrays (or lists of them) to publish after a fit, such as ``coef_``.

        Override to expose what your module learned; they are converted to
        the input's array namespace and set on the estimator with the other
        fitted attributes (and restored by pickle and skops).

        Parameters
        ----------
        module : torch.nn.Module
            The trained module (a copy; do not keep it).

        Returns
        -------
        arrays : dict of str to ndarray or list of ndarray
        """
        return {}

    # ------------------------------------------------------ the fit skeleton

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data.

        Parameters
        ----------
        X : {array-like, sparse matrix, torch.Tensor} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classifiers) or targets (regressors; one or several
            columns).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the loss is the weighted mean over samples.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._guarded_fit(X, y, sample_weight, partial=False)

    def _guarded_fit(self, X, y, sample_weight, partial, classes=None):
        """Fit, restoring every attribute when the call fails: nothing fitted is lost."""
        snapshot = dict(self.__dict__)
        try:
            with training_mode():
                return self._fit(X, y, sample_weight, partial, classes)
        except _NothingTrained:
            # Ctrl-C before the first step ended: exactly as before the call.
            self._restore(snapshot)
            warnings.warn(
                "Training interrupted before the first iteration ended; nothing was "
                "trained and the estimator was left as it was before this call.",
                UserWarning,
                stacklevel=4,  # the user's call, past fit and sklearn's wrapper
            )
            return self
        except BaseException:
            self._restore(snapshot)
            raise

    def _restore(self, snapshot):
        """Put back the attributes of ``snapshot``, keeping scikit-learn's callback bookkeeping.

        scikit-learn tears its callbacks down after fit from the attributes it set.
        """
        callback_state = {
            k: v for k, v in self.__dict__.items() if k.startswith(("_callback", "_skl_"))
        }
        self.__dict__.clear()
        self.__dict__.update(snapshot)
        self.__dict__.update(callback_state)

    def _fit(self, X, y, sample_weight, partial, classes):
        call = self._start_call(X, partial, classes)
        data = self._prepare_data(X, y, sample_weight, call)
        callback_ctx = self._init_callback_context(max_subtasks=1 if partial else self.max_iter)
        callback_ctx.call_on_fit_task_begin(estimator=self, X=data.X, y=data.y)
        module = self._initial_module(data, call)
        score, train_data = None, data
        if self.early_stopping and not partial:
            score, train_data = call.comm.agree(lambda: early_stopping_split(self, data, call))
        problem = self._problem(module, train_data, call)
        history = self._train(problem, call, score, callback_ctx, data)
        if history.interrupted and history.n_iter == 0:
            raise _NothingTrained
        self._check_last_step(problem, history)
        # The same bits everywhere, whatever each rank's BLAS did.
        call.comm.broadcast_module(module)
        self._commit(module, data, call, history, score is not None)
        self._warn_if_degenerate(problem, history, call.partial)
        callback_ctx.call_on_fit_task_end(
            estimator=self, X=data.X, y=data.y, reconstruction_attributes={}
        )
        if not (partial or history.converged or history.interrupted):
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} without converging. "
                "Increase max_iter, loosen tol, or (gradient solvers) tune "
                "learning_rate_init; unscaled features also slow convergence.",
                ConvergenceWarning,
                stacklevel=5,  # the user's call, past fit, _guarded_fit and sklearn's wrapper
            )
        return self

    def _start_call(self, X, partial, classes):
        """The :class:`FitCall`: what kind of call, where, with which seed (agreed by all ranks)."""
        continuing = hasattr(self, "module_") and (partial or self.warm_start)
        call = FitCall(partial=partial, continuing=continuing, classes=classes)
        call.comm = communicator(self.distributed)

        def read_call():
            self._check_fit_call(call)
            return resolve_device(self.device), self._seed(), OutputSpace.of(X)

        call.device, call.seed, call.space = call.comm.agree(read_call)
        return call

    def _check_fit_call(self, call):
        """Refuse a call the task cannot make (nothing by default)."""

    def _prepare_data(self, X, y, sample_weight, call):
        """Validated X and y and the encoded targets (:class:`TrainingData`)."""

        def read_shard():
            X_, y_ = self._validate_training_data(X, y, reset=not call.continuing)
            weight = _check_sample_weight(
                host_array(sample_weight), X_, dtype=np.float64, ensure_non_negative=True
            )
            return X_, self._validate_targets(y_), weight

        X, y, weight = call.comm.agree(read_shard)
        # Divided by the largest weight of all ranks first (a weighted mean does
        # not change): class weights multiplied into weights of 1e-320 would
        # lose their ratios to subnormal rounding, into weights of 1e300 overflow.
        scale = call.comm.max(weight.max() if len(weight) else 0.0)
        if scale > 0:
            weight = weight / scale
        data = self._encode_targets(X, y, weight, call)
        data.weight_total *= scale if scale > 0 else 1.0
        call.dtype = torch_dtype(str(data.X.dtype).replace("torch.", ""))
        # Set before training, restored with everything else if the call fails.
        self.alpha_ = self._resolved_alpha(data, call)
        return data

    def _resolved_alpha(self, data, call):
        """``alpha``, or for ``"auto"`` one over the total sample weight of all ranks.

        ``alpha = 1 / sum(s)`` makes the objective scikit-learn's
        ``C * sum(s_i l_i) + ||w||^2 / 2`` with ``C = 1``, divided by ``sum(s)``.
        """
        if self.alpha != "auto":
            return float(self.alpha)
        total = call.comm.sum([torch.tensor([data.weight_total], dtype=torch.float64)])[0]
        return 1.0 / float(total[0])

    def _validate_training_data(self, X, y, reset):
        """Validate (X, y); torch tensors keep their device, the rest goes numpy."""
        if self.dtype is not None:
            dtype = np.dtype(self.dtype)
        elif not reset:
            dtype = np.float32 if self.module_dtype_ == torch.float32 else np.float64
        else:
            dtype = None
        if isinstance(X, torch.Tensor):
            X = usable_tensor(check_tensor_input(X, None if dtype is None else torch_dtype(dtype)))
            _check_n_features(self, X, reset=reset)
            _check_feature_names(self, X, reset=reset)
            y = validate_data(self, X="no_validation", y=host_array(y), **self._y_validation)
            check_consistent_length(X, y)
            return X, y
        return validate_data(
            self,
            host_array(X),
            host_array(y),
            accept_sparse=SPARSE_FORMATS,
            dtype=[np.float64, np.float32] if dtype is None else dtype,
            reset=reset,
            **self._y_validation,
        )

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

    def _initial_module(self, data, call):
        """A copy of the fitted module (warm start) or a new seeded one, on the fit's device."""
        if call.continuing:
            module = copy.deepcopy(self.module_)
        else:
            module = check_module(
                _persistence.build_seeded(self, data.X.shape[1], data.n_targets, call.seed), self
            )
        module = module.to(device=call.device, dtype=call.dtype)
        call.comm.broadcast_module(module)  # every rank starts from rank 0's parameters
        return module

    def _problem(self, module, data, call):
        """The :class:`Problem` the solver minimises, its first forward checked."""
        values = data.values
        if isinstance(values, np.ndarray) and not values.flags.writeable:
            values = values.copy()  # read-only y (a memmap): torch would warn on aliasing it
        values = torch.as_tensor(values, device=call.device)
        problem = Problem(
            module=module,
            loss=self._objective_loss(),
            penalty=self._penalty,
            X=tensor_rows(data.X, None, call.dtype, call.device),
            target=self.head.encode_target(values, data.n_targets, call.dtype),
            sample_weight=torch.as_tensor(data.sample_weight, dtype=call.dtype, device=call.device),
            comm=call.comm,
            l2=_fused_l2(module, self.alpha_),
        )
        check_first_forward(self, problem, data.n_targets, custom=self._custom_loss())
        return problem

    def _custom_loss(self):
        """Whether :meth:`loss` is overridden (then nothing is assumed of it).

        By the class, or by a function set on the instance; a ``loss``
        *parameter* (a string, as the shipped regressors have) names a head.
        """
        return type(self).loss is not AutodiffEstimator.loss or callable(self.__dict__.get("loss"))

    def _objective_loss(self):
        """The loss the solvers minimise: the overridden method, else the head's."""
        return self.loss if self._custom_loss() else self.head.loss

    def _penalty(self, module):
        """:math:`\\frac{\\alpha}{2} \\sum \\lVert W \\rVert^2` with the fit's alpha (``alpha_``)."""
        alpha = self.__dict__.get("alpha_", self.alpha)
        if alpha == "auto":
            raise ValueError('alpha="auto" is resolved at fit: fit the estimator first.')
        if not alpha:
            return 0.0
        return l2_penalty(_penalized_weights(module), alpha)

    def _train(self, problem, call, score, callback_ctx, data):
        """Run the chosen solver under the thread policy; the training history."""
        options = training_options(self, problem.n_samples, call.dtype)
        # Each rank shuffles and drops out with its own stream.
        generator = torch.Generator(device=call.device).manual_seed(call.seed + 1 + call.comm.rank)
        solver = choose_solver(
            options, problem, self.head, self._custom_loss(), self.alpha_, generator
        )
        self._solver_name = solver.name
        self._last_loss_seen = solver.loss_after_step
        if call.partial and hasattr(self, "_optimizer_state_"):
            solver.load_state_dict(self._optimizer_state_)
        # Distributed: one thread count for all ranks (the same rounding everywhere).
        work = call.comm.max(_largest_operation(problem, options))
        module = problem.module
        _set_generator(module, generator)
        try:
            with thread_budget(work), environment_kept():
                return train(
                    solver,
                    module,
                    max_steps=1 if call.partial else options.max_iter,
                    policies=training_policies(options, call.partial),
                    validation_score=score,
                    on_step_end=self._step_callbacks(callback_ctx, module, data, call),
                    # Distributed: every rank stops at the same step, and Ctrl-C is
                    # not absorbed by one rank while the others wait in a collective.
                    agree=call.comm.any if call.comm.active else None,
                )
        except NonFiniteLossError as exc:
            raise ValueError(
                f"Training diverged: the {exc}. {DIVERGENCE_HINT} The estimator was "
                "left as it was before this call."
            ) from exc
        finally:
            _set_generator(module, None)

    def _check_last_step(self, problem, history):
        """Refuse parameters whose loss the last update made infinite or NaN.

        First-order steps report the loss seen before their last update, so
        the loop's finiteness test cannot see that update overflow: the
        objective is evaluated once more at the parameters kept (one forward
        pass over X). The other solvers report the loss where they end.
        """
        if self._last_loss_seen or not history.n_iter:
            return
        with thread_budget(_full_pass_work(problem)):
            final = objective(problem)
        if not np.isfinite(final):
            raise ValueError(
                f"Training diverged: the loss became {final} after the last iteration "
                f"({history.n_iter}). "
                f"{DIVERGENCE_HINT} The estimator was left as it was before this call."
            )

    def _step_callbacks(self, callback_ctx, module, data, call):
        """The loop's per-step hook for the user's callbacks, or None without any."""
        if not getattr(self, "_skl_callbacks", None):
            return None

        def reconstruction():
            return self._fitted_attributes(copy.deepcopy(module).eval(), data, call.space)

        def on_step_end(iteration):
            task = callback_ctx.subcontext(task_name="epoch")
            task.call_on_fit_task_begin(estimator=self, X=data.X, y=data.y)
            return task.call_on_fit_task_end(
                estimator=self, X=data.X, y=data.y, reconstruction_attributes=reconstruction
            )

        return on_step_end

    def _commit(self, module, data, call, history, validated):
        """Write every fitted attribute (only after a successful run)."""
        previous_curve = list(self.loss_curve_) if call.continuing else []
        previous_iter = self.n_iter_ if call.continuing else 0
        for name, value in self._fitted_attributes(module, data, call.space).items():
            setattr(self, name, value)
        self.solver_ = self._solver_name
        del self._solver_name, self._last_loss_seen
        self._optimizer_state_ = history.optimizer_state
        self.n_iter_ = previous_iter + history.n_iter
        self.loss_curve_ = previous_curve + history.loss_curve
        self.loss_ = self.loss_curve_[-1]
        if validated:
            self.validation_scores_ = history.validation_scores
            self.best_validation_score_ = history.best_validation_score

    def _fitted_attributes(self, module, data, space):
        """The fitted attributes for ``module``: the targets', the module's and the user's."""
        attributes = {
            **data.attributes,
            "module_": module,
            # An array in fit's namespace and device, for check_same_namespace.
            "_fit_array_probe_": space.from_numpy(np.zeros(1)),
        }
        for name, value in self.fitted_attributes(module).items():
            if isinstance(value, list):
                attributes[name] = [space.from_numpy(v) for v in value]
            else:
                attributes[name] = space.from_numpy(value)
        return attributes

    def _warn_if_degenerate(self, problem, history, partial):
        """Warn when the fit ends worse than, or no better than, a constant model.

        Not after ``partial_fit``: one incremental step often ends worse than
        the constant model, as a first epoch does (scikit-learn's
        ``partial_fit`` does not warn either); a diverging step is refused
        by :meth:`_check_last_step` all the same.
        """
        if partial:
            return
        # Its passes over X are small operations: under the fit's thread policy.
        with thread_budget(_full_pass_work(problem)):
            message = degenerate_fit_message(self, problem, history)
        if message is not None:
            warnings.warn(f"{message} {DIVERGENCE_HINT}", ConvergenceWarning, stacklevel=6)

    # -------------------------------------------------------------- predict

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

    def _validate_prediction_input(self, X, method):
        check_is_fitted(self)
        # Under array API dispatch, inputs must match fit's namespace and device.
        check_same_namespace(X, self, attribute="_fit_array_probe_", method=method)
        if isinstance(X, torch.Tensor):
            X = check_tensor_input(X)
            _check_n_features(self, X, reset=False)
            _check_feature_names(self, X, reset=False)
            return X
        return validate_data(
            self, host_array(X), accept_sparse=SPARSE_FORMATS,
            dtype=[np.float64, np.float32], reset=False,
        )

    def _output_chunks(self, X, method):
        """Validate X; ``(n_samples, chunks)``, chunks yielding ``(rows, raw output)``.

        Each row chunk is cast and moved to the model's device on its own and
        run without gradients, so memory beyond the input and what the caller
        keeps is bounded by the chunk size.
        """
        X = self._validate_prediction_input(X, method)
        device = self._prediction_device()
        dtype = self.module_dtype_
        module = self.module_.eval()
        work = min(X.shape[0], PREDICT_CHUNK_ROWS) * _largest_weight(module, X.shape[1])

        def chunks():
            with torch.no_grad(), thread_budget(work):
                start = 0
                for chunk in iter_row_chunks(X):
                    output = module(to_tensor(chunk, dtype, device))
                    yield slice(start, start + output.shape[0]), output
                    start += output.shape[0]

        return X.shape[0], chunks()

    def _per_chunk(self, X, method, transform):
        """``transform(raw output)`` of every row, one preallocated tensor where the input lives."""
        home = X.device if isinstance(X, torch.Tensor) else torch.device("cpu")
        n, chunks = self._output_chunks(X, method)
        out = None
        for rows, output in chunks:
            result = transform(output).to(home)
            if out is None:
                out = result.new_empty((n, *result.shape[1:]))
            out[rows] = result
        return out

    # -------------------------------------------------------- persistence

    def __getstate__(self):
        return _persistence.get_state(self, super().__getstate__())

    def __setstate__(self, state):
        super().__setstate__(_persistence.set_state(self, state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags


def _penalized_weights(module):
    """The module's ``penalized_weights()``, else its parameters of 2 or more dimensions."""
    if hasattr(module, "penalized_weights"):
        return module.penalized_weights()
    return [p for p in module.parameters() if p.ndim >= 2 and p.requires_grad]


def _fused_l2(module, alpha):
    """``(alpha, weights)`` when the penalty is the plain L2 of leaf parameters, else None.

    Then the solvers add its gradient in one fused operation; a penalty on
    derived tensors (the tanh model's :math:`2\\beta w`) goes through autograd.
    """
    if not alpha:
        return None
    weights = _penalized_weights(module)
    leaves = {id(p) for p in module.parameters() if p.requires_grad}
    if not weights or not all(id(w) in leaves for w in weights):
        return None
    return float(alpha), list(weights)


def _set_generator(module, generator):
    """Give a module's stochastic layers the fit's generator, if it takes one."""
    if hasattr(module, "set_generator"):
        module.set_generator(generator)


def _full_pass_work(problem):
    """Multiply-adds of the largest product of one forward pass over all the rows."""
    return problem.n_samples * _largest_weight(problem.module, problem.X.shape[1])


def _largest_operation(problem, options):
    """Multiply-adds of the largest product in one step (for the thread policy)."""
    return options.batch_size * _largest_weight(problem.module, problem.X.shape[1])


def _largest_weight(module, n_features):
    """Entries of the module's largest weight matrix (multiply-adds per row of its largest product)."""
    return max([p.numel() for p in module.parameters() if p.ndim >= 2] or [n_features])
