"""``distributed=True``: one model over two gloo processes equals the model of all the data.

The two ranks run tests/distributed_worker.py once for the module (each on
its own shard, 350 and 250 rows); every test compares what they produced
with a single-process fit on the concatenated data, made here.
"""

import os
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import distributed_worker as worker
import numpy as np
import pytest
import torch

from sklearn_autodiff import BCELogisticClassifier

WORKER = Path(__file__).with_name("distributed_worker.py")
WORLD_SIZE = 2
TIMEOUT_S = 240

pytestmark = [
    pytest.mark.skipif(
        not torch.distributed.is_available(), reason="torch built without torch.distributed"
    ),
    # One xdist worker for the module, so the two ranks start once.
    pytest.mark.xdist_group("torch_distributed"),
]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Each rank's results (one dict per rank), from two real processes."""
    folder = tmp_path_factory.mktemp("gloo")
    init_file = folder / "init"
    outs = [folder / f"rank{r}.pkl" for r in range(WORLD_SIZE)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(r), str(WORLD_SIZE), str(init_file), str(outs[r])],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for r in range(WORLD_SIZE)
    ]
    logs = []
    try:
        for process in processes:
            logs.append(process.communicate(timeout=TIMEOUT_S)[0])
    except subprocess.TimeoutExpired:
        for process in processes:
            process.kill()
        pytest.fail(f"the ranks did not finish in {TIMEOUT_S} s (a hang in a collective?)")
    for r, process in enumerate(processes):
        assert process.returncode == 0, f"rank {r} failed:\n{logs[r][-3000:]}"
    return [pickle.loads(out.read_bytes()) for out in outs]


def single_process(name):
    make, data, fit_kwargs, mode = worker.scenarios()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return worker.run_scenario(make, data, fit_kwargs, mode, rank=0, distributed=False)


@pytest.mark.parametrize(
    "name",
    [
        "bce_newton",
        "bce_newton_weights_per_rank",
        "mlp_sgd_weights_per_rank",
        "bce_auto_multiclass_weighted",
        "bce_lbfgs_balanced",
        "tanh_lbfgs",
        "bce_gd",
        "mlp_sgd_one_batch",
        "sgd_partial_fit",
        "lbfgs_warm_start",
        "reject_option",
    ],
)
def test_equals_the_single_process_fit_on_all_the_data(ranks, name):
    reference = single_process(name)
    for result in (rank[name] for rank in ranks):
        np.testing.assert_array_equal(result["classes"], reference["classes"])
        np.testing.assert_allclose(result["proba"], reference["proba"], rtol=0, atol=1e-6)
        assert result["solver"] == reference["solver"]
        np.testing.assert_allclose(result["loss_curve"][-1], reference["loss_curve"][-1], rtol=1e-7)
    np.testing.assert_array_equal(ranks[0][name]["predict"], ranks[1][name]["predict"])


@pytest.mark.parametrize(
    "name",
    ["ridge_newton_weighted", "poisson_newton", "quantile_continuation", "mlp_regressor_sgd_one_batch"],
)
def test_regressors_equal_the_single_process_fit_on_all_the_data(ranks, name):
    reference = single_process(name)
    for result in (rank[name] for rank in ranks):
        np.testing.assert_allclose(result["predict"], reference["predict"], rtol=1e-6, atol=1e-6)
        assert result["solver"] == reference["solver"]
        np.testing.assert_allclose(result["loss_curve"][-1], reference["loss_curve"][-1], rtol=1e-7)


def test_every_rank_ends_with_the_same_model(ranks):
    for name in worker.scenarios():
        key = "proba" if "proba" in ranks[0][name] else "predict"
        np.testing.assert_array_equal(ranks[0][name][key], ranks[1][name][key], err_msg=name)
        assert ranks[0][name]["loss_curve"] == ranks[1][name]["loss_curve"], name


def test_classes_are_the_union_over_ranks(ranks):
    # Rank 1 holds no sample of class 2; its model still predicts 3 classes.
    _, y = worker.multiclass_without_class_2_on_rank_1()
    assert 2 not in worker.shard(*worker.multiclass_without_class_2_on_rank_1(), 1)[1]
    for result in ranks:
        np.testing.assert_array_equal(result["bce_auto_multiclass_weighted"]["classes"], [0, 1, 2])
        assert result["bce_auto_multiclass_weighted"]["proba"].shape == (len(y), 3)


def test_minibatch_early_stopping_scores_the_whole_validation_set(ranks):
    first, second = (r["mlp_adam_early_stopping"] for r in ranks)
    assert first["validation_scores"] == second["validation_scores"]
    assert len(first["validation_scores"]) == first["n_iter"]
    # The union of both ranks' held-out rows: 35 + 25, so a multiple of 1/60.
    scores = np.asarray(first["validation_scores"]) * 60
    np.testing.assert_allclose(scores, np.round(scores), atol=1e-9)
    # About as good as one process taking as many rows a step (other batches
    # and other held-out rows, so not the same model).
    y = worker.multiclass_without_class_2_on_rank_1()[1]
    alone = (single_process("mlp_adam_early_stopping")["predict"] == y).mean()
    assert (first["predict"] == y).mean() >= alone - 0.1


@pytest.mark.parametrize(
    "name, error, fragment",
    [
        ("other_alpha_on_rank_1", "ValueError", "The ranks' estimators differ in alpha"),
        ("nan_on_rank_1", "ValueError", "Rank 1 of 2 failed: Input X contains NaN"),
        ("fewer_features_on_rank_1", "ValueError", "differ in their features (rank 0: 8, rank 1: 7)"),
        ("one_class_everywhere", "ValueError", "needs samples of at least 2 classes"),
    ],
)
def test_an_error_on_one_rank_is_raised_on_every_rank(ranks, name, error, fragment):
    assert ranks[0][name] == ranks[1][name]
    kind, message = ranks[0][name]
    assert kind == error
    assert fragment in message


def test_the_group_works_after_failed_calls(ranks):
    reference = single_process("bce_newton")
    for result in ranks:
        np.testing.assert_allclose(result["after_errors"]["proba"], reference["proba"], atol=1e-6)


def test_selective_classifier_cv_agrees_on_one_threshold(ranks):
    assert ranks[0]["selective"]["threshold"] == ranks[1]["selective"]["threshold"]
    np.testing.assert_array_equal(ranks[0]["selective"]["predict"], ranks[1]["selective"]["predict"])
    assert 0.5 <= ranks[0]["selective"]["threshold"] <= 1.0


def test_a_callback_stopping_one_rank_stops_every_rank(ranks):
    assert ranks[0]["callback_stop"]["n_iter"] == ranks[1]["callback_stop"]["n_iter"] == 3
    np.testing.assert_array_equal(ranks[0]["callback_stop"]["proba"], ranks[1]["callback_stop"]["proba"])


def test_a_callback_on_one_rank_only_does_not_desynchronise_the_ranks(ranks):
    first, second = (r["callbacks_on_rank_0_only"] for r in ranks)
    assert first["n_iter"] == second["n_iter"] == 5
    np.testing.assert_array_equal(first["proba"], second["proba"])


def test_a_batch_of_zero_weight_on_one_rank_adds_nothing_to_its_step(ranks):
    first, second = (r["zero_weight_batch"] for r in ranks)
    assert first["n_iter"] == second["n_iter"] == 5
    assert np.isfinite(first["proba"]).all()
    np.testing.assert_array_equal(first["proba"], second["proba"])


def test_verbose_and_random_state_may_differ_between_ranks(ranks):
    np.testing.assert_array_equal(
        ranks[0]["verbose_on_rank_0"]["proba"], ranks[1]["verbose_on_rank_0"]["proba"]
    )


def test_distributed_without_a_process_group_is_a_clear_error():
    X, y = worker.dataset()
    with pytest.raises(ValueError, match="needs an initialized default process group"):
        BCELogisticClassifier(distributed=True).fit(X, y)


@pytest.fixture
def group_of_one(tmp_path):
    """A gloo process group of this process alone (destroyed after the test)."""
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'init'}", rank=0, world_size=1
    )
    yield
    torch.distributed.destroy_process_group()


@pytest.mark.parametrize("solver", ["newton", "lbfgs", "gd", "adam", "sgd"])
def test_a_group_of_one_fits_what_one_process_fits(group_of_one, solver):
    X, y = worker.dataset(n_classes=3)
    params = {"solver": solver, "max_iter": 15, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        alone = BCELogisticClassifier(**params).fit(X, y)
        grouped = BCELogisticClassifier(distributed=True, **params).fit(X, y)
    np.testing.assert_allclose(grouped.predict_proba(X), alone.predict_proba(X), atol=1e-10)
    assert grouped.n_iter_ == alone.n_iter_


def test_a_bad_shard_in_a_group_of_one_raises_its_own_error_and_keeps_the_fit(group_of_one):
    X, y = worker.dataset()
    model = BCELogisticClassifier(distributed=True).fit(X, y)
    before = model.predict_proba(X)
    X_bad = X.copy()
    X_bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="Rank 0 of 1 failed: Input X contains NaN"):
        model.fit(X_bad, y)
    np.testing.assert_array_equal(model.predict_proba(X), before)


def test_errors_keep_their_type_across_ranks():
    from sklearn_autodiff._distributed import _on_every_rank

    class NeedsTwoArguments(Exception):
        def __init__(self, a, b):
            super().__init__(f"{a} {b}")

    again = _on_every_rank(KeyError("x"), 1, 2)
    assert type(again) is KeyError and "Rank 1 of 2 failed" in str(again)
    fallback = _on_every_rank(NeedsTwoArguments(1, 2), 1, 2)
    assert type(fallback) is RuntimeError
    assert "NeedsTwoArguments" in str(fallback) and "Rank 1 of 2 failed: 1 2" in str(fallback)


def test_labels_of_different_types_on_different_ranks_are_a_clear_error():
    from sklearn_autodiff._distributed import union_of_labels

    np.testing.assert_array_equal(union_of_labels([np.array([0, 2]), np.array([1])]), [0, 1, 2])
    with pytest.raises(ValueError, match="incompatible types"):
        union_of_labels([np.array([0, 1]), np.array(["a", "b"], dtype=object)])
