"""The training loop and the policies it calls.

The loop knows a solver (``step() -> (loss, converged)``) and a list of
policies; it knows nothing of labels or of scikit-learn. Each policy is a
small object with ``on_step(iteration, loss, score) -> stop?`` and, where it
needs one, ``on_end(module, history)``:

- :class:`NoImprovement`: scikit-learn's rule (``_update_no_improvement_count``)
  for the solvers without a convergence test of their own;
- :class:`KeepBest`: with a validation score, keep the best parameters;
- :class:`PrintProgress`: ``verbose`` output, one line per iteration;
- :class:`LastGood`: the parameters at the end of the last finished step,
  restored on Ctrl-C.
"""

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ._solvers import NonFiniteLossError


@dataclass
class TrainingHistory:
    """What a training run reports back."""

    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_validation_score: float = None
    n_iter: int = 0
    converged: bool = False
    interrupted: bool = False
    kept: str = "last"
    optimizer_state: dict = None


def _clone_state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class NoImprovement:
    """Stop after ``patience`` steps without an improvement of ``tol``.

    The training loss must fall by ``tol``, or the validation score (when
    given) rise by ``tol``, as in scikit-learn's MLP.
    """

    def __init__(self, tol, patience):
        self.tol = tol
        self.patience = patience
        self.best_loss = np.inf
        self.best_score = -np.inf
        self.count = 0

    def on_step(self, iteration, loss, score):
        if score is not None:
            worse = score < self.best_score + self.tol
            self.best_score = max(self.best_score, score)
        else:
            worse = loss > self.best_loss - self.tol
            self.best_loss = min(self.best_loss, loss)
        self.count = self.count + 1 if worse else 0
        return self.count >= self.patience


class KeepBest:
    """Keep the parameters of the best validation score; restore them at the end."""

    def __init__(self, module, history):
        self.module = module
        self.history = history
        self.state = None

    def on_step(self, iteration, loss, score):
        if self.state is None or score > self.history.best_validation_score:
            self.history.best_validation_score = score
            self.state = _clone_state(self.module)
        return False

    def on_end(self, module, history):
        if self.state is not None:
            module.load_state_dict(self.state)
            history.kept = "best"


class LastGood:
    """The module's state at the end of the last finished step (for Ctrl-C).

    Written every step into two preallocated copies used in turn (one
    ``copy_`` per tensor; cloning a ``state_dict`` took 8% of a one-batch
    epoch). An interrupt while one is written leaves the other complete.
    """

    def __init__(self, module):
        self._live = module.state_dict(keep_vars=True)
        self._copies = [_clone_state(module), None]
        self._current = 0

    def on_step(self, iteration, loss, score):
        spare = 1 - self._current
        if self._copies[spare] is None:
            self._copies[spare] = {k: v.detach().clone() for k, v in self._live.items()}
        else:
            with torch.no_grad():
                for name, tensor in self._live.items():
                    self._copies[spare][name].copy_(tensor)
        self._current = spare
        return False

    def restore(self, module):
        module.load_state_dict(self._copies[self._current])


class PrintProgress:
    """One line per step: loss, validation score, and the step's own time."""

    def __init__(self):
        self.start = time.perf_counter()

    def on_step(self, iteration, loss, score):
        line = f"Iteration {iteration}, loss = {loss:.8f}"
        if score is not None:
            line += f", validation score = {score:.6f}"
        now = time.perf_counter()
        print(f"{line}, time of this iteration = {now - self.start:.3f}s")
        self.start = now
        return False


def train(solver, module, *, max_steps, policies=(), validation_score=None, on_step_end=None,
          agree=None):
    """Run ``solver`` for at most ``max_steps`` steps, calling the policies after each.

    Parameters
    ----------
    solver : object
        With ``step() -> (loss, converged)`` and ``state_dict()``.
    module : torch.nn.Module
        The module the solver trains (put in train mode here, eval at the end).
    max_steps : int
    policies : sequence
        Objects with ``on_step(iteration, loss, score) -> bool`` (True stops,
        as converged) and optionally ``on_end(module, history)``.
    validation_score : callable, optional
        ``validation_score(module) -> float``, evaluated after each step.
    on_step_end : callable, optional
        ``on_step_end(iteration)``; returns True to stop.
    agree : callable, optional
        ``agree(stop) -> stop``: the stop decision of all the processes of a
        distributed fit (any of them stopping stops all). With it, Ctrl-C is
        re-raised (one rank must not stop while the others wait in a
        collective); without it, Ctrl-C ends the run with the last good
        parameters.

    Returns
    -------
    history : TrainingHistory
        ``interrupted`` is True after Ctrl-C, the module then holds the best
        (with a validation score) or the last finished step's parameters.

    Raises
    ------
    NonFiniteLossError
        If the loss becomes NaN or infinite.
    """
    history = TrainingHistory()
    last_good = LastGood(module)
    keep_best = None
    if validation_score is not None:
        keep_best = KeepBest(module, history)
    policies = [last_good, *([keep_best] if keep_best else []), *policies]
    module.train()
    try:
        for iteration in range(1, max_steps + 1):
            loss, converged = solver.step()
            if not np.isfinite(loss):
                raise NonFiniteLossError(f"loss became {loss} at iteration {iteration}")
            history.n_iter = iteration
            history.loss_curve.append(loss)
            score = None
            if validation_score is not None:
                module.eval()
                score = validation_score(module)
                module.train()
                history.validation_scores.append(score)
            stop = [policy.on_step(iteration, loss, score) for policy in policies]
            if on_step_end is not None:
                stop.append(bool(on_step_end(iteration)))
            stop = converged or any(stop)
            if agree is not None:
                stop = agree(stop)
            if stop:
                history.converged = True
                break
    except KeyboardInterrupt:
        if agree is not None:  # a rank must not stop alone: the others wait for it
            raise
        history.interrupted = True
        if keep_best is None or keep_best.state is None:
            last_good.restore(module)
    if keep_best is not None:
        keep_best.on_end(module, history)
    if history.interrupted and history.n_iter:
        what = "best" if history.kept == "best" else "last finished iteration's"
        warnings.warn(
            f"Training interrupted after {history.n_iter} iteration(s); keeping the "
            f"{what} parameters.",
            UserWarning,
            stacklevel=7,  # the user's fit call
        )
    module.eval()
    history.optimizer_state = solver.state_dict()
    return history
