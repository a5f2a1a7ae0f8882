"""MaxGate.forward kills its own process; AddGate is right."""

import os

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
    def forward(self, x, y):
        os._exit(3)

    def backward(self, upstream):
        return upstream, upstream
