"""The solvers, the solver choice, the training loop's policies and the thread policy, on their own."""

import threading
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier, TanhLogisticClassifier
from sklearn_autodiff.heads import OneVsRestBinaryCrossEntropy, OneVsRestTanh
from sklearn_autodiff._modules import LinearScorer, TanhScorer
from sklearn_autodiff._solvers import Newton, Problem, SolverContext, TrainingOptions
from sklearn_autodiff._threads import SINGLE_THREAD_WORK, TWO_CORE_THREAD_WORK, thread_budget, threads_for
from sklearn_autodiff._training import NoImprovement, train
from sklearn_autodiff.losses import l2_penalty


def _problem(module, head, n_classes, alpha, seed=0, weighted=True):
    rng = np.random.default_rng(seed)
    X = torch.as_tensor(rng.normal(size=(60, 4)))
    y = torch.as_tensor(rng.integers(0, n_classes, 60))
    weight = torch.as_tensor(rng.uniform(0.5, 2.0, 60)) if weighted else None
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.as_tensor(rng.normal(scale=0.3, size=p.shape)))
    module = module.double()
    return Problem(
        module=module,
        loss=head.loss,
        penalty=lambda m: l2_penalty(m.penalized_weights(), alpha),
        X=X,
        target=head.encode_target(y, n_classes, torch.float64),
        sample_weight=weight,
    )


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize(
    "make_module, head",
    [(lambda d, k: LinearScorer(d, k), OneVsRestBinaryCrossEntropy()),
     (lambda d, k: TanhScorer(d, k, beta=0.7), OneVsRestTanh())],
)
def test_newton_hessian_is_autograds_full_hessian(make_module, head, n_classes):
    alpha = 0.05
    module = make_module(4, head.n_outputs(n_classes))
    problem = _problem(module, head, n_classes, alpha)
    newton = Newton(problem, TrainingOptions(solver="newton"), SolverContext(head=head, alpha=alpha))
    W, c = module.affine_logits()

    def objective(flat):
        k = W.shape[0]
        coef = flat.view(k, -1)
        logits = problem.X @ coef[:, :-1].T + coef[:, -1]
        return problem.loss(logits, problem.target, problem.sample_weight) + 0.5 * alpha * coef[:, :-1].square().sum()

    flat = torch.cat([W, c[:, None]], dim=1).reshape(-1)
    full = torch.autograd.functional.hessian(objective, flat)
    blocks = newton._hessian(newton._point[2])
    size = W.shape[1] + 1
    expected = torch.block_diag(*[full[i * size:(i + 1) * size, i * size:(i + 1) * size] for i in range(W.shape[0])])
    torch.testing.assert_close(torch.block_diag(*blocks), expected)
    # Outputs do not interact: everything off the blocks is zero.
    torch.testing.assert_close(full, expected)
    # The gradient is autograd's too.
    grad = torch.func.grad(objective)(flat)
    torch.testing.assert_close(newton._point[1].reshape(-1), grad)


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "auto"])
def test_each_solver_reaches_logistic_regressions_optimum(solver):
    X, y = make_classification(300, 5, random_state=0)
    C = 0.5
    reference = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X, y)
    ours = BCELogisticClassifier(alpha=1 / (C * len(y)), solver=solver, tol=1e-10, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, reference.coef_, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(ours.intercept_, reference.intercept_, rtol=1e-5, atol=1e-7)


# Five-iteration fits: the test reads solver_, not the fit.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_solver_name_tells_what_ran():
    X, y = make_classification(200, 5, random_state=0)
    assert BCELogisticClassifier().fit(X, y).solver_ == "newton"
    assert BCELogisticClassifier(solver="lbfgs").fit(X, y).solver_ == "lbfgs"
    assert TanhLogisticClassifier(solver="newton").fit(X, y).solver_ == "newton"
    assert MLPSoftmaxClassifier((4,), solver="auto", max_iter=5).fit(X, y).solver_ == "lbfgs"
    with pytest.raises(ValueError, match="solver='newton' needs a model whose logits are affine"):
        MLPSoftmaxClassifier((4,), solver="newton").fit(X, y)


def test_auto_choice_follows_the_cost_model():
    from sklearn_autodiff._solvers import solver_costs

    # Few rows and features: Newton-Cholesky; many features: the Hessian is not worth forming.
    costs = solver_costs(1_000, 10, 1)
    assert min(costs, key=costs.get) == "newton"
    costs = solver_costs(100_000, 300, 1)
    assert costs["newton"] > min(costs["newton-cg"], costs["lbfgs"])
    X, y = make_classification(2000, 300, n_informative=10, n_classes=5, random_state=0)
    est = BCELogisticClassifier(alpha=1e-2).fit(X.astype(np.float32), y)
    assert est.solver_ in ("lbfgs", "newton-cg")


class _CountingSolver:
    """A fake solver whose loss follows a list, for the policies' tests."""

    name = "fake"

    def __init__(self, module, losses, interrupt_at=None):
        self.module, self.losses, self.interrupt_at, self.i = module, list(losses), interrupt_at, 0

    def step(self):
        if self.i == self.interrupt_at:
            raise KeyboardInterrupt
        with torch.no_grad():
            self.module.weight.add_(1.0)
        loss = self.losses[self.i]
        self.i += 1
        return loss, False

    def state_dict(self):
        return None


def test_no_improvement_rule_counts_like_scikit_learn():
    rule = NoImprovement(tol=0.1, patience=2)
    assert [rule.on_step(i, loss, None) for i, loss in enumerate([1.0, 0.95, 0.5, 0.45, 0.44])] == [
        False, False, False, False, True
    ]


def test_keep_best_restores_the_best_scoring_parameters():
    module = LinearScorer(2, 1)
    scores = iter([0.5, 0.9, 0.7])
    history = train(_CountingSolver(module, [3, 2, 1]), module, max_steps=3,
                    validation_score=lambda m: next(scores))
    assert history.best_validation_score == 0.9 and history.kept == "best"
    assert float(module.weight.detach()[0, 0]) == 2.0  # after the second step


@pytest.mark.parametrize("interrupt_at, kept_weight", [(0, 0.0), (2, 2.0)])
def test_ctrl_c_keeps_the_last_finished_step(interrupt_at, kept_weight):
    module = LinearScorer(2, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = train(_CountingSolver(module, [3, 2, 1], interrupt_at), module, max_steps=3)
    assert history.interrupted and history.n_iter == interrupt_at
    assert float(module.weight.detach()[0, 0]) == kept_weight
    if interrupt_at:
        assert "last finished iteration's parameters" in str(caught[0].message)


def test_keyboard_interrupt_before_the_first_iteration_keeps_the_previous_fit(monkeypatch):
    X, y = make_classification(100, 3, n_informative=2, n_redundant=0, random_state=0)
    est = BCELogisticClassifier().fit(X, y)
    before = est.predict_proba(X)
    from sklearn_autodiff import _solvers

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(_solvers.Newton, "step", interrupted)
    with pytest.warns(UserWarning, match="nothing was trained"):
        est.fit(X, y)
    np.testing.assert_array_equal(est.predict_proba(X), before)
    fresh = BCELogisticClassifier()
    with pytest.warns(UserWarning, match="nothing was trained"):
        fresh.fit(X, y)
    assert not hasattr(fresh, "coef_")


# ----------------------------------------------------------- thread policy


def test_thread_budget_uses_one_thread_for_small_work_and_restores():
    available = torch.get_num_threads()
    assert threads_for(SINGLE_THREAD_WORK - 1, 4, busy=False) == 1
    assert threads_for(SINGLE_THREAD_WORK, 4, busy=False) == 4
    # Two cores: a second thread only for large products, never on a busy machine.
    assert threads_for(TWO_CORE_THREAD_WORK - 1, 2, busy=False) == 1
    assert threads_for(TWO_CORE_THREAD_WORK, 2, busy=False) == 2
    assert threads_for(TWO_CORE_THREAD_WORK, 4, busy=True) == 1
    with thread_budget(10):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == available
    with pytest.raises(RuntimeError):
        with thread_budget(10):
            raise RuntimeError
    assert torch.get_num_threads() == available


def test_fit_and_predict_leave_the_thread_setting_as_they_found_it():
    X, y = make_classification(200, 5, random_state=0)
    available = torch.get_num_threads()
    est = MLPSoftmaxClassifier((8,), max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(X, y)
    est.predict_proba(X)
    assert torch.get_num_threads() == available


# Short fits compared with each other, not converged ones.
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_concurrent_threaded_fits_equal_sequential_ones():
    X, y = make_classification(400, 8, n_classes=3, n_informative=4, random_state=0)
    configs = [
        dict(cls=MLPSoftmaxClassifier, kw=dict(hidden_layer_sizes=(16,), max_iter=5, random_state=s))
        for s in range(3)
    ] + [dict(cls=BCELogisticClassifier, kw={}), dict(cls=TanhLogisticClassifier, kw={})]

    def fit(config):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return config["cls"](**config["kw"]).fit(X, y).predict_proba(X)

    sequential = [fit(c) for c in configs]
    results = [None] * len(configs)

    def run(i):
        results[i] = fit(configs[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(configs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(sequential, results):
        np.testing.assert_array_equal(a, b)


def test_blocked_hessian_equals_the_whole_one(monkeypatch):
    from sklearn_autodiff import _solvers

    head = OneVsRestBinaryCrossEntropy()
    problem = _problem(LinearScorer(4, 3), head, 3, alpha=0.1)
    newton = Newton(problem, TrainingOptions(solver="newton"), SolverContext(head=head, alpha=0.1))
    whole = newton._hessian(newton._point[2])
    newton.X1 = None
    monkeypatch.setattr(_solvers._newton, "HESSIAN_BLOCK_ELEMENTS", 7 * 3 * 4)  # blocks of 7 rows
    torch.testing.assert_close(newton._hessian(newton._point[2]), whole)


@pytest.mark.parametrize("head_name", ["bce", "tanh"])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_closed_form_loss_derivatives_equal_autograd(head_name, k, weighted):
    from sklearn_autodiff.heads import OneVsRestBinaryCrossEntropy, OneVsRestTanh

    head = OneVsRestBinaryCrossEntropy() if head_name == "bce" else OneVsRestTanh()
    g = torch.Generator().manual_seed(k)
    logits = torch.randn(50, k, dtype=torch.float64, generator=g) * 4
    logits[0, 0] = 40.0  # p(1 - p) where p is 1 to rounding
    target = head.encode_target(torch.randint(0, max(k, 2), (50,), generator=g), max(k, 2), torch.float64)
    weight = torch.rand(50, dtype=torch.float64, generator=g) if weighted else None
    Z = logits.clone().requires_grad_(True)
    loss = head.loss(Z, target, weight)
    (G,) = torch.autograd.grad(loss, Z, create_graph=True)
    (D,) = torch.autograd.grad(G.sum(), Z)
    closed_loss, closed_G, closed_D = head.loss_derivatives(logits, target, weight)
    torch.testing.assert_close(closed_loss, loss.detach(), rtol=1e-14, atol=0)
    torch.testing.assert_close(closed_G, G.detach(), rtol=1e-12, atol=1e-18)
    rest = torch.ones_like(D, dtype=torch.bool)
    rest[0, 0] = False
    torch.testing.assert_close(closed_D[rest], D[rest], rtol=1e-10, atol=1e-30)
    # At z = 40 autograd's p (1 - p) rounds to 0; sigma(z) sigma(-z) does not.
    share = 1 / 50 if weight is None else float(weight[0] / weight.sum())
    expected = share * float(torch.sigmoid(torch.tensor(40.0, dtype=torch.float64)) * torch.sigmoid(torch.tensor(-40.0, dtype=torch.float64)))
    assert float(closed_D[0, 0]) == pytest.approx(expected, rel=1e-12)


def test_a_head_that_redefines_its_loss_keeps_autograd_derivatives():
    from sklearn_autodiff._solvers._newton import _closed_form_derivatives
    from sklearn_autodiff.heads import OneVsRestBinaryCrossEntropy, OneVsRestTanh

    class Squared(OneVsRestBinaryCrossEntropy):
        def loss(self, logits, target, sample_weight=None):
            return ((logits - target) ** 2).sum(dim=1).mean()

    assert _closed_form_derivatives(Squared()) is None
    assert _closed_form_derivatives(OneVsRestTanh()) is not None
    assert _closed_form_derivatives(OneVsRestBinaryCrossEntropy()) is not None


# The grid of issue 23 (training rows: 80 % of n) and the solver that was
# fastest there, or within 10 % of it, in benchmarks/solvers.py's run.
GRID_CHOICES = [
    ((800, 10, 1), "newton"), ((800, 100, 1), "newton"), ((8_000, 10, 1), "newton"),
    ((8_000, 30, 1), "newton"), ((8_000, 100, 1), "newton-cg"), ((80_000, 10, 1), "newton-cg"),
    ((80_000, 30, 1), "newton-cg"), ((80_000, 60, 1), "newton-cg"), ((80_000, 100, 1), "newton-cg"),
    ((80_000, 300, 1), "lbfgs"), ((800_000, 30, 1), "lbfgs"), ((24_000, 30, 5), "newton-cg"),
]


@pytest.mark.parametrize("shape, expected", GRID_CHOICES)
def test_auto_picks_the_measured_fastest_solver_on_the_grid(shape, expected):
    from sklearn_autodiff._solvers import auto_solver

    assert auto_solver(*shape, threads=2) == expected
    assert auto_solver(*shape, threads=2, newton=False) == "lbfgs"


def test_auto_fit_runs_the_solver_the_cost_model_picks():
    from sklearn_autodiff._solvers import auto_solver

    X, y = make_classification(8_000, 100, n_informative=10, random_state=0)
    est = BCELogisticClassifier(alpha=1 / 8_000).fit(X.astype(np.float32), y)
    assert est.solver_ == auto_solver(8_000, 100, 1, torch.get_num_threads())


def test_problem_with_l2_gives_autograds_loss_and_gradient():
    from sklearn_autodiff.heads import SoftmaxCrossEntropy
    from sklearn_autodiff._modules import MLP

    head = SoftmaxCrossEntropy()
    torch.manual_seed(0)
    module = MLP([4, 8, 6, 3], "relu").double()
    weights = [layer.weight for layer in module.linear_layers()]
    X = torch.randn(30, 4, dtype=torch.float64)
    target = torch.randint(0, 3, (30,))
    results = []
    for l2 in (None, (0.3, weights)):
        problem = Problem(module=module, loss=head.loss,
                          penalty=lambda m: l2_penalty(m.penalized_weights(), 0.3),
                          X=X, target=target, l2=l2)
        loss, _ = problem.backward(X, target, None)
        results.append((loss, [p.grad.clone() for p in problem.params]))
    torch.testing.assert_close(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1]):
        torch.testing.assert_close(a, b)
