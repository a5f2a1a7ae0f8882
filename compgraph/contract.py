"""The checks a graph makes while it is built and run, and their messages.

Each function takes what the graph knows (node names, gates, values) and
either returns quietly or raises an error from :mod:`compgraph.errors` that
names the node and its gate, says what was expected and what came in, and
suggests what to do. Keeping them here keeps ``graph.py`` about the graph.
"""

import inspect
import math

import networkx as nx
import numpy as np

from compgraph.errors import (
    BackwardBeforeForwardError,
    CompGraphError,
    CycleError,
    GateContractError,
    GateFailedError,
    GateReuseError,
    GraphStructureError,
    InputError,
    MissingInputError,
    NonFiniteValueError,
    ShapeMismatchError,
    UnknownInputError,
)
from compgraph.names import unknown_input_message
from gates.base import Gate, gate_arity, shape_of

__all__ = [
    "as_value",
    "check_is_gate",
    "check_name_free",
    "claim",
    "check_connection",
    "fed_values",
    "seed_gradient",
    "check_settable",
    "check_same_graph",
    "not_run_yet",
    "check_arity",
    "check_finite",
    "check_gradients",
    "check_output",
    "gate_error",
]


_ARRAY = np.ndarray  # looked up once: check_gradients runs for every gate
NUMERIC_KINDS = "biufc"  # numpy's kinds of bool, integer, unsigned, float, complex


def as_value(name, value):
    """Python numbers become floats; arrays keep their dtype (labels stay ints).

    >>> as_value("x", 3)
    3.0
    >>> as_value("labels", np.array([1, 0])).dtype.kind
    'i'
    """
    if isinstance(value, np.ndarray):
        return _numeric(name, value)
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise InputError(f"{name!r} must be a number or a numpy array, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, np.generic):
        return value
    if isinstance(value, (list, tuple)):
        return _numeric(name, np.asarray(value))
    raise InputError(
        f"{name!r} must be a number or a numpy array, got {type(value).__name__}"
    )


def _numeric(name, array):
    """``array`` if it holds numbers; strings and objects are refused."""
    if array.dtype.kind not in NUMERIC_KINDS:
        raise InputError(
            f"{name!r} must hold numbers, got an array of dtype {array.dtype} "
            f"(shape {array.shape}); convert it with np.asarray(..., dtype=float)"
        )
    return array


def check_output(name, gate, out):
    """Refuse a forward that returned something other than a number or array.

    Python floats, the common case, are settled by the caller before this.
    """
    if isinstance(out, _ARRAY) and out.dtype.kind in NUMERIC_KINDS:
        return
    if isinstance(out, (int, float, np.number, np.bool_)):
        return
    got = f"an array of dtype {out.dtype}" if isinstance(out, _ARRAY) else repr(out)
    if len(got) > 60:
        got = f"a {type(out).__name__}"
    raise GateContractError(
        f"gate {name!r} ({type(gate).__name__}).forward must return a number or "
        f"a numpy array of numbers; it returned {got}. Return the output value "
        "(np.asarray(...) for a list)"
    )


def check_arity(name, gate, count, connected=False):
    """Refuse a gate given more or fewer inputs than its ``forward`` takes."""
    least = gate_arity(gate)
    if least is None:
        return  # forward(*inputs) takes any number
    most = _most_inputs(gate)
    if least <= count <= most:
        return
    takes = str(least) if least == most else f"{least} to {most}"
    what = "is connected to" if connected else "was given"
    raise GraphStructureError(
        f"gate {name!r} ({type(gate).__name__}) takes {takes} input(s) but "
        f"{what} {count}"
    )


_MOST: dict[type, int] = {}


def _most_inputs(gate) -> int:
    """How many inputs ``forward`` accepts, counting those with defaults."""
    if type(gate) not in _MOST:
        params = inspect.signature(gate.forward).parameters.values()
        positional = (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
        )
        _MOST[type(gate)] = sum(p.kind in positional for p in params)
    return _MOST[type(gate)]


def check_gradients(name, gate, sources, sent, values):
    """Enforce the contract: one gradient per input, shaped like the input."""
    if not isinstance(sent, (tuple, list)) or len(sent) != len(sources):
        got = (
            f"{len(sent)} gradients"
            if isinstance(sent, (tuple, list))
            else f"a bare {type(sent).__name__}"
        )
        raise GateContractError(
            f"gate {name!r} ({type(gate).__name__}).backward must return a "
            f"tuple of {len(sources)} gradient(s), one per input; it returned "
            f"{got}. Wrap a single gradient as (grad,)"
        )
    for port, grad in enumerate(sent):
        value = values[sources[port]]
        if grad is None:
            _check_no_gradient(name, gate, sources[port], port, value)
            continue
        # The common cases, settled by comparing what is there: two arrays'
        # shapes, or two Python floats. Anything else asks shape_of.
        kind = type(grad)
        if kind is type(value) and (
            kind is float or (kind is _ARRAY and grad.shape == value.shape)
        ):
            continue
        expected, got = shape_of(value), shape_of(grad)
        if expected != got:
            raise GateContractError(
                f"gate {name!r} ({type(gate).__name__}).backward returned a "
                f"gradient of shape {got} for input {port} ({sources[port]!r}), "
                f"whose value has shape {expected}; sum broadcast gradients "
                "back with gates.unbroadcast"
            )


def _check_no_gradient(name, gate, source, port, value):
    """``None`` is the gradient of integer inputs only (labels, indices)."""
    if isinstance(value, float) or np.result_type(value).kind in "fc":
        raise GateContractError(
            f"gate {name!r} ({type(gate).__name__}).backward returned None for "
            f"input {port} ({source!r}), which holds floats; only integer inputs "
            "(labels, indices) may have no gradient: return the gradient, or "
            "zeros shaped like the input if the output does not depend on it"
        )


def check_finite(name, what, value, fed=False):
    """Raise :class:`NonFiniteValueError` if ``value`` holds a NaN or an inf.

    ``fed`` says the value came in as an input rather than from a gate.
    """
    if isinstance(value, float):
        finite = math.isfinite(value)
    else:
        finite = bool(np.all(np.isfinite(value)))
    if not finite and fed:
        raise NonFiniteValueError(
            f"{name} was fed a non-finite {what}: {value!r}; check the data "
            "that goes in"
        )
    if not finite:
        raise NonFiniteValueError(
            f"{name} produced a non-finite {what}: {value!r}; check the values "
            "that went in and the gate's domain (log and sqrt of negatives, "
            "division by zero)"
        )


def gate_error(error, name, gate, method, names, values):
    """The error to raise when ``gate.<method>`` raised ``error`` at node ``name``.

    Our own errors pass through; complaints about shapes (numpy's, or the
    gate's own) become a :class:`ShapeMismatchError` naming the gate and
    the shapes that came in;
    anything else becomes a :class:`GateFailedError` naming the gate.
    """
    if isinstance(error, CompGraphError):
        return error
    shapes = ", ".join(f"{n} {shape_of(v)}" for n, v in zip(names, values))
    where = f"gate {name!r} ({type(gate).__name__}, {gate.label}) in {method}"
    if isinstance(error, ValueError) and _about_shapes(str(error)):
        return ShapeMismatchError(f"{where} refused inputs of shapes {shapes}: {error}")
    return GateFailedError(f"{where} raised {type(error).__name__}: {error}")


def _about_shapes(message: str) -> bool:
    return any(word in message for word in ("shape", "broadcast", "dimension"))


def check_is_gate(gate):
    """Refuse anything but a :class:`~gates.Gate` instance as a gate."""
    if not isinstance(gate, Gate):
        raise GateContractError(
            f"add_gate expects a Gate instance, got {type(gate).__name__}; "
            "subclass gates.Gate and define forward and backward"
        )


def check_name_free(graph, name):
    """Refuse a name that is not a non-empty string or that a node already has."""
    if not isinstance(name, str) or not name:
        raise GraphStructureError(f"node names are non-empty strings, got {name!r}")
    if name in graph:
        raise GraphStructureError(
            f"the graph already has a node named {name!r} "
            f"(a {graph.kind(name)}); choose another name"
        )


def claim(gate, graph_ref, name):
    """Mark ``gate`` as standing at node ``name``; refuse one that stands elsewhere.

    A gate keeps one cache, so it may stand in one place of one graph. It
    remembers a weak reference to its graph and its node's name (which
    ``rename`` keeps up to date); a gate whose graph is gone is free again.
    """
    place = getattr(gate, "_compgraph_place", None)
    if place is not None:
        graph, where = place[0](), place[1]
        if graph is not None and where in graph and graph.gate(where) is gate:
            raise GateReuseError(
                f"this {type(gate).__name__} instance already stands at node "
                f"{where!r}; a gate keeps one cache, so create a new instance "
                f"for {name!r}"
            )
    gate._compgraph_place = (graph_ref, name)


def check_connection(graph, source, target, port):
    """Refuse an edge into a leaf, to a port the gate lacks, or closing a cycle."""
    if graph.kind(target) != "gate":
        raise GraphStructureError(
            f"cannot connect into {target!r}: it is a {graph.kind(target)}, "
            "and only gates have inputs"
        )
    arity = gate_arity(graph.gate(target))
    if port < 0 or (arity is not None and port >= arity):
        raise GraphStructureError(
            f"gate {target!r} takes {arity} input(s), numbered from 0; "
            f"there is no port {port}"
        )
    if nx.has_path(graph.dag, target, source):
        loop = " -> ".join([*nx.shortest_path(graph.dag, target, source), target])
        raise CycleError(
            f"connecting {source!r} into {target!r} would close the cycle "
            f"{loop}; a computational graph must stay acyclic"
        )


def fed_values(graph, inputs, expected) -> dict:
    """The values fed to ``forward``, as graph values, once their names check out.

    ``expected`` is a dict whose keys are the graph's input names, in order.
    Refuses names that are not inputs, inputs that were not fed, and with
    ``graph.check_finite``, values holding a NaN or an infinity.
    """
    if inputs.keys() != expected.keys():
        _refuse_names(graph, inputs, expected)
    values = {
        name: value
        if type(value) is _ARRAY and value.dtype.kind in NUMERIC_KINDS
        else as_value(name, value)
        for name, value in inputs.items()
    }
    if graph.check_finite:
        for name, value in values.items():
            check_finite(f"input {name!r}", "value", value, fed=True)
    return values


def _refuse_names(graph, inputs, expected):
    """Raise for the first fed name that is not an input, or for missing inputs."""
    for name in inputs:
        if name not in expected:
            raise UnknownInputError(unknown_input_message(graph, name, expected))
    missing = [name for name in expected if name not in inputs]
    raise MissingInputError(
        f"forward() is missing input(s) {', '.join(map(repr, missing))}; "
        f"the graph's inputs are {', '.join(expected)}"
    )


def seed_gradient(output, value, upstream):
    """The gradient backward starts from: 1 for a scalar output, else ``upstream``."""
    if upstream is None and type(value) is float:
        return 1.0  # a loss: the common case, settled without numpy
    if upstream is None:
        if np.ndim(value) != 0:
            raise ShapeMismatchError(
                f"output {output!r} has shape {shape_of(value)}, not a scalar: "
                "pass backward(upstream=...) of that shape, or end the graph "
                "with .sum() or a loss"
            )
        return 1.0 if isinstance(value, float) else np.ones_like(value)
    upstream = as_value("upstream", upstream)
    if shape_of(upstream) != shape_of(value):
        raise ShapeMismatchError(
            f"upstream gradient has shape {shape_of(upstream)}, but output "
            f"{output!r} has shape {shape_of(value)}"
        )
    return upstream


def check_settable(name, kind, old, new):
    """Only parameters and constants hold values between runs, of one shape.

    Gates and gradients were built on the node's shape, so it is kept.
    """
    if kind not in ("parameter", "constant"):
        raise GraphStructureError(
            f"set_value sets parameters and constants; {name!r} is "
            f"{'an' if kind == 'input' else 'a'} {kind}: feed inputs to forward "
            "instead"
        )
    if old is not None and shape_of(old) != shape_of(new):
        raise ShapeMismatchError(
            f"set_value({name!r}): the node has shape {shape_of(old)}, the new "
            f"value has shape {shape_of(new)}; a parameter or constant keeps its "
            "shape. Add a new node for a value of another shape"
        )


def check_same_graph(graph, node):
    """Refuse a handle on a node of another graph."""
    if node.graph is not graph:
        raise GraphStructureError(
            f"node {node.name!r} belongs to another graph; build each "
            "expression from the nodes of one graph"
        )


def not_run_yet(name, what) -> BackwardBeforeForwardError:
    """The error for reading what no pass has produced yet."""
    if name is None:
        return BackwardBeforeForwardError(
            "backward() needs a complete forward pass over the current graph "
            "and parameters: call forward(...) first"
        )
    run = "forward" if what == "value" else "backward"
    return BackwardBeforeForwardError(
        f"node {name!r} has no {what} yet: run {run} first"
    )
