"""Shape gates: plumbing that moves elements without changing them.

Reshape, flatten, transpose, concat, narrow, index and broadcast rearrange,
cut, join or repeat their input, so their backward moves each upstream
gradient back to the element it came from. Where one element reaches
several outputs (a broadcast, an index that repeats), its gradients add up.

Integer arrays passed through get a float64 gradient like any other input
(a label that is reshaped on its way to a loss receives none, because the
loss sends none). Gradients keep the dtype of a float input, so a float32
network stays float32.
"""

import math

import numpy as np

from gates.base import Gate, shape_of, unbroadcast
from gates.tensor import _axes, _grad_dtype, _grad_like, _scalar

__all__ = [
    "ReshapeGate",
    "FlattenGate",
    "TransposeGate",
    "ConcatGate",
    "NarrowGate",
    "IndexGate",
    "BroadcastGate",
]


class ReshapeGate(Gate):
    """``f = x`` read in a new shape; ``dL/dx`` is the upstream gradient reshaped back.

    Parameters
    ----------
    shape : int or tuple of int
        The output shape, as for ``numpy.reshape``; one entry may be ``-1``.
    """

    symbol = "reshape"

    def __init__(self, shape):
        self.shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)

    def forward(self, x):
        self.x = x
        try:
            return np.reshape(x, self.shape)
        except ValueError:
            raise ValueError(
                f"ReshapeGate: cannot reshape an input of shape {shape_of(x)} "
                f"({np.size(x)} elements) to {self.shape}"
            ) from None

    def backward(self, upstream):
        return (_grad_like(np.reshape(upstream, shape_of(self.x)), self.x),)

    def __repr__(self):
        return f"ReshapeGate(shape={self.shape!r})"


class FlattenGate(Gate):
    """``f = x`` as (N, prod of the other axes); ``dL/dx`` is ``g`` reshaped back.

    Examples
    --------
    >>> FlattenGate().forward(np.zeros((2, 3, 4))).shape
    (2, 12)
    """

    symbol = "flatten"

    def forward(self, x):
        if np.ndim(x) < 1:
            raise ValueError(
                "FlattenGate: the input must be a batch of shape (N, ...); got a "
                f"scalar {x!r}"
            )
        self.x = x
        return np.reshape(x, (x.shape[0], math.prod(x.shape[1:])))

    def backward(self, upstream):
        return (_grad_like(np.reshape(upstream, self.x.shape), self.x),)


class TransposeGate(Gate):
    """``f = x`` with its axes permuted; ``dL/dx`` is ``g`` permuted back.

    Parameters
    ----------
    axes : tuple of int, default=None
        The permutation, as for ``numpy.transpose``; ``None`` reverses the
        axes (the matrix transpose for a 2-D input).
    """

    symbol = "T"

    def __init__(self, axes=None):
        self.axes = None if axes is None else tuple(axes)

    def forward(self, x):
        ndim = np.ndim(x)
        self.order = None
        if self.axes is not None:
            self.order = _axes("TransposeGate", self.axes, ndim)
            if len(self.order) != ndim:
                raise ValueError(
                    f"TransposeGate: axes {self.axes} are not a permutation of the "
                    f"{ndim} axes of an input of shape {shape_of(x)}"
                )
        self.x = x
        return np.transpose(x, self.order)

    def backward(self, upstream):
        inverse = None if self.order is None else np.argsort(self.order)
        return (_grad_like(np.transpose(upstream, inverse), self.x),)

    def __repr__(self):
        return f"TransposeGate(axes={self.axes!r})"


class ConcatGate(Gate):
    """``f = [x_1, x_2, ...]`` joined along ``axis``; ``dL/dx_k`` is x_k's slice of g.

    Takes any number of inputs, which must agree in every axis but ``axis``.

    Parameters
    ----------
    axis : int, default=0
        The axis to join along.

    Examples
    --------
    >>> gate = ConcatGate(axis=0)
    >>> gate.forward(np.array([1.0, 2.0]), np.array([3.0]))
    array([1., 2., 3.])
    >>> gate.backward(np.array([10.0, 20.0, 30.0]))
    (array([10., 20.]), array([30.]))
    """

    symbol = "concat"

    def __init__(self, axis: int = 0):
        self.axis = axis

    def forward(self, *xs):
        if not xs:
            raise ValueError("ConcatGate: needs at least one input; got none")
        try:
            out = np.concatenate(xs, axis=self.axis)
        except ValueError:
            shapes = ", ".join(str(shape_of(x)) for x in xs)
            raise ValueError(
                f"ConcatGate: cannot join inputs of shapes {shapes} along axis "
                f"{self.axis}; they must have the same number of axes (at least "
                "one) and agree in every axis but that one"
            ) from None
        self.xs = xs
        sizes = [np.shape(x)[self.axis] for x in xs]
        self.splits = np.cumsum(sizes)[:-1]
        return out

    def backward(self, upstream):
        parts = np.split(upstream, self.splits, axis=self.axis)
        return tuple(_grad_like(part, x) for part, x in zip(parts, self.xs))

    def __repr__(self):
        return f"ConcatGate(axis={self.axis!r})"


class NarrowGate(Gate):
    """``f = x[start : start + length]`` on ``axis``; ``dL/dx`` is g there, 0 elsewhere.

    Parameters
    ----------
    axis : int
        The axis to cut.
    start : int
        First position kept; a negative start counts from the end.
    length : int
        Number of positions kept.

    Examples
    --------
    >>> gate = NarrowGate(axis=1, start=1, length=2)
    >>> gate.forward(np.arange(8.0).reshape(2, 4))
    array([[1., 2.],
           [5., 6.]])
    >>> gate.backward(np.ones((2, 2)))[0]
    array([[0., 1., 1., 0.],
           [0., 1., 1., 0.]])
    """

    symbol = "narrow"

    def __init__(self, axis: int, start: int, length: int):
        self.axis, self.start, self.length = axis, start, length

    def forward(self, x):
        shape = shape_of(x)
        (axis,) = _axes("NarrowGate", self.axis, len(shape))
        size = shape[axis]
        start = self.start + size if self.start < 0 else self.start
        if self.length < 0 or not 0 <= start <= size - self.length:
            raise ValueError(
                f"NarrowGate: positions {self.start} to {self.start + self.length} "
                f"(start {self.start}, length {self.length}) do not fit in axis "
                f"{self.axis} of length {size} (input shape {shape})"
            )
        self.x = x
        self.index = (slice(None),) * axis + (slice(start, start + self.length),)
        return x[self.index]

    def backward(self, upstream):
        grad = np.zeros(np.shape(self.x), dtype=_grad_dtype(self.x))
        grad[self.index] = upstream
        return (grad,)

    def __repr__(self):
        return (
            f"NarrowGate(axis={self.axis!r}, start={self.start!r}, "
            f"length={self.length!r})"
        )


class IndexGate(Gate):
    """``f = x[index]``; ``dL/dx`` holds g where x was read, summed where read twice.

    The index is any numpy index made of integers, slices, ``...``, ``None``
    and integer or boolean arrays, fixed when the gate is made. An element
    that an integer array picks more than once receives the sum of its
    gradients.

    Parameters
    ----------
    index : int, slice, array, list or tuple of those
        What ``x[index]`` selects; a list is read as an integer array.

    Examples
    --------
    >>> gate = IndexGate([0, 2, 0])
    >>> gate.forward(np.array([5.0, 6.0, 7.0]))
    array([5., 7., 5.])
    >>> gate.backward(np.array([1.0, 2.0, 3.0]))[0]
    array([4., 0., 2.])
    """

    def __init__(self, index):
        parts = index if isinstance(index, tuple) else (index,)
        parts = tuple(np.asarray(p) if isinstance(p, list) else p for p in parts)
        for part in parts:
            if isinstance(part, np.ndarray) and part.dtype.kind not in "iub":
                raise ValueError(
                    "IndexGate: index arrays must hold integers or booleans; got "
                    f"an array of dtype {part.dtype}"
                )
        self.index = parts if isinstance(index, tuple) else parts[0]
        # Only integer arrays can pick an element twice; other indexes are
        # undone by plain assignment, which is much faster than np.add.at.
        self.repeats = any(
            isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts
        )

    @property
    def symbol(self):
        return f"[{_format_index(self.index)}]"

    def forward(self, x):
        try:
            out = np.asarray(x)[self.index]
        except IndexError as error:
            raise ValueError(
                f"IndexGate: cannot take [{_format_index(self.index)}] of an input "
                f"of shape {shape_of(x)}: {error}"
            ) from None
        self.x = x
        return _scalar(out)

    def backward(self, upstream):
        grad = np.zeros(shape_of(self.x), dtype=_grad_dtype(self.x))
        if self.repeats:
            np.add.at(grad, self.index, upstream)
        else:
            grad[self.index] = upstream
        return (_grad_like(grad, self.x),)

    def __repr__(self):
        return f"IndexGate({self.index!r})"


class BroadcastGate(Gate):
    """``f = x`` repeated to ``shape`` by numpy broadcasting; ``dL/dx`` sums g back.

    Parameters
    ----------
    shape : tuple of int
        The output shape; ``x`` must broadcast to it.

    Examples
    --------
    >>> gate = BroadcastGate((2, 3))
    >>> gate.forward(np.array([1.0, 2.0, 3.0])).shape
    (2, 3)
    >>> gate.backward(np.ones((2, 3)))[0]
    array([2., 2., 2.])
    """

    symbol = "broadcast"

    def __init__(self, shape):
        self.shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)

    def forward(self, x):
        try:
            out = np.broadcast_to(x, self.shape)
        except ValueError:
            raise ValueError(
                f"BroadcastGate: cannot broadcast an input of shape {shape_of(x)} "
                f"to {self.shape}"
            ) from None
        self.x = x
        return out.copy()  # a writable array, not a read-only view of x

    def backward(self, upstream):
        return (_grad_like(unbroadcast(upstream, self.x), self.x),)

    def __repr__(self):
        return f"BroadcastGate(shape={self.shape!r})"


def _format_index(index) -> str:
    """A short, readable form of a numpy index: ``1:3, 0`` or ``[0 2 0]``."""
    parts = index if isinstance(index, tuple) else (index,)
    return ", ".join(_format_part(p) for p in parts)


def _format_part(part) -> str:
    if isinstance(part, slice):
        bounds = (part.start, part.stop, part.step)
        text = ":".join("" if v is None else str(v) for v in bounds)
        return text.removesuffix(":")
    if part is Ellipsis:
        return "..."
    if isinstance(part, np.ndarray) and part.size > 4:
        return f"<{part.size} indices>"
    if isinstance(part, np.ndarray):
        return np.array2string(part, separator=" ")
    return repr(part)
