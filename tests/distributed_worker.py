"""One rank of the two-process tests of ``distributed=True`` (tests/test_torch_distributed.py).

Run as ``python tests/distributed_worker.py RANK WORLD_SIZE INIT_FILE OUT_FILE``:
joins a gloo process group through ``INIT_FILE``, fits every scenario of
:func:`scenarios` on this rank's shard and pickles, per scenario, the
predictions on the whole data set (or the error raised) into ``OUT_FILE``.
"""

import datetime
import pickle
import sys
import warnings

import numpy as np
from fit_callbacks import StopAfter
from sklearn.datasets import make_classification


def dataset(n_classes=2, seed=0):
    """The whole data set every test compares on (float64)."""
    return make_classification(
        600, 8, n_informative=5, n_classes=n_classes, random_state=seed
    )


def shard(X, y, rank, *extra):
    """Rank 0 takes the first 350 rows, rank 1 the other 250 (unequal on purpose)."""
    rows = slice(0, 350) if rank == 0 else slice(350, None)
    return (X[rows], y[rows], *(e[rows] for e in extra))


def multiclass_without_class_2_on_rank_1():
    """Three classes; every sample of class 2 sits in rank 0's rows."""
    X, y = dataset(n_classes=3)
    order = np.argsort(y == 2, kind="stable")[::-1]  # class 2 first
    return X[order], y[order]


def regression_dataset(positive=False):
    """A regression data set of the same size; positive targets for Poisson."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(600, 6))
    z = X @ rng.normal(size=6) * 0.3
    return (X, rng.poisson(np.exp(z + 0.5)).astype(float)) if positive else (X, z + rng.normal(size=600))


def sample_weights(n):
    return np.random.default_rng(1).uniform(0.2, 3.0, n)


def scenarios():
    """name -> (make estimator(distributed), data, fit kwargs, mode)."""
    from sklearn_autodiff import (
        BCELogisticClassifier,
        LinearAutodiffRegressor,
        MLPAutodiffRegressor,
        MLPSoftmaxClassifier,
        TanhLogisticClassifier,
    )

    binary = dataset()
    multi = multiclass_without_class_2_on_rank_1()
    weights = sample_weights(600)
    return {
        "bce_newton": (
            lambda d: BCELogisticClassifier(solver="newton", alpha=1e-3, tol=1e-10, distributed=d),
            binary, {}, "fit",
        ),
        # Equal weights within each shard, different between them (5 on rank 1).
        "bce_newton_weights_per_rank": (
            lambda d: BCELogisticClassifier(solver="newton", alpha=1e-3, tol=1e-10, distributed=d),
            binary, {"sample_weight": np.where(np.arange(600) < 350, 1.0, 5.0)}, "fit",
        ),
        "mlp_sgd_weights_per_rank": (
            lambda d: MLPSoftmaxClassifier(
                (6,), solver="sgd", batch_size=600, shuffle=False, max_iter=10,
                random_state=3, distributed=d,
            ),
            binary, {"sample_weight": np.where(np.arange(600) < 350, 1.0, 5.0)}, "fit",
        ),
        "bce_auto_multiclass_weighted": (
            lambda d: BCELogisticClassifier(alpha=1e-3, tol=1e-10, distributed=d),
            multi, {"sample_weight": weights}, "fit",
        ),
        "bce_lbfgs_balanced": (
            lambda d: BCELogisticClassifier(
                solver="lbfgs", alpha=1e-3, tol=1e-10, max_iter=500,
                class_weight="balanced", distributed=d,
            ),
            multi, {}, "fit",
        ),
        "tanh_lbfgs": (
            lambda d: TanhLogisticClassifier(solver="lbfgs", alpha=1e-3, tol=1e-9, max_iter=500, distributed=d),
            binary, {}, "fit",
        ),
        "bce_gd": (
            lambda d: BCELogisticClassifier(solver="gd", max_iter=40, distributed=d),
            binary, {}, "fit",
        ),
        # batch_size above every shard: one step an epoch over all 600 rows,
        # the single-process fit with batch_size=600.
        "mlp_sgd_one_batch": (
            lambda d: MLPSoftmaxClassifier(
                (6,), solver="sgd", batch_size=600, shuffle=False, max_iter=25,
                random_state=3, distributed=d,
            ),
            binary, {"sample_weight": weights}, "fit",
        ),
        # Two ranks of 200-row batches against one process with 400-row ones
        # (the same rows a step; other batches and held-out rows).
        "mlp_adam_early_stopping": (
            lambda d: MLPSoftmaxClassifier(
                (16,), solver="adam", learning_rate_init=0.01, early_stopping=True,
                max_iter=60, batch_size=200 if d else 400, random_state=0, distributed=d,
            ),
            multi, {}, "fit",
        ),
        "sgd_partial_fit": (
            lambda d: BCELogisticClassifier(
                solver="sgd", batch_size=600, shuffle=False, random_state=0, distributed=d,
            ),
            binary, {}, "partial_fit",
        ),
        "lbfgs_warm_start": (
            lambda d: BCELogisticClassifier(
                solver="lbfgs", max_iter=5, warm_start=True, random_state=0, distributed=d,
            ),
            binary, {}, "warm_start",
        ),
        "reject_option": (
            lambda d: BCELogisticClassifier(reject_threshold=0.8, distributed=d),
            binary, {}, "fit",
        ),
        "ridge_newton_weighted": (
            lambda d: LinearAutodiffRegressor(alpha=1e-2, tol=1e-10, distributed=d),
            regression_dataset(), {"sample_weight": weights}, "fit",
        ),
        "poisson_newton": (
            lambda d: LinearAutodiffRegressor("poisson", alpha=1e-2, tol=1e-10, distributed=d),
            regression_dataset(positive=True), {}, "fit",
        ),
        "quantile_continuation": (
            lambda d: LinearAutodiffRegressor("quantile", quantile=0.8, alpha=0.0, distributed=d),
            regression_dataset(), {}, "fit",
        ),
        "mlp_regressor_sgd_one_batch": (
            lambda d: MLPAutodiffRegressor(
                (6,), solver="sgd", batch_size=600, shuffle=False, max_iter=25,
                learning_rate_init=0.01, random_state=3, distributed=d,
            ),
            regression_dataset(), {"sample_weight": weights}, "fit",
        ),
    }


def run_scenario(make, data, fit_kwargs, mode, rank, distributed=True):
    """Fit one scenario; predictions on the whole data set."""
    X_all, y_all = data
    extra = [fit_kwargs["sample_weight"]] if "sample_weight" in fit_kwargs else []
    if distributed:
        X, y, *rest = shard(X_all, y_all, rank, *extra)
    else:
        X, y, rest = X_all, y_all, extra
    kwargs = {"sample_weight": rest[0]} if rest else {}
    estimator = make(distributed)
    if mode == "partial_fit":
        estimator.partial_fit(X, y, classes=np.unique(y_all), **kwargs)
        estimator.partial_fit(X, y, **kwargs)
    elif mode == "warm_start":
        estimator.fit(X, y, **kwargs)
        estimator.set_params(max_iter=50).fit(X, y, **kwargs)
    else:
        estimator.fit(X, y, **kwargs)
    if not hasattr(estimator, "predict_proba"):  # a regressor
        return {
            "predict": estimator.predict(X_all),
            "n_iter": estimator.n_iter_,
            "solver": estimator.solver_,
            "loss_curve": list(estimator.loss_curve_),
        }
    result = {
        "proba": estimator.predict_proba(X_all),
        "predict": estimator.predict(X_all),
        "classes": estimator.classes_,
        "n_iter": estimator.n_iter_,
        "solver": estimator.solver_,
        "loss_curve": list(estimator.loss_curve_),
    }
    if hasattr(estimator, "validation_scores_"):
        result["validation_scores"] = list(estimator.validation_scores_)
    return result


def error_scenarios(rank):
    """name -> a call expected to fail on every rank, for a fault on one."""
    from sklearn_autodiff import BCELogisticClassifier

    X_all, y_all = dataset()
    X, y = shard(X_all, y_all, rank)

    def nan_on_rank_1():
        Xr = X.copy()
        if rank == 1:
            Xr[3, 2] = np.nan
        BCELogisticClassifier(distributed=True).fit(Xr, y)

    def fewer_features_on_rank_1():
        BCELogisticClassifier(distributed=True).fit(X if rank == 0 else X[:, :7], y)

    def one_class_everywhere():
        BCELogisticClassifier(distributed=True).fit(X, np.zeros(len(y), dtype=int))

    def other_alpha_on_rank_1():
        BCELogisticClassifier(alpha=1e-4 if rank == 0 else 1e-2, distributed=True).fit(X, y)

    return {
        "other_alpha_on_rank_1": other_alpha_on_rank_1,
        "nan_on_rank_1": nan_on_rank_1,
        "fewer_features_on_rank_1": fewer_features_on_rank_1,
        "one_class_everywhere": one_class_everywhere,
    }


def callback_stops_on_rank_0(rank):
    """Rank 0's callback stops after 3 epochs, rank 1's would go on to 20."""
    from sklearn_autodiff import MLPSoftmaxClassifier

    X_all, y_all = dataset()
    X, y = shard(X_all, y_all, rank)
    model = MLPSoftmaxClassifier((4,), max_iter=20, tol=0, random_state=0, distributed=True)
    model.set_callbacks(StopAfter(3 if rank == 0 else 20)).fit(X, y)
    return {"n_iter": model.n_iter_, "proba": model.predict_proba(X_all)}


def callbacks_on_rank_0_only(rank):
    """A callback that never stops, on rank 0 alone: both ranks run all epochs."""
    from sklearn_autodiff import MLPSoftmaxClassifier

    X_all, y_all = dataset()
    X, y = shard(X_all, y_all, rank)
    model = MLPSoftmaxClassifier((4,), max_iter=5, tol=0, random_state=0, distributed=True)
    if rank == 0:
        model.set_callbacks(StopAfter(100))
    model.fit(X, y)
    return {"n_iter": model.n_iter_, "proba": model.predict_proba(X_all)}


def zero_weight_batch_on_rank_1(rank):
    """Rank 1's first batch of 50 rows weighs nothing; the step goes on with rank 0's rows."""
    from sklearn_autodiff import MLPSoftmaxClassifier

    X_all, y_all = dataset()
    X, y = shard(X_all, y_all, rank)
    weight = np.ones(len(y))
    if rank == 1:
        weight[:50] = 0.0
    model = MLPSoftmaxClassifier(
        (4,), solver="sgd", batch_size=50, shuffle=False, max_iter=5, random_state=0,
        distributed=True,
    ).fit(X, y, sample_weight=weight)
    return {"n_iter": model.n_iter_, "proba": model.predict_proba(X_all)}


def verbose_on_rank_0_only(rank):
    """Progress printed by rank 0 alone: allowed (verbose, device and random_state may differ)."""
    import contextlib
    import io

    from sklearn_autodiff import BCELogisticClassifier

    X_all, y_all = dataset()
    X, y = shard(X_all, y_all, rank)
    with contextlib.redirect_stdout(io.StringIO()):
        model = BCELogisticClassifier(
            verbose=int(rank == 0), random_state=rank, distributed=True
        ).fit(X, y)
    return {"proba": model.predict_proba(X_all)}


def selective(rank):
    from sklearn_autodiff import BCELogisticClassifier, SelectiveClassifierCV

    X_all, y_all = dataset()
    X, y = shard(X_all, y_all, rank)
    model = SelectiveClassifierCV(
        BCELogisticClassifier(distributed=True), target_coverage=0.8, cv=3, random_state=0
    ).fit(X, y)
    return {"threshold": model.threshold_, "predict": model.predict(X_all)}


def main(rank, world_size, init_file, out_file):
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    # A collective one rank never reaches fails after two minutes instead of hanging.
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size,
        timeout=datetime.timedelta(seconds=120),
    )
    results = {}
    for name, (make, data, fit_kwargs, mode) in scenarios().items():
        results[name] = run_scenario(make, data, fit_kwargs, mode, rank)
    for name, call in error_scenarios(rank).items():
        try:
            call()
            results[name] = None
        except Exception as exc:
            results[name] = (type(exc).__name__, str(exc))
    # The group still works after the failed calls: nothing is left half-done.
    results["after_errors"] = run_scenario(*scenarios()["bce_newton"], rank)
    results["selective"] = selective(rank)
    results["callback_stop"] = callback_stops_on_rank_0(rank)
    results["callbacks_on_rank_0_only"] = callbacks_on_rank_0_only(rank)
    results["zero_weight_batch"] = zero_weight_batch_on_rank_1(rank)
    results["verbose_on_rank_0"] = verbose_on_rank_0_only(rank)
    dist.destroy_process_group()
    with open(out_file, "wb") as f:
        pickle.dump(results, f)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4])
