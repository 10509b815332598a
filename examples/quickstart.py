"""
Quickstart: the three estimators in a pipeline and a grid search
================================================================

Run with ``python examples/quickstart.py``; it prints the cross-validated
accuracy of each estimator on the breast cancer data, the best MLP
parameters found by a small grid search, and what an abstaining model does.
"""

# The gallery shows this script without running it; its card (drawn by
# docs/_ext/quickstart_thumbnail.py) shows what it prints.
# sphinx_gallery_thumbnail_path = "_static/quickstart_thumbnail.png"

from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_autodiff import BCELogisticClassifier, MLPSoftmaxClassifier, TanhLogisticClassifier

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)

for estimator in (
    TanhLogisticClassifier(alpha=1e-2),
    BCELogisticClassifier(alpha=1e-2),
    MLPSoftmaxClassifier((32,), alpha=1e-2, learning_rate_init=1e-2, random_state=0),
):
    pipeline = make_pipeline(StandardScaler(), estimator)
    scores = cross_val_score(pipeline, X_train, y_train, cv=3)
    print(f"{type(estimator).__name__:24s} CV accuracy {scores.mean():.3f} +- {scores.std():.3f}")

search = GridSearchCV(
    make_pipeline(StandardScaler(), MLPSoftmaxClassifier(learning_rate_init=1e-2, random_state=0)),
    {"mlpsoftmaxclassifier__hidden_layer_sizes": [(16,), (64,)]},
    cv=3,
).fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"test accuracy of the best pipeline: {search.score(X_test, y_test):.3f}")

# Abstention: answer -1 ("reject") where the model is less than 90% sure.
abstaining = make_pipeline(
    StandardScaler(), BCELogisticClassifier(alpha=1e-2, reject_threshold=0.9)
)
predicted = abstaining.fit(X_train, y_train).predict(X_test)
accepted = predicted != -1
print(f"abstaining model: coverage {accepted.mean():.3f}, "
      f"accuracy on accepted {(predicted[accepted] == y_test[accepted]).mean():.3f}")
