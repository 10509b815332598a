"""Order of the examples in the gallery (imported by sphinx-gallery)."""

ORDER = [
    "plot_lecture_linear.py",
    "plot_iris_mlp.py",
    "plot_autograd_gradients.py",
    "plot_risk_coverage.py",
    "plot_per_class_risk.py",
    "plot_grid_search.py",
    "plot_training_monitor.py",
    "plot_regression.py",
    "quickstart.py",
    "distributed_fit.py",
]


def example_order(filename):
    """Sort key: the position in ORDER, unknown files last by name."""
    return (ORDER.index(filename), "") if filename in ORDER else (len(ORDER), filename)
