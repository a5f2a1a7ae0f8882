"""ComputationalGraph: gates as the nodes of a networkx DAG, forward and backward.

The graph is a ``networkx.MultiDiGraph`` whose nodes are named leaves
(inputs, parameters, constants) and gates; an edge ``u -> v`` with key ``i``
says that node ``u`` is the ``i``-th input of gate ``v``. A multigraph lets
one node feed both inputs of a gate (``x * x``).

``forward`` walks the gates in topological order, ``backward`` in reverse;
both are the step generators ``forward_steps`` and ``backward_steps`` run
to the end, so what a notebook steps through is exactly what runs.
"""

import itertools
import weakref

import networkx as nx
import numpy as np

from compgraph import contract
from compgraph.errors import GraphStructureError
from compgraph.names import default_prefix, unknown_node_message
from compgraph.node import Node
from compgraph.plan import compile_plan
from compgraph.trace import BackwardStep, ForwardStep
from gates.base import Gate

__all__ = ["ComputationalGraph"]

LEAF_KINDS = ("input", "parameter", "constant")


class ComputationalGraph:
    """A DAG of gates that runs forward and backward, one gate at a time.

    Parameters
    ----------
    check_finite : bool, default=False
        Raise :class:`NonFiniteValueError` naming the first node whose value,
        or the first gate whose gradient, holds a NaN or an infinity.

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
        self._values, self._grads = {}, {}
        self._output = self._last_gate = None
        self._counter = itertools.count()
        self._name_counters, self._renamed = {}, {}
        self._ref = weakref.ref(self)  # what a placed gate remembers of us
        # Cached until the graph changes: the gates as (node, gate, input
        # names) in topological order, that order, and node names by kind.
        self._plan = self._order = self._inputs = self._leaves = None
        self._kinds = {}
        self._forwarded = False

    # -- building -------------------------------------------------------------

    def input(self, name: str) -> Node:
        """Add an input: a leaf whose value is fed by name at every forward."""
        return self._add_leaf(name, "input", None)

    def parameter(self, name: str, value) -> Node:
        """Add a parameter: a leaf that keeps its value and receives a gradient."""
        return self._add_leaf(name, "parameter", contract.as_value(name, value))

    def constant(self, value, name: str | None = None) -> Node:
        """Add a constant leaf; it gets a gradient but is never fed or trained."""
        name = self._fresh_name("const") if name is None else name
        return self._add_leaf(name, "constant", contract.as_value(name, value))

    def add_gate(self, gate: Gate, inputs=(), name: str | None = None) -> Node:
        """Add ``gate`` reading ``inputs`` (nodes or names) in order; return its node.

        The new gate becomes the graph's output unless one was set with
        :meth:`output`.
        """
        contract.check_is_gate(gate)
        name = self._fresh_name(default_prefix(gate)) if name is None else name
        sources = [self._name_of(node) for node in inputs]
        contract.check_arity(name, gate, len(sources))
        contract.claim(gate, self._ref, name)
        self._new_node(name, kind="gate", gate=gate)
        if gate.training is not self.training:
            gate.training = self.training
        for port, source in enumerate(sources):
            self.dag.add_edge(source, name, key=port)
        self._last_gate = name
        return Node(self, name)

    def connect(self, source, target, port: int) -> None:
        """Make ``source`` the ``port``-th input of gate ``target``, replacing any.

        Raises :class:`CycleError` if the new edge would close a cycle.
        """
        source, target = self._name_of(source), self._name_of(target)
        contract.check_connection(self, source, target, port)
        for u, _, key in list(self.dag.in_edges(target, keys=True)):
            if key == port:
                self.dag.remove_edge(u, target, key=port)
        self.dag.add_edge(source, target, key=port)
        self._changed()

    def rename(self, node, new_name: str) -> Node:
        """Give ``node`` the name ``new_name`` (``q = g.rename(x + y, "q")``)."""
        old = self._name_of(node)
        if new_name == old:
            return Node(self, old)
        contract.check_name_free(self, new_name)
        nx.relabel_nodes(self.dag, {old: new_name}, copy=False)
        self._renamed[old] = new_name
        if isinstance(node, Node):
            node.name = new_name  # the caller's handle follows the node
        for table in (self._values, self._grads):
            if old in table:
                table[new_name] = table.pop(old)
        if self._output == old:
            self._output = new_name
        if self._last_gate == old:
            self._last_gate = new_name
        gate = self.dag.nodes[new_name].get("gate")
        if gate is not None:
            gate._compgraph_place = (self._ref, new_name)
        self._changed()
        return Node(self, new_name)

    def output(self, node=None) -> Node:
        """Set the output to ``node`` and return it; with no argument, return it."""
        if node is not None:
            self._output = self._name_of(node)
            self._forwarded = False
        return Node(self, self._output_name())

    # -- looking -------------------------------------------------------------

    def __getitem__(self, name: str) -> Node:
        return Node(self, self._require_node(name))

    def __contains__(self, name) -> bool:
        return name in self.dag

    def __len__(self) -> int:
        return len(self.dag)

    def kind(self, name: str) -> str:
        """``"input"``, ``"parameter"``, ``"constant"`` or ``"gate"``."""
        return self.dag.nodes[self._require_node(name)]["kind"]

    def gate(self, name: str) -> Gate:
        """The Gate object at node ``name``."""
        return self.dag.nodes[self._require_node(name)]["gate"]

    def inputs_of(self, name: str) -> list[str]:
        """The names of the nodes that gate ``name`` reads, in order."""
        ports = self.dag.pred[self._require_node(name)]
        return [u for _, u in sorted((k, u) for u, keys in ports.items() for k in keys)]

    def nodes(self, kind: str | None = None) -> list[str]:
        """Node names in insertion order, optionally only those of one kind."""
        return list(self._nodes_of((*LEAF_KINDS, "gate") if kind is None else (kind,)))

    def parameters(self) -> dict:
        """The parameters' values by name (the arrays themselves, not copies)."""
        return {n: self._values[n] for n in self._nodes_of(("parameter",))}

    def topological_order(self) -> list[str]:
        """All node names in the order forward visits them.

        Computed by networkx with ties broken by insertion order, so runs are
        reproducible; cached until the graph changes.
        """
        self._compiled()
        return list(self._order)

    def value(self, name: str):
        """The value of node ``name`` after the last forward."""
        if name not in self._values:
            raise contract.not_run_yet(self._require_node(name), "value")
        return self._values[name]

    def set_value(self, name: str, value) -> None:
        """Replace the value of a parameter or constant (an optimizer's step).

        The gradients of the last backward stay readable; backward needs a
        new forward first.
        """
        value = contract.as_value(name, value)
        contract.check_settable(name, self.kind(name), self._values.get(name), value)
        self._values[name], self._forwarded = value, False

    def grad(self, name: str):
        """dL/d(node) after the last backward; zero for a node the output ignores."""
        value = self.value(name)
        if not self._grads:
            raise contract.not_run_yet(name, "gradient")
        if name in self._grads:
            return self._grads[name]
        return 0.0 if isinstance(value, float) else np.zeros_like(value)

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
        from compgraph.draw import to_svg  # Jupyter shows a graph as its drawing

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
        return {name: self.grad(name) for name in self._leaves}

    def forward_steps(self, **inputs):
        """Feed ``inputs``, then yield one :class:`ForwardStep` per gate run."""
        plan = self._compiled()
        self._values.update(contract.fed_values(self, inputs, self._inputs))
        self._forwarded, self._grads = False, {}
        values, checked = self._values, self.check_finite
        for name, gate, sources in plan:
            args = [values[s] for s in sources]
            try:
                out = gate.forward(*args)
            except Exception as error:
                where = (name, gate, "forward", sources, args)
                raise contract.gate_error(error, *where) from error
            if type(out) is not float:
                contract.check_output(name, gate, out)
            if checked:
                contract.check_finite(f"gate {name!r} ({gate.label})", "value", out)
            values[name] = out
            yield ForwardStep(name, gate, sources, args, out)
        self._forwarded = True

    def backward_steps(self, upstream=None):
        """Yield one :class:`BackwardStep` per gate, from the output back.

        The output is seeded with ``upstream`` (1 for a scalar output); each
        gate turns the gradient it received into one gradient per input, and
        where a node fans out, the gradients it receives add up. A gate that
        no gradient reaches (it does not lead to the output) is skipped.
        """
        if not self._forwarded:
            raise contract.not_run_yet(None, "forward pass")
        output = self._output_name()
        seed = contract.seed_gradient(output, self._values[output], upstream)
        grads = self._grads = {output: seed}
        values, checked = self._values, self.check_finite
        for name, gate, sources in reversed(self._plan):
            received = grads.get(name)
            if received is None:
                continue
            try:
                sent = gate.backward(received)
            except Exception as error:
                where = (name, gate, "backward", ("upstream", *sources))
                shapes = (received, *map(values.get, sources))
                raise contract.gate_error(error, *where, shapes) from error
            contract.check_gradients(name, gate, sources, sent, values)
            for source, grad in zip(sources, sent):
                if grad is None:
                    continue
                if checked:
                    where = f"gate {name!r} ({gate.label})"
                    contract.check_finite(where, f"gradient for {source!r}", grad)
                previous = grads.get(source)
                grads[source] = grad if previous is None else previous + grad
            yield BackwardStep(name, gate, sources, received, sent)

    # -- internals -----------------------------------------------------------

    def _compiled(self):
        """The plan: (node, gate, input names) of every gate in topological order."""
        if self._plan is None:
            self._order, self._plan = compile_plan(self.dag)
            self._inputs = dict.fromkeys(self.nodes("input"))  # in order, O(1) lookups
            self._leaves = self._nodes_of(("input", "parameter"))
        return self._plan

    def _output_name(self) -> str:
        name = self._output or self._last_gate
        if name is None:
            raise GraphStructureError("the graph has no gates, so it has no output")
        return name

    def _add_leaf(self, name, kind, value):
        self._new_node(name, kind=kind)
        if value is not None:
            self._values[name] = value
        return Node(self, name)

    def _new_node(self, name, **attributes):
        if not isinstance(name, str) or not name or name in self.dag:
            contract.check_name_free(self, name)  # raises, naming what is wrong
        self.dag.add_node(name, index=next(self._counter), **attributes)
        self._changed()

    def _fresh_name(self, prefix):
        """``prefix`` plus the first free number: add1, add2, multiply1 ..."""
        counter = self._name_counters.setdefault(prefix, itertools.count(1))
        name = f"{prefix}{next(counter)}"
        while name in self.dag:
            name = f"{prefix}{next(counter)}"
        return name

    def _name_of(self, node) -> str:
        if isinstance(node, Node):
            contract.check_same_graph(self, node)
            node = node.name  # checked too: a handle may outlive a rename
        return self._require_node(node)

    def _require_node(self, name) -> str:
        if name not in self.dag:
            message = unknown_node_message(name, self.dag, self._renamed)
            raise GraphStructureError(message)
        return name

    def _nodes_of(self, kinds):
        """Names of the nodes of ``kinds`` in insertion order; cached until a change."""
        if kinds not in self._kinds:
            nodes = self.dag.nodes(data=True)
            found = [(d["index"], n) for n, d in nodes if d["kind"] in kinds]
            self._kinds[kinds] = [n for _, n in sorted(found)]  # renames reorder
        return self._kinds[kinds]

    def _changed(self):
        self._plan = None
        self._kinds.clear()
        self._forwarded = False

    def _set_training(self, flag):
        self.training = flag
        for _, gate in self.dag.nodes(data="gate"):
            if gate is not None:
                gate.training = flag
        return self
