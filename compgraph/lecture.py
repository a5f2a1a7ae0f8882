"""The lecture's examples as ready-made graphs.

>>> g = first_circuit()
>>> g.forward(x=-2, y=5, z=-4)
-12.0
>>> g.backward()
{'x': -4.0, 'y': -4.0, 'z': 3.0}
"""

from compgraph.graph import ComputationalGraph

__all__ = [
    "first_circuit",
    "sigmoid_neuron",
    "FIRST_CIRCUIT_INPUTS",
    "SIGMOID_NEURON_INPUTS",
]

#: The values the lecture feeds the first circuit.
FIRST_CIRCUIT_INPUTS = {"x": -2.0, "y": 5.0, "z": -4.0}
#: The lecture's weights and inputs for the sigmoid neuron.
SIGMOID_NEURON_INPUTS = {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0}


def first_circuit() -> ComputationalGraph:
    """``f = (x + y) * z``, with ``q = x + y`` named as on the slide."""
    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    q = g.rename(x + y, "q")
    g.rename(q * z, "f")
    return g


def sigmoid_neuron(primitive: bool = True) -> ComputationalGraph:
    """``f = 1 / (1 + exp(-(w0*x0 + w1*x1 + w2)))``, every weight and input fed.

    With ``primitive=True`` the sigmoid is the lecture's chain of gates
    ``*-1, exp, +1, 1/x``; otherwise one sigmoid gate, whose local gradient
    ``(1 - f) f`` gives the same numbers.

    >>> g = sigmoid_neuron(primitive=False)
    >>> round(g.forward(**SIGMOID_NEURON_INPUTS), 10)
    0.7310585786
    >>> round(g.backward()["x0"], 10)
    0.3932238665
    """
    g = ComputationalGraph()
    w0, x0, w1, x1, w2 = (g.input(n) for n in ("w0", "x0", "w1", "x1", "w2"))
    s = g.rename(w0 * x0 + w1 * x1 + w2, "s")
    if primitive:
        g.rename(1 / ((-s).exp() + 1), "f")
    else:
        g.rename(s.sigmoid(), "f")
    return g
