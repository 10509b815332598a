"""The scikit-learn side shared by every estimator.

Validation, label encoding, device and dtype, the ``fit`` pipeline, the
predict methods, the reject option, pickling and estimator tags live here.
A concrete estimator only supplies its math through the hooks at the bottom
of :class:`AutodiffClassifier` (module, targets, objective, probabilities).
"""

import copy
import numbers
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.callback import CallbackSupportMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import compute_class_weight
from sklearn.utils._array_api import check_same_namespace
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.metrics import accuracy_score
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    _check_sample_weight,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._data import (
    OutputSpace,
    check_tensor_input,
    host_array,
    iter_row_chunks,
    resolve_device,
    to_numpy,
    to_tensor,
    torch_dtype,
)
from ._training import (
    DEFAULT_LEARNING_RATE,
    FULL_BATCH_SOLVERS,
    SOLVERS,
    NonFiniteLossError,
    StopTraining,
    TrainingData,
    TrainingOptions,
    train,
)

_SPARSE_FORMATS = ("csr", "csc")

DIVERGENCE_HINT = (
    "Scale the inputs (for example with sklearn.preprocessing.StandardScaler) "
    "or lower learning_rate_init."
)


class AutodiffClassifier(CallbackSupportMixin, ClassifierMixin, BaseEstimator):
    """Base class of the autograd-trained classifiers (not for direct use).

    See the concrete classes for the parameters; all of them are described
    in :class:`~sklearn_autodiff.BCELogisticClassifier`.
    """

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
        "verbose": ["verbose"],
        "reject_threshold": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "reject_label": "no_validation",
    }

    def __init__(
        self,
        *,
        alpha,
        solver,
        learning_rate_init,
        momentum,
        nesterovs_momentum,
        batch_size,
        max_iter,
        tol,
        n_iter_no_change,
        early_stopping,
        validation_fraction,
        class_weight,
        shuffle,
        random_state,
        warm_start,
        device,
        dtype,
        verbose,
        reject_threshold,
        reject_label,
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
        self.verbose = verbose
        self.reject_threshold = reject_threshold
        self.reject_label = reject_label

    # ------------------------------------------------------------------ fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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
        fitted = hasattr(self, "module_")
        continuing = fitted and (partial or self.warm_start)
        if partial and not fitted and classes is None:
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
        device = resolve_device(self.device)
        seed = self._seed()
        space = OutputSpace.of(X)
        X, y = self._validate_training_data(X, y, reset=not continuing)
        check_classification_targets(y)
        class_labels = self._class_labels(y, classes, partial, continuing)
        if self.reject_threshold is not None:
            resolve_reject_label(class_labels, self.reject_label)  # fail before training
        y_index = np.searchsorted(class_labels, y)
        sample_weight = self._sample_weight(host_array(sample_weight), X, y_index, class_labels)
        dtype = torch_dtype(str(X.dtype).replace("torch.", ""))

        callback_ctx = self._init_callback_context(max_subtasks=1 if partial else self.max_iter)
        callback_ctx.call_on_fit_task_begin(estimator=self, X=X, y=y)

        if continuing:
            module = copy.deepcopy(self.module_).to(device=device, dtype=dtype)
        else:
            init_generator = torch.Generator().manual_seed(seed)
            module = self._build_module(X.shape[1], len(class_labels), init_generator)
            module = module.to(device=device, dtype=dtype)
        generator = torch.Generator(device=device).manual_seed(seed + 1)

        validation_score = None
        X_train, y_train, w_train = X, y_index, sample_weight
        if self.early_stopping and not partial:
            train_rows, val_rows = self._validation_split(y_index, len(class_labels), seed)
            validation_score = self._accuracy_scorer(
                _tensor_rows(X, val_rows, dtype, device),
                torch.as_tensor(y_index[val_rows], device=device),
                torch.as_tensor(sample_weight[val_rows], dtype=torch.float64, device=device),
            )
            X_train = _tensor_rows(X, train_rows, dtype, device)
            y_train, w_train = y_index[train_rows], sample_weight[train_rows]

        data = TrainingData(
            X=_tensor_rows(X_train, None, dtype, device),
            target=self._encode_target(
                torch.as_tensor(y_train, device=device), len(class_labels), dtype
            ),
            sample_weight=torch.as_tensor(w_train, dtype=dtype, device=device),
        )

        def on_epoch_end(epoch, loss, score):
            task = callback_ctx.subcontext(task_name="epoch")
            task.call_on_fit_task_begin(estimator=self, X=X, y=y)
            stop = task.call_on_fit_task_end(
                estimator=self,
                X=X,
                y=y,
                reconstruction_attributes=lambda: self._fitted_attributes(
                    copy.deepcopy(module).eval(), class_labels, space
                ),
            )
            if stop:
                raise StopTraining

        self._set_dropout_generator(module, generator)
        try:
            history = train(
                module,
                self._objective,
                data,
                self._training_options(data.n_samples, dtype),
                generator,
                validation_score=validation_score,
                optimizer_state=self._optimizer_state_ if partial and fitted else None,
                epochs=1 if partial else None,
                on_epoch_end=on_epoch_end,
            )
        except NonFiniteLossError as exc:
            raise ValueError(
                f"Training diverged: the {exc}. {DIVERGENCE_HINT} The estimator was "
                "left as it was before this call."
            ) from exc
        finally:
            self._set_dropout_generator(module, None)

        # Commit: every fitted attribute is written only after success.
        previous_curve = list(self.loss_curve_) if continuing else []
        self.__dict__.pop("reject_label_", None)
        for name, value in self._fitted_attributes(module, class_labels, space).items():
            setattr(self, name, value)
        self._optimizer_state_ = history.optimizer_state
        self.n_iter_ = (self.n_iter_ if continuing else 0) + history.n_iter
        self.loss_curve_ = previous_curve + history.loss_curve
        self.loss_ = self.loss_curve_[-1]
        if validation_score is not None:
            self.validation_scores_ = history.validation_scores
            self.best_validation_score_ = history.best_validation_score
        callback_ctx.call_on_fit_task_end(estimator=self, X=X, y=y, reconstruction_attributes={})
        if not (partial or history.converged or history.interrupted):
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} without "
                "converging; increase max_iter or tol, or scale the inputs.",
                ConvergenceWarning,
            )
        return self

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

    def _validation_split(self, y_index, n_classes, seed):
        """Stratified (train_rows, val_rows) for early stopping."""
        # At least one held-out sample per class, so stratification works.
        n = len(y_index)
        n_val = max(int(np.ceil(self.validation_fraction * n)), n_classes)
        if n - n_val < n_classes:
            raise ValueError(
                f"early_stopping needs more samples: {n} cannot be split into a "
                f"training and a validation set that both hold all {n_classes} "
                "classes. Use early_stopping=False."
            )
        return train_test_split(
            np.arange(n), test_size=n_val, stratify=y_index, random_state=seed % (2**32)
        )

    def _fitted_attributes(self, module, class_labels, space):
        """The fitted attributes for ``module``, arrays in the output space."""
        attributes = {"classes_": class_labels, "module_": module}
        for name, value in self._fitted_arrays(module).items():
            if isinstance(value, list):
                attributes[name] = [space.from_numpy(v) for v in value]
            else:
                attributes[name] = space.from_numpy(value)
        if self.reject_threshold is not None:
            attributes["reject_label_"], _ = resolve_reject_label(class_labels, self.reject_label)
        return attributes

    def _class_labels(self, y, classes, partial, continuing):
        """The sorted class labels, checked against y and earlier fits."""
        if continuing:
            labels = self.classes_
        elif partial:
            labels = np.unique(np.asarray(classes))
        else:
            labels = np.unique(y)
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

    def _sample_weight(self, sample_weight, X, y_index, class_labels):
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if self.class_weight is not None:
            per_class = compute_class_weight(
                self.class_weight, classes=class_labels, y=class_labels[y_index]
            )
            sample_weight = sample_weight * per_class[y_index]
        if not sample_weight.sum() > 0:
            raise ValueError(
                "The sample weights (times the class weights) sum to zero; at least "
                "one sample needs a positive weight."
            )
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
        if solver in FULL_BATCH_SOLVERS or self.batch_size == "auto":
            batch_size = min(200, n_samples) if solver not in FULL_BATCH_SOLVERS else n_samples
        else:
            batch_size = self.batch_size
            if batch_size > n_samples:
                warnings.warn(
                    f"batch_size={batch_size} is larger than the number of training "
                    f"samples ({n_samples}); using {n_samples}.",
                    UserWarning,
                )
                batch_size = n_samples
        learning_rate = self.learning_rate_init
        if learning_rate is None:
            learning_rate = DEFAULT_LEARNING_RATE[solver]
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
            # Newton steps finish an L-BFGS run at the optimum; the first-order
            # solvers keep their own path (the lecture's gd is a fixed-step run).
            newton_polish=self._convex and solver == "lbfgs",
        )

    def _accuracy_scorer(self, X_val, y_val, weight_val):
        """Held-out accuracy, weighted by the sample (and class) weights."""

        def score(module):
            with torch.no_grad():
                predicted = self._log_proba_from_logits(module(X_val)).argmax(dim=1)
            hits = (predicted == y_val).to(torch.float64)
            return float((hits * weight_val).sum() / weight_val.sum())

        return score

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

    @property
    def _array_probe(self):
        """A fitted array attribute, whose namespace and device are fit's."""
        return self.intercept_ if hasattr(self, "intercept_") else self.intercepts_[-1]

    def _logits(self, X, method):
        """Validate X and return the module's logits, computed in row chunks.

        Each chunk is cast and moved to the model's device on its own, so
        memory beyond the input and the output stays bounded.
        """
        check_is_fitted(self)
        # Under array API dispatch, inputs must match fit's namespace and device.
        check_same_namespace(X, self, attribute="_array_probe", method=method)
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
        # Results gather where the input lives (the host for numpy), so the
        # model's device only ever holds one chunk.
        home = X.device if isinstance(X, torch.Tensor) else torch.device("cpu")
        self.module_.eval()
        with torch.no_grad():
            chunks = [
                self.module_(to_tensor(chunk, dtype, device)).to(home)
                for chunk in iter_row_chunks(X)
            ]
        return torch.cat(chunks)

    def _log_proba(self, X, method):
        # Probabilities are formed in float64 whatever the model's dtype, so
        # exp(log_proba) and log(proba) agree to float64 precision.
        return self._log_proba_from_logits(self._logits(X, method).to(torch.float64))

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
        return OutputSpace.of(X).from_tensor(self._decision_from_logits(self._logits(X, "decision_function")))

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
        return OutputSpace.of(X).from_tensor(self._log_proba(X, "predict_proba").exp())

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
            mask = self._reject_mask_from_log_proba(log_proba)
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
            mask = self._reject_mask_from_log_proba(log_proba)
        return OutputSpace.of(X).from_numpy(mask)

    def _reject_mask_from_log_proba(self, log_proba):
        confidence = log_proba.max(dim=1).values.exp()
        return to_numpy(confidence < self.reject_threshold)

    # -------------------------------------------------------- persistence

    def __getstate__(self):
        state = super().__getstate__()
        # Pickles hold CPU tensors only, so they load without CUDA.
        if "module_" in state:
            state["module_"] = copy.deepcopy(state["module_"]).cpu()
        for name, value in state.items():
            if name != "module_":
                state[name] = _tensors_to_cpu(value)
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        tags.classifier_tags.multi_class = True
        return tags

    # ------------------------------------------- hooks for the estimators

    #: Whether the objective is convex (enables the final Newton polish).
    _convex = False

    def _build_module(self, n_features, n_classes, generator):
        """Return the untrained torch.nn.Module (on CPU)."""
        raise NotImplementedError

    def _encode_target(self, y_index, n_classes, dtype):
        """Turn class indices (tensor) into the targets the loss expects."""
        raise NotImplementedError

    def _objective(self, module, X, target, sample_weight):
        """Return the training objective (mean loss plus penalty)."""
        raise NotImplementedError

    def _log_proba_from_logits(self, logits):
        """Return log class probabilities, shape (n, n_classes)."""
        raise NotImplementedError

    def _decision_from_logits(self, logits):
        """Return decision_function's values from the module's logits."""
        raise NotImplementedError

    def _fitted_arrays(self, module):
        """Return the numpy fitted attributes (coef_, ...) of the module."""
        raise NotImplementedError

    def _set_dropout_generator(self, module, generator):
        """Give stochastic layers the local generator (none by default)."""


def _tensor_rows(X, rows, dtype, device):
    """Rows ``rows`` (all when None) of numpy, sparse or tensor X, as a tensor."""
    if isinstance(X, torch.Tensor):
        if rows is not None:
            X = X[torch.as_tensor(rows, device=X.device)]
        return X.to(device=device, dtype=dtype)
    return to_tensor(X if rows is None else X[rows], dtype, device)


def _tensors_to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _tensors_to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_tensors_to_cpu(v) for v in obj)
    return obj


def resolve_reject_label(classes, reject_label):
    """Choose and check the label :meth:`predict` uses for rejections.

    Parameters
    ----------
    classes : ndarray
        The fitted ``classes_``.
    reject_label : scalar or None
        The user's choice; None picks ``"reject"`` for string classes and
        -1 for numeric classes (0 if -1 is a class, then one below the
        smallest class).

    Returns
    -------
    label : scalar
        The reject label, as an element of the prediction dtype.
    dtype : numpy dtype
        The dtype of predictions with rejections: the classes' dtype, widened
        for longer strings, never object unless the classes already are.

    Raises
    ------
    ValueError
        If the label collides with a class or does not fit the classes'
        dtype without loss (for example any label with boolean classes).
    """
    kind = classes.dtype.kind
    if kind == "b":
        raise ValueError(
            "The classes are booleans, so no reject label fits beside True and "
            "False. Encode the labels (for example as 0/1 integers or strings) to "
            "use reject_threshold."
        )
    all_strings = kind in "US" or (
        kind == "O" and all(isinstance(c, str) for c in classes)
    )
    if reject_label is None and all_strings:
        reject_label = "reject"
    elif reject_label is None:
        # -1, unless it is a class (the lecture's labels are -1 and +1): then 0,
        # then one below the smallest class.
        taken = set(classes.tolist())
        reject_label = next((c for c in (-1, 0) if c not in taken), None)
        if reject_label is None:
            reject_label = min(taken) - 1
    if kind in "US":
        if not isinstance(reject_label, str):
            raise ValueError(
                f"reject_label={reject_label!r} cannot be used with string classes; "
                "use a string such as 'reject'."
            )
        dtype = np.result_type(classes.dtype, np.asarray(reject_label).dtype)
    elif kind == "O":
        dtype = classes.dtype
    else:
        dtype = classes.dtype
        if isinstance(reject_label, str) or not np.isscalar(reject_label):
            raise ValueError(
                f"reject_label={reject_label!r} cannot be stored with numeric classes "
                f"of dtype {classes.dtype}; use a number that is not a class."
            )
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                cast = np.asarray(reject_label).astype(dtype)
            except (OverflowError, ValueError):
                cast = None
        if cast is None or not np.isfinite(float(reject_label)) or cast != reject_label:
            raise ValueError(
                f"reject_label={reject_label!r} cannot be represented exactly in the "
                f"classes' dtype {classes.dtype}; pass reject_label explicitly."
            )
        reject_label = cast.item()
    if any(reject_label == c for c in classes.tolist()):
        raise ValueError(
            f"reject_label={reject_label!r} is one of the classes {classes.tolist()!r}; "
            "choose a label that is not a class."
        )
    return reject_label, np.dtype(dtype)


#: Numpydoc text of the parameters every estimator shares.
COMMON_PARAMETERS_DOC = """\
    alpha : float, default=1e-4
        L2 strength: the objective is the weighted mean loss plus
        :math:`\\frac{\\alpha}{2} \\sum \\lVert W \\rVert^2` over the weights
        (never the biases or beta). ``alpha = 1 / (C n)`` matches scikit-learn's
        ``LogisticRegression(C=C)``.
    solver : {"lbfgs", "adam", "sgd", "gd"}
        ``"lbfgs"``: full-batch quasi-Newton with a strong-Wolfe line search;
        ``"adam"``; ``"sgd"``: mini-batch SGD with momentum; ``"gd"``: plain
        full-batch gradient descent with a fixed step, as in the lectures.
    learning_rate_init : float, default=None
        Step size; None means 1e-3 for adam and 0.1 for sgd and gd (lbfgs
        takes its steps from the line search).
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for ``solver="sgd"``.
    batch_size : int or "auto", default="auto"
        Mini-batch size of adam and sgd; "auto" is ``min(200, n_samples)``.
        lbfgs and gd always use the full batch.
    max_iter : int, default=200
        Maximum number of epochs (adam, sgd) or iterations (lbfgs, gd).
    tol : float, default=1e-4
        lbfgs stops when the largest gradient entry is at most ``tol``; the
        other solvers stop when the loss (or validation score) has not
        improved by ``tol`` for ``n_iter_no_change`` consecutive epochs.
    n_iter_no_change : int, default=10
        Patience of that rule.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the training data,
        stop on its accuracy, and keep the best parameters.
    validation_fraction : float, default=0.1
        Size of the held-out set for early stopping.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``.
    shuffle : bool, default=True
        Reshuffle the samples each epoch (adam, sgd).
    random_state : int, RandomState instance or None, default=None
        Seeds initial weights, batches, dropout and the validation split,
        through local generators (global random states are not touched).
    warm_start : bool, default=False
        Continue from the fitted parameters on the next ``fit``.
    device : str or torch.device, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:k"`` or ``"auto"`` (CUDA if available).
    dtype : {"float32", "float64"} or None, default=None
        None computes float32 input in float32 and anything else in float64.
    verbose : int, default=0
        Print one line per epoch when positive.
    reject_threshold : float in [0, 1] or None, default=None
        Abstain (predict ``reject_label_``) where the largest class
        probability is below this value (Chow's rule: for a rejection cost
        c, the optimal threshold is 1 - c). None never abstains.
    reject_label : scalar or None, default=None
        The label of rejections; None means "reject" for string classes and
        -1 for numeric classes (0 when -1 is a class, as with labels -1/+1).
"""

COMMON_ATTRIBUTES_DOC = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels (never the reject label).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X had string column names.
    n_iter_ : int
        Epochs (or iterations) run.
    loss_ : float
        The last training objective.
    loss_curve_ : list of float
        The training objective after each epoch or iteration.
    validation_scores_ : list of float
        Held-out accuracy per epoch (only with early_stopping).
    best_validation_score_ : float
        The best of those (only with early_stopping).
    module_ : torch.nn.Module
        The trained module.
    reject_label_ : scalar
        The label of rejections (only with reject_threshold set).
"""
