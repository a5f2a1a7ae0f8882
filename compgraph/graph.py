"""ComputationalGraph: gates as the nodes of a networkx DAG, forward and backward.

The graph is a ``networkx.MultiDiGraph`` whose nodes are named leaves
(inputs, parameters, constants) and gates; an edge ``u -> v`` with key ``i``
says that node ``u`` is the ``i``-th input of gate ``v``. A multigraph lets
one node feed both inputs of a gate (``x * x``).

``forward`` walks the gates in topological order, ``backward`` in reverse;
both are the step generators ``forward_steps`` and ``backward_steps`` run
to the end, so what a notebook steps through is exactly what runs.
"""

import difflib
import itertools
import math
import weakref

import networkx as nx
import numpy as np

from compgraph.errors import (
    BackwardBeforeForwardError,
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
from compgraph.node import Node
from compgraph.trace import BackwardStep, ForwardStep
from gates.base import Gate, gate_arity, shape_of

__all__ = ["ComputationalGraph"]

LEAF_KINDS = ("input", "parameter", "constant")


class ComputationalGraph:
    """A DAG of gates that runs forward and backward, one gate at a time.

    Parameters
    ----------
    check_finite : bool, default=False
        After every gate, raise :class:`NonFiniteValueError` naming the first
        node whose value or gradient holds a NaN or an infinity.

    Examples
    --------
    The lecture's first circuit, ``f = (x + y) * z``:

    >>> g = ComputationalGraph()
    >>> x, y, z = g.input("x"), g.input("y"), g.input("z")
    >>> q = g.rename(x + y, "q")
    >>> f = g.rename(q * z, "f")
    >>> g.forward(x=-2, y=5, z=-4)
    -12.0
    >>> g.backward()
    {'x': -4.0, 'y': -4.0, 'z': 3.0}
    >>> g.grad("q")
    -4.0
    """

    def __init__(self, check_finite: bool = False):
        self.dag = nx.MultiDiGraph()
        self.check_finite = check_finite
        self.training = True
        self._values = {}
        self._grads = {}
        self._output = None
        self._counter = itertools.count()
        self._name_counters = {}
        # Cached until the graph changes: the topological order, the gates
        # as (node, gate, input names) in that order, and the input names.
        self._order = self._plan = None
        self._input_names = self._leaves_with_grads = None
        self._forwarded = False

    # -- building -------------------------------------------------------------

    def input(self, name: str) -> Node:
        """Add an input: a leaf whose value is fed by name at every forward."""
        return self._add_leaf(name, "input", None)

    def parameter(self, name: str, value) -> Node:
        """Add a parameter: a leaf that keeps its value and receives a gradient."""
        return self._add_leaf(name, "parameter", _as_value(name, value))

    def constant(self, value, name: str | None = None) -> Node:
        """Add a constant leaf; it gets a gradient but is never fed or trained."""
        name = name or self._fresh_name("const")
        return self._add_leaf(name, "constant", _as_value(name, value))

    def add_gate(self, gate: Gate, inputs=(), name: str | None = None) -> Node:
        """Add ``gate`` reading ``inputs`` (nodes or names) in order; return its node.

        The new gate becomes the graph's output unless one was set with
        :meth:`output`.
        """
        if not isinstance(gate, Gate):
            raise GateContractError(
                f"add_gate expects a Gate instance, got {type(gate).__name__}; "
                "subclass gates.Gate and define forward and backward"
            )
        name = name or self._fresh_name(_default_prefix(gate))
        sources = [self._name_of(node) for node in inputs]
        _check_arity(name, gate, len(sources))
        self._claim(gate, name)
        self._new_node(name, kind="gate", gate=gate)
        gate.training = self.training
        for port, source in enumerate(sources):
            self.dag.add_edge(source, name, key=port)
        return Node(self, name)

    def connect(self, source, target, port: int) -> None:
        """Make ``source`` the ``port``-th input of gate ``target``, replacing any.

        Raises :class:`CycleError` if the new edge would close a cycle.
        """
        source, target = self._name_of(source), self._name_of(target)
        if self.kind(target) != "gate":
            raise GraphStructureError(
                f"cannot connect into {target!r}: it is a {self.kind(target)}, "
                "and only gates have inputs"
            )
        if source == target or nx.has_path(self.dag, target, source):
            path = (
                [target]
                if source == target
                else nx.shortest_path(self.dag, target, source)
            )
            loop = " -> ".join([*path, target])
            raise CycleError(
                f"connecting {source!r} into {target!r} would close the cycle "
                f"{loop}; a computational graph must stay acyclic"
            )
        for u, _, key in list(self.dag.in_edges(target, keys=True)):
            if key == port:
                self.dag.remove_edge(u, target, key=port)
        self.dag.add_edge(source, target, key=port)
        self._changed()

    def rename(self, node, new_name: str) -> Node:
        """Give ``node`` the name ``new_name`` (``q = g.rename(x + y, "q")``)."""
        old = self._name_of(node)
        if new_name != old:
            self._check_free(new_name)
            nx.relabel_nodes(self.dag, {old: new_name}, copy=False)
            for table in (self._values, self._grads):
                if old in table:
                    table[new_name] = table.pop(old)
            if self._output == old:
                self._output = new_name
            self._changed()
        return Node(self, new_name)

    def output(self, node=None) -> Node:
        """Set the output to ``node`` and return it; with no argument, return it."""
        if node is not None:
            self._output = self._name_of(node)
            self._forwarded = False
        name = self._output_name()
        return Node(self, name)

    # -- looking -------------------------------------------------------------

    def __getitem__(self, name: str) -> Node:
        self._require_node(name)
        return Node(self, name)

    def __contains__(self, name) -> bool:
        return name in self.dag

    def __len__(self) -> int:
        return len(self.dag)

    def kind(self, name: str) -> str:
        """``"input"``, ``"parameter"``, ``"constant"`` or ``"gate"``."""
        self._require_node(name)
        return self.dag.nodes[name]["kind"]

    def gate(self, name: str) -> Gate:
        """The Gate object at node ``name``."""
        return self.dag.nodes[self._require_node(name)]["gate"]

    def inputs_of(self, name: str) -> list[str]:
        """The names of the nodes that gate ``name`` reads, in order."""
        ports = self.dag.pred[self._require_node(name)]
        return [u for _, u in sorted((k, u) for u, keys in ports.items() for k in keys)]

    def nodes(self, kind: str | None = None) -> list[str]:
        """Node names in insertion order, optionally only those of one kind."""
        return [n for n, k in self.dag.nodes(data="kind") if kind in (None, k)]

    def parameters(self) -> dict:
        """The parameters' values by name (the arrays themselves, not copies)."""
        return {n: self._values[n] for n in self.nodes("parameter")}

    def topological_order(self) -> list[str]:
        """All node names in the order forward visits them.

        Computed by networkx with ties broken by insertion order, so runs are
        reproducible; cached until the graph changes.
        """
        self._compiled()
        return list(self._order)

    def value(self, name: str):
        """The value of node ``name`` after the last forward."""
        self._require_node(name)
        if name not in self._values:
            raise BackwardBeforeForwardError(
                f"node {name!r} has no value yet: run forward first"
            )
        return self._values[name]

    def set_value(self, name: str, value) -> None:
        """Replace the value of a parameter or constant (an optimizer's step)."""
        if self.kind(name) not in ("parameter", "constant"):
            raise GraphStructureError(
                f"set_value sets parameters and constants; {name!r} is a "
                f"{self.kind(name)}: feed inputs to forward instead"
            )
        self._values[name] = _as_value(name, value)
        self._forwarded = False

    def grad(self, name: str):
        """dL/d(node) after the last backward; zero for a node the output ignores."""
        value = self.value(name)
        if not self._grads:
            raise BackwardBeforeForwardError(
                f"node {name!r} has no gradient yet: run backward first"
            )
        return self._grads.get(name, 0.0 * value)

    def train(self) -> "ComputationalGraph":
        """Put every gate in training mode (dropout drops, batch norm learns)."""
        return self._set_training(True)

    def eval(self) -> "ComputationalGraph":
        """Put every gate in evaluation mode."""
        return self._set_training(False)

    def draw(self, **options):
        """Draw the graph as on the slides; see :func:`compgraph.draw.draw`."""
        from compgraph.draw import draw  # drawing is built on the graph, not in it

        return draw(self, **options)

    def _repr_svg_(self):
        from compgraph.draw import to_svg

        return to_svg(self)

    def __repr__(self):
        counts = {k: len(self.nodes(k)) for k in (*LEAF_KINDS, "gate")}
        output = f", output {self._output_name()!r}" if counts["gate"] else ""
        parts = ", ".join(f"{n} {k}s" for k, n in counts.items())
        return f"<ComputationalGraph: {parts}{output}>"

    # -- running -------------------------------------------------------------

    def forward(self, **inputs):
        """Feed ``inputs`` by name, run every gate once, return the output's value."""
        for _ in self.forward_steps(**inputs):
            pass
        return self._values[self._output_name()]

    def backward(self, upstream=None) -> dict:
        """Run every gate backward once; return the inputs' and parameters' grads.

        ``upstream`` is dL/d(output); it defaults to 1 for a scalar output.
        Each call recomputes the gradients from the last forward pass: they
        are not accumulated across calls.
        """
        for _ in self.backward_steps(upstream):
            pass
        return {name: self.grad(name) for name in self._leaves_with_grads}

    def forward_steps(self, **inputs):
        """Feed ``inputs``, then yield one :class:`ForwardStep` per gate run."""
        plan = self._compiled()
        self._feed(inputs)
        self._forwarded = False
        self._grads = {}
        values = self._values
        for name, gate, sources in plan:
            args = [values[s] for s in sources]
            out = self._run_gate(name, gate, gate.forward, sources, args)
            if self.check_finite:
                _check_finite(name, gate, "value", out)
            values[name] = out
            yield ForwardStep(name, gate, sources, args, out)
        self._forwarded = True

    def backward_steps(self, upstream=None):
        """Yield one :class:`BackwardStep` per gate, from the output back.

        A gate that no gradient reaches (it does not lead to the output) is
        skipped. Where a node fans out, the gradients it receives add up.
        """
        self._require_forward()
        output = self._output_name()
        grads = {output: self._seed(output, upstream)}
        self._grads = grads
        for name, gate, sources in reversed(self._plan):
            upstream_grad = grads.get(name)
            if upstream_grad is None:
                continue
            sent = self._run_gate(name, gate, gate.backward, sources, [upstream_grad])
            sent = self._checked_gradients(name, gate, sources, sent)
            for source, grad in zip(sources, sent):
                if grad is not None:
                    previous = grads.get(source)
                    grads[source] = grad if previous is None else previous + grad
            yield BackwardStep(name, gate, sources, upstream_grad, sent)

    # -- internals -----------------------------------------------------------

    def _compiled(self):
        if self._plan is None:
            attributes = self.dag.nodes
            self._order = list(
                nx.lexicographical_topological_sort(
                    self.dag, key=lambda n: attributes[n]["index"]
                )
            )
            plan = []
            for name in self._order:
                gate = attributes[name].get("gate")
                if gate is not None:
                    sources = tuple(self.inputs_of(name))
                    _check_arity(name, gate, len(sources), connected=True)
                    plan.append((name, gate, sources))
            self._input_names = self.nodes("input")
            self._leaves_with_grads = [
                n for n, k in attributes(data="kind") if k in ("input", "parameter")
            ]
            self._plan = plan
        return self._plan

    def _run_gate(self, name, gate, method, sources, args):
        try:
            return method(*args)
        except Exception as error:
            if isinstance(error, ValueError) and _about_shapes(str(error)):
                shapes = ", ".join(
                    f"{s} {shape_of(v)}"
                    for s, v in zip(sources, (self._values[s] for s in sources))
                )
                raise ShapeMismatchError(
                    f"gate {name!r} ({gate.label}) cannot combine its inputs "
                    f"{shapes} in {method.__name__}: {error}"
                ) from error
            raise GateFailedError(
                f"gate {name!r} ({type(gate).__name__}) raised "
                f"{type(error).__name__} in {method.__name__}: {error}"
            ) from error

    def _checked_gradients(self, name, gate, sources, sent):
        """Enforce the contract: one gradient per input, shaped like the input."""
        if not isinstance(sent, (tuple, list)) or len(sent) != len(sources):
            got = (
                f"{len(sent)} gradients"
                if isinstance(sent, (tuple, list))
                else f"a {type(sent).__name__}"
            )
            raise GateContractError(
                f"gate {name!r} ({type(gate).__name__}).backward must return a "
                f"tuple of {len(sources)} gradients, one per input; it returned "
                f"{got}. Wrap a single gradient as (grad,)"
            )
        for port, (source, grad) in enumerate(zip(sources, sent)):
            value = self._values[source]
            if grad is None or (type(grad) is float and type(value) is float):
                continue
            expected, got = shape_of(value), shape_of(grad)
            if expected != got:
                raise GateContractError(
                    f"gate {name!r} ({type(gate).__name__}).backward returned a "
                    f"gradient of shape {got} for input {port} ({source!r}), "
                    f"whose value has shape {expected}; sum broadcast gradients "
                    "back with gates.unbroadcast"
                )
            if self.check_finite:
                _check_finite(source, gate, f"gradient from {name!r}", grad)
        return sent

    def _seed(self, output, upstream):
        value = self._values[output]
        if upstream is None:
            if np.ndim(value) != 0:
                raise ShapeMismatchError(
                    f"output {output!r} has shape {shape_of(value)}, not a scalar: "
                    "pass backward(upstream=...) of that shape, or end the graph "
                    "with .sum() or a loss"
                )
            return 1.0 if isinstance(value, float) else np.ones_like(value)
        upstream = _as_value("upstream", upstream)
        if shape_of(upstream) != shape_of(value):
            raise ShapeMismatchError(
                f"upstream gradient has shape {shape_of(upstream)}, but output "
                f"{output!r} has shape {shape_of(value)}"
            )
        return upstream

    def _feed(self, inputs):
        expected = self._input_names
        for name in inputs:
            if name not in expected:
                raise UnknownInputError(_unknown_input_message(self, name, expected))
        missing = [name for name in expected if name not in inputs]
        if missing:
            raise MissingInputError(
                f"forward() is missing input(s) {', '.join(map(repr, missing))}; "
                f"the graph's inputs are {', '.join(expected)}"
            )
        for name, value in inputs.items():
            self._values[name] = _as_value(name, value)

    def _require_forward(self):
        if not self._forwarded:
            raise BackwardBeforeForwardError(
                "backward() needs a complete forward pass over the current graph "
                "and parameters: call forward(...) first"
            )

    def _output_name(self) -> str:
        if self._output is not None:
            return self._output
        gates = [n for n, k in self.dag.nodes(data="kind") if k == "gate"]
        if not gates:
            raise GraphStructureError("the graph has no gates, so it has no output")
        return gates[-1]

    def _add_leaf(self, name, kind, value):
        self._new_node(name, kind=kind)
        if value is not None:
            self._values[name] = value
        return Node(self, name)

    def _new_node(self, name, **attributes):
        self._check_free(name)
        self.dag.add_node(name, index=next(self._counter), **attributes)
        self._changed()

    def _check_free(self, name):
        if not isinstance(name, str) or not name:
            raise GraphStructureError(f"node names are non-empty strings, got {name!r}")
        if name in self.dag:
            raise GraphStructureError(
                f"the graph already has a node named {name!r} "
                f"(a {self.kind(name)}); choose another name"
            )

    def _fresh_name(self, prefix):
        """``prefix`` plus the first free number: add1, add2, multiply1 ..."""
        counter = self._name_counters.setdefault(prefix, itertools.count(1))
        for number in counter:
            if f"{prefix}{number}" not in self.dag:
                return f"{prefix}{number}"

    def _claim(self, gate, name):
        owner = getattr(gate, "_compgraph_place", None)
        if owner is not None:
            graph, place = owner[0](), owner[1]
            if graph is not None and place in graph.dag and graph.gate(place) is gate:
                raise GateReuseError(
                    f"this {type(gate).__name__} instance already stands at node "
                    f"{place!r}; a gate keeps one cache, so create a new instance "
                    f"for {name!r}"
                )
        gate._compgraph_place = (weakref.ref(self), name)

    def _name_of(self, node) -> str:
        if isinstance(node, Node):
            if node.graph is not self:
                raise GraphStructureError(
                    f"node {node.name!r} belongs to another graph; build each "
                    "expression from the nodes of one graph"
                )
            return node.name
        return self._require_node(node)

    def _require_node(self, name) -> str:
        if name not in self.dag:
            close = difflib.get_close_matches(str(name), map(str, self.dag), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise GraphStructureError(f"the graph has no node named {name!r}{hint}")
        return name

    def _changed(self):
        self._plan = None
        self._forwarded = False

    def _set_training(self, flag):
        self.training = flag
        for _, gate in self.dag.nodes(data="gate"):
            if gate is not None:
                gate.training = flag
        return self


def _as_value(name, value):
    """Python numbers become floats; arrays keep their dtype (labels stay ints)."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise InputError(f"{name!r} must be a number or a numpy array, got {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, np.generic):
        return value
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    raise InputError(
        f"{name!r} must be a number or a numpy array, got {type(value).__name__}"
    )


def _about_shapes(message: str) -> bool:
    return any(word in message for word in ("shape", "broadcast", "dimension"))


def _default_prefix(gate) -> str:
    prefix = type(gate).__name__.lower()
    return (
        prefix[: -len("gate")]
        if prefix.endswith("gate") and prefix != "gate"
        else prefix
    )


def _check_arity(name, gate, count, connected=False):
    arity = gate_arity(gate)
    if arity is not None and arity != count:
        what = "is connected to" if connected else "was given"
        raise GraphStructureError(
            f"gate {name!r} ({type(gate).__name__}) takes {arity} input(s) but "
            f"{what} {count}"
        )


def _check_finite(name, gate, what, value):
    finite = (
        math.isfinite(value) if isinstance(value, float) else np.all(np.isfinite(value))
    )
    if not finite:
        raise NonFiniteValueError(
            f"node {name!r} ({gate.label}) produced a non-finite {what}: "
            f"{value!r}; check its inputs' values and the gate's domain"
        )


def _unknown_input_message(graph, name, expected) -> str:
    if name in graph.dag:
        return (
            f"forward() was given {name!r}, which is a {graph.kind(name)}, not an "
            f"input; the graph's inputs are {', '.join(expected) or 'none'}"
        )
    close = difflib.get_close_matches(name, expected, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return (
        f"forward() got an unknown input {name!r}; the graph's inputs are "
        f"{', '.join(expected) or 'none'}.{hint}"
    )
