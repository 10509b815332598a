r"""The one optimisation loop shared by every estimator.

This module knows about optimisation only: an ``objective(module, X, target,
sample_weight)`` returning a scalar tensor, the module's trainable parameters,
and tensors already on the device. It knows nothing of labels or of
scikit-learn.

The objective is a weighted mean over samples plus a term of the
parameters alone (the penalty), as every loss in :mod:`.losses` is:

.. math:: F(\theta) = \frac{\sum_i s_i \ell_i(\theta)}{\sum_i s_i} + R(\theta).

The engine relies on that form when all weights are equal: it then passes
``sample_weight=None`` (the weighted mean is the plain mean, and every batch
skips a multiply and two sums).

Solvers
-------
``"lbfgs"``
    :class:`torch.optim.LBFGS` with a strong-Wolfe line search, full batch,
    one quasi-Newton iteration per step. Stops when the largest gradient
    entry is at most ``tol`` or the loss stops changing. Convex models with
    at most ``NEWTON_MAX_PARAMETERS`` parameters (dense X) take damped
    Newton steps with the exact autograd Hessian instead, under the same
    stopping rule: there one L-BFGS iteration costs as much Python overhead
    as one Newton step, and Newton needs far fewer of them (raw Iris: 7 to
    19 Newton steps where L-BFGS took 120 to more than 200 iterations).
    Either way, such models finish with Newton steps that reach the optimum
    to machine precision.
``"gd"``
    Plain full-batch gradient descent with a fixed step, as in the lecture.
``"sgd"``
    Mini-batch SGD with momentum (optionally Nesterov).
``"adam"``
    Mini-batch Adam.

``gd``, ``sgd`` and ``adam`` stop when the epoch loss (or, with early
stopping, the validation score) has not improved by ``tol`` for
``n_iter_no_change`` consecutive epochs. Their torch optimizers use the
fused kernels (one call updates every parameter) where the device has them.
"""

import copy
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

SOLVERS = ("lbfgs", "adam", "sgd", "gd")
FULL_BATCH_SOLVERS = ("lbfgs", "gd")
DEFAULT_LEARNING_RATE = {"adam": 1e-3, "sgd": 0.1, "gd": 0.1, "lbfgs": 1.0}

# A Newton step costs one batched Hessian-vector pass (about as many
# gradient evaluations as there are parameters, vectorised); only for models
# this small is that cheaper than the many L-BFGS iterations it saves.
NEWTON_MAX_PARAMETERS = 64
# Uncounted Newton steps after convergence, to reach machine precision.
NEWTON_MAX_STEPS = 8
NEWTON_MAX_HALVINGS = 30
# L-BFGS memory (as scipy's default) and line-search evaluations per step.
LBFGS_HISTORY = 10
LBFGS_MAX_LINE_SEARCH = 25
# Points remembered by the full-batch closure: the line search of an L-BFGS
# step evaluates a few, and the step ends at one of them.
CLOSURE_CACHE_SIZE = 4


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


class StopTraining(Exception):
    """Raised by an epoch hook to stop training early (not an error)."""


@dataclass
class TrainingOptions:
    """Settings of one training run (resolved from estimator parameters)."""

    solver: str
    learning_rate: float
    momentum: float = 0.9
    nesterov: bool = True
    batch_size: int = 200
    max_iter: int = 200
    tol: float = 1e-4
    n_iter_no_change: int = 10
    shuffle: bool = True
    verbose: int = 0
    newton_polish: bool = False


@dataclass
class TrainingData:
    """Tensors on the training device.

    ``uniform`` is True when all sample weights are equal: the objective then
    receives ``sample_weight=None``, which means the same (plain mean).
    """

    X: torch.Tensor
    target: torch.Tensor
    sample_weight: torch.Tensor = None
    uniform: bool = field(init=False)

    def __post_init__(self):
        weight = self.sample_weight
        # One comparison (one host sync) per fit, not per batch.
        self.uniform = weight is None or weight.numel() == 0 or bool((weight == weight[0]).all())

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def weight(self):
        """What the objective receives as ``sample_weight``."""
        return None if self.uniform else self.sample_weight

    def rows(self, index):
        """The batch of rows ``index`` (a tensor of row numbers or a slice).

        Returns ``(X, target, sample_weight)``, the weight being None when
        the weights are uniform.
        """
        weight = None
        if isinstance(index, slice):
            if self.X.layout == torch.strided:
                X = self.X[index]
            else:
                rows = torch.arange(self.n_samples, device=self.target.device)[index]
                X = self.X.index_select(0, rows)
            if not self.uniform:
                weight = self.sample_weight[index]
            return X, self.target[index], weight
        if not self.uniform:
            weight = self.sample_weight.index_select(0, index)
        return self.X.index_select(0, index), self.target.index_select(0, index), weight


@dataclass
class TrainingHistory:
    """What a training run reports back."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_validation_score: float = None
    n_iter: int = 0
    converged: bool = False
    interrupted: bool = False
    optimizer_state: dict = None


@dataclass
class L2Penalty:
    """The ridge term :math:`\\frac{\\alpha}{2} \\sum \\lVert p \\rVert^2` over ``parameters``.

    Handed to :func:`train` apart from the loss, it costs no autograd
    operations in the mini-batch solvers: its gradient :math:`\\alpha p` is
    the ``weight_decay`` of torch's Adam and SGD (the same update, computed
    inside the fused step), and its value is added to the reported loss.
    On a (100, 100) MLP with batches of 256 the penalty in the autograd graph
    took 18% of an epoch.

    Parameters
    ----------
    parameters : list of torch.Tensor
        Trainable parameters of the module (weights, never biases).
    alpha : float
    """

    parameters: list
    alpha: float

    def value(self):
        """The penalty, differentiable."""
        return 0.5 * self.alpha * sum(p.square().sum() for p in self.parameters)


def trainable_parameters(module):
    return [p for p in module.parameters() if p.requires_grad]


def _with_penalty(objective, penalty):
    """``objective`` plus ``penalty`` (for the full-batch solvers)."""
    if penalty is None:
        return objective

    def penalized(module, X, target, sample_weight):
        return objective(module, X, target, sample_weight) + penalty.value()

    return penalized


def _fused_possible(params):
    """Whether torch may have fused Adam/SGD kernels for ``params``."""
    if not params:
        return False
    device = params[0].device
    return device.type in ("cpu", "cuda") and all(
        p.device == device and p.is_floating_point() and not p.is_sparse for p in params
    )


def make_optimizer(options, params, penalty=None):
    """Build the torch optimizer of ``options.solver``.

    Adam and SGD use torch's fused kernels where it has them (CUDA; the CPU
    since torch 2.4): one call updates every parameter, where the default
    implementation runs a loop of small operations per parameter (a fused
    Adam step is a third of the time of the default one for a (100, 100)
    MLP on the CPU). With ``penalty``, its parameters get
    ``weight_decay=penalty.alpha``, which adds :math:`\\alpha p` to their
    gradient: the gradient of the penalty.
    """
    if options.solver == "lbfgs":
        return torch.optim.LBFGS(
            params,
            lr=1.0,
            max_iter=1,
            max_eval=1 + LBFGS_MAX_LINE_SEARCH,
            tolerance_grad=options.tol,
            tolerance_change=0.0,
            history_size=LBFGS_HISTORY,
            line_search_fn="strong_wolfe",
        )
    groups = params
    if penalty is not None and penalty.alpha > 0:
        decayed = {id(p) for p in penalty.parameters}
        groups = [
            {"params": [p for p in params if id(p) in decayed], "weight_decay": penalty.alpha},
            {"params": [p for p in params if id(p) not in decayed]},
        ]
        groups = [g for g in groups if g["params"]]
    if options.solver == "adam":
        kwargs = dict(lr=options.learning_rate)
        factory = torch.optim.Adam
    else:
        momentum = options.momentum if options.solver == "sgd" else 0.0
        kwargs = dict(
            lr=options.learning_rate,
            momentum=momentum,
            nesterov=options.nesterov and momentum > 0,
        )
        factory = torch.optim.SGD
    if _fused_possible(params):
        try:
            return factory(groups, fused=True, **kwargs)
        except RuntimeError:
            pass  # no fused kernel for this device in this torch version
    return factory(groups, **kwargs)


class _Stopper:
    """scikit-learn's no-improvement rule over epochs.

    Tracks the best training loss (or validation score) and counts epochs
    without an improvement of at least ``tol``.
    """

    def __init__(self, tol, patience):
        self.tol = tol
        self.patience = patience
        self.best_loss = np.inf
        self.best_score = -np.inf
        self.count = 0

    def update(self, loss, score=None):
        """Record an epoch; return True when training should stop."""
        if score is not None:
            worse = score < self.best_score + self.tol
            self.best_score = max(self.best_score, score)
        else:
            worse = loss > self.best_loss - self.tol
            self.best_loss = min(self.best_loss, loss)
        self.count = self.count + 1 if worse else 0
        return self.count >= self.patience


def _clone_state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class _LastGoodState:
    """The module's state at the end of the last finished epoch.

    Kept for Ctrl-C, so it is written every epoch: into two preallocated
    copies used in turn, which costs one ``copy_`` per tensor (cloning a
    ``state_dict`` took 8% of a one-batch epoch). An interrupt while one
    copy is being written leaves the other, complete one.
    """

    def __init__(self, module):
        self._live = module.state_dict(keep_vars=True)
        self._copies = [_clone_state(module), None]
        self._current = 0

    def update(self):
        spare = 1 - self._current
        if self._copies[spare] is None:
            self._copies[spare] = {k: v.detach().clone() for k, v in self._live.items()}
        else:
            with torch.no_grad():
                for name, tensor in self._live.items():
                    self._copies[spare][name].copy_(tensor)
        self._current = spare

    def state(self):
        return self._copies[self._current]


def _set_grads_to_none(params):
    # Cheaper than optimizer.zero_grad(), which goes through profiler hooks.
    for p in params:
        p.grad = None


def _full_batch_loss_and_grad(module, objective, data, params):
    """Full-batch objective (detached) with its gradient left in ``.grad``."""
    _set_grads_to_none(params)
    loss = objective(module, data.X, data.target, data.weight)
    loss.backward()
    return loss.detach()


def _full_batch_closure(module, objective, data, params, cache_size=CLOSURE_CACHE_SIZE):
    """A closure returning the full-batch objective with gradients in ``.grad``.

    A call at parameter values evaluated recently (L-BFGS re-evaluates the
    point its line search accepted, and ``_lbfgs_iteration`` the point the
    step ended at) returns the remembered result instead of another pass
    over X.
    """
    cache = []  # (flat parameters, loss, grads), most recent first

    def closure():
        flat = torch.cat([p.detach().reshape(-1) for p in params]) if cache_size else None
        for entry in cache:
            if torch.equal(flat, entry[0]):
                for p, g in zip(params, entry[2]):
                    p.grad = g.clone()
                return entry[1]
        loss = _full_batch_loss_and_grad(module, objective, data, params)
        if cache_size:
            grads = [p.grad.detach().clone() for p in params]
            cache.insert(0, (flat, loss, grads))
            del cache[cache_size:]
        return loss

    return closure


def _lbfgs_iteration(closure, optimizer, params):
    """One L-BFGS step; return (loss after the step, converged)."""
    loss_before = float(optimizer.step(closure))
    loss_after = closure()
    grad_max = float(torch.stack([p.grad.abs().max() for p in params]).max()) if params else 0.0
    loss_after = float(loss_after)
    tol = optimizer.param_groups[0]["tolerance_grad"]
    return loss_after, grad_max <= tol or _stalled(loss_before, loss_after, params)


def _stalled(loss_before, loss_after, params):
    """Whether the loss changed by no more than rounding (64 eps, relative)."""
    eps = np.finfo(np.float64 if params[0].dtype == torch.float64 else np.float32).eps
    return abs(loss_before - loss_after) <= 64 * eps * max(
        abs(loss_before), abs(loss_after), 1.0
    )


def _epoch(module, objective, data, optimizer, options, generator, params, penalty=None):
    """One pass over the data in mini-batches; return the mean epoch loss.

    Nothing in the batch loop waits for the device: the batch losses are
    kept as tensors and averaged, weighted by each batch's total sample
    weight, once at the end. ``penalty`` (applied by the optimizer as weight
    decay) is added to each batch's loss at the parameters that batch saw.
    """
    n = data.n_samples
    size = options.batch_size
    order = None
    if options.shuffle:
        order = torch.randperm(n, generator=generator, device=generator.device)
    losses, norms = [], []
    for start in range(0, n, size):
        index = slice(start, start + size) if order is None else order[start : start + size]
        X, target, weight = data.rows(index)
        _set_grads_to_none(params)
        loss = objective(module, X, target, weight)
        loss.backward()
        if penalty is not None:
            with torch.no_grad():
                norms.extend(torch.linalg.vector_norm(p) for p in penalty.parameters)
        optimizer.step()
        losses.append(loss.detach())
    losses = torch.stack(losses).to(torch.float64)
    n_batches = losses.shape[0]
    if norms:
        squares = torch.stack(norms).to(torch.float64).view(n_batches, -1).square()
        losses = losses + 0.5 * penalty.alpha * squares.sum(dim=1)
    if data.uniform:
        batch_weight = torch.full((n_batches,), float(size), dtype=torch.float64, device=losses.device)
        batch_weight[-1] = n - size * (n_batches - 1)
    else:
        weight = data.sample_weight if order is None else data.sample_weight[order]
        padded = weight.new_zeros(n_batches * size, dtype=torch.float64)
        padded[:n] = weight
        batch_weight = padded.view(n_batches, size).sum(dim=1)
    return float((losses * batch_weight).sum() / batch_weight.sum())


class _Newton:
    """Damped Newton steps with the exact Hessian, for small convex objectives.

    The Hessian comes from autograd in one batched pass (one
    Hessian-vector product per parameter, vectorised). It may be singular
    (the tanh model's scale redundancy); the step uses its pseudo-inverse,
    which leaves such flat directions alone, and halves until the loss
    decreases enough (Armijo).
    """

    def __init__(self, module, objective, data, params, tol=0.0):
        self.module = module
        self.tol = tol
        self.objective = objective
        self.data = data
        self.params = params
        self.size = sum(p.numel() for p in params)
        self._point = None  # (loss, flat gradient), with graph, at the current parameters

    def _evaluate(self):
        data = self.data
        loss = self.objective(self.module, data.X, data.target, data.weight)
        grads = torch.autograd.grad(loss, self.params, create_graph=True)
        return loss, torch.cat([g.reshape(-1) for g in grads])

    def current(self):
        """(loss, largest gradient entry) at the current parameters, as floats."""
        if self._point is None:
            self._point = self._evaluate()
        loss, grad = self._point
        return float(loss.detach()), float(grad.detach().abs().max())

    def _hessian(self, grad):
        eye = torch.eye(self.size, dtype=grad.dtype, device=grad.device)
        try:
            with warnings.catch_warnings():
                # vmap warns where an operator has no batching rule and falls
                # back to a loop; that is slower, not wrong.
                warnings.simplefilter("ignore", UserWarning)
                rows = torch.autograd.grad(
                    grad, self.params, grad_outputs=eye, is_grads_batched=True, retain_graph=True
                )
            hessian = torch.cat([r.reshape(self.size, -1) for r in rows], dim=1)
        except RuntimeError:
            # An operator vmap cannot batch at all: one row at a time.
            hessian = torch.stack(
                [
                    torch.cat([r.reshape(-1) for r in torch.autograd.grad(
                        grad[i], self.params, retain_graph=True)])
                    for i in range(self.size)
                ]
            )
        return 0.5 * (hessian + hessian.T)

    def step(self):
        """Take one damped Newton step.

        Returns
        -------
        moved : bool
            False when no step decreases the loss (the parameters are then
            unchanged): the optimum is reached to rounding.
        """
        if self._point is None:
            self._point = self._evaluate()
        loss, grad = self._point
        grad_value = grad.detach()
        hessian = self._hessian(grad).detach()
        if not bool(torch.isfinite(hessian).all()):
            return False
        direction = _newton_direction(hessian, grad_value)
        if direction is None:
            return False
        slope = float(grad_value @ direction)
        if not slope < 0:
            return False
        base = float(loss.detach())
        start = [p.detach().clone() for p in self.params]
        scale = 1.0
        for _ in range(NEWTON_MAX_HALVINGS):
            _assign(self.params, start, direction, scale)
            # Evaluated with its graph: an accepted trial is the next point,
            # whose gradient and Hessian come from this same pass.
            trial = self._evaluate()
            value = float(trial[0].detach())
            if np.isfinite(value) and value <= base + 1e-4 * scale * slope:
                self._point = trial
                return True
            scale *= 0.5
        with torch.no_grad():
            for p, p0 in zip(self.params, start):
                p.copy_(p0)
        return False

    def iteration(self):
        """One counted iteration; return (loss, converged) like ``_lbfgs_iteration``."""
        loss_before, _ = self.current()
        if not np.isfinite(loss_before):
            return loss_before, False
        moved = self.step()
        loss_after, grad_max = self.current()
        return loss_after, (not moved) or grad_max <= self.tol or _stalled(
            loss_before, loss_after, self.params
        )

    def polish(self):
        """Newton steps (uncounted) until the gradient vanishes to rounding."""
        for _ in range(NEWTON_MAX_STEPS):
            loss, grad_max = self.current()
            if not np.isfinite(loss) or grad_max <= 1e-13 * max(1.0, abs(loss)):
                return
            if not self.step():
                return


def _newton_direction(hessian, grad):
    """:math:`-H^{+} g`, or None when the Hessian cannot be factored.

    A well-conditioned Hessian (every strictly convex objective away from
    overflow) is solved through its Cholesky factor, five times cheaper than
    the eigendecomposition; a singular or ill-conditioned one (the tanh
    model's scale redundancy) through the pseudo-inverse from ``eigh``,
    which leaves the flat directions alone.
    """
    factor, info = torch.linalg.cholesky_ex(hessian)
    if int(info) == 0:
        diagonal = factor.diagonal()
        # diag(L)^2 bounds the spread of the eigenvalues from inside.
        if float(diagonal.min()) > 1e-6 * float(diagonal.max()):
            return -torch.cholesky_solve(grad.unsqueeze(1), factor).squeeze(1)
    try:
        eigvals, eigvecs = torch.linalg.eigh(hessian)
    except torch.linalg.LinAlgError:
        return None
    cutoff = eigvals.abs().max() * eigvals.new_tensor(1e-12)
    inverse = torch.where(eigvals > cutoff, 1.0 / eigvals, torch.zeros_like(eigvals))
    return -(eigvecs @ (inverse * (eigvecs.T @ grad)))


def _assign(params, start, step, scale):
    offset = 0
    with torch.no_grad():
        for p, p0 in zip(params, start):
            size = p.numel()
            p.copy_(p0 + scale * step[offset : offset + size].view_as(p))
            offset += size


def _newton_eligible(options, data, params):
    return (
        options.newton_polish
        and options.solver == "lbfgs"
        and data.X.layout == torch.strided
        and 0 < sum(p.numel() for p in params) <= NEWTON_MAX_PARAMETERS
    )


def train(
    module,
    objective,
    data,
    options,
    generator,
    *,
    validation_score=None,
    optimizer_state=None,
    epochs=None,
    on_epoch_end=None,
    penalty=None,
):
    """Fit ``module`` in place by minimising ``objective`` over ``data``.

    Parameters
    ----------
    module : torch.nn.Module
        Already on the device of ``data``.
    objective : callable
        ``objective(module, X, target, sample_weight) -> scalar tensor``: the
        weighted mean loss over the rows given plus a penalty of the
        parameters alone. ``sample_weight`` is None when all weights are
        equal (the plain mean).
    data : TrainingData
    options : TrainingOptions
        ``newton_polish=True`` declares the objective convex: the lbfgs
        solver then takes Newton steps on models with at most
        ``NEWTON_MAX_PARAMETERS`` parameters and finishes at the optimum.
    generator : torch.Generator
        On the device of ``data``; source of the mini-batch permutations.
    validation_score : callable, optional
        ``validation_score(module) -> float`` (higher is better). When
        given, stopping follows it and the best-scoring parameters are kept.
    optimizer_state : dict, optional
        State of a previous run's optimizer to continue from (partial_fit).
    epochs : int, optional
        Run exactly this many epochs, without stopping rules or convergence
        warnings (partial_fit).
    on_epoch_end : callable, optional
        ``on_epoch_end(epoch, loss, validation_score)`` after each epoch;
        may raise :class:`StopTraining`.
    penalty : L2Penalty, optional
        A ridge term that ``objective`` leaves out, for the engine to add: as
        weight decay in the adam and sgd updates, into the objective for the
        full-batch solvers. Either way the reported loss includes it.

    Returns
    -------
    history : TrainingHistory

    Raises
    ------
    NonFiniteLossError
        If the loss becomes NaN or infinite.
    """
    params = trainable_parameters(module)
    if penalty is not None and not penalty.alpha:
        penalty = None
    stochastic = options.solver not in FULL_BATCH_SOLVERS
    if not stochastic:
        objective = _with_penalty(objective, penalty)
    newton = None
    optimizer = None
    if _newton_eligible(options, data, params):
        newton = _Newton(module, objective, data, params, options.tol)
    else:
        optimizer = make_optimizer(options, params, penalty if stochastic else None)
        if optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)
    history = TrainingHistory()
    stopper = _Stopper(options.tol, options.n_iter_no_change)
    best_state = None
    last_good_state = _LastGoodState(module)
    closure = None
    if newton is None and options.solver in FULL_BATCH_SOLVERS:
        # gd never comes back to a point it evaluated: nothing to remember.
        cache_size = CLOSURE_CACHE_SIZE if options.solver == "lbfgs" else 0
        closure = _full_batch_closure(module, objective, data, params, cache_size)
    n_epochs = epochs if epochs is not None else options.max_iter
    module.train()
    try:
        for epoch in range(n_epochs):
            start = time.perf_counter()
            full_batch_converged = False
            if newton is not None:
                loss, full_batch_converged = newton.iteration()
            elif options.solver == "lbfgs":
                loss, full_batch_converged = _lbfgs_iteration(closure, optimizer, params)
            elif options.solver == "gd":
                loss = float(optimizer.step(closure))
            else:
                loss = _epoch(
                    module, objective, data, optimizer, options, generator, params, penalty
                )
            if not np.isfinite(loss):
                raise NonFiniteLossError(f"loss became {loss} at iteration {epoch + 1}")
            history.n_iter = epoch + 1
            history.loss_curve.append(loss)
            score = None
            if validation_score is not None:
                module.eval()
                score = validation_score(module)
                module.train()
                history.validation_scores.append(score)
                if best_state is None or score > history.best_validation_score:
                    history.best_validation_score = score
                    best_state = _clone_state(module)
            last_good_state.update()
            if options.verbose:
                line = f"Iteration {epoch + 1}, loss = {loss:.8f}"
                if score is not None:
                    line += f", validation score = {score:.6f}"
                print(line + f", time = {time.perf_counter() - start:.3f}s")
            if on_epoch_end is not None:
                on_epoch_end(epoch, loss, score)
            if epochs is not None:
                continue
            if full_batch_converged or (
                options.solver != "lbfgs" and stopper.update(loss, score)
            ):
                history.converged = True
                break
    except StopTraining:
        history.converged = True
    except KeyboardInterrupt:
        history.interrupted = True
        module.load_state_dict(best_state if best_state is not None else last_good_state.state())
        warnings.warn(
            f"Training interrupted after {history.n_iter} iteration(s); keeping the "
            "best parameters seen so far.",
            UserWarning,
            stacklevel=3,
        )
    if best_state is not None and not history.interrupted:
        module.load_state_dict(best_state)
    elif (
        options.newton_polish
        and not history.interrupted
        and epochs is None
        and data.X.layout == torch.strided
        and sum(p.numel() for p in params) <= NEWTON_MAX_PARAMETERS
    ):
        if newton is None:
            newton = _Newton(module, objective, data, params)
        newton.polish()
    module.eval()
    if optimizer is not None:
        history.optimizer_state = copy.deepcopy(optimizer.state_dict())
    return history
