"""
Iris with 16 logistic hidden units and a softmax output
=======================================================

The network of the lecture on two-layer networks: two Iris features (petal
length and width, standardized), one hidden layer of 16 logistic units
:math:`z = \\sigma(V^\\top x + c)`, and a softmax output over the three
species, :math:`\\hat y = \\operatorname{softmax}(W^\\top z + d)`, trained by
full-batch gradient descent on the cross-entropy :math:`-\\log \\hat y_y`.

:class:`~sklearn_autodiff.MLPSoftmaxClassifier` with ``activation="logistic"``
and ``solver="gd"`` is that model; autograd supplies the gradients the
lecture derives by hand. The plot shows the decision regions and, as shading,
the probability of the predicted class.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from sklearn.datasets import load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autodiff import MLPSoftmaxClassifier

iris = load_iris()
X = iris.data[:, 2:]  # petal length, petal width (cm)
y = iris.target

model = make_pipeline(
    StandardScaler(),
    MLPSoftmaxClassifier(
        (16,), "logistic", solver="gd", learning_rate_init=1.0,
        max_iter=2000, tol=1e-6, alpha=0.0, random_state=0,
    ),
).fit(X, y)
mlp = model[-1]
print(f"{mlp.n_iter_} gradient steps, final loss {mlp.loss_:.4f}, "
      f"training accuracy {model.score(X, y):.3f}")

# %%
# Decision regions
# ----------------
# The grid is in centimetres; the pipeline standardizes it like the training
# data.
xx, yy = np.meshgrid(np.linspace(0.5, 7.5, 300), np.linspace(-0.2, 2.8, 300))
grid = np.c_[xx.ravel(), yy.ravel()]
proba = model.predict_proba(grid)
region = proba.argmax(axis=1).reshape(xx.shape)
confidence = proba.max(axis=1).reshape(xx.shape)

#
# Each region is painted in its class's colour, pale where the network is
# unsure and deep where it is sure; the colour key beside it gives the scale
# of each class (the probability of the predicted class runs from 1/3, a
# three-way tie, to 1).
colors = ["#1b9e77", "#d95f02", "#7570b3"]


def paint(k, p):
    """RGB of class k at probability p: white blended towards its colour."""
    strength = 0.15 + 0.6 * np.clip((p - 1 / 3) / (2 / 3), 0, 1)
    return 1 - (1 - np.asarray(to_rgb(colors[k]))) * strength[..., None]


fig, (ax, ax_key, ax_loss) = plt.subplots(
    1, 3, figsize=(11.5, 4.5), width_ratios=(3, 0.22, 2), layout="constrained"
)
fig.get_layout_engine().set(wspace=0.06)
image = np.zeros(xx.shape + (3,))
for k in range(len(colors)):
    image[region == k] = paint(k, confidence[region == k])
ax.imshow(image, origin="lower", extent=(xx.min(), xx.max(), yy.min(), yy.max()),
          aspect="auto", interpolation="nearest")

p_key = np.linspace(1 / 3, 1, 100)
key = np.stack([paint(k, p_key) for k in range(len(colors))], axis=1)
ax_key.imshow(key, origin="lower", extent=(-0.5, 2.5, 1 / 3, 1), aspect="auto")
ax_key.set_xticks(range(len(colors)), iris.target_names, rotation=90, fontsize=8)
ax_key.yaxis.tick_right()
ax_key.yaxis.set_label_position("right")
ax_key.set_yticks([1 / 3, 0.5, 2 / 3, 5 / 6, 1], ["1/3", "0.5", "2/3", "5/6", "1"])
ax_key.set_ylabel("probability of the predicted class")
for k, name in enumerate(iris.target_names):
    ax.scatter(*X[y == k].T, s=22, c=colors[k], edgecolors="k", linewidths=0.4, label=name)
ax.set(xlabel=iris.feature_names[2], ylabel=iris.feature_names[3],
       title="decision regions: 16 logistic hidden units, softmax output")
ax.legend(loc="upper left")

ax_loss.plot(np.arange(1, mlp.n_iter_ + 1), mlp.loss_curve_)
ax_loss.set(xscale="log", yscale="log", xlabel="gradient descent iteration",
            ylabel="cross-entropy", title="training loss")
fig.savefig("iris_mlp.png", dpi=100)
