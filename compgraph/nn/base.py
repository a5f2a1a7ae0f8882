"""The Layer base class: one call adds named parameters and gates to a graph.

A layer is a recipe. Calling it on a node (``out = layer(x)``) adds the
layer's parameters and gates to the graph that ``x`` belongs to and returns
the node of its output; the graph, not the layer, then holds the values.
Every node a layer adds is named after the layer: parameters ``fc1.W`` and
``fc1.b``, gates ``fc1.affine``; a layer with a single gate and no
parameters names that gate after itself (``relu1``).

Layers without a name get the first free one of their kind in the graph
(``fc1``, ``fc2`` ...). Since each gate keeps one cache, a layer instance
is placed once; a second place needs a new layer.
"""

from compgraph.errors import GateReuseError, GraphStructureError
from compgraph.node import Node

__all__ = ["Layer"]


class Layer:
    """Base class of the layers: subclass it and write ``_build``.

    ``_build(graph, *nodes)`` adds parameters with :meth:`_parameter` and
    gates with :meth:`_gate`, and returns the output node.

    Attributes
    ----------
    name : str or None
        The layer's name; chosen when the layer is placed if not given.
    graph : ComputationalGraph or None
        The graph the layer was placed in, once it has been called.
    parameter_names : list of str
        The names of the parameters it added, once it has been called.
    node_names : list of str
        The names of the gates it added, once it has been called.
    output : Node or None
        Its output node, once it has been called.
    """

    #: Prefix of the names given to unnamed layers of this kind.
    prefix = "layer"

    def __init__(self, name: str | None = None):
        if name is not None and (not isinstance(name, str) or not name):
            raise GraphStructureError(
                f"a layer name is a non-empty string, got {name!r}"
            )
        if name is not None and ("." in name or "/" in name):
            raise GraphStructureError(
                f"layer name {name!r} may not contain '.' or '/': they separate "
                "a layer's name from its parameters and buffers"
            )
        self.name = name
        self.graph = None
        self.parameter_names = []
        self.node_names = []
        self.output = None

    def __call__(self, *nodes):
        """Add the layer to the graph of ``nodes``; return its output node."""
        graph = self._place(nodes)
        self.output = self._build(graph, *nodes)
        return self.output

    def _build(self, graph, *nodes):
        raise NotImplementedError(f"{type(self).__name__} must define _build")

    def parameters(self) -> dict:
        """The layer's parameter values by name, read from its graph."""
        if self.graph is None:
            return {}
        return {name: self.graph.value(name) for name in self.parameter_names}

    # -- helpers for subclasses ---------------------------------------------

    def _parameter(self, suffix: str, value) -> Node:
        """Add the parameter ``<layer name>.<suffix>`` holding ``value``."""
        node = self.graph.parameter(f"{self.name}.{suffix}", value)
        self.parameter_names.append(node.name)
        return node

    def _gate(self, gate, inputs, suffix: str | None = None) -> Node:
        """Add ``gate`` named ``<layer name>.<suffix>``, or the layer's name."""
        name = self.name if suffix is None else f"{self.name}.{suffix}"
        node = self.graph.add_gate(gate, inputs, name=name)
        self.node_names.append(node.name)
        return node

    # -- placing ------------------------------------------------------------

    def _place(self, nodes):
        if self.graph is not None:
            raise GateReuseError(
                f"{self!r} is already placed in a graph; its gates keep one "
                f"cache each, so create a new {type(self).__name__} for a "
                "second place"
            )
        if not nodes or not all(isinstance(node, Node) for node in nodes):
            got = ", ".join(type(node).__name__ for node in nodes) or "nothing"
            raise TypeError(
                f"{type(self).__name__} is called on graph nodes (from "
                f"graph.input(...) or another layer), got {got}"
            )
        graph = nodes[0].graph
        if self.name is None:
            self.name = free_name(graph, self.prefix)
        else:
            taken = [n for n in graph.nodes() if _scope(n) == self.name]
            if taken:
                raise GraphStructureError(
                    f"the graph already has a node {taken[0]!r} named after "
                    f"{self.name!r}; give this {type(self).__name__} another name"
                )
        self.graph = graph
        return graph

    def _describe(self) -> str:
        """The constructor arguments shown by ``repr``."""
        return ""

    def __repr__(self):
        parts = [p for p in (self._describe(), _name_part(self.name)) if p]
        return f"{type(self).__name__}({', '.join(parts)})"


def free_name(graph, prefix: str) -> str:
    """``prefix`` plus the first number that no node of ``graph`` is named after.

    A node is named after ``fc1`` when it is ``fc1`` or starts with ``fc1.``.
    """
    scopes = {_scope(name) for name in graph.nodes()}
    number = 1
    while f"{prefix}{number}" in scopes:
        number += 1
    return f"{prefix}{number}"


def _scope(node_name: str) -> str:
    return node_name.split(".", 1)[0]


def _name_part(name) -> str:
    return "" if name is None else f"name={name!r}"
