"""Numpydoc text shared by the estimators' docstrings."""

#: Numpydoc text of the parameters every estimator shares.
COMMON_PARAMETERS_DOC = """\
    alpha : float or "auto", default=1e-4
        L2 strength: the objective is the weighted mean loss plus
        :math:`\\frac{\\alpha}{2} \\sum \\lVert W \\rVert^2` over the weights
        (never the biases or beta). ``"auto"`` is :math:`1 / \\sum_i s_i`
        (``1 / n_samples`` without weights), scikit-learn's ``C=1``:
        ``alpha = 1 / (C n)`` matches ``LogisticRegression(C=C)`` and
        ``Ridge(alpha=alpha * n)``. Unlike ``MLPClassifier``'s ``alpha``
        (divided by the batch size there), it multiplies the penalty on
        the mean loss.
    solver : {"auto", "newton", "newton-cg", "lbfgs", "adam", "sgd", "gd"}
        ``"newton"``: Newton steps with the exact Hessian
        :math:`[X, 1]^\\top D [X, 1]` solved by Cholesky (linear models with a
        Newton-friendly head; reaches the optimum to rounding; few features);
        ``"newton-cg"``: truncated Newton, conjugate gradient on
        Hessian-vector products (the same models, many features);
        ``"lbfgs"``: full-batch quasi-Newton with a strong-Wolfe line search;
        ``"adam"``; ``"sgd"``: mini-batch SGD with momentum; ``"gd"``: plain
        full-batch gradient descent with a fixed step, as in the lectures.
        ``"auto"`` takes the cheapest of newton, newton-cg and lbfgs by a
        cost model calibrated on measured fits (lbfgs where the Newton
        solvers do not apply); the pinball loss is solved by Newton steps on
        smoothed surrogates. ``solver_`` says what ran.
    learning_rate_init : float, default=None
        Step size; None means 1e-3 for adam and 0.1 for sgd and gd (lbfgs
        takes its steps from the line search).
    momentum : float, default=0.9
        Momentum of ``solver="sgd"``.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for ``solver="sgd"``.
    batch_size : int or "auto", default="auto"
        Mini-batch size of adam and sgd; "auto" is ``min(200, n_samples)``.
        lbfgs and gd always use the full batch.
    max_iter : int, default=200
        Maximum number of epochs (adam, sgd) or iterations (lbfgs, gd).
    tol : float, default=1e-4
        lbfgs and the Newton solvers stop when the largest gradient entry is
        at most ``tol`` (newton then takes two more steps, to rounding); the
        other solvers stop when the loss (or validation score) has not
        improved by ``tol`` for ``n_iter_no_change`` consecutive epochs.
    n_iter_no_change : int, default=10
        Patience of that rule.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified
        for classifiers), stop on its ``scoring``, and keep the best
        parameters.
    validation_fraction : float, default=0.1
        Size of the held-out set for early stopping.
    scoring : str, callable, "loss" or None, default=None
        The early-stopping score: None is accuracy for classifiers and R²
        for regressors; ``"loss"`` the negative validation loss; a scorer
        name (``"balanced_accuracy"``, ``"neg_mean_absolute_error"``, ...)
        or a callable ``scorer(estimator, X, y)``, as in ``GridSearchCV``.
    shuffle : bool, default=True
        Reshuffle the samples each epoch (adam, sgd).
    random_state : int, RandomState instance or None, default=None
        Seeds initial weights, batches, dropout and the validation split,
        through local generators (global random states are not touched).
    warm_start : bool, default=False
        Continue from the fitted parameters on the next ``fit``.
    device : str or torch.device, default="cpu"
        ``"cpu"``, ``"cuda"``, ``"cuda:k"`` or ``"auto"`` (CUDA if available).
    dtype : {"float32", "float64"} or None, default=None
        None computes float32 input in float32 and anything else in float64.
    distributed : bool, default=False
        Train one model on data spread over the processes of the initialized
        default :mod:`torch.distributed` process group: every rank calls
        ``fit`` with its own shard and all end with the model of the whole
        data (see the user guide's "Distributed training").
    verbose : int, default=0
        Print one line per epoch when positive.
"""

COMMON_ATTRIBUTES_DOC = """\
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X had string column names.
    n_iter_ : int
        Epochs (or iterations) run.
    alpha_ : float
        The L2 strength of the last fit (``alpha`` resolved).
    loss_ : float
        The last training objective.
    loss_curve_ : list of float
        The training objective after each epoch or iteration.
    validation_scores_ : list of float
        Held-out ``scoring`` per epoch (only with early_stopping).
    best_validation_score_ : float
        The best of those (only with early_stopping).
    solver_ : str
        The solver that ran: ``"newton"``, ``"newton-cg"``, ``"lbfgs"``,
        ``"gd"``, ``"sgd"`` or ``"adam"``.
    module_ : torch.nn.Module
        The trained module.
"""

#: Numpydoc text of the parameters every classifier shares.
CLASSIFIER_PARAMETERS_DOC = COMMON_PARAMETERS_DOC + """\
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplied into ``sample_weight``.
    reject_threshold : float in [0, 1] or None, default=None
        Abstain (predict ``reject_label_``) where the largest class
        probability is below this value (Chow's rule: for a rejection cost
        c, the optimal threshold is 1 - c). None never abstains.
    reject_label : scalar or None, default=None
        The label of rejections; None means "reject" for string classes and
        -1 for numeric classes (0 when -1 is a class, as with labels -1/+1).
"""

#: Numpydoc text of the attributes every classifier shares.
CLASSIFIER_ATTRIBUTES_DOC = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels (never the reject label).
""" + COMMON_ATTRIBUTES_DOC + """\
    reject_label_ : scalar
        The label of rejections (only with reject_threshold set).
"""

#: Numpydoc text of the attributes every regressor shares.
REGRESSOR_ATTRIBUTES_DOC = """\
    n_outputs_ : int
        Columns of y (1 for a 1-D y).
    head_ : RegressionHead
        The head the model was fitted with (its link makes the predictions).
""" + COMMON_ATTRIBUTES_DOC
