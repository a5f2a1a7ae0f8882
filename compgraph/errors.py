"""The exceptions compgraph raises, all rooted at :class:`CompGraphError`.

Each message names the node and its gate, says what was expected and what
came in, and suggests what to do.
"""

__all__ = [
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


class CompGraphError(Exception):
    """Base class of every error compgraph raises on purpose."""


class GraphStructureError(CompGraphError, ValueError):
    """A node, name or connection that the graph cannot take."""


class CycleError(GraphStructureError):
    """An edge that would close a cycle; a computational graph is acyclic."""


class GateReuseError(GraphStructureError):
    """A gate instance placed a second time; each keeps one cache."""


class InputError(CompGraphError, ValueError):
    """A value fed to ``forward`` that the graph cannot use."""


class UnknownInputError(InputError):
    """A name fed to ``forward`` that is not an input of the graph."""


class MissingInputError(InputError):
    """An input of the graph that ``forward`` was not given."""


class ShapeMismatchError(CompGraphError, ValueError):
    """Values or gradients whose shapes do not fit together."""


class GateContractError(CompGraphError, TypeError):
    """A gate whose forward or backward breaks the Gate contract."""


class GateFailedError(CompGraphError, RuntimeError):
    """A gate's own code raised an exception while it ran."""


class BackwardBeforeForwardError(CompGraphError, RuntimeError):
    """``backward`` called with no complete forward pass to go back through."""


class NonFiniteValueError(CompGraphError, FloatingPointError):
    """A NaN or infinity produced during a run with ``check_finite`` on."""


class GradientCheckError(CompGraphError, AssertionError):
    """An analytic gradient that disagrees with the numerical one."""
