"""Sequential chains layers; Split cuts a node into pieces along an axis."""

from compgraph.errors import GateReuseError
from compgraph.nn.base import Layer
from gates.shape import NarrowGate

__all__ = ["Sequential", "Split", "split"]


class Sequential:
    """Layers applied one after the other: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Called once, on a node, like a layer; the layers name their own nodes.

    Examples
    --------
    >>> from compgraph import ComputationalGraph
    >>> from compgraph.nn import Linear, ReLU
    >>> g = ComputationalGraph()
    >>> model = Sequential(Linear(4, 8, rng=0), ReLU(), Linear(8, 2, rng=1))
    >>> scores = model(g.input("x"))
    >>> model.parameter_names
    ['fc1.W', 'fc1.b', 'fc2.W', 'fc2.b']
    >>> model
    Sequential(
      (0): Linear(4 -> 8, name='fc1')
      (1): ReLU(name='relu1')
      (2): Linear(8 -> 2, name='fc2')
    )
    """

    def __init__(self, *layers):
        for index, layer in enumerate(layers):
            if isinstance(layer, type):
                raise TypeError(
                    f"Sequential takes layers; item {index} is the class "
                    f"{layer.__name__}; create one: {layer.__name__}(...)"
                )
            if not callable(layer):
                raise TypeError(
                    f"Sequential takes layers; item {index} is a {type(layer).__name__}"
                )
        self.layers = list(layers)
        self.output = None

    def __call__(self, x):
        """Apply the layers in order to node ``x``; return the last output."""
        placed = [
            layer
            for layer in _flat(self.layers)
            if getattr(layer, "graph", None) is not None
        ]
        if placed:
            raise GateReuseError(
                f"{placed[0]!r} in this Sequential is already placed in a graph; "
                "create new layers (a new Sequential) for a second place"
            )
        for layer in self.layers:
            x = layer(x)
        self.output = x
        return x

    @property
    def parameter_names(self) -> list:
        """The names of every layer's parameters, in order."""
        return [
            n for layer in self.layers for n in getattr(layer, "parameter_names", ())
        ]

    @property
    def node_names(self) -> list:
        """The names of every layer's gates, in order."""
        return [n for layer in self.layers for n in getattr(layer, "node_names", ())]

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self):
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        lines = [f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers)]
        lines = [line.replace("\n", "\n  ") for line in lines]
        return "Sequential(\n" + "\n".join(lines) + "\n)" if lines else "Sequential()"


class Split(Layer):
    """Cut a node along ``axis`` into pieces of the given lengths.

    Calling it returns a list of nodes, one per piece, each a ``NarrowGate``
    named ``<name>.0``, ``<name>.1`` ... The lengths must add up to the
    size of the axis (checked when the graph runs).

    Examples
    --------
    >>> import numpy as np
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> left, right = Split([1, 2], axis=1)(g.input("x"))
    >>> _ = g.forward(x=np.arange(6.0).reshape(2, 3))
    >>> left.name, g.value("split1.1")
    ('split1.0', array([[1., 2.],
           [4., 5.]]))
    """

    prefix = "split"

    def __init__(self, sections, axis: int = 0, *, name: str | None = None):
        super().__init__(name)
        lengths = None if isinstance(sections, int) else list(sections)
        if not lengths or not all(isinstance(s, int) and s > 0 for s in lengths):
            raise ValueError(
                "Split sections are the lengths of the pieces, a list of positive "
                f"ints, got {sections!r}"
            )
        self.sections = lengths
        self.axis = axis

    def _build(self, graph, x):
        pieces, start = [], 0
        for index, length in enumerate(self.sections):
            gate = NarrowGate(self.axis, start, length)
            pieces.append(self._gate(gate, [x], str(index)))
            start += length
        return pieces

    def _describe(self):
        return f"{self.sections!r}, axis={self.axis!r}"


def split(node, sections, axis: int = 0, *, name: str | None = None) -> list:
    """Cut ``node`` into pieces of lengths ``sections`` along ``axis``; see Split.

    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> [piece.name for piece in split(g.input("x"), [2, 2], axis=1)]
    ['split1.0', 'split1.1']
    """
    return Split(sections, axis, name=name)(node)


def _flat(layers):
    for layer in layers:
        if isinstance(layer, Sequential):
            yield from _flat(layer.layers)
        else:
            yield layer
