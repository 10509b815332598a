r"""Solvers: one small class each, with one ``step`` each, chosen in one place.

Every solver minimises the objective of a :class:`Problem`,

.. math:: F(\theta) = \frac{\sum_i s_i \ell_i(\theta)}{\sum_i s_i} + R(\theta),

a weighted mean loss plus a penalty of the parameters alone. ``step()``
runs one iteration (full-batch solvers) or one epoch (mini-batch solvers)
and returns ``(loss, converged)``.

=============== ==========================================================
``"newton"``    Damped Newton steps on the affine logits of a linear model
                with a separable convex loss. The Hessian is
                :math:`[X, 1]^\top D [X, 1]` per output, D being autograd's
                second derivative of the loss in the logits: one BLAS-3
                pass over X. Reaches the optimum to rounding.
``"lbfgs"``     :class:`torch.optim.LBFGS` with a strong-Wolfe line search,
                full batch; stops when the largest gradient entry is at most
                ``tol`` or the loss stops changing.
``"gd"``        Full-batch gradient descent with a fixed step (the lecture's).
``"sgd"``       Mini-batch SGD with (Nesterov) momentum.
``"adam"``      Mini-batch Adam.
``"auto"``      ``"newton"`` when its estimated cost is below that of
                ``"lbfgs"``; otherwise ``"lbfgs"`` finished by Newton steps
                when they are cheap, else ``"lbfgs"`` alone
                (:func:`choose_solver`). Models Newton does not apply to
                get ``"lbfgs"``.
=============== ==========================================================
"""

import copy
import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from ._distributed import LOCAL, Communicator

SOLVERS = ("auto", "newton", "lbfgs", "adam", "sgd", "gd")
FULL_BATCH_SOLVERS = ("auto", "newton", "lbfgs", "gd")
DEFAULT_LEARNING_RATE = {"adam": 1e-3, "sgd": 0.1, "gd": 0.1}

LBFGS_HISTORY = 10
LBFGS_MAX_LINE_SEARCH = 25
# Points remembered by the L-BFGS closure: its line search evaluates a few,
# and the step ends at one of them.
CLOSURE_CACHE_SIZE = 4
NEWTON_MAX_HALVINGS = 30
# Newton steps taken after the gradient tolerance is met: from there each
# step squares the error, so two reach the optimum to rounding.
NEWTON_POLISH_STEPS = 2
# Rows of X times outputs per block of the Hessian product (bounds its memory).
HESSIAN_BLOCK_ELEMENTS = 2**20

# Cost model of choose_solver, in seconds on one core of a current CPU: a
# streamed pass over one element of X, one BLAS-3 multiply-add, and the
# Python overhead of an L-BFGS iteration; with typical iteration counts.
PASS_COST = 4e-10
GEMM_COST = 2e-11
LBFGS_OVERHEAD = 1e-3
NEWTON_ITERATIONS = 8
LBFGS_ITERATIONS = 60


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
    """

    module: torch.nn.Module
    loss: callable
    penalty: callable
    X: torch.Tensor
    target: torch.Tensor
    sample_weight: torch.Tensor = None
    comm: Communicator = LOCAL
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
        _set_grads_to_none(params)
        if not self.comm.active:
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


def _set_grads_to_none(params):
    # Cheaper than optimizer.zero_grad(), which goes through profiler hooks.
    for p in params:
        p.grad = None


def _stalled(loss_before, loss_after, dtype):
    """Whether the loss changed by no more than rounding (64 eps, relative)."""
    eps = torch.finfo(dtype).eps
    return abs(loss_before - loss_after) <= 64 * eps * max(abs(loss_before), abs(loss_after), 1.0)


class _Solver:
    """A solver without state to carry across calls (the default)."""

    name = None

    def state_dict(self):
        return None

    def load_state_dict(self, state):
        pass


class _TorchOptimizerSolver(_Solver):
    def state_dict(self):
        return copy.deepcopy(self.optimizer.state_dict())

    def load_state_dict(self, state):
        # A copy: torch keeps the given tensors and updates them in place, and
        # the caller's state must survive a failed call.
        if state is not None:
            self.optimizer.load_state_dict(copy.deepcopy(state))


def _full_batch_closure(problem, cache_size):
    """Closure returning the full-batch objective with gradients in ``.grad``.

    A call at recently evaluated parameters (L-BFGS re-evaluates the point its
    line search accepted) returns the remembered result instead of a pass.
    """
    params = problem.params
    cache = []  # (flat parameters, loss, grads), most recent first

    def closure():
        flat = torch.cat([p.detach().reshape(-1) for p in params]) if cache_size else None
        for entry in cache:
            if torch.equal(flat, entry[0]):
                for p, g in zip(params, entry[2]):
                    p.grad = g.clone()
                return entry[1]
        loss, _ = problem.backward(problem.X, problem.target, problem.sample_weight)
        if cache_size:
            cache.insert(0, (flat, loss, [p.grad.detach().clone() for p in params]))
            del cache[cache_size:]
        return loss

    return closure


class LBFGS(_TorchOptimizerSolver):
    """One :class:`torch.optim.LBFGS` iteration (strong-Wolfe line search) per step."""

    name = "lbfgs"

    def __init__(self, problem, options):
        self.params = problem.params
        self.tol = options.tol
        self.closure = _full_batch_closure(problem, CLOSURE_CACHE_SIZE)
        self.optimizer = torch.optim.LBFGS(
            self.params,
            lr=1.0,
            max_iter=1,
            max_eval=1 + LBFGS_MAX_LINE_SEARCH,
            tolerance_grad=options.tol,
            tolerance_change=0.0,
            history_size=LBFGS_HISTORY,
            line_search_fn="strong_wolfe",
        )

    def step(self):
        loss_before = float(self.closure())
        if not np.isfinite(loss_before):
            # torch's line search fails with an IndexError on a NaN start.
            return loss_before, False
        self.optimizer.step(self.closure)
        loss_after = float(self.closure())
        grad_max = max(float(p.grad.abs().max()) for p in self.params)
        converged = grad_max <= self.tol or _stalled(loss_before, loss_after, self.params[0].dtype)
        return loss_after, converged


class GradientDescent(_TorchOptimizerSolver):
    """One full-batch step of fixed size per step."""

    name = "gd"

    def __init__(self, problem, options):
        self.closure = _full_batch_closure(problem, 0)
        self.optimizer = _make_torch_optimizer(torch.optim.SGD, problem.params, lr=options.learning_rate)

    def step(self):
        return float(self.optimizer.step(self.closure)), False


class MiniBatch(_TorchOptimizerSolver):
    """One epoch of mini-batch Adam or SGD per step.

    Nothing in the batch loop waits for the device: batch losses stay
    tensors and are averaged, weighted by each batch's sample weight, once
    per epoch.

    Distributed, a step is synchronous data-parallel, as in
    :class:`torch.nn.parallel.DistributedDataParallel`: every rank takes
    ``batch_size`` rows of its own shard (shuffled by its own generator),
    and the step follows the weighted mean gradient over all these rows, so
    ``world_size * batch_size`` rows a step when shards are equal.
    """

    def __init__(self, problem, options, generator):
        self.problem = problem
        self.options = options
        self.generator = generator
        self.name = options.solver
        # Distributed, every rank takes the same number of steps an epoch:
        # that of the largest shard (smaller shards sit the last ones out).
        self.n_batches = int(problem.comm.max(-(-problem.n_samples // options.batch_size)))
        if options.solver == "adam":
            self.optimizer = _make_torch_optimizer(torch.optim.Adam, problem.params, lr=options.learning_rate)
        else:
            self.optimizer = _make_torch_optimizer(
                torch.optim.SGD,
                problem.params,
                lr=options.learning_rate,
                momentum=options.momentum,
                nesterov=options.nesterov and options.momentum > 0,
            )

    def step(self):
        problem, size = self.problem, self.options.batch_size
        n = problem.n_samples
        order = None
        if self.options.shuffle:
            order = torch.randperm(n, generator=self.generator, device=self.generator.device)
        losses, masses = [], []
        for start in range(0, self.n_batches * size, size):
            index = slice(start, start + size) if order is None else order[start : start + size]
            X, target, weight = problem.rows(index)
            loss, mass = problem.backward(X, target, weight)
            self.optimizer.step()
            losses.append(loss)
            masses.append(mass)
        losses = torch.stack(losses).to(torch.float64)
        if problem.comm.active:  # each step's weight over every rank
            batch_weight = torch.stack(masses)
        elif problem.sample_weight is None:
            n_batches = losses.shape[0]
            batch_weight = torch.full((n_batches,), float(size), dtype=torch.float64, device=losses.device)
            batch_weight[-1] = n - size * (n_batches - 1)
        else:
            n_batches = losses.shape[0]
            weight = problem.sample_weight if order is None else problem.sample_weight[order]
            padded = weight.new_zeros(n_batches * size, dtype=torch.float64)
            padded[:n] = weight
            batch_weight = padded.view(n_batches, size).sum(dim=1)
        return float((losses * batch_weight).sum() / batch_weight.sum()), False


def _make_torch_optimizer(factory, params, **kwargs):
    """Adam or SGD with torch's fused kernel, called directly where it exists.

    A fused step updates every parameter in one call (a third of the time of
    the default loop of small operations for a (100, 100) MLP on the CPU).
    :class:`FusedStep` calls the kernel without ``Optimizer.step``, whose
    first call in a process imports torch's compiler stack (2.3 s) and whose
    wrapper costs tens of microseconds a batch; elsewhere torch's optimizer.
    """
    if FusedStep.supports(params):
        return FusedStep(factory, params, **kwargs)
    return factory(params, **kwargs)


class FusedStep:
    """The update of ``torch.optim.Adam`` / ``SGD(fused=True)``, by their fused kernels.

    ``state_dict`` and ``load_state_dict`` use torch's optimizer format, so a
    state can move between this class and the torch optimizer.
    """

    def __init__(self, factory, params, lr, momentum=0.0, nesterov=False):
        self.adam = factory is torch.optim.Adam
        self.params = params
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.betas, self.eps = (0.9, 0.999), 1e-8
        if self.adam:
            self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
            self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in params]
            self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in params]
        else:
            self.buffers = None  # created from the first gradients, as torch does

    @staticmethod
    def supports(params):
        if not params or not hasattr(torch, "_fused_adam_") or not hasattr(torch, "_fused_sgd_"):
            return False
        device = params[0].device
        return device.type in ("cpu", "cuda") and all(
            p.device == device and p.dtype in (torch.float32, torch.float64) and p.layout == torch.strided
            for p in params
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        grads = [p.grad for p in self.params]
        if self.adam:
            torch._foreach_add_(self.steps, 1)
            torch._fused_adam_(
                self.params, grads, self.exp_avgs, self.exp_avg_sqs, [], self.steps,
                lr=self.lr, beta1=self.betas[0], beta2=self.betas[1], weight_decay=0.0,
                eps=self.eps, amsgrad=False, maximize=False,
            )
        else:
            first = self.buffers is None and self.momentum > 0
            if first:
                self.buffers = [torch.empty_like(p) for p in self.params]
            torch._fused_sgd_(
                self.params, grads, self.buffers if self.momentum > 0 else [],
                weight_decay=0.0, momentum=self.momentum, lr=self.lr, dampening=0.0,
                nesterov=self.nesterov, maximize=False, is_first_step=first,
            )
        return loss

    def state_dict(self):
        if self.adam:
            state = {
                i: {"step": s, "exp_avg": m, "exp_avg_sq": v}
                for i, (s, m, v) in enumerate(zip(self.steps, self.exp_avgs, self.exp_avg_sqs))
            }
            group = {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": 0.0,
                     "amsgrad": False}
        else:
            state = {} if self.buffers is None else {
                i: {"momentum_buffer": b} for i, b in enumerate(self.buffers)
            }
            group = {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                     "dampening": 0.0, "weight_decay": 0.0}
        group["params"] = list(range(len(self.params)))
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict):
        state = state_dict["state"]
        if not state:
            return
        if self.adam:
            for i in range(len(self.params)):
                entry = state[i]
                self.steps[i] = torch.as_tensor(entry["step"], dtype=torch.float32).to(self.params[i].device).clone()
                self.exp_avgs[i] = entry["exp_avg"].to(self.params[i]).clone()
                self.exp_avg_sqs[i] = entry["exp_avg_sq"].to(self.params[i]).clone()
        elif self.momentum > 0:
            self.buffers = [state[i]["momentum_buffer"].to(p).clone() for i, p in enumerate(self.params)]


class Newton(_Solver):
    r"""Damped Newton steps on the affine logits :math:`Z = X W^\top + c`.

    For a separable loss the Hessian of the objective in the coefficients
    :math:`(w_k, c_k)` of output k is

    .. math:: H_k = [X, 1]^\top \operatorname{diag}(D_{:k}) [X, 1]
              + \alpha \operatorname{diag}(1, \dots, 1, 0),

    where :math:`D = \partial^2 L / \partial Z^2` (entrywise; the loss is
    separable, so the Hessian in Z is diagonal) comes in closed form from the
    head's ``loss_derivatives`` where it has them (the shipped binary
    cross-entropy heads), else from autograd's double backward of the loss
    in the logits; outputs do not interact. It is
    built in row blocks (memory bounded by ``HESSIAN_BLOCK_ELEMENTS``) and
    solved per output by Cholesky in float64, or through the pseudo-inverse
    when singular. Steps halve until the objective decreases enough (Armijo);
    a step is one counted iteration.

    The module must provide ``affine_logits()`` and ``set_affine_logits(W, c)``
    and be penalised by :math:`\frac{\alpha}{2}\lVert W \rVert^2` exactly.
    """

    name = "newton"

    def __init__(self, problem, options, alpha, head=None):
        self.problem = problem
        self.derivatives = _closed_form_derivatives(head)
        self.module = problem.module
        self.alpha = alpha
        self.tol = options.tol
        X = problem.X
        self.X = X.to_dense() if X.layout != torch.strided else X
        self.W, self.c = self.module.affine_logits()
        # Small problems keep [X, 1] whole: one product per Hessian, no blocks.
        n, d = self.X.shape
        self.X1 = None
        if n * (d + 1) * self.W.shape[0] <= HESSIAN_BLOCK_ELEMENTS:
            self.X1 = torch.cat([self.X, self.X.new_ones((n, 1))], dim=1)
        self.dtype = self.W.dtype
        # Distributed, this rank's loss counts by its share of the total weight.
        self.comm = problem.comm
        self.share = problem.share()
        self._point = self._evaluate(torch.addmm(self.c, self.X, self.W.T))
        self._polish_left = NEWTON_POLISH_STEPS

    def _data_loss(self, logits):
        """This rank's share of the weighted mean loss (the whole of it when alone)."""
        problem = self.problem
        loss = problem.loss(logits, problem.target, problem.sample_weight)
        return loss * self.share if self.comm.active else loss

    def _evaluate(self, logits):
        """Objective, gradient in (W, c), and D at the given logits."""
        Z = logits.detach()
        if self.derivatives is not None:  # the head's closed forms
            problem = self.problem
            loss, G, D = self.derivatives(Z, problem.target, problem.sample_weight)
            if self.comm.active:
                loss, G, D = loss * self.share, G * self.share, D * self.share
        else:  # autograd's first and second derivatives of the loss
            with torch.enable_grad():
                Z.requires_grad_(True)
                loss = self._data_loss(Z)
                (G,) = torch.autograd.grad(loss, Z, create_graph=True)
                (D,) = torch.autograd.grad(G.sum(), Z)
            Z = Z.detach()
        G = G.detach()
        loss = loss.detach().reshape(1)
        grad = torch.cat([G.T @ self.X, G.sum(dim=0, keepdim=True).T], dim=1)  # (k, d + 1)
        self.comm.sum([loss, grad])
        grad[:, :-1] += self.alpha * self.W
        value = float(loss) + 0.5 * self.alpha * float(self.W.square().sum())
        return value, grad, D.detach(), Z

    def _hessian(self, D):
        """Per-output Hessians in float64, shape (k, d + 1, d + 1), the penalty included."""
        H = self.comm.sum([self._data_hessian(D)])[0].to(torch.float64)
        d = H.shape[1] - 1
        H[:, :d, :d] += self.alpha * torch.eye(d, dtype=torch.float64, device=H.device)
        return H

    def _data_hessian(self, D):
        """:math:`[X, 1]^\\top \\operatorname{diag}(D_{:k}) [X, 1]` for each output k."""
        if self.X1 is not None:
            X1 = self.X1
            return (D.T.unsqueeze(2) * X1.unsqueeze(0)).transpose(1, 2) @ X1
        X = self.X
        n, d = X.shape
        k = D.shape[1]
        H = X.new_zeros((k, d + 1, d + 1))
        block = max(1, HESSIAN_BLOCK_ELEMENTS // max(1, k * d))
        for start in range(0, n, block):
            Xb, Db = X[start : start + block], D[start : start + block].T  # (m, d), (k, m)
            scaled = Db.unsqueeze(2) * Xb.unsqueeze(0)  # (k, m, d)
            H[:, :d, :d] += scaled.transpose(1, 2) @ Xb
            H[:, :d, d] += scaled.sum(dim=1)
            H[:, d, d] += Db.sum(dim=1)
        H[:, d, :d] = H[:, :d, d]
        return H

    def step(self):
        value, grad, D, Z = self._point
        grad_max = float(grad.abs().max())
        if grad_max <= self.tol:
            if self._polish_left == 0:
                return value, True
            self._polish_left -= 1
        direction = _newton_direction(self._hessian(D), grad.to(torch.float64))
        if direction is None:
            return value, True
        slope = float((grad.to(torch.float64) * direction).sum())
        if not slope < 0:
            return value, True
        direction = direction.to(self.dtype)
        dW, dc = direction[:, :-1], direction[:, -1]
        dZ = torch.addmm(dc, self.X, dW.T)
        scale = 1.0
        for _ in range(NEWTON_MAX_HALVINGS):
            W = self.W + scale * dW
            trial = self.comm.sum([self._data_loss(Z + scale * dZ).reshape(1)])[0]
            trial_value = float(trial) + 0.5 * self.alpha * float(W.square().sum())
            if np.isfinite(trial_value) and trial_value <= value + 1e-4 * scale * slope:
                self.W, self.c = W, self.c + scale * dc
                self.module.set_affine_logits(self.W, self.c)
                self._point = self._evaluate(Z + scale * dZ)
                stalled = _stalled(value, self._point[0], self.dtype)
                return self._point[0], stalled
            scale *= 0.5
        return value, True  # no decrease left: the optimum to rounding

    @staticmethod
    def applies(problem, head, custom_loss):
        """Whether the problem's model has affine logits and a separable convex loss."""
        module = problem.module
        return (
            not custom_loss
            and getattr(head, "newton", head.separable and head.convex)
            and hasattr(module, "affine_logits")
            and hasattr(module, "set_affine_logits")
            and (problem.X.layout == torch.strided or problem.X.shape[0] * problem.X.shape[1] <= 2**24)
        )


def _closed_form_derivatives(head):
    """The head's ``loss_derivatives`` if they belong to its ``loss``, else None (autograd).

    A head subclass that redefines ``loss`` but not ``loss_derivatives``
    would otherwise get the parent's derivatives of another loss.
    """
    if getattr(head, "loss_derivatives", None) is None:
        return None
    mro = type(head).__mro__
    owner = {name: next(c for c in mro if name in c.__dict__) for name in ("loss", "loss_derivatives")}
    if not issubclass(owner["loss_derivatives"], owner["loss"]):
        return None
    return head.loss_derivatives


def _newton_direction(hessian, grad):
    """:math:`-H_k^{+} g_k` for each output k, or None when not factorable.

    A well-conditioned Hessian is solved through its Cholesky factor; a
    singular or ill-conditioned one (no penalty on separable data) through
    the pseudo-inverse from ``eigh``, which leaves flat directions alone.
    """
    if not bool(torch.isfinite(hessian).all()):
        return None
    factor, info = torch.linalg.cholesky_ex(hessian)
    if int(info.max()) == 0:
        diagonal = factor.diagonal(dim1=1, dim2=2)
        if float((diagonal.min(dim=1).values / diagonal.max(dim=1).values).min()) > 1e-6:
            return -torch.cholesky_solve(grad.unsqueeze(2), factor).squeeze(2)
    try:
        eigvals, eigvecs = torch.linalg.eigh(hessian)
    except torch.linalg.LinAlgError:
        return None
    cutoff = eigvals.abs().max(dim=1, keepdim=True).values * 1e-12
    inverse = torch.where(eigvals > cutoff, 1.0 / eigvals, torch.zeros_like(eigvals))
    projected = (eigvecs.transpose(1, 2) @ grad.unsqueeze(2)).squeeze(2)
    return -(eigvecs @ (inverse * projected).unsqueeze(2)).squeeze(2)


class Finished(_Solver):
    """Run ``first`` until it converges, then up to ``max_steps`` of ``then``."""

    def __init__(self, first, make_then, max_steps):
        self.first = first
        self.make_then = make_then
        self.then = None
        self.steps_left = max_steps
        self.name = f"{first.name}+newton"

    def step(self):
        if self.then is None:
            loss, converged = self.first.step()
            if converged:
                self.then = self.make_then()
            return loss, False
        self.steps_left -= 1
        loss, converged = self.then.step()
        return loss, converged or self.steps_left <= 0

    def state_dict(self):
        return self.first.state_dict()

    def load_state_dict(self, state):
        self.first.load_state_dict(state)


def newton_costs(n, d, k, n_threads=1):
    """Estimated seconds of a Newton run and of an L-BFGS run on an (n, d) problem with k outputs."""
    newton_iteration = n * k * (d + 1) ** 2 * GEMM_COST / n_threads + 3 * n * d * k * PASS_COST
    newton_iteration += k * (d + 1) ** 3 * GEMM_COST
    # One L-BFGS evaluation reads X twice (forward and gradient) whatever k,
    # until the k columns make the products compute bound.
    lbfgs_iteration = 2.4 * n * d * max(1.0, k / 4) * PASS_COST + LBFGS_OVERHEAD
    return NEWTON_ITERATIONS * newton_iteration, LBFGS_ITERATIONS * lbfgs_iteration, newton_iteration


def choose_solver(options, problem, head, custom_loss, alpha, generator):
    """Build the solver that runs for ``options.solver`` (the one place that chooses).

    Raises
    ------
    ValueError
        If ``solver="newton"`` is asked for a model it does not apply to.
    """
    name = options.solver
    comm = problem.comm
    # Distributed, every rank must choose the same: Newton only where it
    # applies on every shard, and the choice agreed by all (the largest code).
    from ._continuation import Continuation  # imports this module

    newton_ok = not comm.any(
        not (Newton.applies(problem, head, custom_loss)
             or Continuation.applies(problem, head, custom_loss))
    )
    if name == "newton" and not newton_ok:
        raise ValueError(
            "solver='newton' needs a model whose logits are affine in X (the linear "
            "models) with the estimator's own separable convex loss, and dense X or a "
            "small sparse one; use solver='lbfgs' or 'auto'."
        )
    # A convex loss with a kink (the pinball loss) is solved exactly by
    # Newton's continuation on its smoothed surrogates; nothing else gets there.
    if name in ("auto", "newton") and newton_ok and not getattr(head, "smooth", True):
        return Continuation(problem, options, alpha, head)
    if name == "auto":
        choice = 0  # 0: lbfgs, 1: lbfgs then newton, 2: newton
        if newton_ok:
            n, d = problem.X.shape
            k = problem.target.shape[1] if problem.target.ndim == 2 else 1
            newton, lbfgs, one_step = newton_costs(n, d, k, torch.get_num_threads())
            if newton <= lbfgs:
                choice = 2
            elif NEWTON_POLISH_STEPS * one_step <= 0.5 * lbfgs:
                choice = 1
        choice = int(comm.max(choice))
        if choice == 1:
            return Finished(
                LBFGS(problem, options),
                lambda: Newton(problem, options, alpha, head),
                NEWTON_POLISH_STEPS + 1,
            )
        name = ("lbfgs", None, "newton")[choice]
    if name == "newton":
        return Newton(problem, options, alpha, head)
    if name == "lbfgs":
        return LBFGS(problem, options)
    if name == "gd":
        return GradientDescent(problem, options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return MiniBatch(problem, options, generator)
