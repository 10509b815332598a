"""First-order solvers: L-BFGS, full-batch gradient descent, mini-batch Adam and SGD."""

import numpy as np
import torch

from ._problem import TorchOptimizerSolver, stalled

LBFGS_HISTORY = 10
LBFGS_MAX_LINE_SEARCH = 25
# Points remembered by the L-BFGS closure: its line search evaluates a few,
# and the step ends at one of them.
CLOSURE_CACHE_SIZE = 4

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


class LBFGS(TorchOptimizerSolver):
    """One :class:`torch.optim.LBFGS` iteration (strong-Wolfe line search) per step."""

    name = "lbfgs"

    def __init__(self, problem, options, context=None):
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
        converged = grad_max <= self.tol or stalled(loss_before, loss_after, self.params[0].dtype)
        return loss_after, converged


class GradientDescent(TorchOptimizerSolver):
    """One full-batch step of fixed size per step."""

    name = "gd"
    loss_after_step = False  # the closure's loss, before the update

    def __init__(self, problem, options, context=None):
        self.closure = _full_batch_closure(problem, 0)
        self.optimizer = _make_torch_optimizer(torch.optim.SGD, problem.params, lr=options.learning_rate)

    def step(self):
        return float(self.optimizer.step(self.closure)), False


class MiniBatch(TorchOptimizerSolver):
    """One epoch of mini-batch Adam or SGD per step.

    The epoch's loss is the mean of the batches' losses, each before its update.

    Nothing in the batch loop waits for the device: batch losses stay
    tensors and are averaged, weighted by each batch's sample weight, once
    per epoch.

    Distributed, a step is synchronous data-parallel, as in
    :class:`torch.nn.parallel.DistributedDataParallel`: every rank takes
    ``batch_size`` rows of its own shard (shuffled by its own generator),
    and the step follows the weighted mean gradient over all these rows, so
    ``world_size * batch_size`` rows a step when shards are equal.
    """

    full_batch = False

    loss_after_step = False

    def __init__(self, problem, options, context):
        self.problem = problem
        self.options = options
        self.generator = context.generator
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


