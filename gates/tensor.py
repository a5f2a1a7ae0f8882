"""Tensor gates: reductions, matrix products and plumbing that changes shapes.

Sum and mean reduce; matmul and affine multiply matrices; reshape, flatten,
transpose, concat, narrow, index and broadcast move elements without
changing them, so their backward moves each upstream gradient back to the
element it came from. Where one element reaches several outputs (a
broadcast, an index that repeats), its gradients add up. Embedding picks
rows of a ``(V, D)`` table by integer indices; a row picked twice receives
both gradients.

Integer inputs (indices, integer arrays passed through plumbing) receive
``None``: they have no gradient. Gradients keep the dtype of their input, so
a float32 network stays float32.
"""

import math

import numpy as np

from gates.base import Gate, shape_of, unbroadcast

__all__ = [
    "SumGate",
    "MeanGate",
    "MatMulGate",
    "AffineGate",
    "ReshapeGate",
    "FlattenGate",
    "TransposeGate",
    "ConcatGate",
    "NarrowGate",
    "IndexGate",
    "BroadcastGate",
    "EmbeddingGate",
]


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
        self.x = x
        self.shape = shape_of(x)
        _axes("SumGate", self.axis, len(self.shape))
        return _scalar(np.sum(x, axis=self.axis, keepdims=self.keepdims))

    def backward(self, upstream):
        # Put the summed axes back (length one), then broadcast to x's shape.
        if self.axis is not None and not self.keepdims:
            upstream = np.expand_dims(upstream, self.axis)
        return (_grad_like(np.broadcast_to(upstream, self.shape).copy(), self.x),)

    def __repr__(self):
        if self.axis is None and not self.keepdims:
            return "SumGate()"
        return f"SumGate(axis={self.axis!r}, keepdims={self.keepdims!r})"


class MeanGate(Gate):
    """``f = (1/n) sum_i x_i`` over all elements or chosen axes; ``df/dx_i = 1/n``.

    ``n`` is the number of elements averaged into each output.

    Parameters
    ----------
    axis : int or tuple of int, default=None
        Axes to average over; ``None`` averages every element to a scalar.
    keepdims : bool, default=False
        Keep the averaged axes with length one.

    Examples
    --------
    >>> gate = MeanGate(axis=0)
    >>> gate.forward(np.array([[1.0, 2.0], [3.0, 6.0]]))
    array([2., 4.])
    >>> gate.backward(np.array([1.0, 10.0]))[0]
    array([[0.5, 5. ],
           [0.5, 5. ]])
    """

    symbol = "mean"

    def __init__(self, axis=None, keepdims: bool = False):
        self.axis = axis
        self.keepdims = keepdims

    def forward(self, x):
        self.x = x
        self.shape = shape_of(x)
        axes = _axes("MeanGate", self.axis, len(self.shape))
        self.count = math.prod(self.shape[a] for a in axes)
        if self.count == 0:
            raise ValueError(
                f"MeanGate: cannot average zero elements; the input has shape "
                f"{self.shape} and axis={self.axis!r}"
            )
        # Divide first, then add: the mean of [1e308, 1e308] is 1e308, while
        # their sum overflows.
        scaled = np.divide(x, self.count)
        return _scalar(np.sum(scaled, axis=self.axis, keepdims=self.keepdims))

    def backward(self, upstream):
        if self.axis is not None and not self.keepdims:
            upstream = np.expand_dims(upstream, self.axis)
        grad = np.broadcast_to(np.divide(upstream, self.count), self.shape)
        return (_grad_like(grad.copy(), self.x),)

    def __repr__(self):
        return f"MeanGate(axis={self.axis!r}, keepdims={self.keepdims!r})"


class MatMulGate(Gate):
    """``f = a @ b``, a (N, D), b (D, M); ``dL/da = g @ b.T``, ``dL/db = a.T @ g``.

    ``g`` is the upstream gradient, of shape ``(N, M)``.

    Examples
    --------
    >>> gate = MatMulGate()
    >>> gate.forward(np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]]))
    array([[11.]])
    >>> gate.backward(np.array([[1.0]]))
    (array([[3., 4.]]), array([[1.],
           [2.]]))
    """

    symbol = "@"

    def forward(self, a, b):
        if np.ndim(a) != 2 or np.ndim(b) != 2 or a.shape[1] != b.shape[0]:
            raise ValueError(
                "MatMulGate: a @ b needs a of shape (N, D) and b of shape (D, M); "
                f"got a {shape_of(a)} and b {shape_of(b)}"
            )
        self.a, self.b = a, b
        return a @ b

    def backward(self, upstream):
        da = _grad_like(upstream @ self.b.T, self.a)  # (N, M) @ (M, D)
        db = _grad_like(self.a.T @ upstream, self.b)  # (D, N) @ (N, M)
        return da, db


class AffineGate(Gate):
    """``f = x W + b``, x as (N, D); ``dx = g W.T``, ``dW = x.T g``, ``db = sum_n g``.

    ``x`` of shape ``(N, ...)`` is flattened to ``(N, D)``, so an image batch
    feeds a fully connected layer directly; its gradient comes back in the
    original shape. ``W`` has shape ``(D, M)``, ``b`` shape ``(M,)``, the
    output and the upstream gradient ``g`` shape ``(N, M)``.

    Examples
    --------
    >>> gate = AffineGate()
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> gate.forward(x, np.eye(2), np.array([10.0, 20.0]))
    array([[11., 22.],
           [13., 24.]])
    >>> dx, dW, db = gate.backward(np.ones((2, 2)))
    >>> db
    array([2., 2.])
    """

    symbol = "affine"

    def forward(self, x, W, b):
        if np.ndim(x) < 2:
            raise ValueError(
                f"AffineGate: x must be a batch of shape (N, ...); got shape "
                f"{shape_of(x)}. For a single sample, add a batch axis: x[None]"
            )
        x2 = x.reshape(x.shape[0], math.prod(x.shape[1:]))  # (N, D)
        depth = x2.shape[1]
        if np.ndim(W) != 2 or W.shape[0] != depth or shape_of(b) != W.shape[1:]:
            raise ValueError(
                f"AffineGate: x of shape {x.shape} flattens to (N, D) = {x2.shape}, "
                f"so W must have shape ({depth}, M) and b shape (M,); got W "
                f"{shape_of(W)} and b {shape_of(b)}"
            )
        self.x, self.x2, self.W, self.b = x, x2, W, b
        return x2 @ W + b  # (N, D) @ (D, M) + (M,) -> (N, M)

    def backward(self, upstream):
        dx = (upstream @ self.W.T).reshape(self.x.shape)
        dW = self.x2.T @ upstream
        db = upstream.sum(axis=0)
        return _grad_like(dx, self.x), _grad_like(dW, self.W), _grad_like(db, self.b)


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
        if not _is_float(self.x):
            return (None,)
        grad = np.zeros_like(self.x)
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
        if not _is_float(self.x):
            return (None,)
        grad = np.zeros(shape_of(self.x), dtype=np.result_type(self.x))
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


class EmbeddingGate(Gate):
    """``f = table[indices]``; ``dL/dtable[v]`` sums g over the positions holding v.

    Inputs are ``indices``, an integer array of any shape (or an integer),
    and ``table`` of shape ``(V, D)``; the output has shape
    ``indices.shape + (D,)``. The indices get no gradient (``None``); a row
    picked several times receives the sum of its gradients.

    Examples
    --------
    >>> gate = EmbeddingGate()
    >>> table = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    >>> gate.forward(np.array([2, 0, 2]), table)
    array([[4., 5.],
           [0., 1.],
           [4., 5.]])
    >>> gate.backward(np.ones((3, 2)))[1]
    array([[1., 1.],
           [0., 0.],
           [2., 2.]])
    """

    symbol = "embed"

    def forward(self, indices, table):
        if np.ndim(table) != 2:
            raise ValueError(
                f"EmbeddingGate: the table must have shape (V, D); got shape "
                f"{shape_of(table)}"
            )
        self.indices = _check_indices("EmbeddingGate", indices, table.shape[0])
        self.table = table
        return table[self.indices]

    def backward(self, upstream):
        grad = np.zeros_like(self.table)
        rows = np.reshape(upstream, (-1, self.table.shape[1]))
        np.add.at(grad, self.indices.ravel(), rows)
        return None, grad


def _check_indices(gate: str, indices, size: int, what: str = "indices"):
    """``indices`` as an integer array with values in ``[0, size)``, or raise."""
    indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise ValueError(
            f"{gate}: {what} must be integers in [0, {size}); got an array of "
            f"dtype {indices.dtype}. Feed an integer numpy array, e.g. "
            "np.array([2, 0, 1]) (a Python int fed to a graph becomes a float)"
        )
    if indices.size and (indices.min() < 0 or indices.max() >= size):
        bad = indices[(indices < 0) | (indices >= size)]
        raise ValueError(
            f"{gate}: {what} must lie in [0, {size}); got {bad.ravel()[0]} "
            f"({bad.size} out of range in all)"
        )
    return indices


def _axes(gate: str, axis, ndim: int) -> tuple:
    """``axis`` (None, an int or a tuple) as a tuple of axes in ``[0, ndim)``."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(
                f"{gate}: axis {a} is out of range for an input with {ndim} "
                f"dimension(s)"
            )
    normalized = tuple(a % ndim for a in axes)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{gate}: axis {axis!r} repeats an axis")
    return normalized


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


def _is_float(value) -> bool:
    return isinstance(value, float) or np.asarray(value).dtype.kind == "f"


def _scalar(value):
    """A 0-d float64 result as a Python float, readable in traces and drawings.

    Float32 and integer results keep their numpy type, so float32 stays float32.
    """
    if np.ndim(value) == 0 and np.result_type(value) == np.float64:
        return float(value)
    return value


def _grad_like(grad, like):
    """``grad`` in the type of input ``like``; ``None`` for an integer input.

    numpy promotes float32 against a float64 0-d array to float64; casting
    back keeps a float32 network in float32.
    """
    if isinstance(like, float):
        return float(grad)
    if not _is_float(like):
        return None
    dtype = np.result_type(like)
    if isinstance(grad, np.ndarray) and grad.dtype != dtype:
        return grad.astype(dtype)
    return grad
