"""What every solver shares: the problem it minimises, the options, the base class."""

import copy
from dataclasses import dataclass, field

import torch

from .._distributed import LOCAL, Communicator


class NonFiniteLossError(FloatingPointError):
    """Raised when the training loss becomes NaN or infinite."""


@dataclass
class TrainingOptions:
    """Settings of one training run (resolved from the estimator's parameters)."""

    solver: str
    learning_rate: float = 0.1
    momentum: float = 0.9
    nesterov: bool = True
    batch_size: int = 200
    max_iter: int = 200
    tol: float = 1e-4
    n_iter_no_change: int = 10
    shuffle: bool = True
    verbose: int = 0


@dataclass
class Problem:
    """What a solver minimises: ``loss(module(X), target, weight) + penalty(module)``.

    ``sample_weight`` is None when all weights are equal (the weighted mean
    is then the plain mean, and every batch skips a multiply and two sums).
    With a distributed ``comm``, X holds this rank's rows and the objective
    is the weighted mean over every rank's rows (see :meth:`backward`).

    ``l2``, optional, is ``(alpha, tensors)`` when ``penalty(module)`` is
    exactly :math:`\\frac{\\alpha}{2} \\sum_j \\lVert P_j \\rVert^2` over these
    parameter tensors (the weight matrices). :meth:`backward` then adds its
    gradient :math:`\\alpha P_j` in one fused operation instead of
    differentiating the penalty through autograd (a tenth of an MLP's
    mini-batch step).
    """

    module: torch.nn.Module
    loss: callable
    penalty: callable
    X: torch.Tensor
    target: torch.Tensor
    sample_weight: torch.Tensor = None
    comm: Communicator = LOCAL
    l2: tuple = None
    params: list = field(init=False)
    unit_weight: float = field(init=False, default=1.0)
    _share: float = field(init=False, default=None, repr=False)

    def __post_init__(self):
        self.params = [p for p in self.module.parameters() if p.requires_grad]
        weight = self.sample_weight
        # One comparison (one host sync) per fit, not per batch.
        if weight is not None and (weight.numel() == 0 or bool((weight == weight[0]).all())):
            # The common weight still counts when ranks' weights differ.
            self.unit_weight = float(weight[0]) if weight.numel() else 1.0
            self.sample_weight = None

    @property
    def n_samples(self):
        return self.X.shape[0]

    def objective(self, X, target, weight):
        """The objective on the rows given, differentiable."""
        return self.loss(self.module(X), target, weight) + self.penalty(self.module)

    def share(self):
        """This rank's part of the total sample weight of all ranks (1 when alone).

        Collective on its first call (every rank calls it at the same point).
        """
        if self._share is None:
            self._share = 1.0
            if self.comm.active:
                mass = self.mass(self.n_samples, self.sample_weight)
                total = self.comm.sum([mass.clone()])[0]
                self._share = float(mass / total)
        return self._share

    def global_mean(self, local_mean):
        """The weighted mean over every rank's rows, from this rank's (a float)."""
        if not self.comm.active:
            return float(local_mean)
        value = torch.tensor([float(local_mean) * self.share()], dtype=torch.float64)
        return float(self.comm.sum([value])[0])

    def mass(self, n_rows, weight):
        """The total sample weight of ``n_rows`` rows (float64 tensor)."""
        device = self.target.device
        if weight is None:
            return torch.tensor(float(n_rows) * self.unit_weight, dtype=torch.float64, device=device)
        return weight.sum(dtype=torch.float64)

    def backward(self, X, target, weight):
        """The objective of these rows, its gradient left in each parameter's ``.grad``.

        Distributed, the rows are this rank's part of a step and the result
        is that of all ranks' rows together: each rank's gradient of its
        weighted loss sum, summed over ranks, over the total weight

        .. math:: \\nabla F = \\frac{\\sum_r m_r \\nabla L_r}{\\sum_r m_r}
                  + \\nabla R,

        :math:`L_r` being rank r's weighted mean loss and :math:`m_r` its
        weight. Returns ``(loss, total weight)``; the weight is None when
        not distributed (the caller knows it).
        """
        params = self.params
        set_grads_to_none(params)
        if not self.comm.active:
            if self.l2 is not None:
                return self._backward_l2(X, target, weight), None
            loss = self.objective(X, target, weight)
            loss.backward()
            return loss.detach(), None
        mass = self.mass(X.shape[0], weight)
        # Rows of zero total weight (none left, or all weighted 0) add nothing;
        # their weighted mean would be 0 / 0.
        if X.shape[0] and float(mass) > 0:
            data = self.loss(self.module(X), target, weight) * mass.to(params[0].dtype)
            data.backward()
            data = data.detach()
        else:
            data = params[0].new_zeros(())
        grads = []
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        # In the gradients' dtype, so that one all-reduce a step carries all.
        totals = torch.stack([data, mass.to(data.dtype)])
        self.comm.sum([*grads, totals])
        for g in grads:
            g.div_(totals[1])
        loss = (totals[0] / totals[1]).to(torch.float64)
        penalty = self.penalty(self.module)
        if isinstance(penalty, torch.Tensor):
            if penalty.requires_grad:
                penalty.backward()
            loss = loss + penalty.detach().to(torch.float64)
        return loss, totals[1]

    def _backward_l2(self, X, target, weight):
        """:meth:`backward` alone, with the penalty's gradient :math:`\\alpha P` added directly."""
        loss = self.loss(self.module(X), target, weight)
        loss.backward()
        alpha, tensors = self.l2
        with torch.no_grad():
            grads = []
            for p in tensors:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                grads.append(p.grad)
            torch._foreach_add_(grads, tensors, alpha=alpha)
            norms = torch._foreach_norm(tensors)
            penalty = torch.stack(norms).square().sum() * (0.5 * alpha)
        return loss.detach() + penalty

    def rows(self, index):
        """``(X, target, weight)`` of the rows ``index`` (tensor of rows or slice)."""
        weight = self.sample_weight
        if isinstance(index, slice):
            if self.X.layout == torch.strided:
                X = self.X[index]
            else:
                rows = torch.arange(self.n_samples, device=self.target.device)[index]
                X = self.X.index_select(0, rows)
            return X, self.target[index], None if weight is None else weight[index]
        return (
            self.X.index_select(0, index),
            self.target.index_select(0, index),
            None if weight is None else weight.index_select(0, index),
        )


def set_grads_to_none(params):
    # Cheaper than optimizer.zero_grad(), which goes through profiler hooks.
    for p in params:
        p.grad = None


def stalled(loss_before, loss_after, dtype):
    """Whether the loss changed by no more than rounding (64 eps, relative)."""
    eps = torch.finfo(dtype).eps
    return abs(loss_before - loss_after) <= 64 * eps * max(abs(loss_before), abs(loss_after), 1.0)


@dataclass
class SolverContext:
    """What some solvers need besides the problem and the options.

    Attributes
    ----------
    head : object
        The estimator's head (loss and link; see :mod:`sklearn_autodiff.heads`).
    custom_loss : bool
        Whether the estimator redefines its loss (then the head's math does
        not describe the objective, and Newton-type solvers do not apply).
    alpha : float
        The L2 penalty :math:`\\frac{\\alpha}{2}\\lVert W \\rVert^2` of a linear model.
    generator : torch.Generator or None
        The stream of the mini-batch solvers' shuffles.
    """

    head: object = None
    custom_loss: bool = False
    alpha: float = 0.0
    generator: torch.Generator = None


class Solver:
    """Base class of the solvers: one ``step`` each, built as ``Solver(problem, options, context)``.

    A subclass sets ``name`` (its entry in the registry), ``full_batch``
    (whether a step sees every row), and overrides :meth:`applies` where it
    needs more than a module with parameters; one with state to carry across
    ``partial_fit`` calls overrides :meth:`state_dict` and
    :meth:`load_state_dict`.
    """

    name = None
    full_batch = True
    #: Whether ``step`` reports the loss at the parameters it leaves (else
    #: the loss seen on the way, before the last update: first-order steps).
    loss_after_step = True

    @staticmethod
    def applies(problem, context):
        """Whether the solver can minimise this problem."""
        return True

    def step(self):
        """Run one iteration (or epoch); return ``(loss, converged)``."""
        raise NotImplementedError

    def state_dict(self):
        """The state to carry to the next call (None: nothing)."""
        return None

    def load_state_dict(self, state):
        """Restore :meth:`state_dict`'s state."""


class TorchOptimizerSolver(Solver):
    """A solver driving a :class:`torch.optim.Optimizer` (``self.optimizer``), whose state it carries."""

    def state_dict(self):
        return copy.deepcopy(self.optimizer.state_dict())

    def load_state_dict(self, state):
        # A copy: torch keeps the given tensors and updates them in place, and
        # the caller's state must survive a failed call.
        if state is not None:
            self.optimizer.load_state_dict(copy.deepcopy(state))
