"""The Gate contract and the helpers that every gate shares.

A gate is one operator of a computational graph. ``forward`` computes the
output from the input values and keeps on the gate itself (its *cache*) what
``backward`` will need; ``backward`` takes the upstream gradient dL/d(output)
and returns one gradient per input, in order, each shaped like its input.

Values are Python floats or numpy arrays. A gate written with ordinary
operators (``x * y``, ``upstream * y``) serves both; the helpers below cover
what ordinary operators do not: summing a broadcast gradient back to the
shape of its input, and a few elementwise functions that must stay finite
over the whole float range.
"""

import inspect
import math

import numpy as np

__all__ = [
    "Gate",
    "gate_arity",
    "shape_of",
    "unbroadcast",
    "exp",
    "log",
    "sigmoid",
    "tanh",
    "divide",
    "power",
]


class Gate:
    """Base class of every operator: subclass it and write two methods.

    ``forward(*inputs)`` returns the output and caches what ``backward``
    needs on ``self``. ``backward(upstream)`` receives dL/d(output), shaped
    like the output, and returns a sequence with exactly one entry per
    input: that input's gradient, shaped like the input, or ``None`` for an
    input that has no gradient (labels, indices, masks).

    Hyper-parameters (a constant, a stride, a rate) are constructor
    arguments. The graph sets ``training`` on every gate; gates whose
    behaviour differs between training and evaluation read it.

    Examples
    --------
    A gate for ``f(x) = x * sin(x)``, with ``df/dx = sin(x) + x cos(x)``:

    >>> import numpy as np
    >>> class XSinX(Gate):
    ...     def forward(self, x):
    ...         self.x = x
    ...         return x * np.sin(x)
    ...     def backward(self, upstream):
    ...         return (upstream * (np.sin(self.x) + self.x * np.cos(self.x)),)
    >>> gate = XSinX()
    >>> round(float(gate.forward(2.0)), 6)
    1.818595
    >>> round(float(gate.backward(1.0)[0]), 6)
    0.077004
    """

    #: Short label used in traces and drawings; defaults to the class name.
    symbol: str | None = None
    #: Set by the graph: ``True`` while training, ``False`` in evaluation.
    training: bool = True

    def forward(self, *inputs):
        """Return the output for ``inputs`` and cache what backward needs."""
        raise NotImplementedError(
            f"{type(self).__name__}.forward is not implemented: a gate must "
            "define forward(self, *inputs) returning its output"
        )

    def backward(self, upstream):
        """Return one gradient per input, given dL/d(output)."""
        raise NotImplementedError(
            f"{type(self).__name__}.backward is not implemented: a gate must "
            "define backward(self, upstream) returning one gradient per input"
        )

    @property
    def label(self) -> str:
        """The gate's symbol, or its class name when it has none."""
        return self.symbol or type(self).__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


_ARITY: dict[type, int | None] = {}


def gate_arity(gate: Gate) -> int | None:
    """Number of inputs ``gate.forward`` takes, or ``None`` if it takes ``*args``.

    Computed once per class from the signature of ``forward``.
    """
    cls = type(gate)
    if cls not in _ARITY:
        params = inspect.signature(gate.forward).parameters.values()
        kinds = [p.kind for p in params]
        if inspect.Parameter.VAR_POSITIONAL in kinds:
            _ARITY[cls] = None
        else:
            _ARITY[cls] = sum(
                p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                and p.default is p.empty
                for p in params
            )
    return _ARITY[cls]


def shape_of(value) -> tuple:
    """Shape of a value: ``()`` for a Python number, ``value.shape`` otherwise."""
    if isinstance(value, np.ndarray):
        return value.shape
    if isinstance(value, float):
        return ()
    return np.shape(value)


def unbroadcast(grad, like):
    """Sum ``grad`` back to the shape of ``like``, undoing numpy broadcasting.

    Broadcasting repeats an input along new leading axes and along axes of
    length one; each repetition received its own share of the gradient, and
    the input's gradient is their sum.

    >>> import numpy as np
    >>> unbroadcast(np.ones((3, 4)), np.zeros(4))
    array([3., 3., 3., 3.])
    >>> unbroadcast(np.ones((5, 4)), np.zeros((1,)))
    array([20.])
    >>> unbroadcast(np.ones(3), 2.0)
    3.0
    """
    if isinstance(like, (tuple, list)):
        raise TypeError(
            f"unbroadcast(grad, like) takes the input's value (an array or a "
            f"number), not a shape; got the {type(like).__name__} {like!r}. "
            "Call unbroadcast(upstream, self.x) with the input itself"
        )
    if not isinstance(grad, np.ndarray):
        return grad
    shape = shape_of(like)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    summed = grad.sum(axis=tuple(range(extra))) if extra > 0 else grad
    repeated = tuple(i for i, n in enumerate(shape) if n == 1 and summed.shape[i] != 1)
    if repeated:
        summed = summed.sum(axis=repeated, keepdims=True)
    if shape == ():
        return float(summed) if summed.dtype.kind == "f" else summed[()]
    return summed.reshape(shape)


# Elementwise functions that gates share. Python floats take the fast
# ``math`` path; arrays take numpy's. Each stays finite wherever the true
# value is finite, without overflow warnings.


def exp(x):
    """``e**x``; ``inf`` (not an exception or a warning) past the float range."""
    if isinstance(x, float):
        try:
            return math.exp(x)
        except OverflowError:
            return math.inf
    with np.errstate(over="ignore"):
        return np.exp(x)


def log(x):
    """Natural log; ``-inf`` at 0 and ``nan`` below, without warnings."""
    if isinstance(x, float) and x > 0.0:
        return math.log(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(x)
    return float(out) if isinstance(x, float) else out


def sigmoid(x):
    """``1 / (1 + e**-x)`` computed from ``e**-|x|``, which never overflows."""
    if isinstance(x, float):
        if x >= 0.0:
            return 1.0 / (1.0 + math.exp(-x))
        z = math.exp(x)
        return z / (1.0 + z)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def tanh(x):
    """Hyperbolic tangent; saturates to exactly +-1 without overflow."""
    if isinstance(x, float):
        return math.tanh(x)
    return np.tanh(x)


def divide(a, b):
    """``a / b`` that gives ``inf`` or ``nan`` at ``b == 0`` instead of raising."""
    floats = isinstance(a, float) and isinstance(b, float)
    if floats and b != 0.0:
        return a / b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.divide(a, b)
    return float(out) if floats else out


def power(x, c):
    """``x**c`` on the real line: ``nan`` for a negative base and fractional c."""
    if isinstance(x, float) and (x > 0.0 or (x < 0.0 and float(c).is_integer())):
        try:
            return x**c
        except OverflowError:  # Python floats raise where numpy gives inf
            pass
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = np.power(x, c)
    return float(out) if isinstance(x, float) else out
