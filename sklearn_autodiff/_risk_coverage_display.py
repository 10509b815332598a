"""RiskCoverageDisplay: the risk-coverage plot (matplotlib optional).

Public through :mod:`sklearn_autodiff.selective`.
"""

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted

from .selective import aurc_score, risk_coverage_curve

# --------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------


class RiskCoverageDisplay:
    """Risk-coverage curve visualization.

    Build it with :meth:`from_estimator` or :meth:`from_predictions`; the
    constructor only stores the values. The curve is drawn as steps: the
    risk ``risk[j]`` holds on ``(coverage[j - 1], coverage[j]]``, so the area
    under the line is :func:`aurc_score`. matplotlib is needed only to plot.

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

    Attributes
    ----------
    line_ : matplotlib Artist
        The curve.
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

    def __init__(self, *, coverage, risk, thresholds=None, aurc=None, name=None):
        self.coverage = coverage
        self.risk = risk
        self.thresholds = thresholds
        self.aurc = aurc
        self.name = name

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
        line_kwargs = {"drawstyle": "steps-pre"}
        if name is not None and self.aurc is not None:
            line_kwargs["label"] = f"{name} (AURC = {self.aurc:.3f})"
        elif name is not None:
            line_kwargs["label"] = str(name)
        elif self.aurc is not None:
            line_kwargs["label"] = f"AURC = {self.aurc:.3f}"
        line_kwargs.update(kwargs)
        coverage = np.asarray(self.coverage, dtype=float)
        risk = np.asarray(self.risk, dtype=float)
        # Start the steps at coverage 0 so the area under the line is the AURC.
        (self.line_,) = ax.plot(np.r_[0.0, coverage], np.r_[risk[:1], risk], **line_kwargs)
        ax.set_xlabel("Coverage")
        ax.set_ylabel("Selective risk")
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(bottom=0.0)
        if "label" in line_kwargs:
            ax.legend(loc="upper left")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y, *, sample_weight=None, name=None, ax=None, **kwargs):
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
            name=type(estimator).__name__ if name is None else name,
            ax=ax,
            **kwargs,
        )

    @classmethod
    def from_predictions(
        cls, y_true, y_proba, *, labels=None, sample_weight=None, name=None, ax=None, **kwargs
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
        coverage, risk, thresholds = risk_coverage_curve(
            y_true, y_proba, labels=labels, sample_weight=sample_weight
        )
        aurc = aurc_score(y_true, y_proba, labels=labels, sample_weight=sample_weight)
        display = cls(
            coverage=coverage, risk=risk, thresholds=thresholds, aurc=aurc, name=name
        )
        return display.plot(ax=ax, **kwargs)
