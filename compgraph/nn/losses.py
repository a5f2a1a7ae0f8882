"""Loss layers, called on (scores, targets), and the L2 weight penalty.

A loss layer adds one loss gate, named after the layer (``loss1``), that
reads the network's output and the targets: integer class labels for the
classification losses, arrays of the output's shape for the regression and
binary losses. ``reduction`` is ``"mean"`` over the batch (the default),
``"sum"``, or ``"none"`` for one loss per sample.
"""

import numpy as np

from compgraph.nn.base import Layer, free_name
from gates.arithmetic import AddGate
from gates.elementwise_losses import (
    BCELossGate,
    BCEWithLogitsLossGate,
    L1LossGate,
    L2PenaltyGate,
    MSELossGate,
    SmoothL1LossGate,
)
from gates.losses import HingeLossGate, NLLLossGate, SoftmaxCrossEntropyGate

__all__ = [
    "CrossEntropyLoss",
    "NLLLoss",
    "MultiClassHingeLoss",
    "MSELoss",
    "L1Loss",
    "SmoothL1Loss",
    "BCELoss",
    "BCEWithLogitsLoss",
    "l2_penalty",
]

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Layer):
    """A loss layer: one gate reading ``(scores, targets)``."""

    prefix = "loss"
    _gate_class = None

    def __init__(self, reduction: str = "mean", *, name: str | None = None):
        super().__init__(name)
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__} reduction must be one of {REDUCTIONS}, "
                f"got {reduction!r}"
            )
        self.reduction = reduction

    def __call__(self, scores, targets):
        return super().__call__(scores, targets)

    def _build(self, graph, scores, targets):
        return self._gate(self._make_gate(), [scores, targets])

    def _make_gate(self):
        return self._gate_class(reduction=self.reduction)

    def _describe(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy ``-ln softmax(s)_y`` on scores (N, C), labels (N,).

    Fused into one stable gate: no overflow for any score, and the gradient
    ``softmax(s) - onehot(y)`` is exact.

    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> loss = CrossEntropyLoss()(g.input("scores"), g.input("labels"))
    >>> round(g.forward(scores=np.zeros((2, 4)), labels=np.array([0, 3])), 6)
    1.386294
    """

    _gate_class = SoftmaxCrossEntropyGate


class NLLLoss(_Loss):
    """Negative log-likelihood ``-logp_y`` on log-probabilities (N, C), labels (N,).

    Pair it with :class:`~compgraph.nn.LogSoftmax`.
    """

    _gate_class = NLLLossGate


class MultiClassHingeLoss(_Loss):
    """The multiclass SVM loss ``sum_{j != y} max(0, s_j - s_y + margin)``."""

    _gate_class = HingeLossGate

    def __init__(
        self, margin: float = 1.0, reduction: str = "mean", *, name: str | None = None
    ):
        super().__init__(reduction, name=name)
        self.margin = margin

    def _make_gate(self):
        return HingeLossGate(margin=self.margin, reduction=self.reduction)

    def _describe(self):
        margin = f"margin={self.margin!r}"
        return ", ".join(p for p in (margin, super()._describe()) if p)


class MSELoss(_Loss):
    """Mean squared error ``(p - t)**2``, averaged over every element."""

    _gate_class = MSELossGate


class L1Loss(_Loss):
    """Mean absolute error ``|p - t|``, averaged over every element."""

    _gate_class = L1LossGate


class SmoothL1Loss(_Loss):
    """Huber-like: ``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - beta/2``."""

    _gate_class = SmoothL1LossGate

    def __init__(
        self, beta: float = 1.0, reduction: str = "mean", *, name: str | None = None
    ):
        super().__init__(reduction, name=name)
        self.beta = beta

    def _make_gate(self):
        return SmoothL1LossGate(beta=self.beta, reduction=self.reduction)

    def _describe(self):
        beta = f"beta={self.beta!r}"
        return ", ".join(p for p in (beta, super()._describe()) if p)


class BCELoss(_Loss):
    """Binary cross-entropy ``-(t ln p + (1 - t) ln(1 - p))`` on probabilities."""

    _gate_class = BCELossGate


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits ``z`` (``p = sigmoid(z)``), computed stably."""

    _gate_class = BCEWithLogitsLossGate


def l2_penalty(graph, strength: float, names=None):
    """Add ``strength * sum(W**2)`` for each weight, summed into one node.

    By default the weights are the parameters with two or more dimensions:
    the matrices of Linear layers, the kernels of Conv2d layers and the
    tables of Embedding layers; biases and batch-norm scales and shifts (all
    vectors) are left alone. Pass ``names`` to choose the parameters.

    Returns the node of the total penalty, named ``penalty1`` (then
    ``penalty2`` ...); with several weights, each one's own penalty is
    ``penalty1.<weight>`` and the running sums ``penalty1.sum1`` ...

    Examples
    --------
    >>> from compgraph import ComputationalGraph
    >>> from compgraph.nn import Linear
    >>> g = ComputationalGraph()
    >>> scores = Linear(2, 2, rng=0)(g.input("x"))
    >>> penalty = l2_penalty(g, 0.5)
    >>> penalty.name, g.inputs_of("penalty1")
    ('penalty1', ['fc1.W'])
    """
    if not np.isfinite(strength) or strength < 0:
        raise ValueError(f"l2_penalty strength must be >= 0, got {strength!r}")
    parameters = graph.parameters()
    if names is None:
        names = [n for n, value in parameters.items() if np.ndim(value) >= 2]
        if not names:
            raise ValueError(
                "l2_penalty found no weights (parameters with two or more "
                "dimensions) in the graph; pass names=[...] to choose some"
            )
    else:
        names = list(names)
        unknown = [n for n in names if n not in parameters]
        if unknown or not names:
            what = f"{unknown[0]!r} is not a parameter" if unknown else "no names"
            raise ValueError(
                f"l2_penalty was given {what}; the graph's parameters are "
                f"{', '.join(parameters) or 'none'}"
            )
    scope = free_name(graph, "penalty")
    if len(names) == 1:
        return graph.add_gate(L2PenaltyGate(strength), names, name=scope)
    terms = [
        graph.add_gate(L2PenaltyGate(strength), [n], name=f"{scope}.{n}") for n in names
    ]
    total = terms[0]
    for index, term in enumerate(terms[1:], start=1):
        last = index == len(terms) - 1
        name = scope if last else f"{scope}.sum{index}"
        total = graph.add_gate(AddGate(), [total, term], name=name)
    return total
