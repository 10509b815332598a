"""torch.nn.Module classes used by the estimators.

Modules are built without touching torch's global random state: layers are
created uninitialised (``torch.nn.utils.skip_init``) and filled from a local
:class:`torch.Generator`.
"""

import math

import torch
from torch import nn


def _matmul(X, weight):
    """``X @ weight.T`` for dense or sparse ``X``."""
    if X.layout == torch.strided:
        return X @ weight.T
    return torch.sparse.mm(X, weight.T)


class LinearScorer(nn.Module):
    """Affine scores :math:`z = X W^\\top + c`, one column per output.

    Parameters
    ----------
    n_features : int
    n_outputs : int
        1 for a binary problem, K for K one-vs-rest problems.

    Notes
    -----
    Weights and bias start at zero: the linear objectives are convex, so
    the starting point only changes the path, and zero is the same on every
    device and seed.
    """

    def __init__(self, n_features, n_outputs):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_outputs, n_features))
        self.bias = nn.Parameter(torch.zeros(n_outputs))

    def forward(self, X):
        """Return the logits, shape (n, n_outputs)."""
        if X.layout == torch.strided:
            return torch.addmm(self.bias, X, self.weight.T)
        return _matmul(X, self.weight) + self.bias

    def penalized_weights(self):
        """The tensors the L2 penalty acts on: the weight matrix."""
        return [self.weight]

    def affine_logits(self):
        """``(W, c)`` with logits ``X @ W.T + c`` (detached copies)."""
        return self.weight.detach().clone(), self.bias.detach().clone()

    def set_affine_logits(self, weight, bias):
        """Set the parameters so that the logits are ``X @ weight.T + bias``."""
        with torch.no_grad():
            self.weight.copy_(weight)
            self.bias.copy_(bias)


class TanhScorer(nn.Module):
    """The lecture's scorer :math:`f(x) = \\tanh(\\beta (x^\\top w - b))`.

    It stores ``weight`` (w), ``threshold`` (b) and ``log_beta``
    (:math:`\\log \\beta`, so that :math:`\\beta > 0` without constraints).
    :meth:`forward` returns the logit of :math:`P(y=+1 \\mid x)`,
    :math:`2\\beta(x^\\top w - b)`, since
    :math:`P(y=+1 \\mid x) = \\sigma(2\\beta(x^\\top w - b)) = (1 + f(x))/2`.

    Parameters
    ----------
    n_features : int
    n_outputs : int
        One (w, b, beta) per one-vs-rest output.
    beta : float
        Initial :math:`\\beta`.
    learn_beta : bool
        Whether :math:`\\beta` is trained.
    """

    def __init__(self, n_features, n_outputs, beta=1.0, learn_beta=True):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_outputs, n_features))
        self.threshold = nn.Parameter(torch.zeros(n_outputs))
        self.log_beta = nn.Parameter(
            torch.full((n_outputs,), math.log(beta)), requires_grad=learn_beta
        )

    @property
    def beta(self):
        """:math:`\\beta = e^{\\log \\beta}`, shape (n_outputs,)."""
        return self.log_beta.exp()

    def margin(self, X):
        """Return :math:`x^\\top w - b`, shape (n, n_outputs)."""
        return _matmul(X, self.weight) - self.threshold

    def forward(self, X):
        """Return the logits :math:`2\\beta(x^\\top w - b)`, shape (n, n_outputs)."""
        return 2.0 * self.beta * self.margin(X)

    def penalized_weights(self):
        """The effective logit weights :math:`2\\beta w` (learning beta cannot undo the penalty)."""
        return [2.0 * self.beta.unsqueeze(1) * self.weight]

    def affine_logits(self):
        """``(2 beta w, -2 beta b)``: the logits are ``X @ W.T + c``."""
        scale = 2.0 * self.beta.detach()
        return scale.unsqueeze(1) * self.weight.detach(), -scale * self.threshold.detach()

    def set_affine_logits(self, weight, bias):
        """Set (w, b) for the logits ``X @ weight.T + bias`` at the current beta.

        beta and the scale of (w, b) are redundant, so beta is kept.
        """
        scale = 2.0 * self.beta.detach()
        with torch.no_grad():
            self.weight.copy_(weight / scale.unsqueeze(1))
            self.threshold.copy_(-bias / scale)


class _GeneratorDropout(nn.Module):
    """Inverted dropout drawing its masks from a local generator.

    ``torch.nn.Dropout`` draws from torch's global random state, which an
    estimator must leave alone; this one is equivalent but seeded.
    """

    def __init__(self, p):
        super().__init__()
        self.p = p
        self.generator = None  # the fit's, set by MLP.set_generator

    def forward(self, X):
        if not self.training or self.p == 0.0:
            return X
        keep = torch.rand(
            X.shape, generator=self.generator, device=X.device, dtype=X.dtype
        ) >= self.p
        return X * keep / (1.0 - self.p)

    def __getstate__(self):
        # Generators do not pickle; a loaded model predicts (eval mode) only.
        state = self.__dict__.copy()
        state["generator"] = None
        return state


ACTIVATIONS = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "logistic": nn.Sigmoid,
    "identity": nn.Identity,
}


class MLP(nn.Module):
    """Multi-layer perceptron returning logits.

    :math:`h_0 = x`, :math:`h_s = \\mathrm{act}(W_s h_{s-1} + b_s)` for each
    hidden layer (followed by dropout during training), and logits
    :math:`W_d h_{d-1} + b_d`.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : {"relu", "tanh", "logistic", "identity"}
    dropout : float
        Drop probability after each hidden layer.

    Notes
    -----
    The initial weights come from torch's global random state, which the
    estimator seeds in a forked state (``build_seeded``); dropout masks come
    from the fit's generator (:meth:`set_generator`).
    """

    def __init__(self, layer_sizes, activation="relu", dropout=0.0):
        super().__init__()
        layers = []
        pairs = list(zip(layer_sizes[:-1], layer_sizes[1:]))
        for index, (fan_in, fan_out) in enumerate(pairs):
            # On the default device: "meta" when loading checks a stored state.
            linear = nn.utils.skip_init(
                nn.Linear, fan_in, fan_out, device=torch.get_default_device()
            )
            _init_linear(linear, activation)
            layers.append(linear)
            if index < len(pairs) - 1:
                layers.append(ACTIVATIONS[activation]())
                if dropout > 0:
                    layers.append(_GeneratorDropout(dropout))
        self.layers = nn.Sequential(*layers)

    def linear_layers(self):
        """The ``nn.Linear`` layers, input to output."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def penalized_weights(self):
        """The weight matrices of the linear layers (never the biases)."""
        return [layer.weight for layer in self.linear_layers()]

    def set_generator(self, generator):
        """Draw dropout masks from ``generator`` (on the training device)."""
        for module in self.layers:
            if isinstance(module, _GeneratorDropout):
                module.generator = generator

    def forward(self, X):
        """Return the logits, shape (n, n_outputs)."""
        if X.layout != torch.strided:
            first, *rest = self.layers
            return nn.Sequential(*rest)(_matmul(X, first.weight) + first.bias)
        return self.layers(X)


def _init_linear(linear, activation):
    """Glorot-uniform initialisation, with scikit-learn's MLPClassifier bounds.

    Weights and biases are drawn from :math:`U(-r, r)` with
    :math:`r = \\sqrt{6 / (n_{in} + n_{out})}`, and 2 in place of 6 for the
    logistic activation. He-uniform (:math:`\\sqrt{6 / n_{in}}`) for ReLU was
    measured too: on a 5-class problem it trained slower and ended 2-3 points
    below MLPClassifier, so all activations use the Glorot bound.
    """
    fan_out, fan_in = linear.weight.shape
    factor = 2.0 if activation == "logistic" else 6.0
    bound = math.sqrt(factor / (fan_in + fan_out))
    with torch.no_grad():
        nn.init.uniform_(linear.weight, -bound, bound)
        nn.init.uniform_(linear.bias, -bound, bound)
