"""A model solution of the gates assignment, written as a student would."""

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
        return unbroadcast(upstream * self.y, self.x), unbroadcast(
            upstream * self.x, self.y
        )


class MaxGate(Gate):
    def forward(self, x, y):
        self.x, self.y = x, y
        return np.maximum(x, y)

    def backward(self, upstream):
        # Ties split the gradient evenly.
        to_x = np.where(self.x > self.y, 1.0, np.where(self.x == self.y, 0.5, 0.0))
        dx = unbroadcast(upstream * to_x, self.x)
        dy = unbroadcast(upstream * (1.0 - to_x), self.y)
        return _like(dx, self.x), _like(dy, self.y)


class SubtractGate(Gate):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x - y

    def backward(self, upstream):
        return unbroadcast(upstream, self.x), unbroadcast(-upstream, self.y)


class DivideGate(Gate):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x / y

    def backward(self, upstream):
        dx = upstream / self.y
        dy = -upstream * self.x / (self.y * self.y)
        return unbroadcast(dx, self.x), unbroadcast(dy, self.y)


class ExpGate(Gate):
    def forward(self, x):
        with np.errstate(over="ignore"):
            self.out = np.exp(x)
        return self.out

    def backward(self, upstream):
        return (upstream * self.out,)


class ReciprocalGate(Gate):
    def forward(self, x):
        self.x = x
        return 1.0 / x

    def backward(self, upstream):
        return (-upstream / (self.x * self.x),)


class SigmoidGate(Gate):
    def forward(self, x):
        # exp of -|x| never overflows.
        e = np.exp(-np.abs(x))
        self.s = np.where(np.asarray(x) >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return self.s

    def backward(self, upstream):
        return (upstream * self.s * (1.0 - self.s),)


class TanhGate(Gate):
    def forward(self, x):
        self.t = np.tanh(x)
        return self.t

    def backward(self, upstream):
        return (upstream * (1.0 - self.t**2),)


class ReLUGate(Gate):
    def forward(self, x):
        self.x = x
        return np.maximum(x, 0.0)

    def backward(self, upstream):
        slope = np.where(
            np.asarray(self.x) > 0, 1.0, np.where(np.asarray(self.x) == 0, 0.5, 0.0)
        )
        return (upstream * slope,)


def _like(grad, value):
    return float(grad) if np.ndim(value) == 0 else grad
