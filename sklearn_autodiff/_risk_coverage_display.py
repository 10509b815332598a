"""RiskCoverageDisplay: the risk-coverage plot (matplotlib optional).

Public through :mod:`sklearn_autodiff.selective`.
"""

import numpy as np
from sklearn.utils import column_or_1d
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted

from ._selective_metrics import aurc_score, risk_coverage_curve

# --------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------


class RiskCoverageDisplay:
    """Risk-coverage curve visualization.

    Build it with :meth:`from_estimator` or :meth:`from_predictions`; the
    constructor only stores the values. The curve is drawn as steps: the
    risk ``risk[j]`` holds on ``(coverage[j - 1], coverage[j]]``, so the area
    under the line is :func:`aurc_score`. matplotlib is needed only to plot.

    With ``per_class=True`` (in the two builders) there is one curve per
    predicted class k, over the samples predicted as k: the fraction of them
    accepted against the error rate of the accepted ones, the trade-off that
    ``SelectiveClassifierCV(per_class=True)`` chooses each class's threshold
    from. ``coverage``, ``risk``, ``thresholds`` and ``aurc`` are then lists
    with one entry per class in ``class_labels``, and ``line_`` a list of
    lines.

    Parameters
    ----------
    coverage : ndarray
        Coverages, increasing (from :func:`risk_coverage_curve`).
    risk : ndarray
        Selective risk at each coverage.
    thresholds : ndarray, default=None
        Confidence threshold of each point.
    aurc : float, default=None
        Area under the curve, shown in the legend.
    name : str, default=None
        Name of the curve in the legend; None shows no name.
    class_labels : ndarray, default=None
        The predicted class of each curve, for per-class curves; None for
        one curve over all samples.

    Attributes
    ----------
    line_ : matplotlib Artist or list of them
        The curve (one per class with ``class_labels``).
    ax_ : matplotlib Axes
        Axes holding it.
    figure_ : matplotlib Figure
        Figure holding them.

    See Also
    --------
    risk_coverage_curve : The values plotted.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_autodiff import BCELogisticClassifier, RiskCoverageDisplay
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), BCELogisticClassifier()).fit(X, y)
    >>> RiskCoverageDisplay.from_estimator(clf, X, y)  # doctest: +SKIP
    <...RiskCoverageDisplay object at ...>
    """

    def __init__(
        self, *, coverage, risk, thresholds=None, aurc=None, name=None, class_labels=None
    ):
        self.coverage = coverage
        self.risk = risk
        self.thresholds = thresholds
        self.aurc = aurc
        self.name = name
        self.class_labels = class_labels

    def plot(self, ax=None, *, name=None, **kwargs):
        """Draw the curve.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.
        name : str, default=None
            Legend name, overriding the stored ``name``.
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot`` (they override the
            defaults, such as ``drawstyle="steps-pre"``).

        Returns
        -------
        display : RiskCoverageDisplay
            This object, with ``line_``, ``ax_`` and ``figure_`` set.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots()
        name = self.name if name is None else name
        if self.class_labels is None:
            self.line_ = _draw_curve(ax, self.coverage, self.risk, self.aurc, name, kwargs)
        else:
            self.line_ = [
                _draw_curve(ax, coverage, risk, aurc, _class_name(name, label), kwargs)
                for label, coverage, risk, aurc in zip(
                    self.class_labels, self.coverage, self.risk, self.aurc
                )
            ]
        ax.set_xlabel("Coverage" if self.class_labels is None else "Coverage of the class")
        ax.set_ylabel("Selective risk")
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(bottom=0.0)
        lines = self.line_ if isinstance(self.line_, list) else [self.line_]
        if any(not line.get_label().startswith("_") for line in lines):
            ax.legend(loc="upper left")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(
        cls, estimator, X, y, *, sample_weight=None, per_class=False, name=None, ax=None, **kwargs
    ):
        """Plot the risk-coverage curve of a fitted classifier on data.

        Parameters
        ----------
        estimator : estimator instance
            Fitted classifier (or pipeline ending in one) with
            ``predict_proba`` and ``classes_``.
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        per_class : bool, default=False
            One curve per predicted class (see the class description).
        name : str, default=None
            Legend name; None uses the estimator's class name.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot``.

        Returns
        -------
        display : RiskCoverageDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        check_is_fitted(estimator)
        y_proba = estimator.predict_proba(X)
        return cls.from_predictions(
            y,
            y_proba,
            labels=estimator.classes_,
            sample_weight=sample_weight,
            per_class=per_class,
            name=type(estimator).__name__ if name is None else name,
            ax=ax,
            **kwargs,
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_proba,
        *,
        labels=None,
        sample_weight=None,
        per_class=False,
        name=None,
        ax=None,
        **kwargs,
    ):
        """Plot the risk-coverage curve from true labels and probabilities.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
            Predicted probabilities, columns in sorted label order (see
            :func:`risk_coverage_curve`).
        labels : array-like of shape (n_classes,), default=None
            All the labels; by default those in ``y_true``.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative sample weights.
        per_class : bool, default=False
            One curve per predicted class (see the class description); a
            class that is never predicted gets no curve.
        name : str, default=None
            Legend name.
        ax : matplotlib Axes, default=None
            Axes to draw on; None creates a figure.
        **kwargs : dict
            Passed to ``matplotlib.axes.Axes.plot``.

        Returns
        -------
        display : RiskCoverageDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_predictions")
        if per_class:
            display = cls(**_per_class_curves(y_true, y_proba, labels, sample_weight), name=name)
            return display.plot(ax=ax, **kwargs)
        coverage, risk, thresholds = risk_coverage_curve(
            y_true, y_proba, labels=labels, sample_weight=sample_weight
        )
        aurc = aurc_score(y_true, y_proba, labels=labels, sample_weight=sample_weight)
        display = cls(
            coverage=coverage, risk=risk, thresholds=thresholds, aurc=aurc, name=name
        )
        return display.plot(ax=ax, **kwargs)


def _draw_curve(ax, coverage, risk, aurc, name, kwargs):
    """One risk-coverage step curve on ax, labelled with its name and AURC."""
    line_kwargs = {"drawstyle": "steps-pre"}
    if name is not None and aurc is not None:
        line_kwargs["label"] = f"{name} (AURC = {aurc:.3f})"
    elif name is not None:
        line_kwargs["label"] = str(name)
    elif aurc is not None:
        line_kwargs["label"] = f"AURC = {aurc:.3f}"
    line_kwargs.update(kwargs)
    coverage = np.asarray(coverage, dtype=float)
    risk = np.asarray(risk, dtype=float)
    # Start the steps at coverage 0 so the area under the line is the AURC.
    (line,) = ax.plot(np.r_[0.0, coverage], np.r_[risk[:1], risk], **line_kwargs)
    return line


def _class_name(name, label):
    return f"class {label}" if name is None else f"{name}, class {label}"


def _per_class_curves(y_true, y_proba, labels, sample_weight):
    """The constructor's arguments for one curve per predicted class."""
    y_true = column_or_1d(y_true, input_name="y_true")
    y_proba = np.asarray(y_proba)
    labels = np.unique(y_true if labels is None else column_or_1d(labels, input_name="labels"))
    if y_proba.ndim == 1:
        y_proba = np.column_stack([1.0 - y_proba, y_proba])
    if y_proba.ndim != 2 or y_proba.shape[1] != len(labels):
        # The full checks and their messages are risk_coverage_curve's.
        risk_coverage_curve(y_true, y_proba, labels=labels, sample_weight=sample_weight)
    weight = None if sample_weight is None else np.asarray(sample_weight)
    predicted = y_proba.argmax(axis=1)
    curves = {"coverage": [], "risk": [], "thresholds": [], "aurc": [], "class_labels": []}
    for k, label in enumerate(labels):
        mine = predicted == k
        if not mine.any():
            continue
        args = (y_true[mine], y_proba[mine])
        params = {"labels": labels, "sample_weight": None if weight is None else weight[mine]}
        coverage, risk, thresholds = risk_coverage_curve(*args, **params)
        for key, value in zip(curves, (coverage, risk, thresholds, aurc_score(*args, **params))):
            curves[key].append(value)
        curves["class_labels"].append(label)
    curves["class_labels"] = np.asarray(curves["class_labels"])
    return curves
