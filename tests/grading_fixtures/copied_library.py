"""MaxGate pasted from the library's source, helpers and all."""

import numpy as np

from gates.base import Gate, unbroadcast


class AddGate(Gate):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x + y

    def backward(self, upstream):
        return unbroadcast(upstream, self.x), unbroadcast(upstream, self.y)


class MultiplyGate(Gate):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, upstream):
        dx = unbroadcast(upstream * self.y, self.x)
        return dx, unbroadcast(upstream * self.x, self.y)


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


def _any_array(*values) -> bool:
    return any(isinstance(v, np.ndarray) for v in values)


def _winner_share(x, y):
    """Share of the gradient that goes to ``x`` when the larger input wins."""
    if _any_array(x, y):
        return (x > y) + 0.5 * (x == y)
    return 1.0 if x > y else (0.5 if x == y else 0.0)
