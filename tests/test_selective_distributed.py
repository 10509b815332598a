"""SelectiveClassifierCV(per_class=True) over a torch.distributed group (of one process).

The two-process agreement of the marginal rule is tested in
test_torch_distributed.py; here a gloo group of this process alone checks
that the distributed out-of-fold path gives the same per-class thresholds
as the single-process one.
"""

import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

from sklearn_autodiff import BCELogisticClassifier, SelectiveClassifierCV

pytest.importorskip("torch.distributed")
if not torch.distributed.is_available():  # pragma: no cover
    pytest.skip("torch.distributed is not available", allow_module_level=True)


@pytest.fixture
def group_of_one(tmp_path):
    """A gloo process group of this process alone (destroyed after the test)."""
    torch.distributed.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'init'}", rank=0, world_size=1
    )
    yield
    torch.distributed.destroy_process_group()


@pytest.mark.parametrize("per_class", [False, True])
def test_a_group_of_one_chooses_the_single_process_thresholds(group_of_one, per_class):
    X, y = make_classification(
        600, 4, n_informative=3, n_redundant=0, n_classes=3, class_sep=2.0, random_state=0
    )
    params = {"target_risk": 0.05, "confidence_level": 0.9, "per_class": per_class, "cv": 2,
              "thresholds": 10}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        alone = SelectiveClassifierCV(BCELogisticClassifier(), **params).fit(X, y)
        grouped = SelectiveClassifierCV(BCELogisticClassifier(distributed=True), **params)
        grouped.fit(X, y)
    name = "class_thresholds_" if per_class else "threshold_"
    assert np.isfinite(getattr(alone, name)).any()  # a rule that accepts something
    np.testing.assert_allclose(getattr(grouped, name), getattr(alone, name), atol=1e-6)
    np.testing.assert_array_equal(grouped.predict(X), alone.predict(X))
