"""Tensor gates: reductions, matrix products and embedding lookups.

Sum and mean reduce; matmul and affine multiply matrices. Embedding picks
rows of a ``(V, D)`` table by integer indices; a row picked twice receives
both gradients. The gates that only move elements (reshape, transpose,
concat, index ...) are in :mod:`gates.shape`.

Integer and boolean arrays are numbers like any other: ``sum`` of an
integer array has gradient 1 everywhere, in float64. Only the ports that
read indices (the embedding's ``indices``, a loss's labels) receive
``None``. Gradients keep the dtype of a float input, so a float32 network
stays float32; the helpers at the end of this module, which do that, are
shared by the other gate modules.
"""

import math

import numpy as np

from gates.base import Gate, shape_of

__all__ = [
    "SumGate",
    "MeanGate",
    "MatMulGate",
    "AffineGate",
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


# -- helpers shared by the gate modules ----------------------------------------


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


def _scalar(value):
    """A 0-d float64 result as a Python float, readable in traces and drawings.

    Float32 and integer results keep their numpy type, so float32 stays float32.
    """
    if np.ndim(value) == 0 and np.result_type(value) == np.float64:
        return float(value)
    return value


def _grad_like(grad, like):
    """``grad`` in the float type of input ``like`` (float64 for an integer one).

    numpy promotes float32 against a float64 0-d array to float64; casting
    back keeps a float32 network in float32.
    """
    if isinstance(like, (float, int)):
        return float(grad)
    dtype = _grad_dtype(like)
    if isinstance(grad, np.ndarray) and grad.dtype != dtype:
        return grad.astype(dtype)
    return grad


def _grad_dtype(like):
    """The dtype of a gradient for ``like``: its float type, else float64."""
    dtype = np.result_type(like)
    return dtype if dtype.kind == "f" else np.dtype(np.float64)
