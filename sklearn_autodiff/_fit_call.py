"""What one ``fit`` or ``partial_fit`` call carries down the engine.

One object instead of a bundle of six arguments threaded through every
step: the call's kind (``partial``, ``continuing``), the process group, the
seed, and where the model computes. The steps fill it in as they learn it.
"""

from dataclasses import dataclass, field

import numpy as np
import torch

from ._distributed import LOCAL, Communicator


@dataclass
class FitCall:
    """The settings of one training call.

    Attributes
    ----------
    partial : bool
        ``partial_fit`` (one epoch or iteration, optimizer state kept).
    continuing : bool
        Starts from the fitted module (``partial_fit`` after the first call,
        or ``warm_start=True``).
    classes : array-like or None
        ``partial_fit``'s ``classes`` argument (classifiers).
    comm : Communicator
        The process group of a distributed fit (:data:`LOCAL` when alone).
    seed : int
        Drawn once from ``random_state``.
    device, dtype : torch.device, torch.dtype
        Where and in what the model computes.
    space : OutputSpace
        The array namespace of the input, for the fitted arrays.
    """

    partial: bool
    continuing: bool
    classes: object = None
    comm: Communicator = LOCAL
    seed: int = 0
    device: torch.device = None
    dtype: torch.dtype = None
    space: object = None


@dataclass
class TrainingData:
    """Validated training data and its encoded targets.

    Attributes
    ----------
    X : ndarray, sparse matrix or torch.Tensor
        The validated features.
    y : ndarray
        The validated targets, as given (labels, or values).
    values : ndarray
        What the head encodes: class indices (classifiers) or float y
        (regressors).
    sample_weight : ndarray
        Final float weights (class weights included), largest 1.
    n_targets : int
        Classes or target columns: the second argument of ``build_module``.
    attributes : dict
        The fitted attributes the targets define (``classes_``, ``n_outputs_``).
    strata : ndarray or None
        Class indices to stratify the early-stopping split on, or None.
    weight_total : float
        The sum of the sample weights as given (times the class weights),
        before any rescaling: ``alpha="auto"`` is its inverse.
    """

    X: object
    y: np.ndarray
    values: np.ndarray
    sample_weight: np.ndarray
    n_targets: int
    attributes: dict = field(default_factory=dict)
    strata: np.ndarray = None
    weight_total: float = 1.0
