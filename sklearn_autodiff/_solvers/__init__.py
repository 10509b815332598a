r"""Solvers: one small class each, with one ``step`` each, chosen in one place.

Every solver minimises the objective of a :class:`Problem`,

.. math:: F(\theta) = \frac{\sum_i s_i \ell_i(\theta)}{\sum_i s_i} + R(\theta),

a weighted mean loss plus a penalty of the parameters alone. ``step()``
runs one iteration (full-batch solvers) or one epoch (mini-batch solvers)
and returns ``(loss, converged)``.

=============== ==========================================================
``"newton"``    Newton-Cholesky on the affine logits of a linear model
                with a Newton-friendly head: the Hessian
                :math:`[X, 1]^\top D [X, 1]` per output in one BLAS-3 pass
                (:math:`n d^2 k`), solved by Cholesky. Small d.
``"newton-cg"`` Truncated Newton on the same models: conjugate gradient on
                Hessian-vector products (two passes over X each), as
                scikit-learn's ``newton-cg``. Large d.
``"lbfgs"``     :class:`torch.optim.LBFGS` with a strong-Wolfe line search,
                full batch; any model.
``"gd"``        Full-batch gradient descent with a fixed step (the lecture's).
``"sgd"``       Mini-batch SGD with (Nesterov) momentum.
``"adam"``      Mini-batch Adam.
``"auto"``      The cheapest by a cost model calibrated on measured fits
                (:func:`auto_solver`); ``"lbfgs"`` where the Newton-type
                solvers do not apply.
=============== ==========================================================

Modules: ``_problem`` (the problem, the options, the base class),
``_first_order``, ``_newton``, ``_continuation`` (Newton for the pinball loss),
``_choice`` (the registry and the choice).
"""

from ._choice import REGISTRY, auto_solver, choose_solver, solver_costs
from ._first_order import LBFGS, FusedStep, GradientDescent, MiniBatch
from ._newton import (
    HESSIAN_BLOCK_ELEMENTS,
    NEWTON_POLISH_STEPS,
    AffineNewton,
    Newton,
    NewtonCG,
    newton_applies,
)
from ._problem import NonFiniteLossError, Problem, Solver, SolverContext, TrainingOptions

SOLVERS = ("auto", *REGISTRY)
FULL_BATCH_SOLVERS = ("auto", *(name for name, cls in REGISTRY.items() if cls.full_batch))
DEFAULT_LEARNING_RATE = {"adam": 1e-3, "sgd": 0.1, "gd": 0.1}

__all__ = [
    "AffineNewton", "DEFAULT_LEARNING_RATE", "FULL_BATCH_SOLVERS", "FusedStep", "GradientDescent",
    "HESSIAN_BLOCK_ELEMENTS", "LBFGS", "MiniBatch", "NEWTON_POLISH_STEPS", "Newton", "NewtonCG",
    "NonFiniteLossError", "Problem", "REGISTRY", "SOLVERS", "Solver", "SolverContext",
    "TrainingOptions", "auto_solver", "choose_solver", "newton_applies", "solver_costs",
]
