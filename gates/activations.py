"""Elementwise gates: exp, log, sigmoid, tanh, relu and friends.

Each is numerically stable over the whole float range: sigmoid and tanh
saturate to their limits without overflow, exp overflows to ``inf`` only
where the true value is beyond the float range. At a kink (relu at 0, abs at
0) the local gradient is the average of the one-sided derivatives, as for
every gate in this library.
"""

import numpy as np

from gates.base import Gate, divide, exp, log, sigmoid, tanh
from gates.tensor import _grad_like

__all__ = [
    "ExpGate",
    "LogGate",
    "SigmoidGate",
    "TanhGate",
    "ReLUGate",
    "AbsGate",
    "SquareGate",
    "SqrtGate",
    "LeakyReLUGate",
    "ELUGate",
    "SoftplusGate",
    "ClampGate",
    "HardTanhGate",
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
        # Not 0.0 * x, which is nan at -inf; nan itself passes, as in numpy.
        return type(x)(0) if x <= 0 else x

    def backward(self, upstream):
        x = self.x
        if isinstance(x, np.ndarray):
            # Multiplying by boolean masks keeps upstream's dtype (float32 stays
            # float32); a float mask would promote the whole backward to float64.
            grad = upstream * (x > 0)
            tie = x == 0
            return (grad + 0.5 * upstream * tie if tie.any() else grad,)
        return (upstream * (1.0 if x > 0 else 0.5 if x == 0 else 0.0),)


class AbsGate(Gate):
    """``f = |x|``; ``df/dx = sign(x)``, and 0 at the kink ``x = 0``."""

    symbol = "abs"

    def forward(self, x):
        self.x = x
        return abs(x)

    def backward(self, upstream):
        if isinstance(self.x, float):  # a Python float stays one
            return (upstream * ((self.x > 0.0) - (self.x < 0.0)),)
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
            out = np.sqrt(x)
        self.out = float(out) if isinstance(x, float) else out
        return self.out

    def backward(self, upstream):
        return (divide(upstream, 2.0 * self.out),)


class LeakyReLUGate(Gate):
    """``f = x if x > 0 else alpha x``; ``df/dx = 1 or alpha``, ``(1 + alpha)/2`` at 0.

    Parameters
    ----------
    alpha : float, default=0.01
        Slope for negative inputs.

    Examples
    --------
    >>> gate = LeakyReLUGate(alpha=0.1)
    >>> gate.forward(np.array([-2.0, 0.0, 3.0]))
    array([-0.2,  0. ,  3. ])
    >>> gate.backward(np.ones(3))[0]
    array([0.1 , 0.55, 1.  ])
    """

    symbol = "leaky"

    def __init__(self, alpha: float = 0.01):
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        return _like(np.where(x > 0, x, self.alpha * x), x)

    def backward(self, upstream):
        x, alpha = self.x, self.alpha
        slope = np.where(x > 0, 1.0, np.where(x < 0, alpha, 0.5 + 0.5 * alpha))
        return (_grad_like(upstream * slope, x),)

    def __repr__(self):
        return f"LeakyReLUGate(alpha={self.alpha!r})"


class ELUGate(Gate):
    """``f = x if x > 0 else alpha (e**x - 1)``; ``df/dx = 1 or alpha e**x``.

    At the kink ``x = 0`` (a kink unless ``alpha = 1``) the local gradient is
    ``(1 + alpha) / 2``. ``e**x`` is only taken of ``min(x, 0)``, so large
    inputs cannot overflow.

    Parameters
    ----------
    alpha : float, default=1.0
        The value ``f`` tends to, negated, as ``x`` goes to minus infinity.
    """

    symbol = "elu"

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def forward(self, x):
        self.x = x
        self.negative = self.alpha * np.expm1(np.minimum(x, 0))
        return _like(np.where(x > 0, x, self.negative), x)

    def backward(self, upstream):
        x, alpha = self.x, self.alpha
        # On the negative side alpha e**x = f + alpha, with no second exp.
        left = self.negative + alpha
        slope = np.where(x > 0, 1.0, np.where(x < 0, left, 0.5 + 0.5 * alpha))
        return (_grad_like(upstream * slope, x),)

    def __repr__(self):
        return f"ELUGate(alpha={self.alpha!r})"


class SoftplusGate(Gate):
    """``f = ln(1 + e**x)``; ``df/dx = sigmoid(x)``.

    Computed as ``ln(1 + e**-|x|) + max(x, 0)``, which never overflows and
    keeps full precision for large ``|x|``.
    """

    symbol = "softplus"

    def forward(self, x):
        self.x = x
        out = np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)
        return _like(out, x)

    def backward(self, upstream):
        return (_grad_like(upstream * sigmoid(self.x), self.x),)


class ClampGate(Gate):
    """``f = min(max(x, low), high)``; ``df/dx = [low < x < high]``, 1/2 at the ends.

    At ``x == low`` and ``x == high`` the function has corners, and the
    local gradient is the average of the one-sided slopes 0 and 1.

    Parameters
    ----------
    low : float, default=-1.0
        Smallest output.
    high : float, default=1.0
        Largest output; must exceed ``low``.

    Examples
    --------
    >>> gate = ClampGate(0.0, 2.0)
    >>> gate.forward(np.array([-1.0, 0.0, 1.0, 3.0]))
    array([0., 0., 1., 2.])
    >>> gate.backward(np.ones(4))[0]
    array([0. , 0.5, 1. , 0. ])
    """

    symbol = "clamp"

    def __init__(self, low: float = -1.0, high: float = 1.0):
        if not low < high:
            raise ValueError(
                f"{type(self).__name__}: low must be less than high; got low={low!r} "
                f"and high={high!r}"
            )
        self.low, self.high = low, high

    def forward(self, x):
        self.x = x
        return _like(np.clip(x, self.low, self.high), x)

    def backward(self, upstream):
        x, low, high = self.x, self.low, self.high
        slope = ((x > low) & (x < high)) + 0.5 * ((x == low) | (x == high))
        return (_grad_like(upstream * slope, x),)

    def __repr__(self):
        return f"{type(self).__name__}(low={self.low!r}, high={self.high!r})"


class HardTanhGate(ClampGate):
    """``f = min(max(x, -1), 1)``; ``df/dx = [-1 < x < 1]``, 1/2 at ``x = +-1``.

    A :class:`ClampGate` with the bounds of tanh as defaults.
    """

    symbol = "hardtanh"


def _like(value, x):
    """``value`` as a Python float when ``x`` is one, else unchanged."""
    return float(value) if isinstance(x, float) else value
