r"""Newton's method for a convex loss that is not smooth, by continuation.

The pinball loss has a kink at zero residual, where Newton's method has no
curvature to use, and L-BFGS stalls near the optimum of such a loss. Its
head offers ``smoothed(width)``: a convex, once-differentiable surrogate
within :math:`width / 2` of it per sample. :class:`Continuation` minimises
the surrogate with Newton steps, then shrinks the width tenfold and goes on
from there, down to a width of ``FINAL_WIDTH`` times the spread of y: each
stage starts next to its optimum, so takes few steps, and the last one's
optimum is within rounding of the pinball loss's (a vertex of its linear
program, where the samples that decide it have residual 0 and stay in the
band).
"""

import dataclasses

import torch

from ._newton import AffineNewton, Newton
from ._problem import Solver

# Widths of the surrogate, relative to the spread of the targets.
FIRST_WIDTH = 1.0
SHRINK = 10.0
FINAL_WIDTH = {torch.float64: 1e-7, torch.float32: 1e-4}


class Continuation(Solver):
    """Newton on smoothed surrogates of the head's loss, their width shrinking to zero.

    What ``solver="newton"`` (and ``"auto"``) run for a head that is not
    smooth but offers ``smoothed(width)`` (the pinball loss).

    Parameters
    ----------
    problem : Problem
        Its module must have affine logits (see :class:`~._newton.Newton`).
    options : TrainingOptions
    context : SolverContext
        Its head has ``smoothed(width)`` returning a head with ``loss_derivatives``.
    """

    name = "newton"
    full_batch = True

    def __init__(self, problem, options, context):
        self.problem, self.options, self.context = problem, options, context
        self.head = context.head
        scale = _spread(problem.target, problem.comm)
        self.width = FIRST_WIDTH * scale
        self.final_width = FINAL_WIDTH.get(problem.params[0].dtype, 1e-4) * scale
        self.inner = self._stage()

    def _stage(self):
        surrogate = self.head.smoothed(self.width)
        problem = dataclasses.replace(self.problem, loss=surrogate.loss)
        return Newton(problem, self.options, dataclasses.replace(self.context, head=surrogate))

    def step(self):
        loss, converged = self.inner.step()
        if not converged:
            return loss, False
        if self.width <= self.final_width:
            return loss, True
        self.width /= SHRINK
        self.inner = self._stage()
        return loss, False

    @staticmethod
    def applies(problem, context):
        """Whether the head is not smooth but has a smooth surrogate, and the logits are affine."""
        head = context.head
        if getattr(head, "smooth", True) or not hasattr(head, "smoothed"):
            return False
        surrogate = dataclasses.replace(context, head=head.smoothed(1.0))
        return AffineNewton.applies(problem, surrogate)


def _spread(target, comm):
    """A scale of the targets: their largest column standard deviation (1 when constant).

    From sums over every rank's rows, so that all ranks use the same widths.
    """
    y = target.to(torch.float64)
    sums = torch.stack([y.new_full((y.shape[1],), float(y.shape[0])), y.sum(0), y.square().sum(0)])
    count, total, squares = comm.sum([sums])[0]
    variance = (squares - total.square() / count.clamp_min(1)) / (count - 1).clamp_min(1)
    spread = float(variance.clamp_min(0).sqrt().max())
    return spread if spread > 0 else 1.0
