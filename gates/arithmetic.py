"""Arithmetic gates: the lecture's building blocks.

Every gate here works on Python floats and on numpy arrays with numpy
broadcasting; the gradient of a broadcast input is summed back to its shape.

Convention at ties and kinks, shared by every gate in this library: where a
function has a corner, the local gradient is the average of its one-sided
derivatives, which is also what a centered finite difference measures. So
``max(x, y)`` at ``x == y`` sends half of the upstream gradient to each input.
"""

import numpy as np

from gates.base import Gate, divide, power, unbroadcast

__all__ = [
    "AddGate",
    "SubtractGate",
    "MultiplyGate",
    "DivideGate",
    "NegateGate",
    "ScaleGate",
    "AddConstantGate",
    "ReciprocalGate",
    "PowerGate",
    "MaxGate",
    "MinGate",
]


class AddGate(Gate):
    """``f = x + y``; ``df/dx = 1``, ``df/dy = 1``: add distributes the gradient."""

    symbol = "+"

    def forward(self, x, y):
        self.x, self.y = x, y
        return x + y

    def backward(self, upstream):
        return unbroadcast(upstream, self.x), unbroadcast(upstream, self.y)


class SubtractGate(Gate):
    """``f = x - y``; ``df/dx = 1``, ``df/dy = -1``."""

    symbol = "-"

    def forward(self, x, y):
        self.x, self.y = x, y
        return x - y

    def backward(self, upstream):
        return unbroadcast(upstream, self.x), unbroadcast(-upstream, self.y)


class MultiplyGate(Gate):
    """``f = x * y``; ``df/dx = y``, ``df/dy = x``: multiply swaps its inputs."""

    symbol = "*"

    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, upstream):
        dx = unbroadcast(upstream * self.y, self.x)
        dy = unbroadcast(upstream * self.x, self.y)
        return dx, dy


class DivideGate(Gate):
    """``f = x / y``; ``df/dx = 1/y``, ``df/dy = -x/y**2``; ``y = 0`` gives inf."""

    symbol = "/"

    def forward(self, x, y):
        self.x, self.y = x, y
        return divide(x, y)

    def backward(self, upstream):
        dx = divide(upstream, self.y)
        dy = -dx * divide(self.x, self.y)
        return unbroadcast(dx, self.x), unbroadcast(dy, self.y)


class NegateGate(Gate):
    """``f = -x``; ``df/dx = -1``."""

    symbol = "*-1"

    def forward(self, x):
        return -x

    def backward(self, upstream):
        return (-upstream,)


class ScaleGate(Gate):
    """``f = a * x`` for a constant ``a``; ``df/dx = a``."""

    def __init__(self, a: float):
        self.a = a

    @property
    def symbol(self):
        return f"*{self.a:g}"

    def forward(self, x):
        return self.a * x

    def backward(self, upstream):
        return (self.a * upstream,)

    def __repr__(self):
        return f"ScaleGate(a={self.a!r})"


class AddConstantGate(Gate):
    """``f = c + x`` for a constant ``c``; ``df/dx = 1``."""

    def __init__(self, c: float):
        self.c = c

    @property
    def symbol(self):
        return f"+{self.c:g}" if self.c >= 0 else f"{self.c:g}"

    def forward(self, x):
        return self.c + x

    def backward(self, upstream):
        return (upstream,)

    def __repr__(self):
        return f"AddConstantGate(c={self.c!r})"


class ReciprocalGate(Gate):
    """``f = 1 / x``; ``df/dx = -1 / x**2``; ``x = 0`` gives inf."""

    symbol = "1/x"

    def forward(self, x):
        self.out = divide(1.0, x)
        return self.out

    def backward(self, upstream):
        return (-upstream * self.out * self.out,)


class PowerGate(Gate):
    """``f = x**c`` for a constant ``c``; ``df/dx = c * x**(c - 1)``.

    A negative base with a fractional exponent has no real power: ``nan``.
    """

    def __init__(self, c: float):
        self.c = c

    @property
    def symbol(self):
        return f"**{self.c:g}"

    def forward(self, x):
        self.x = x
        return power(x, self.c)

    def backward(self, upstream):
        if self.c == 0:
            return (upstream * 0.0 * self.x,)
        return (upstream * self.c * power(self.x, self.c - 1),)

    def __repr__(self):
        return f"PowerGate(c={self.c!r})"


class MaxGate(Gate):
    """``f = max(x, y)``; ``df/dx = [x > y]``, ``df/dy = [y > x]``: max routes.

    At a tie (``x == y``) each input receives half of the upstream gradient,
    so the two gradients still sum to the upstream gradient.
    """

    symbol = "max"

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.maximum(x, y) if _any_array(x, y) else max(x, y)

    def backward(self, upstream):
        share_x = _winner_share(self.x, self.y)
        dx = unbroadcast(upstream * share_x, self.x)
        dy = unbroadcast(upstream * (1.0 - share_x), self.y)
        return dx, dy


class MinGate(Gate):
    """``f = min(x, y)``; ``df/dx = [x < y]``, ``df/dy = [y < x]``.

    At a tie each input receives half of the upstream gradient.
    """

    symbol = "min"

    def forward(self, x, y):
        self.x, self.y = x, y
        return np.minimum(x, y) if _any_array(x, y) else min(x, y)

    def backward(self, upstream):
        share_x = _winner_share(self.y, self.x)
        dx = unbroadcast(upstream * share_x, self.x)
        dy = unbroadcast(upstream * (1.0 - share_x), self.y)
        return dx, dy


def _any_array(*values) -> bool:
    return any(isinstance(v, np.ndarray) for v in values)


def _winner_share(x, y):
    """Share of the gradient that goes to ``x`` when the larger input wins."""
    if _any_array(x, y):
        return (x > y) + 0.5 * (x == y)
    return 1.0 if x > y else (0.5 if x == y else 0.0)
