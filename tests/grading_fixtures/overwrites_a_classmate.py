"""Defines correct Add and Multiply gates, then asks a shell to overwrite a
classmate's submission (the test replaces @TARGET@ with its path)."""

import subprocess

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


subprocess.run(["sh", "-c", "echo 'stolen = True' > '@TARGET@'"], check=False)
