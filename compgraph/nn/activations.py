"""Layers of one gate and no parameters: activations, softmax, pooling, flatten.

Each adds a single gate named after the layer (``relu1``, ``pool2``), so a
trace or a drawing reads like the network's diagram.
"""

from compgraph.nn.base import Layer
from gates.activations import (
    ELUGate,
    LeakyReLUGate,
    ReLUGate,
    SigmoidGate,
    SoftplusGate,
    TanhGate,
)
from gates.losses import LogSoftmaxGate, SoftmaxGate
from gates.pooling import AvgPool2dGate, MaxPool2dGate
from gates.shape import FlattenGate

__all__ = [
    "ReLU",
    "Sigmoid",
    "Tanh",
    "LeakyReLU",
    "ELU",
    "Softplus",
    "Softmax",
    "LogSoftmax",
    "MaxPool2d",
    "AvgPool2d",
    "Flatten",
]


class _OneGate(Layer):
    """A layer that adds one gate, built by ``_make_gate``, named after itself."""

    def __init__(self, *, name: str | None = None):
        super().__init__(name)

    def _build(self, graph, x):
        return self._gate(self._make_gate(), [x])


class ReLU(_OneGate):
    """``max(0, x)``, elementwise.

    >>> import numpy as np
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> y = ReLU()(g.input("x"))
    >>> y.name, g.forward(x=np.array([-2.0, 3.0]))
    ('relu1', array([0., 3.]))
    """

    prefix = "relu"

    def _make_gate(self):
        return ReLUGate()


class Sigmoid(_OneGate):
    """``1 / (1 + e**-x)``, elementwise."""

    prefix = "sigmoid"

    def _make_gate(self):
        return SigmoidGate()


class Tanh(_OneGate):
    """``tanh x``, elementwise."""

    prefix = "tanh"

    def _make_gate(self):
        return TanhGate()


class Softplus(_OneGate):
    """``ln(1 + e**x)``, elementwise."""

    prefix = "softplus"

    def _make_gate(self):
        return SoftplusGate()


class Flatten(_OneGate):
    """(N, d1, d2 ...) to (N, d1 * d2 ...): images to rows for a Linear layer."""

    prefix = "flatten"

    def _make_gate(self):
        return FlattenGate()


class LeakyReLU(_OneGate):
    """``x`` for positive ``x``, ``alpha * x`` otherwise."""

    prefix = "leaky_relu"

    def __init__(self, alpha: float = 0.01, *, name: str | None = None):
        super().__init__(name=name)
        self.alpha = alpha

    def _make_gate(self):
        return LeakyReLUGate(alpha=self.alpha)

    def _describe(self):
        return f"alpha={self.alpha!r}"


class ELU(_OneGate):
    """``x`` for positive ``x``, ``alpha * (e**x - 1)`` otherwise."""

    prefix = "elu"

    def __init__(self, alpha: float = 1.0, *, name: str | None = None):
        super().__init__(name=name)
        self.alpha = alpha

    def _make_gate(self):
        return ELUGate(alpha=self.alpha)

    def _describe(self):
        return f"alpha={self.alpha!r}"


class Softmax(_OneGate):
    """``e**x_i / sum_j e**x_j`` along ``axis`` (the classes, by default the last)."""

    prefix = "softmax"

    def __init__(self, axis: int = -1, *, name: str | None = None):
        super().__init__(name=name)
        self.axis = axis

    def _make_gate(self):
        return SoftmaxGate(axis=self.axis)

    def _describe(self):
        return "" if self.axis == -1 else f"axis={self.axis!r}"


class LogSoftmax(Softmax):
    """``x_i - ln sum_j e**x_j`` along ``axis``: log-probabilities, computed stably."""

    prefix = "log_softmax"

    def _make_gate(self):
        return LogSoftmaxGate(axis=self.axis)


class MaxPool2d(_OneGate):
    """The largest value of each window of an NCHW batch, channel by channel.

    ``stride`` defaults to ``kernel_size`` (windows side by side). Windows
    that overlap add up their gradients; ``k`` tied maxima share it equally.

    >>> import numpy as np
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> pool = MaxPool2d(2)
    >>> y = pool(g.input("x"))
    >>> pool, g.forward(x=np.arange(16.0).reshape(1, 1, 4, 4))[0, 0]
    (MaxPool2d(kernel_size=2, name='pool1'), array([[ 5.,  7.],
           [13., 15.]]))
    """

    prefix = "pool"

    def __init__(self, kernel_size, stride=None, *, name: str | None = None):
        super().__init__(name=name)
        self.kernel_size = kernel_size
        self.stride = stride

    def _make_gate(self):
        return MaxPool2dGate(self.kernel_size, stride=self.stride)

    def _describe(self):
        stride = "" if self.stride is None else f", stride={self.stride!r}"
        return f"kernel_size={self.kernel_size!r}{stride}"


class AvgPool2d(MaxPool2d):
    """The mean of each window of an NCHW batch; ``stride`` defaults to the window."""

    def _make_gate(self):
        return AvgPool2dGate(self.kernel_size, stride=self.stride)
