"""Newton-type solvers of linear models: Newton-Cholesky and truncated Newton (CG)."""

import numpy as np
import torch

from ._problem import Solver, stalled

NEWTON_MAX_HALVINGS = 30
# Newton steps taken after the gradient tolerance is met: from there each
# step squares the error, so two reach the optimum to rounding.
NEWTON_POLISH_STEPS = 2
# Rows of X times outputs per block of the Hessian product (bounds its memory).
HESSIAN_BLOCK_ELEMENTS = 2**20
# Conjugate-gradient iterations of one truncated Newton step, at most.
CG_MAX_ITER = 250
# Sparse X is made dense for the Newton solvers up to this many entries.
DENSE_LIMIT = 2**24


def newton_applies(head):
    """Whether Newton-type solvers apply to the head (its ``newton`` flag).

    A head says so with ``newton``; without it, a convex separable loss
    qualifies (its Hessian in the logits is diagonal and positive).
    """
    return bool(getattr(head, "newton", head.convex and head.separable))


class AffineNewton(Solver):
    r"""Template of Newton-type steps on the affine logits :math:`Z = X W^\top + c`.

    A step, as in scikit-learn's ``NewtonSolver``: the gradient and the
    second derivatives D of the loss in the logits (at the current point,
    computed by the previous step), a direction from the subclass's
    :meth:`_direction`, then a backtracking (Armijo) line search along it,
    evaluated on the logits :math:`Z + s\,\Delta Z` (one pass over X per
    step, whatever the number of halvings), and the convergence test: the
    largest gradient entry at most ``tol``, then ``NEWTON_POLISH_STEPS``
    more steps; or an objective that no longer changes.

    For a separable loss the objective's Hessian in the coefficients
    :math:`(w_k, c_k)` of output k is

    .. math:: H_k = [X, 1]^\top \operatorname{diag}(D_{:k}) [X, 1]
              + \alpha \operatorname{diag}(1, \dots, 1, 0),

    with :math:`D = \partial^2 L / \partial Z^2` entrywise, in closed form
    from the head's ``loss_derivatives`` where it has them, else from
    autograd's double backward of the loss in the logits; outputs do not
    interact. The module must provide ``affine_logits()`` and
    ``set_affine_logits(W, c)`` and be penalised by
    :math:`\frac{\alpha}{2}\lVert W \rVert^2` exactly.
    """

    def __init__(self, problem, options, context):
        self.problem = problem
        self.derivatives = _closed_form_derivatives(context.head)
        self.module = problem.module
        self.alpha = context.alpha
        self.tol = options.tol
        X = problem.X
        self.X = X.to_dense() if X.layout != torch.strided else X
        self.W, self.c = self.module.affine_logits()
        self.dtype = self.W.dtype
        # Distributed, this rank's loss counts by its share of the total weight.
        self.comm = problem.comm
        self.share = problem.share()
        self._point = self._evaluate(torch.addmm(self.c, self.X, self.W.T))
        self._polish_left = NEWTON_POLISH_STEPS

    @staticmethod
    def applies(problem, context):
        """Whether the model has affine logits and the head a Newton-friendly loss."""
        module, X = problem.module, problem.X
        return (
            not context.custom_loss
            and newton_applies(context.head)
            and hasattr(module, "affine_logits")
            and hasattr(module, "set_affine_logits")
            and (X.layout == torch.strided or X.shape[0] * X.shape[1] <= DENSE_LIMIT)
        )

    def _data_loss(self, logits):
        """This rank's share of the weighted mean loss (the whole of it when alone)."""
        problem = self.problem
        loss = problem.loss(logits, problem.target, problem.sample_weight)
        return loss * self.share if self.comm.active else loss

    def _evaluate(self, logits):
        """``(objective, gradient in (W, c) of shape (k, d + 1), D, Z)`` at the given logits."""
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
        grad = torch.cat([G.T @ self.X, G.sum(dim=0, keepdim=True).T], dim=1)  # (k, d + 1)
        if self.comm.active:
            loss = loss.detach().reshape(1)
            self.comm.sum([loss, grad])
        grad[:, :-1] += self.alpha * self.W
        # One host sync for the objective and the convergence test.
        scalars = torch.stack([loss.detach().reshape(()).to(torch.float64),
                               self.W.square().sum().to(torch.float64),
                               grad.abs().max().to(torch.float64)]).tolist()
        self._grad_max = scalars[2]
        return scalars[0] + 0.5 * self.alpha * scalars[1], grad, D.detach(), Z

    def _direction(self, grad, D):
        """``(direction in (W, c) of shape (k, d + 1), its change of the logits)``.

        The direction is None where none is left; the change of the logits
        None where the subclass did not compute it on the way.
        """
        raise NotImplementedError

    def step(self):
        value, grad, D, Z = self._point
        if self._grad_max <= self.tol:
            if self._polish_left == 0:
                return value, True
            self._polish_left -= 1
        direction, dZ = self._direction(grad, D)
        if direction is None:
            return value, True
        direction = direction.to(self.dtype)
        dW, dc = direction[:, :-1], direction[:, -1]
        slope, WdW, dWdW = torch.stack([
            (grad * direction).sum(), (self.W * dW).sum(), dW.square().sum()
        ]).to(torch.float64).tolist()
        if not slope < 0:
            return value, True
        if dZ is None:
            dZ = torch.addmm(dc, self.X, dW.T)
        return self._line_search(value, slope, Z, (dW, dc, dZ), (WdW, dWdW))

    def _line_search(self, value, slope, Z, step, penalty_terms):
        r"""Halve the step until the objective decreases enough (Armijo); return ``(loss, converged)``.

        The penalty at :math:`W + s\,\Delta W` is
        :math:`\lVert W \rVert^2 + 2 s\, W \cdot \Delta W + s^2 \lVert \Delta W \rVert^2`,
        from two scalars, and the loss is evaluated on the logits.
        """
        dW, dc, dZ = step
        W_square = float(self.W.square().sum())
        scale = 1.0
        for _ in range(NEWTON_MAX_HALVINGS):
            penalty = W_square + 2 * scale * penalty_terms[0] + scale**2 * penalty_terms[1]
            trial_Z = torch.add(Z, dZ, alpha=scale)
            trial = self._data_loss(trial_Z).reshape(1)
            if self.comm.active:
                trial = self.comm.sum([trial])[0]
            trial_value = float(trial) + 0.5 * self.alpha * penalty
            if np.isfinite(trial_value) and trial_value <= value + 1e-4 * scale * slope:
                self.W, self.c = torch.add(self.W, dW, alpha=scale), torch.add(self.c, dc, alpha=scale)
                self.module.set_affine_logits(self.W, self.c)
                self._point = self._evaluate(trial_Z)
                return self._point[0], stalled(value, self._point[0], self.dtype)
            scale *= 0.5
        return value, True  # no decrease left: the optimum to rounding


class Newton(AffineNewton):
    r"""Newton-Cholesky: the direction solves :math:`H_k \Delta_k = -g_k` exactly.

    :math:`H_k` is built in one BLAS-3 pass over X (in row blocks, memory
    bounded by ``HESSIAN_BLOCK_ELEMENTS``), :math:`O(n d^2 k)`, and solved
    per output by Cholesky in float64, or through the pseudo-inverse when
    singular. Few iterations reach the optimum to rounding; the cost of
    forming :math:`H` makes it the solver of small d.
    """

    name = "newton"

    def __init__(self, problem, options, context):
        super().__init__(problem, options, context)
        self.quadratic = bool(getattr(context.head, "quadratic", False))
        # Small problems keep [X, 1] whole: one product per Hessian, no blocks.
        n, d = self.X.shape
        self.X1 = None
        if n * (d + 1) * self.W.shape[0] <= HESSIAN_BLOCK_ELEMENTS:
            self.X1 = torch.cat([self.X, self.X.new_ones((n, 1))], dim=1)

    def _direction(self, grad, D):
        return _newton_direction(self._hessian(D), grad.to(torch.float64)), None

    def step(self):
        loss, converged = super().step()
        # A quadratic objective (squared error) is minimised by one exact
        # Newton step: the polishing steps would only confirm it.
        return loss, converged or self.quadratic

    def _hessian(self, D):
        """Per-output Hessians in float64, shape (k, d + 1, d + 1), the penalty included."""
        H = self._data_hessian(D)
        if self.comm.active:
            H = self.comm.sum([H])[0]
        H = H.to(torch.float64)
        d = H.shape[1] - 1
        H.diagonal(dim1=1, dim2=2)[:, :d] += self.alpha
        return H

    def _data_hessian(self, D):
        r""":math:`[X, 1]^\top \operatorname{diag}(D_{:k}) [X, 1]` for each output k."""
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


class NewtonCG(AffineNewton):
    r"""Truncated Newton: conjugate gradient on Hessian-vector products.

    As scikit-learn's ``newton-cg`` and liblinear's trust-region Newton, the
    Hessian is never formed: each CG iteration multiplies by it through

    .. math:: H v = \bigl[X, 1\bigr]^\top \bigl(D \odot ([X, 1]\, v)\bigr)
              + \alpha \begin{bmatrix} v_w \\ 0 \end{bmatrix},

    two passes over X (:math:`4 n d k` flops), all outputs at once. CG stops
    when the residual falls below :math:`\eta \lVert g \rVert` with the forcing
    term :math:`\eta = \min(0.5, \sqrt{\lVert g \rVert})` (superlinear
    convergence near the optimum), after ``CG_MAX_ITER`` iterations, or on
    non-positive curvature (then the direction so far, or :math:`-g`).
    Preconditioned by the diagonal of H (one more pass a step), as liblinear
    does. The solver of large d: a step costs a few passes over X where
    Newton-Cholesky's costs :math:`n d^2 k`.
    """

    name = "newton-cg"

    def _direction(self, grad, D):
        if not hasattr(self, "_inverse_diagonal"):
            # Jacobi preconditioner diag(H) = [X^2, 1]^T D (+ alpha on w), from
            # the first step's D only: later ones would cost a pass each.
            diagonal = torch.cat([_squares_product(self.X, D), D.sum(dim=0, keepdim=True).T], dim=1)
            if self.comm.active:
                diagonal = self.comm.sum([diagonal])[0]
            diagonal[:, :-1] += self.alpha
            self._inverse_diagonal = torch.where(diagonal > 0, 1.0 / diagonal, torch.ones_like(diagonal))
        return _preconditioned_cg(lambda v: self._hessian_product(D, v), grad, self._inverse_diagonal)

    def _hessian_product(self, D, V):
        """``(H v, [X, 1] v)`` for each output's row v of V (shape (k, d + 1)), the penalty included.

        Large X goes in row blocks of about 4 MB, each read for both of its
        products while it is in cache.
        """
        X = self.X
        n, d = X.shape
        block = max(1, HESSIAN_BLOCK_ELEMENTS // max(1, d))
        XV = torch.addmm(V[:, -1], X, V[:, :-1].T) if block >= n else X.new_empty((n, V.shape[0]))
        HV = X.new_zeros((V.shape[0], d + 1))
        for start in range(0, n, block):
            rows = slice(start, start + block)
            if block < n:
                torch.addmm(V[:, -1], X[rows], V[:, :-1].T, out=XV[rows])
            U = XV[rows] * D[rows]
            HV[:, :-1].addmm_(U.T, X[rows])
            HV[:, -1] += U.sum(dim=0)
        if self.comm.active:
            HV = self.comm.sum([HV])[0]
        HV[:, :-1] += self.alpha * V[:, :-1]
        return HV, XV


def _squares_product(X, D):
    r""":math:`D^\top (X \odot X)`, in row blocks (no copy of X of its size)."""
    n, d = X.shape
    block = max(1, HESSIAN_BLOCK_ELEMENTS // max(1, d))
    if block >= n:
        return D.T @ X.square()
    out = X.new_zeros((D.shape[1], d))
    for start in range(0, n, block):
        out.addmm_(D[start : start + block].T, X[start : start + block].square())
    return out


def _preconditioned_cg(hessian_product, grad, inverse_diagonal):
    r"""Approximately solve :math:`H x = -g` by preconditioned conjugate gradient.

    ``hessian_product(v)`` returns ``(H v, [X, 1] v)``; the second is summed
    along with x, so that the logits' change :math:`[X, 1] x` comes without
    another pass over X. Stops at a residual :math:`\lVert r \rVert \le
    \min(0.5, \sqrt{\lVert g \rVert}) \lVert g \rVert` (the forcing term of
    scikit-learn's newton-cg), after ``CG_MAX_ITER`` iterations, or on
    non-positive curvature. Returns ``(x, [X, 1] x)``, x None when g is zero.
    """
    dot = lambda a, b: (a * b).sum(dtype=torch.float64)  # noqa: E731
    x, x_logits = torch.zeros_like(grad), None
    r = -grad
    z = inverse_diagonal * r
    p = z.clone()
    rz, rr = torch.stack([dot(r, z), dot(r, r)]).tolist()
    g_norm = rr**0.5
    if g_norm == 0:
        return None, None
    stop = min(0.5, g_norm**0.5) * g_norm
    for _ in range(min(CG_MAX_ITER, grad.numel())):
        Hp, p_logits = hessian_product(p)
        curvature = float(dot(p, Hp))
        if not curvature > 0:
            break
        step = rz / curvature
        x.add_(p, alpha=step)
        x_logits = p_logits * step if x_logits is None else x_logits.add_(p_logits, alpha=step)
        r.sub_(Hp, alpha=step)
        z = inverse_diagonal * r
        rz_new, rr = torch.stack([dot(r, z), dot(r, r)]).tolist()
        if rr**0.5 <= stop:
            break
        p.mul_(rz_new / rz).add_(z)
        rz = rz_new
    if x_logits is None:  # no curvature seen: a scaled gradient step
        return -inverse_diagonal * grad, None
    return x, x_logits


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


