"""ONNX export of the fitted classifiers, through skl2onnx.

Importing this module registers a shape calculator, a converter and the
usual classifier parser (with its ``zipmap`` option) with `skl2onnx
<https://onnx.ai/sklearn-onnx/>`_ for :class:`~sklearn_autodiff.BCELogisticClassifier`,
:class:`~sklearn_autodiff.TanhLogisticClassifier` and
:class:`~sklearn_autodiff.MLPSoftmaxClassifier`. Then ``skl2onnx.to_onnx``
converts a fitted estimator, or a pipeline ending in one, like any
scikit-learn classifier::

    import numpy as np
    import onnxruntime as ort
    from skl2onnx import to_onnx
    import sklearn_autodiff.onnx  # noqa: F401  (registers the converters)

    onx = to_onnx(pipeline, X[:1].astype(np.float32), options={"zipmap": False})
    session = ort.InferenceSession(onx.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    labels, proba = session.run(None, {"X": X.astype(np.float32)})

The graph has two outputs, ``label`` (what :meth:`predict` returns) and
``probabilities`` (what :meth:`predict_proba` returns, in the input's
float type). With the default ``zipmap=True`` the probabilities come out as
a list of ``{class: probability}`` dictionaries instead, and
``zipmap="columns"`` gives one output per class, as for scikit-learn's own
classifiers. The user guide's page "Export to ONNX" has the details.

What is exported:

* The model's inference math, from the fitted attributes: ``coef_`` and
  ``intercept_`` (with ``beta_`` folded in for the tanh model), or
  ``coefs_``, ``intercepts_`` and ``activation`` for the MLP; probabilities
  are computed as in :meth:`predict_proba` (the one-vs-rest normalisation of
  the linear models, the softmax of the MLP), in a numerically stable form.
* The reject option: with ``reject_threshold`` set, the graph computes the
  abstain decision itself, and ``label`` holds the reject label (the one
  :meth:`predict` uses) wherever the largest probability is below the
  threshold.
* Integer and string class labels (float labels only when they are whole
  numbers, which ONNX then carries as int64, as skl2onnx does).

What is not exported:

* Anything about training: dropout only acts during training (at
  prediction time it is the identity, so the exported MLP has none), and
  the optimizer state, ``loss_curve_`` and the other training attributes
  stay in Python.
* Sparse input: ONNX graphs take dense tensors.
* ``decision_function`` and ``predict_log_proba`` (take the log of the
  probabilities if needed).

The graph computes in the input's float type: float32 input (the usual
``X[:1].astype(np.float32)``) gives a float32 graph whatever the model was
fitted in, and its probabilities match :meth:`predict_proba` to within
about ``1e-6`` (the tests require ``1e-4``); a float64 sample input gives a float64 graph. A sample whose
largest probability lies within float32 rounding of ``reject_threshold``
may be rejected on one side and not on the other.

A fitted :class:`~sklearn_autodiff.SelectiveClassifierCV` converts too,
around any model skl2onnx converts (one of ours, a scikit-learn classifier,
a pipeline, a :class:`~sklearn.frozen.FrozenEstimator`): the graph holds the
wrapped model's probabilities and the learned reject rule, ``threshold_``
or, with ``per_class=True``, the predicted class's entry of
``class_thresholds_``, so its labels are those of ``predict``.

This module needs ``skl2onnx`` (``pip install sklearn_autodiff[onnx]``,
which also installs ``onnxruntime`` to run the graphs); the rest of the
package does not.
"""

import numbers

try:
    from onnx import TensorProto
    from skl2onnx import update_registered_converter
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )
except ImportError as exc:  # pragma: no cover - exercised without skl2onnx
    raise ImportError(
        "sklearn_autodiff.onnx needs the skl2onnx package (and onnxruntime to "
        "run the exported graphs): pip install sklearn_autodiff[onnx]"
    ) from exc

import numpy as np

from ._reject import resolve_reject_label
from .linear_model import BCELogisticClassifier, LinearAutodiffRegressor, TanhLogisticClassifier
from .neural_network import MLPAutodiffRegressor, MLPSoftmaxClassifier

__all__ = ["register_converters", "register_regressor_converters", "register_selective_converter"]

#: skl2onnx alias of each estimator.
ALIASES = {
    BCELogisticClassifier: "SklearnAutodiffBCELogisticClassifier",
    TanhLogisticClassifier: "SklearnAutodiffTanhLogisticClassifier",
    MLPSoftmaxClassifier: "SklearnAutodiffMLPSoftmaxClassifier",
}



# ---------------------------------------------------------------- helpers


def _host(value):
    """A fitted attribute as a numpy array (it is a tensor under array API dispatch)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _label_kind(classes):
    """``"int"`` or ``"str"``: how ONNX carries these class labels."""
    kind = classes.dtype.kind
    if kind in "US" or (kind == "O" and all(isinstance(c, str) for c in classes)):
        return "str"
    if kind in "iub":
        return "int"
    if kind == "f" and np.all(np.isfinite(classes)) and np.all(classes == np.round(classes)):
        return "int"
    raise ValueError(
        f"Cannot export class labels {classes.tolist()!r} (dtype {classes.dtype}) to "
        "ONNX, whose labels are int64 or strings. Encode the labels as integers or "
        "strings before fitting."
    )


def _reject_label(model):
    """The label :meth:`predict` gives rejections, or None without a threshold."""
    if model.reject_threshold is None:
        return None
    # predict resolves the label at call time, so a changed reject_label
    # (or a threshold set after fit) is honoured; do the same.
    label, _ = resolve_reject_label(_host(model.classes_), model.reject_label)
    return label


def _proba_type(operator):
    """The tensor type of the probabilities: the input's float type."""
    if isinstance(operator.inputs[0].type, DoubleTensorType):
        return DoubleTensorType
    return FloatTensorType


def _np_float(operator):
    return np.float64 if _proba_type(operator) is DoubleTensorType else np.float32


class _Builder:
    """Adds constants and nodes to a skl2onnx container under unique names."""

    def __init__(self, scope, container, prefix):
        self.scope = scope
        self.container = container
        self.prefix = prefix

    def name(self, hint):
        return self.scope.get_unique_variable_name(f"{self.prefix}_{hint}")

    def const(self, hint, value):
        value = np.asarray(value)
        name = self.name(hint)
        if value.dtype.kind in "USO":
            content = [str(v).encode("utf-8") for v in value.ravel()]
            onnx_type = TensorProto.STRING
        else:
            onnx_type = {
                np.dtype(np.float32): TensorProto.FLOAT,
                np.dtype(np.float64): TensorProto.DOUBLE,
                np.dtype(np.int64): TensorProto.INT64,
            }[value.dtype]
            content = value.ravel().tolist()
        self.container.add_initializer(name, onnx_type, list(value.shape), content)
        return name

    def node(self, op_type, inputs, hint=None, output=None, op_domain="", **attrs):
        output = output or self.name(hint or op_type.lower())
        self.container.add_node(
            op_type,
            list(inputs),
            [output],
            op_domain=op_domain,
            name=self.scope.get_unique_operator_name(f"{self.prefix}_{op_type}"),
            **attrs,
        )
        return output

    def reduce_max(self, x, hint):
        # ReduceMax takes its axes as an input from opset 18 on.
        if self.container.target_opset >= 18:
            axes = self.const("axes", np.array([1], np.int64))
            return self.node("ReduceMax", [x, axes], hint, keepdims=0)
        return self.node("ReduceMax", [x], hint, axes=[1], keepdims=0)


def _affine(b, x, weight, bias, dtype, hint):
    """``x @ weight + bias`` with weight of shape (fan_in, fan_out)."""
    product = b.node("MatMul", [x, b.const(f"{hint}_W", weight.astype(dtype))], f"{hint}_xw")
    return b.node("Add", [product, b.const(f"{hint}_b", bias.astype(dtype))], f"{hint}_z")


def _float_input(b, operator, dtype):
    """The input, cast to the graph's float type when it is not already."""
    x = operator.inputs[0].full_name
    if isinstance(operator.inputs[0].type, (FloatTensorType, DoubleTensorType)):
        return x
    to = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    return b.node("Cast", [x], "x_float", to=to)


# ------------------------------------------------------- probabilities


def _linear_logits(model):
    """Logit weights (d, n_outputs) and biases (n_outputs,) of the fitted module, in float64.

    Read from ``module_`` (what :meth:`predict_proba` computes with), not
    from hyperparameters or published copies such as ``coef_``; the tanh
    model's ``affine_logits`` has ``2 beta`` folded in.
    """
    weight, bias = model.module_.affine_logits()
    return _host(weight).astype(np.float64).T, _host(bias).astype(np.float64)


def _linear_proba(b, x, model, dtype):
    weight, bias = _linear_logits(model)
    z = _affine(b, x, weight, bias, dtype, "linear")
    if weight.shape[1] == 1:
        # [sigmoid(-z), sigmoid(z)], as predict_proba.
        negative = b.node("Sigmoid", [b.node("Neg", [z], "neg_z")], "p_negative")
        positive = b.node("Sigmoid", [z], "p_positive")
        return b.node("Concat", [negative, positive], "proba", axis=1)
    # One-vs-rest: p_k = sigmoid(z_k) / sum_j sigmoid(z_j), formed as the
    # softmax of log sigmoid(z) = min(z, 0) - log(1 + exp(-|z|)), which
    # neither underflows nor divides 0 by 0 for large |z|.
    zero = b.const("zero", np.zeros(1, dtype))
    one = b.const("one", np.ones(1, dtype))
    neg_abs = b.node("Neg", [b.node("Abs", [z], "abs_z")], "neg_abs_z")
    one_plus = b.node("Add", [one, b.node("Exp", [neg_abs], "exp")], "one_plus")
    log1p = b.node("Log", [one_plus], "log1p")
    log_sigmoid = b.node("Sub", [b.node("Min", [z, zero], "min_z"), log1p], "log_sigmoid")
    return b.node("Softmax", [log_sigmoid], "proba", axis=1)


def _mlp_proba(b, x, model, dtype):
    """Softmax of the fitted network's logits, read from ``module_`` (not the hyperparameters)."""
    return b.node("Softmax", [_module_graph(b, x, model.module_, dtype)], "proba", axis=1)


# ----------------------------------------------- shape calculator, converter


def calculate_output_shapes(operator):
    """skl2onnx shape calculator: ``label`` (N,) and ``probabilities`` (N, K)."""
    from sklearn.utils.validation import check_is_fitted

    model = operator.raw_operator
    check_is_fitted(model)  # the graph is made of fitted state only
    classes = _host(model.classes_)
    n = operator.inputs[0].get_first_dimension()
    label_type = StringTensorType if _label_kind(classes) == "str" else Int64TensorType
    operator.outputs[0].type = label_type(shape=[n])
    operator.outputs[1].type = _proba_type(operator)(shape=[n, len(classes)])


def convert(scope, operator, container):
    """skl2onnx converter: probabilities, argmax labels and the reject option."""
    model = operator.raw_operator
    dtype = _np_float(operator)
    b = _Builder(scope, container, type(model).__name__)
    x = _float_input(b, operator, dtype)

    if isinstance(model, MLPSoftmaxClassifier):
        proba = _mlp_proba(b, x, model, dtype)
    else:
        proba = _linear_proba(b, x, model, dtype)
    b.node("Identity", [proba], output=operator.outputs[1].full_name)

    classes = _host(model.classes_)
    kind = _label_kind(classes)
    if kind == "str":
        class_values = np.array([str(c) for c in classes], dtype=object)
    else:
        class_values = classes.astype(np.int64)
    index = b.node("ArgMax", [proba], "argmax", axis=1, keepdims=0)
    labels = b.node("Gather", [b.const("classes", class_values), index], "labels", axis=0)

    reject_label = _reject_label(model)
    if reject_label is not None:
        if kind == "str" and not isinstance(reject_label, str):
            raise ValueError(
                f"reject_label={reject_label!r} is not a string, but the class labels are; "
                "ONNX labels have a single type."
            )
        if kind == "int":
            if not (isinstance(reject_label, numbers.Real) and float(reject_label).is_integer()):
                raise ValueError(
                    f"reject_label={reject_label!r} cannot be carried as an int64 ONNX label."
                )
            reject_value = np.array([int(reject_label)], np.int64)
        else:
            reject_value = np.array([reject_label], dtype=object)
        confidence = b.reduce_max(proba, "confidence")
        threshold = b.const("reject_threshold", np.array([model.reject_threshold], dtype))
        rejected = b.node("Less", [confidence, threshold], "rejected")
        reject_const = b.const("reject_label", reject_value)
        labels = b.node("Where", [rejected, reject_const, labels], "labels_or_reject")
    b.node("Identity", [labels], output=operator.outputs[0].full_name)


def parse_fitted_classifier(scope, model, inputs, custom_parsers=None):
    """skl2onnx's classifier parser, after refusing an unfitted model with NotFittedError."""
    from skl2onnx._parse import _parse_sklearn_classifier
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(model)
    return _parse_sklearn_classifier(scope, model, inputs, custom_parsers=custom_parsers)


def register_converters():
    """Register the converters with skl2onnx (done on import; idempotent)."""
    for model_type, alias in ALIASES.items():
        update_registered_converter(
            model_type,
            alias,
            calculate_output_shapes,
            convert,
            parser=parse_fitted_classifier,
            # skl2onnx's classifier parser reads "nocl"; class indices in
            # place of the labels are not supported here.
            options={"zipmap": [True, False, "columns"], "nocl": [False]},
        )


register_converters()


# ------------------------------------------- SelectiveClassifierCV (reject rule)

#: skl2onnx alias of the selective meta-estimator.
SELECTIVE_ALIAS = "SklearnAutodiffSelectiveClassifierCV"


def _deployed_estimator(selective):
    """The model a fitted SelectiveClassifierCV predicts with (a frozen one unwrapped)."""
    from sklearn.frozen import FrozenEstimator

    inner = selective.estimator_
    while isinstance(inner, FrozenEstimator):
        inner = inner.estimator
    return inner


def parse_selective(scope, model, inputs, custom_parsers=None):
    """skl2onnx parser: the wrapped model's probabilities, then the reject rule.

    The wrapped model (any classifier or pipeline skl2onnx converts) is
    parsed without ZipMap; its probabilities feed the operator of
    :func:`convert_selective`, whose outputs get the ZipMap the user asked
    for, as for any classifier.
    """
    from skl2onnx._parse import _apply_zipmap, _parse_sklearn

    options = scope.get_options(model, {"zipmap": True})
    inner = _deployed_estimator(model)
    scope.add_options(id(inner), {"zipmap": False})
    inner_outputs = _parse_sklearn(scope, inner, inputs, custom_parsers=custom_parsers)
    operator = scope.declare_local_operator(SELECTIVE_ALIAS, model)
    operator.inputs = [inner_outputs[1]]
    kind = _label_kind(_host(model.classes_))
    label_type = StringTensorType if kind == "str" else Int64TensorType
    operator.outputs.append(scope.declare_local_variable("label", label_type()))
    operator.outputs.append(
        scope.declare_local_variable("probabilities", type(inner_outputs[1].type)())
    )
    if options["zipmap"] is False:
        return list(operator.outputs)
    return _apply_zipmap(options["zipmap"], scope, model, inputs[0].type, operator.outputs)


def calculate_selective_shapes(operator):
    """skl2onnx shape calculator of the reject rule: ``label`` (N,), ``probabilities`` (N, K)."""
    classes = _host(operator.raw_operator.classes_)
    n = operator.inputs[0].get_first_dimension()
    label_type = StringTensorType if _label_kind(classes) == "str" else Int64TensorType
    operator.outputs[0].type = label_type(shape=[n])
    operator.outputs[1].type = _proba_type(operator)(shape=[n, len(classes)])


def _selective_reject_value(kind, reject_label):
    """The reject label as a one-element constant of the ONNX label type."""
    if kind == "str":
        if not isinstance(reject_label, str):
            raise ValueError(
                f"reject_label={reject_label!r} is not a string, but the class labels are; "
                "ONNX labels have a single type."
            )
        return np.array([reject_label], dtype=object)
    if not (isinstance(reject_label, numbers.Real) and float(reject_label).is_integer()):
        raise ValueError(f"reject_label={reject_label!r} cannot be carried as an int64 ONNX label.")
    return np.array([int(reject_label)], np.int64)


def convert_selective(scope, operator, container):
    """skl2onnx converter: argmax labels, and the reject label below the threshold.

    The threshold is ``threshold_`` or, with ``per_class=True``, the entry of
    ``class_thresholds_`` for the predicted class (a Gather on the argmax),
    so the labels are those of :meth:`SelectiveClassifierCV.predict`.
    """
    model = operator.raw_operator
    dtype = _np_float(operator)
    b = _Builder(scope, container, "SelectiveClassifierCV")
    proba = operator.inputs[0].full_name
    b.node("Identity", [proba], output=operator.outputs[1].full_name)
    classes = _host(model.classes_)
    kind = _label_kind(classes)
    class_values = (
        np.array([str(c) for c in classes], dtype=object) if kind == "str"
        else classes.astype(np.int64)
    )
    index = b.node("ArgMax", [proba], "argmax", axis=1, keepdims=0)
    labels = b.node("Gather", [b.const("classes", class_values), index], "labels", axis=0)
    if hasattr(model, "class_thresholds_"):
        table = b.const("class_thresholds", np.asarray(model.class_thresholds_, dtype))
        threshold = b.node("Gather", [table, index], "threshold", axis=0)
    else:
        threshold = b.const("threshold", np.array([model.threshold_], dtype))
    confidence = b.reduce_max(proba, "confidence")
    rejected = b.node("Less", [confidence, threshold], "rejected")
    # As predict: the label is resolved now, so a reject_label set after fit counts.
    reject_label, _ = resolve_reject_label(classes, model.reject_label)
    reject_const = b.const("reject_label", _selective_reject_value(kind, reject_label))
    labels = b.node("Where", [rejected, reject_const, labels], "labels_or_reject")
    b.node("Identity", [labels], output=operator.outputs[0].full_name)


def register_selective_converter():
    """Register SelectiveClassifierCV with skl2onnx (done on import; idempotent)."""
    from ._selective_cv import SelectiveClassifierCV

    update_registered_converter(
        SelectiveClassifierCV,
        SELECTIVE_ALIAS,
        calculate_selective_shapes,
        convert_selective,
        parser=parse_selective,
        options={"zipmap": [True, False, "columns"], "nocl": [False]},
    )


register_selective_converter()


# ------------------------------------------------------------- regressors

#: skl2onnx alias of each regressor.
REGRESSOR_ALIASES = {
    LinearAutodiffRegressor: "SklearnAutodiffLinearRegressor",
    MLPAutodiffRegressor: "SklearnAutodiffMLPRegressor",
}


def _module_graph(b, x, module, dtype):
    """The fitted module's forward pass, layer by layer (the graph reads no hyperparameter).

    Handles the shipped modules: the linear scorer and the MLP's
    ``nn.Linear`` layers, activations and (inference-time identity) dropout.
    """
    import torch

    from ._modules import MLP, LinearScorer

    if isinstance(module, LinearScorer):
        weight = module.weight.detach().cpu().double().numpy()
        return _affine(b, x, weight.T, module.bias.detach().cpu().double().numpy(), dtype, "linear")
    if not isinstance(module, MLP):
        raise TypeError(f"No ONNX conversion for a module of type {type(module).__name__}.")
    ops = {torch.nn.ReLU: "Relu", torch.nn.Tanh: "Tanh", torch.nn.Sigmoid: "Sigmoid"}
    h = x
    for index, layer in enumerate(module.layers):
        if isinstance(layer, torch.nn.Linear):
            weight = layer.weight.detach().cpu().double().numpy()
            h = _affine(b, h, weight.T, layer.bias.detach().cpu().double().numpy(), dtype,
                        f"layer{index}")
        elif type(layer) in ops:
            h = b.node(ops[type(layer)], [h], f"h{index}")
    return h


def calculate_regressor_shapes(operator):
    """skl2onnx shape calculator: ``variable`` of shape (N, n_outputs_)."""
    from sklearn.utils.validation import check_is_fitted

    model = operator.raw_operator
    check_is_fitted(model)  # the graph is made of fitted state only
    n = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = _proba_type(operator)(shape=[n, model.n_outputs_])


def convert_regressor(scope, operator, container):
    """skl2onnx converter: the fitted module's output through the fitted head's link."""
    from sklearn.utils.validation import check_is_fitted

    from .heads import HalfPoisson

    model = operator.raw_operator
    check_is_fitted(model)
    dtype = _np_float(operator)
    b = _Builder(scope, container, type(model).__name__)
    raw = _module_graph(b, _float_input(b, operator, dtype), model.module_, dtype)
    if isinstance(model.head_, HalfPoisson):
        raw = b.node("Exp", [raw], "mean")
    b.node("Identity", [raw], output=operator.outputs[0].full_name)


def register_regressor_converters():
    """Register the regressors' converters with skl2onnx (done on import; idempotent).

    The graph has one output, ``variable``, of shape (N, n_outputs) (a
    column for a 1-D y, as skl2onnx gives scikit-learn's regressors).
    """
    for model_type, alias in REGRESSOR_ALIASES.items():
        update_registered_converter(
            model_type, alias, calculate_regressor_shapes, convert_regressor
        )


register_regressor_converters()
