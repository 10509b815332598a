"""The solver registry and the one place that chooses a solver.

A new solver is one class (a :class:`~._problem.Solver` subclass built as
``Solver(problem, options, context)``) and one entry in :data:`REGISTRY`.
"""

import warnings

from ._continuation import Continuation
from ._first_order import LBFGS, GradientDescent, MiniBatch
from ._newton import AffineNewton, Newton, NewtonCG
from ._problem import SolverContext

#: Solver name -> class. The class says what it applies to (``applies``)
#: and whether a step sees every row (``full_batch``).
REGISTRY = {
    "newton": Newton,
    "newton-cg": NewtonCG,
    "lbfgs": LBFGS,
    "gd": GradientDescent,
    "adam": MiniBatch,
    "sgd": MiniBatch,
}

# Cost model of "auto": seconds of a whole fit, a fixed part (Python,
# dispatch, the first evaluation) plus a part per element of X and output
# column (the passes over X), plus for Newton-Cholesky the n k (d+1)^2
# multiply-adds of its Hessians. Non-negative least squares on the relative
# errors of benchmarks/solvers.py's warm fits (float32, alpha = 1/n,
# make_classification, 2 threads of an AMD EPYC; benchmarks/README.md).
#: (fixed seconds, seconds per element of X and output, per Hessian multiply-add).
FIT_COST = {
    "newton": (4.7e-3, 1.18e-8, 3.9e-11),
    "newton-cg": (5.5e-3, 1.08e-8, 0.0),
    "lbfgs": (1.09e-2, 1.04e-8, 0.0),
}
#: Features up to which "auto" solves a quadratic objective by one Cholesky step.
QUADRATIC_CHOLESKY_MAX_FEATURES = 2000
#: Threads the constants were measured with (the Hessian's share scales with them).
CALIBRATION_THREADS = 2


def solver_costs(n, d, k, threads=CALIBRATION_THREADS):
    r"""Estimated seconds of a fit by each solver ``"auto"`` chooses from.

    .. math:: t_s = a_s + b_s\, n d k + c_s\, n k (d + 1)^2 \frac{T_0}{T}

    with the constants of ``FIT_COST`` (:math:`c_s` is zero but for
    Newton-Cholesky's Hessian, whose BLAS-3 product uses the T threads;
    :math:`T_0` = ``CALIBRATION_THREADS``). A pure function of the shape and
    the thread count, so the choice is reproducible.

    Parameters
    ----------
    n, d, k : int
        Rows, features and outputs (logit columns).
    threads : int
        Intra-op threads of the fit.

    Returns
    -------
    costs : dict
        ``{"newton": s, "newton-cg": s, "lbfgs": s}``.
    """
    gemm_share = CALIBRATION_THREADS / max(1, threads)
    return {
        name: fixed + per_element * n * d * k + per_gemm * n * k * (d + 1) ** 2 * gemm_share
        for name, (fixed, per_element, per_gemm) in FIT_COST.items()
    }


def auto_solver(n, d, k, threads=CALIBRATION_THREADS, newton=True):
    """The solver ``"auto"`` picks for a shape: the cheapest by :func:`solver_costs`.

    Parameters
    ----------
    n, d, k : int
        Rows, features and outputs (logit columns).
    threads : int, default=CALIBRATION_THREADS
        Intra-op threads the fit runs with.
    newton : bool, default=True
        Whether the Newton-type solvers apply (else ``"lbfgs"``).
    """
    if not newton:
        return "lbfgs"
    costs = solver_costs(n, d, k, threads)
    return min(costs, key=costs.get)


def choose_solver(options, problem, head, custom_loss, alpha, generator):
    """Build the solver that runs for ``options.solver`` (the one place that chooses).

    Raises
    ------
    ValueError
        If a Newton-type solver is asked for a model it does not apply to.
    """
    import torch

    name = options.solver
    context = SolverContext(head=head, custom_loss=custom_loss, alpha=alpha, generator=generator)
    comm = problem.comm
    # Distributed, every rank must choose the same: Newton only where it
    # applies on every shard, and the choice agreed by all.
    kinked = Continuation.applies(problem, context)
    newton_ok = not comm.any(not (kinked or AffineNewton.applies(problem, context)))
    if name in ("newton", "newton-cg") and not newton_ok:
        raise ValueError(
            f"solver={name!r} needs a model whose logits are affine in X (the linear "
            "models) and a head that declares newton=True (the shipped heads but the "
            "pinball loss do; an overridden loss method does not), with dense X or a "
            "small sparse one; use solver='lbfgs' or 'auto'."
        )
    if kinked and name in ("auto", "newton"):
        # A convex loss with a kink (the pinball loss) is solved exactly by
        # Newton's continuation on its smoothed surrogates; nothing else gets there.
        return Continuation(problem, options, context)
    if name == "auto":
        n, d = problem.X.shape
        k = problem.target.shape[1] if problem.target.ndim == 2 else 1
        picked = auto_solver(n, d, k, torch.get_num_threads(), newton_ok)
        if newton_ok and getattr(head, "quadratic", False):
            # One Newton-Cholesky step solves a quadratic objective; its d^3
            # factorisation only loses to CG for very many features.
            picked = "newton" if d <= QUADRATIC_CHOLESKY_MAX_FEATURES else "newton-cg"
        names = ("lbfgs", "newton-cg", "newton")
        name = names[int(comm.max(names.index(picked)))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return REGISTRY[name](problem, options, context)
