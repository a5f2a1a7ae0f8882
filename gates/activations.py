"""Elementwise gates: exp, log, sigmoid, tanh, relu and friends.

Each is numerically stable over the whole float range: sigmoid and tanh
saturate to their limits without overflow, exp overflows to ``inf`` only
where the true value is beyond the float range. At a kink (relu at 0, abs at
0) the local gradient is the average of the one-sided derivatives, as for
every gate in this library.
"""

import numpy as np

from gates.base import Gate, divide, exp, log, sigmoid, tanh

__all__ = [
    "ExpGate",
    "LogGate",
    "SigmoidGate",
    "TanhGate",
    "ReLUGate",
    "AbsGate",
    "SquareGate",
    "SqrtGate",
]


class ExpGate(Gate):
    """``f = e**x``; ``df/dx = e**x``."""

    symbol = "exp"

    def forward(self, x):
        self.out = exp(x)
        return self.out

    def backward(self, upstream):
        return (upstream * self.out,)


class LogGate(Gate):
    """``f = ln x``; ``df/dx = 1/x``; ``-inf`` at 0, ``nan`` below 0."""

    symbol = "log"

    def forward(self, x):
        self.x = x
        return log(x)

    def backward(self, upstream):
        return (divide(upstream, self.x),)


class SigmoidGate(Gate):
    """``f = 1 / (1 + e**-x)``; ``df/dx = (1 - f) f``."""

    symbol = "σ"

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, upstream):
        return (upstream * (1.0 - self.out) * self.out,)


class TanhGate(Gate):
    """``f = tanh x``; ``df/dx = 1 - f**2``."""

    symbol = "tanh"

    def forward(self, x):
        self.out = tanh(x)
        return self.out

    def backward(self, upstream):
        return (upstream * (1.0 - self.out * self.out),)


class ReLUGate(Gate):
    """``f = max(0, x)``; ``df/dx = [x > 0]``, and 1/2 at the kink ``x = 0``."""

    symbol = "relu"

    def forward(self, x):
        self.x = x
        if isinstance(x, np.ndarray):
            return np.maximum(x, 0)
        return x if x > 0 else 0.0 * x

    def backward(self, upstream):
        x = self.x
        if isinstance(x, np.ndarray):
            return (upstream * ((x > 0) + 0.5 * (x == 0)),)
        return (upstream * (1.0 if x > 0 else 0.5 if x == 0 else 0.0),)


class AbsGate(Gate):
    """``f = |x|``; ``df/dx = sign(x)``, and 0 at the kink ``x = 0``."""

    symbol = "abs"

    def forward(self, x):
        self.x = x
        return abs(x)

    def backward(self, upstream):
        return (upstream * np.sign(self.x),)


class SquareGate(Gate):
    """``f = x**2``; ``df/dx = 2x``."""

    symbol = "x²"

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, upstream):
        return (2.0 * self.x * upstream,)


class SqrtGate(Gate):
    """``f = sqrt(x)``; ``df/dx = 1 / (2 sqrt(x))``; inf at 0, nan below 0."""

    symbol = "√"

    def forward(self, x):
        with np.errstate(invalid="ignore"):
            self.out = np.sqrt(x)
        return float(self.out) if isinstance(x, float) else self.out

    def backward(self, upstream):
        return (divide(upstream, 2.0 * self.out),)
