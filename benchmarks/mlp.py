"""MLP (100, 100) relu, Adam, batch 256 on 40k x 50 float32, 5 classes.

Seconds per epoch and test accuracy for ``MLPSoftmaxClassifier`` against a
bare torch loop (``nn.Sequential`` + ``randperm`` slicing +
``torch.optim.Adam``, no framework), the same loop with
``Adam(fused=True)``, scikit-learn's ``MLPClassifier`` and, when it is
installed, skorch's ``NeuralNetClassifier`` with the same module.

Run from the repository root::

    python -m benchmarks.mlp
"""

import os
import sys

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from torch import nn  # noqa: E402

from benchmarks._common import report, timed_interleaved, wait_for_quiet  # noqa: E402
from sklearn_autodiff import MLPSoftmaxClassifier  # noqa: E402

N_SAMPLES, N_FEATURES, N_CLASSES, N_TRAIN = 50_000, 50, 5, 40_000
HIDDEN = (100, 100)
BATCH, LR = 256, 1e-3
EPOCHS = 10
REPEATS = 5
# MLPClassifier divides its alpha by the batch size; ours multiplies the
# mean loss's penalty directly, so this is the same objective.
SK_ALPHA = 1e-4
OUR_ALPHA = SK_ALPHA / BATCH


def load_data():
    X, y = make_classification(
        N_SAMPLES, N_FEATURES, n_informative=20, n_classes=N_CLASSES, random_state=0
    )
    X = X.astype(np.float32)
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


def make_module():
    sizes = [N_FEATURES, *HIDDEN]
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    layers.append(nn.Linear(sizes[-1], N_CLASSES))
    return nn.Sequential(*layers)


def bare_loop(X, y, epochs, fused=False, device="cpu", seed=0):
    """The plain torch training loop the estimator is measured against."""
    torch.manual_seed(seed)  # default nn.Linear init, as a user's script would
    generator = torch.Generator(device=device).manual_seed(seed)
    model = make_module().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, fused=fused or None)
    loss_fn = nn.CrossEntropyLoss()
    n = X.shape[0]
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator, device=device)
        for start in range(0, n, BATCH):
            index = order[start : start + BATCH]
            optimizer.zero_grad()
            loss = loss_fn(model(X[index]), y[index])
            loss.backward()
            optimizer.step()
    return model


def torch_accuracy(model, X, y):
    with torch.no_grad():
        return float((model(X).argmax(1) == y).float().mean())


def main():
    background = wait_for_quiet()
    X_train, y_train, X_test, y_test = load_data()
    Xt_train, yt_train = torch.from_numpy(X_train), torch.from_numpy(y_train)
    Xt_test, yt_test = torch.from_numpy(X_test), torch.from_numpy(y_test)
    rows, notes = [], []

    def add(name, seconds, epochs, accuracy):
        rows.append(dict(model=name, s_per_epoch=seconds / epochs,
                         samples_per_s=epochs * N_TRAIN / seconds, accuracy=accuracy))

    ours_est = lambda: MLPSoftmaxClassifier(  # noqa: E731
        HIDDEN, "relu", solver="adam", learning_rate_init=LR, batch_size=BATCH,
        alpha=OUR_ALPHA, max_iter=EPOCHS, tol=0.0, random_state=0,
    )
    sk_est = lambda: MLPClassifier(  # noqa: E731
        HIDDEN, activation="relu", solver="adam", learning_rate_init=LR, batch_size=BATCH,
        alpha=SK_ALPHA, max_iter=EPOCHS, tol=0.0, random_state=0,
    )
    fns = {
        "ours": lambda: ours_est().fit(X_train, y_train),
        "bare": lambda: bare_loop(Xt_train, yt_train, EPOCHS),
        "fused": lambda: bare_loop(Xt_train, yt_train, EPOCHS, fused=True),
        "sklearn": lambda: sk_est().fit(X_train, y_train),
    }
    try:
        from skorch import NeuralNetClassifier

        def skorch_fit():
            torch.manual_seed(0)
            net = NeuralNetClassifier(
                make_module(), criterion=nn.CrossEntropyLoss, optimizer=torch.optim.Adam,
                lr=LR, batch_size=BATCH, max_epochs=EPOCHS, train_split=None,
                iterator_train__shuffle=True, verbose=0,
            )
            return net.fit(X_train, y_train)

        fns["skorch"] = skorch_fit
    except ImportError:
        notes.append("skorch row skipped: skorch is not installed (pip install skorch).")
    timings = timed_interleaved(fns, REPEATS)

    seconds, _, ours = timings["ours"]
    add("MLPSoftmaxClassifier (ours)", seconds, ours.n_iter_, ours.score(X_test, y_test))
    seconds, _, model = timings["bare"]
    add("bare torch loop, Adam", seconds, EPOCHS, torch_accuracy(model, Xt_test, yt_test))
    seconds, _, model = timings["fused"]
    add("bare torch loop, Adam(fused=True)", seconds, EPOCHS,
        torch_accuracy(model, Xt_test, yt_test))
    seconds, _, sk = timings["sklearn"]
    add("MLPClassifier", seconds, sk.n_iter_, sk.score(X_test, y_test))
    if "skorch" in timings:
        seconds, _, net = timings["skorch"]
        add("skorch NeuralNetClassifier (same module)", seconds, EPOCHS,
            float(net.score(X_test, y_test)))

    ours_epoch = rows[0]["s_per_epoch"]
    for row in rows:
        row["ratio"] = ours_epoch / row["s_per_epoch"]
    sk_acc = next(r["accuracy"] for r in rows if r["model"] == "MLPClassifier")
    notes += [
        f"data: make_classification({N_SAMPLES} x {N_FEATURES}, n_informative=20, "
        f"n_classes={N_CLASSES}, float32), {N_TRAIN} train / {N_SAMPLES - N_TRAIN} test.",
        f"hidden {HIDDEN} relu, Adam lr {LR}, batch {BATCH}, {EPOCHS} epochs per fit "
        f"(tol=0); s/epoch = median fit time over {REPEATS} rounds (after one warm-up) / "
        "epochs; each round runs every row once, in rotating order, so drifts of the "
        "shared machine reach all rows alike.",
        f"penalty: MLPClassifier alpha={SK_ALPHA}; ours alpha={SK_ALPHA}/{BATCH} "
        "(same objective); the bare loops and skorch have none.",
        "ratio: our seconds per epoch / this row's.",
        f"accuracy gap ours - MLPClassifier: {100 * (rows[0]['accuracy'] - sk_acc):+.2f} points.",
    ]
    columns = [
        ("model", "model", ""),
        ("s_per_epoch", "s / epoch", ".4f"),
        ("samples_per_s", "samples / s", ",.0f"),
        ("accuracy", "test acc", ".4f"),
        ("ratio", "ours / this", ".2f"),
    ]
    report("mlp", "MLP: (100, 100) relu, Adam, batch 256, 40k x 50 float32, 5 classes",
           columns, rows, notes, background=background)


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        main()
