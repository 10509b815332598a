"""Searches and streaming beyond one process: Dask and Ray.

These need the optional extras (``pip install sklearn_autodiff[dask]`` or
``[ray]``) and skip only when those are not installed.
"""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier, TanhLogisticClassifier

GRID = {"alpha": [1e-3, 1e-1]}


@pytest.fixture(scope="module")
def data():
    return make_classification(300, 5, n_informative=3, random_state=0)


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("dask.distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's own port and resource notices
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _sequential_search(Estimator, X, y):
    return GridSearchCV(Estimator(random_state=0), GRID, cv=2).fit(X, y)


def test_grid_search_on_a_dask_cluster(dask_client, data):
    X, y = data
    with joblib.parallel_backend("dask"):
        search = GridSearchCV(BCELogisticClassifier(random_state=0), GRID, cv=2).fit(X, y)
    # Work really went to the cluster's worker processes.
    assert sum(dask_client.run(lambda: 1).values()) == 2
    reference = _sequential_search(BCELogisticClassifier, X, y)
    assert search.best_params_ == reference.best_params_
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"]
    )


# One partial_fit step per 100-row block: a loss still above the constant model's is expected.
@pytest.mark.filterwarnings(
    r"ignore:\w+ ended at a training loss:sklearn.exceptions.ConvergenceWarning"
)
@pytest.mark.parametrize("Estimator", [TanhLogisticClassifier, MLPSoftmaxClassifier])
def test_streaming_with_dask_ml_incremental(dask_client, Estimator):
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = make_classification(300, 5, n_informative=3, class_sep=2.0, random_state=0)
    X_blocks = da.from_array(X, chunks=(100, X.shape[1]))
    y_blocks = da.from_array(y, chunks=100)
    params = {"hidden_layer_sizes": (8,), "learning_rate_init": 0.2} if Estimator is MLPSoftmaxClassifier else {}
    incremental = wrappers.Incremental(
        Estimator(solver="sgd", random_state=0, **params), scoring="accuracy", shuffle_blocks=False
    )
    incremental.fit(X_blocks, y_blocks, classes=[0, 1])
    # partial_fit ran once per block, in order: the same as a local loop.
    assert incremental.estimator_.n_iter_ == 3
    local = Estimator(solver="sgd", random_state=0, **params)
    for start in range(0, 300, 100):
        local.partial_fit(X[start : start + 100], y[start : start + 100], classes=[0, 1])
    np.testing.assert_allclose(
        incremental.estimator_.predict_proba(X), local.predict_proba(X), rtol=1e-10
    )
    assert incremental.score(X_blocks, y_blocks) > 0.7


def test_grid_search_on_ray(data):
    pytest.importorskip("ray")
    import ray
    from ray.util.joblib import register_ray

    X, y = data
    register_ray()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        with joblib.parallel_backend("ray"):
            search = GridSearchCV(BCELogisticClassifier(random_state=0), GRID, cv=2).fit(X, y)
    finally:
        ray.shutdown()
    reference = _sequential_search(BCELogisticClassifier, X, y)
    assert search.best_params_ == reference.best_params_


def _fit_shard_in_its_own_process_group(rank, world_size, address):
    """One Dask task per worker: a gloo group of the tasks, one distributed fit."""
    import datetime

    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"tcp://{address}", rank=rank, world_size=world_size,
        timeout=datetime.timedelta(seconds=120),  # fail, not hang, if a task never starts
    )
    try:
        X, y = make_classification(2000, 6, random_state=0)
        return BCELogisticClassifier(distributed=True).fit(X[rank::world_size], y[rank::world_size])
    finally:
        dist.destroy_process_group()


def test_one_distributed_fit_over_dask_workers(dask_client):
    # The recipe of docs/user_guide/distributed.rst, on the local cluster.
    import socket

    workers = list(dask_client.scheduler_info()["workers"])
    host = workers[0].split("://")[1].rsplit(":", 1)[0]
    with socket.socket() as s:
        s.bind((host, 0))
        port = s.getsockname()[1]
    futures = [
        dask_client.submit(
            _fit_shard_in_its_own_process_group, r, len(workers), f"{host}:{port}",
            workers=[w], pure=False,
        )
        for r, w in enumerate(workers)
    ]
    models = [future.result(timeout=300) for future in futures]
    X, y = make_classification(2000, 6, random_state=0)
    alone = BCELogisticClassifier().fit(X, y)
    for model in models:
        np.testing.assert_allclose(model.predict_proba(X), alone.predict_proba(X), atol=1e-6)
