"""The one optimisation loop shared by every estimator.

This module knows about optimisation only: an ``objective(module, X, target,
sample_weight)`` returning a scalar tensor, the module's trainable parameters,
and tensors already on the device. It knows nothing of labels or of
scikit-learn.

Solvers
-------
``"lbfgs"``
    :class:`torch.optim.LBFGS` with a strong-Wolfe line search, full batch,
    one quasi-Newton iteration per step. Stops when the largest gradient
    entry is at most ``tol`` or the loss stops changing. For small convex
    models it then takes a few Newton steps (exact Hessian from autograd),
    which reach the optimum to machine precision.
``"gd"``
    Plain full-batch gradient descent with a fixed step, as in the lecture.
``"sgd"``
    Mini-batch SGD with momentum (optionally Nesterov).
``"adam"``
    Mini-batch Adam.

``gd``, ``sgd`` and ``adam`` stop when the epoch loss (or, with early
stopping, the validation score) has not improved by ``tol`` for
``n_iter_no_change`` consecutive epochs.
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

# Newton steps cost about one gradient evaluation per parameter; they are
# taken only for models this small, where that is cheaper than the L-BFGS run.
NEWTON_MAX_PARAMETERS = 64
NEWTON_MAX_STEPS = 8
# L-BFGS memory (as scipy's default) and line-search evaluations per step.
LBFGS_HISTORY = 10
LBFGS_MAX_LINE_SEARCH = 25


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
    """Tensors on the training device."""

    X: torch.Tensor
    target: torch.Tensor
    sample_weight: torch.Tensor

    @property
    def n_samples(self):
        return self.X.shape[0]

    def rows(self, index):
        """The batch of rows ``index`` (a tensor of row numbers or a slice)."""
        if isinstance(index, slice):
            if self.X.layout == torch.strided:
                X = self.X[index]
            else:
                rows = torch.arange(self.n_samples, device=self.target.device)[index]
                X = self.X.index_select(0, rows)
            return X, self.target[index], self.sample_weight[index]
        return (
            self.X.index_select(0, index),
            self.target.index_select(0, index),
            self.sample_weight.index_select(0, index),
        )


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


def trainable_parameters(module):
    return [p for p in module.parameters() if p.requires_grad]


def make_optimizer(options, params):
    """Build the torch optimizer of ``options.solver``."""
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
    if options.solver == "adam":
        return torch.optim.Adam(params, lr=options.learning_rate)
    momentum = options.momentum if options.solver == "sgd" else 0.0
    return torch.optim.SGD(
        params,
        lr=options.learning_rate,
        momentum=momentum,
        nesterov=options.nesterov and momentum > 0,
    )


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


def _full_batch_closure(module, objective, data, optimizer, params):
    """A closure returning the full-batch objective with gradients in ``.grad``.

    Consecutive calls at the same parameter values (L-BFGS re-evaluates the
    point its line search just accepted) return the cached result instead of
    another pass over X.
    """
    cache = {}

    def closure():
        flat = torch.cat([p.detach().reshape(-1) for p in params])
        if "flat" in cache and torch.equal(flat, cache["flat"]):
            for p, g in zip(params, cache["grads"]):
                p.grad = g.clone()
            return cache["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss = objective(module, data.X, data.target, data.sample_weight)
        loss.backward()
        cache["flat"] = flat
        cache["loss"] = loss.detach()
        cache["grads"] = [p.grad.detach().clone() for p in params]
        return cache["loss"]

    return closure


def _lbfgs_iteration(closure, optimizer, params):
    """One L-BFGS step; return (loss after the step, converged)."""
    loss_before = float(optimizer.step(closure))
    loss_after = closure()
    grad_max = max(float(p.grad.abs().max()) for p in params) if params else 0.0
    loss_after = float(loss_after)
    tol = optimizer.param_groups[0]["tolerance_grad"]
    eps = np.finfo(np.float64 if params[0].dtype == torch.float64 else np.float32).eps
    stalled = abs(loss_before - loss_after) <= 64 * eps * max(
        abs(loss_before), abs(loss_after), 1.0
    )
    return loss_after, grad_max <= tol or stalled


def _epoch(module, objective, data, optimizer, options, generator):
    """One pass over the data in mini-batches; return the mean epoch loss."""
    n = data.n_samples
    batch_size = options.batch_size
    if options.shuffle:
        order = torch.randperm(n, generator=generator, device=generator.device)
        batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    else:
        batches = [slice(i, i + batch_size) for i in range(0, n, batch_size)]
    total = torch.zeros((), dtype=data.sample_weight.dtype, device=data.target.device)
    for index in batches:
        X, target, sample_weight = data.rows(index)
        optimizer.zero_grad(set_to_none=True)
        loss = objective(module, X, target, sample_weight)
        loss.backward()
        optimizer.step()
        total += loss.detach() * sample_weight.sum()
    return float(total / data.sample_weight.sum())


def _newton_polish(module, objective, data, params):
    """Refine a convex fit with damped Newton steps (exact autograd Hessian).

    The Hessian may be singular (the tanh model's scale redundancy); the
    step uses its pseudo-inverse, which leaves such flat directions alone.
    """

    def loss_and_grad(create_graph):
        loss = objective(module, data.X, data.target, data.sample_weight)
        grads = torch.autograd.grad(loss, params, create_graph=create_graph)
        return loss, torch.cat([g.reshape(-1) for g in grads])

    for _ in range(NEWTON_MAX_STEPS):
        loss, grad = loss_and_grad(create_graph=True)
        if float(grad.detach().abs().max()) <= 1e-13 * max(1.0, float(loss.detach().abs())):
            break
        rows = []
        for i in range(grad.numel()):
            row = torch.autograd.grad(grad[i], params, retain_graph=True)
            rows.append(torch.cat([r.reshape(-1) for r in row]))
        hessian = torch.stack(rows)
        hessian = 0.5 * (hessian + hessian.T)
        eigvals, eigvecs = torch.linalg.eigh(hessian.detach())
        cutoff = eigvals.abs().max() * eigvals.new_tensor(1e-12)
        inverse = torch.where(eigvals > cutoff, 1.0 / eigvals, torch.zeros_like(eigvals))
        step = -(eigvecs @ (inverse * (eigvecs.T @ grad.detach())))
        start = [p.detach().clone() for p in params]
        base = float(loss.detach())
        for scale in (1.0, 0.5, 0.25, 0.125):
            _assign(params, start, step, scale)
            with torch.no_grad():
                trial = float(objective(module, data.X, data.target, data.sample_weight))
            if np.isfinite(trial) and trial <= base + 1e-15 * max(1.0, abs(base)):
                break
        else:
            _assign(params, start, step, 0.0)
            break


def _assign(params, start, step, scale):
    offset = 0
    with torch.no_grad():
        for p, p0 in zip(params, start):
            size = p.numel()
            p.copy_(p0 + scale * step[offset : offset + size].view_as(p))
            offset += size


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
):
    """Fit ``module`` in place by minimising ``objective`` over ``data``.

    Parameters
    ----------
    module : torch.nn.Module
        Already on the device of ``data``.
    objective : callable
        ``objective(module, X, target, sample_weight) -> scalar tensor``.
    data : TrainingData
    options : TrainingOptions
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

    Returns
    -------
    history : TrainingHistory

    Raises
    ------
    NonFiniteLossError
        If the loss becomes NaN or infinite.
    """
    params = trainable_parameters(module)
    optimizer = make_optimizer(options, params)
    if optimizer_state is not None:
        optimizer.load_state_dict(optimizer_state)
    history = TrainingHistory()
    stopper = _Stopper(options.tol, options.n_iter_no_change)
    best_state = None
    last_good_state = _clone_state(module)
    closure = None
    if options.solver in FULL_BATCH_SOLVERS:
        closure = _full_batch_closure(module, objective, data, optimizer, params)
    n_epochs = epochs if epochs is not None else options.max_iter
    module.train()
    try:
        for epoch in range(n_epochs):
            start = time.perf_counter()
            lbfgs_converged = False
            if options.solver == "lbfgs":
                loss, lbfgs_converged = _lbfgs_iteration(closure, optimizer, params)
            elif options.solver == "gd":
                loss = float(optimizer.step(closure))
            else:
                loss = _epoch(module, objective, data, optimizer, options, generator)
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
            last_good_state = _clone_state(module)
            if options.verbose:
                line = f"Iteration {epoch + 1}, loss = {loss:.8f}"
                if score is not None:
                    line += f", validation score = {score:.6f}"
                print(line + f", time = {time.perf_counter() - start:.3f}s")
            if on_epoch_end is not None:
                on_epoch_end(epoch, loss, score)
            if epochs is not None:
                continue
            if lbfgs_converged or (
                options.solver != "lbfgs" and stopper.update(loss, score)
            ):
                history.converged = True
                break
    except StopTraining:
        history.converged = True
    except KeyboardInterrupt:
        history.interrupted = True
        module.load_state_dict(best_state if best_state is not None else last_good_state)
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
        _newton_polish(module, objective, data, params)
    module.eval()
    history.optimizer_state = copy.deepcopy(optimizer.state_dict())
    return history
