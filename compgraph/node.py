"""Handles on graph nodes: operators and methods that add gates.

``q = x + y`` adds an :class:`~gates.AddGate` reading ``x`` and ``y`` to
their graph and returns a handle on the new node. A Python number on either
side becomes the gate's constant where a gate takes one (``x + 1`` adds an
``AddConstantGate``, ``2 * x`` a ``ScaleGate``) and a constant node otherwise.
"""

import numbers

from compgraph.trace import format_value
from gates.activations import (
    AbsGate,
    ExpGate,
    LogGate,
    ReLUGate,
    SigmoidGate,
    SqrtGate,
    SquareGate,
    TanhGate,
)
from gates.arithmetic import (
    AddConstantGate,
    AddGate,
    DivideGate,
    MaxGate,
    MinGate,
    MultiplyGate,
    NegateGate,
    PowerGate,
    ReciprocalGate,
    ScaleGate,
    SubtractGate,
)
from gates.base import Gate
from gates.tensor import SumGate

__all__ = ["Node"]


class Node:
    """A handle on one node of a :class:`~compgraph.ComputationalGraph`.

    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> x = g.input("x")
    >>> y = (x * x + 1).sigmoid()
    >>> g.forward(x=0.0)
    0.7310585786300049
    >>> y
    Node('sigmoid1', SigmoidGate, value=0.7311)
    """

    __slots__ = ("graph", "name")
    # numpy must hand ``array + node`` to our reflected operators instead of
    # looping over the array and building one gate per element.
    __array_ufunc__ = None

    def __init__(self, graph, name: str):
        self.graph = graph
        self.name = name

    @property
    def value(self):
        """The node's value after the last forward."""
        return self.graph.value(self.name)

    @property
    def grad(self):
        """dL/d(node) after the last backward."""
        return self.graph.grad(self.name)

    @property
    def gate(self) -> Gate | None:
        """The node's gate, or ``None`` for an input, parameter or constant."""
        return self.graph.dag.nodes[self.name].get("gate")

    def apply(self, gate: Gate, *others, name: str | None = None) -> "Node":
        """Add ``gate`` reading this node, then ``others``; return the new node."""
        others = [self._lift(other) for other in others]
        return self.graph.add_gate(gate, [self, *others], name=name)

    # -- operators -----------------------------------------------------------

    def __add__(self, other):
        if _is_number(other):
            return self.apply(AddConstantGate(other))
        return self.apply(AddGate(), other)

    def __radd__(self, other):
        if _is_number(other):
            return self.apply(AddConstantGate(other))
        return self._lift(other).apply(AddGate(), self)

    def __sub__(self, other):
        if _is_number(other):
            return self.apply(AddConstantGate(-other))
        return self.apply(SubtractGate(), other)

    def __rsub__(self, other):
        return self._lift(other).apply(SubtractGate(), self)

    def __mul__(self, other):
        if _is_number(other):
            return self.apply(ScaleGate(other))
        return self.apply(MultiplyGate(), other)

    def __rmul__(self, other):
        if _is_number(other):
            return self.apply(ScaleGate(other))
        return self._lift(other).apply(MultiplyGate(), self)

    def __truediv__(self, other):
        return self.apply(DivideGate(), other)

    def __rtruediv__(self, other):
        if _is_number(other) and other == 1:
            return self.apply(ReciprocalGate())
        return self._lift(other).apply(DivideGate(), self)

    def __pow__(self, exponent):
        if not _is_number(exponent):
            raise TypeError(
                f"x ** c takes a number c; got {type(exponent).__name__}. "
                "For a node exponent, build (c * x.log()).exp()"
            )
        return self.apply(PowerGate(exponent))

    def __neg__(self):
        return self.apply(NegateGate())

    # -- methods -------------------------------------------------------------

    def max(self, other) -> "Node":
        """``max(self, other)``, elementwise; ties split the gradient evenly."""
        return self.apply(MaxGate(), other)

    def min(self, other) -> "Node":
        """``min(self, other)``, elementwise; ties split the gradient evenly."""
        return self.apply(MinGate(), other)

    def exp(self) -> "Node":
        """``e**self``."""
        return self.apply(ExpGate())

    def log(self) -> "Node":
        """``ln self``."""
        return self.apply(LogGate())

    def sigmoid(self) -> "Node":
        """``1 / (1 + e**-self)``."""
        return self.apply(SigmoidGate())

    def tanh(self) -> "Node":
        """``tanh self``."""
        return self.apply(TanhGate())

    def relu(self) -> "Node":
        """``max(0, self)``."""
        return self.apply(ReLUGate())

    def abs(self) -> "Node":
        """``|self|``."""
        return self.apply(AbsGate())

    def square(self) -> "Node":
        """``self**2``."""
        return self.apply(SquareGate())

    def sqrt(self) -> "Node":
        """``sqrt(self)``."""
        return self.apply(SqrtGate())

    def sum(self, axis=None, keepdims: bool = False) -> "Node":
        """Sum of the elements, over all axes or the given ones."""
        return self.apply(SumGate(axis=axis, keepdims=keepdims))

    def _lift(self, other) -> "Node":
        """A node for ``other``: itself if it is one, else a new constant."""
        if isinstance(other, Node):
            return other
        if isinstance(other, str):
            return self.graph[other]
        return self.graph.constant(other)

    def __repr__(self):
        kind = self.graph.dag.nodes[self.name]
        what = type(kind["gate"]).__name__ if "gate" in kind else kind["kind"]
        if self.name in self.graph._values:
            return f"Node({self.name!r}, {what}, value={format_value(self.value)})"
        return f"Node({self.name!r}, {what})"

    # Handles are not values: comparing or hashing them by value would be
    # ambiguous, and truth-testing a node is almost always a mistake.
    def __bool__(self):
        raise TypeError(
            f"node {self.name!r} has no truth value while the graph is being "
            "built; use .max(...) or .min(...) for comparisons inside the graph"
        )


def _is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)
