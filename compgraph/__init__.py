"""compgraph: an explicit computational-graph engine for learning backprop.

>>> from compgraph import ComputationalGraph
>>> g = ComputationalGraph()
>>> x, y, z = g.input("x"), g.input("y"), g.input("z")
>>> f = (x + y) * z
>>> g.forward(x=-2, y=5, z=-4)
-12.0
>>> g.backward()
{'x': -4.0, 'y': -4.0, 'z': 3.0}
"""

from compgraph import io, nn, optim
from compgraph.draw import Drawing, to_dot
from compgraph.errors import (
    BackwardBeforeForwardError,
    CompGraphError,
    CycleError,
    GateContractError,
    GateFailedError,
    GateReuseError,
    GradientCheckError,
    GraphStructureError,
    InputError,
    MissingInputError,
    NonFiniteValueError,
    ShapeMismatchError,
    UnknownInputError,
)
from compgraph.graph import ComputationalGraph
from compgraph.io import ParameterFileError, load_parameters, save_parameters
from compgraph.node import Node
from compgraph.stepper import Stepper
from compgraph.trace import BackwardStep, ForwardStep, Trace

__all__ = [
    "ComputationalGraph",
    "Node",
    "ForwardStep",
    "BackwardStep",
    "Trace",
    "Stepper",
    "Drawing",
    "to_dot",
    "nn",
    "optim",
    "io",
    "save_parameters",
    "load_parameters",
    "ParameterFileError",
    "CompGraphError",
    "GraphStructureError",
    "CycleError",
    "GateReuseError",
    "InputError",
    "UnknownInputError",
    "MissingInputError",
    "ShapeMismatchError",
    "GateContractError",
    "GateFailedError",
    "BackwardBeforeForwardError",
    "NonFiniteValueError",
    "GradientCheckError",
]

__version__ = "0.1.0"
