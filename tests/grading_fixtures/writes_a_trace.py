"""Correct gates whose forward appends a line of about 1 KB to a trace file in
the submission's own folder on every call, as the README says it may."""

import json

import numpy as np

from gates.base import Gate, unbroadcast


def trace(gate, *inputs):
    record = {"gate": gate, "inputs": [np.asarray(v).tolist() for v in inputs]}
    with open("debug_trace.jsonl", "a") as handle:
        handle.write(json.dumps(record)[:200].ljust(1000) + "\n")


class AddGate(Gate):
    def forward(self, x, y):
        trace("add", x, y)
        self.x, self.y = x, y
        return x + y

    def backward(self, upstream):
        return unbroadcast(upstream, self.x), unbroadcast(upstream, self.y)


class MultiplyGate(Gate):
    def forward(self, x, y):
        trace("multiply", x, y)
        self.x, self.y = x, y
        return x * y

    def backward(self, upstream):
        dx = unbroadcast(upstream * self.y, self.x)
        return dx, unbroadcast(upstream * self.x, self.y)


class MaxGate(Gate):
    def forward(self, x, y):
        trace("max", x, y)
        self.x, self.y = x, y
        return np.maximum(x, y)

    def backward(self, upstream):
        to_x = np.where(self.x > self.y, 1.0, np.where(self.x == self.y, 0.5, 0.0))
        dx = unbroadcast(upstream * to_x, self.x)
        dy = unbroadcast(upstream * (1.0 - to_x), self.y)
        return _like(dx, self.x), _like(dy, self.y)


def _like(grad, value):
    return float(grad) if np.ndim(value) == 0 else grad
