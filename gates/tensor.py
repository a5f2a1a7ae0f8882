"""Tensor gates: reductions and plumbing that change shapes."""

import numpy as np

from gates.base import Gate, shape_of

__all__ = ["SumGate"]


class SumGate(Gate):
    """``f = sum_i x_i`` over all elements or chosen axes; ``df/dx_i = 1``.

    Parameters
    ----------
    axis : int or tuple of int, default=None
        Axes to sum over; ``None`` sums every element to a scalar.
    keepdims : bool, default=False
        Keep the summed axes with length one.
    """

    symbol = "Σ"

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        self.shape = shape_of(x)
        out = np.sum(x, axis=self.axis, keepdims=self.keepdims)
        return float(out) if np.ndim(out) == 0 and out.dtype.kind == "f" else out

    def backward(self, upstream):
        # Put the summed axes back (length one), then broadcast to x's shape.
        if self.axis is not None and not self.keepdims:
            upstream = np.expand_dims(upstream, self.axis)
        return (np.broadcast_to(upstream, self.shape).copy(),)

    def __repr__(self):
        if self.axis is None and not self.keepdims:
            return "SumGate()"
        return f"SumGate(axis={self.axis!r}, keepdims={self.keepdims!r})"
