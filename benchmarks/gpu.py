"""The MLP and linear benchmarks on a CUDA GPU, against bare torch on the same GPU.

Samples per second of ``MLPSoftmaxClassifier(device="cuda")`` against the
bare torch loop of :mod:`benchmarks.mlp` (data already on the GPU for both:
the estimator is given CUDA tensors), and of
``BCELogisticClassifier(device="cuda")`` against a bare ``torch.optim.LBFGS``
loop. Without CUDA it says so and exits cleanly.

Run from the repository root::

    python -m benchmarks.gpu
"""

import os
import sys

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import warnings  # noqa: E402

import torch  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from benchmarks import linear, mlp  # noqa: E402
from benchmarks._common import report, timed  # noqa: E402
from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier  # noqa: E402

DEVICE = "cuda"
MLP_EPOCHS = 10
REPEATS = 5


def main():
    if not torch.cuda.is_available():
        print("benchmarks.gpu: CUDA is not available on this machine "
              "(torch.cuda.is_available() is False); nothing to measure.")
        return 0
    rows = []

    # -- MLP
    X_train, y_train, X_test, y_test = mlp.load_data()
    Xg, yg = torch.from_numpy(X_train).to(DEVICE), torch.from_numpy(y_train).to(DEVICE)
    Xg_test, yg_test = torch.from_numpy(X_test).to(DEVICE), torch.from_numpy(y_test).to(DEVICE)
    seconds, _, ours = timed(
        lambda: MLPSoftmaxClassifier(
            mlp.HIDDEN, "relu", solver="adam", learning_rate_init=mlp.LR,
            batch_size=mlp.BATCH, alpha=mlp.OUR_ALPHA, max_iter=MLP_EPOCHS, tol=0.0,
            random_state=0, device=DEVICE,
        ).fit(Xg, yg),
        REPEATS, device=DEVICE,
    )
    ours_rate = MLP_EPOCHS * len(y_train) / seconds
    rows.append(dict(workload="MLP epoch", model="MLPSoftmaxClassifier (ours)",
                     samples_per_s=ours_rate, accuracy=ours.score(Xg_test, yg_test),
                     ratio=1.0))
    for fused in (False, True):
        seconds, _, model = timed(
            lambda: mlp.bare_loop(Xg, yg, MLP_EPOCHS, fused=fused, device=DEVICE),
            REPEATS, device=DEVICE,
        )
        rate = MLP_EPOCHS * len(y_train) / seconds
        rows.append(dict(workload="MLP epoch",
                         model="bare torch loop, Adam" + ("(fused=True)" if fused else ""),
                         samples_per_s=rate, accuracy=mlp.torch_accuracy(model, Xg_test, yg_test),
                         ratio=ours_rate / rate))

    # -- linear
    X_train, y_train, X_test, y_test = linear.load_data()
    Xg, yg = torch.from_numpy(X_train).to(DEVICE), torch.from_numpy(y_train).to(DEVICE)
    Xg_test, yg_test = torch.from_numpy(X_test).to(DEVICE), torch.from_numpy(y_test).to(DEVICE)
    alpha = 1.0 / len(y_train)
    seconds, _, ours = timed(
        lambda: BCELogisticClassifier(alpha=alpha, device=DEVICE).fit(Xg, yg),
        REPEATS, device=DEVICE,
    )
    ours_rate = ours.n_iter_ * len(y_train) / seconds
    rows.append(dict(workload="linear lbfgs", model="BCELogisticClassifier (ours)",
                     samples_per_s=ours_rate, n_iter=int(ours.n_iter_),
                     fit_s=seconds, accuracy=ours.score(Xg_test, yg_test), ratio=1.0))
    seconds, _, (w, b, n_iter) = timed(
        lambda: linear.bare_torch_lbfgs(Xg, yg.to(torch.float32), alpha),
        REPEATS, device=DEVICE,
    )
    rate = n_iter * len(y_train) / seconds
    accuracy = float((((Xg_test @ w + b) > 0).long() == yg_test).float().mean())
    rows.append(dict(workload="linear lbfgs", model="bare torch.optim.LBFGS", fit_s=seconds,
                     samples_per_s=rate, n_iter=n_iter, accuracy=accuracy,
                     ratio=ours_rate / rate))

    notes = [
        "data as in benchmarks.mlp and benchmarks.linear, moved to the GPU before timing.",
        f"MLP: {MLP_EPOCHS} epochs per fit; linear: samples/s = n_iter x n / fit time.",
        f"times: median of {REPEATS} fits after one warm-up, synchronized.",
        "ratio: our samples/s / this row's (target >= 0.9 against the bare loops).",
    ]
    columns = [
        ("workload", "workload", ""),
        ("model", "model", ""),
        ("fit_s", "fit (s)", ".3f"),
        ("n_iter", "n_iter", "d"),
        ("samples_per_s", "samples / s", ",.0f"),
        ("accuracy", "test acc", ".4f"),
        ("ratio", "ours / this", ".2f"),
    ]
    report("gpu", "GPU: estimators vs bare torch on the same device", columns, rows, notes)
    return 0


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        sys.exit(main())
