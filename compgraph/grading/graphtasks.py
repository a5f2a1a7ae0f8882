"""Tasks that grade a student's computational graph against compgraph's engine.

A graph is described as plain data (:class:`GraphSpec`): its inputs, and
its gates by class name, constructor arguments and input names. The sandbox
builds it with the student's class (``add_input``, ``add_gate``), runs
``forward`` and ``backward`` and returns the numbers; the grader builds the
same graph with :class:`~compgraph.ComputationalGraph` and compares.
"""

import copy
from dataclasses import dataclass, field

import networkx as nx
import numpy as np

import gates
from compgraph.grading.api import VISIBLE, Outcome, Task, TaskFailure
from compgraph.grading.checks import compare, describe
from compgraph.grading.runner import decode, encode
from compgraph.graph import ComputationalGraph

__all__ = ["GraphSpec", "GraphTask", "random_graph", "chain"]


@dataclass
class GraphSpec:
    """A graph as data: nodes in insertion order, the inputs fed, the upstream.

    Each node is ``(name, "input")`` or ``(name, gate_class_name, args,
    input_names)``; the last gate listed is the output. A gate may name an
    input that is listed after it: the student's graph must still run in
    topological order, not in insertion order.

    >>> spec = GraphSpec([("x", "input"), ("f", "MultiplyGate", (), ("x", "x"))],
    ...                  {"x": 3.0})
    >>> spec.reference()
    (9.0, {'x': 6.0})
    """

    nodes: list
    feeds: dict
    upstream: object = None
    label: str = ""
    gate_names: list = field(init=False, default_factory=list)
    _expected: tuple = field(init=False, default=None, repr=False)

    def __post_init__(self):
        self.gate_names = [n[0] for n in self.nodes if n[1] != "input"]

    def reference(self):
        """Output and input gradients computed by compgraph's own engine.

        Computed once per spec: fixed graphs are graded for every student.
        """
        if self._expected is None:
            self._expected = self._run_reference()
        return copy.deepcopy(self._expected)

    def _run_reference(self):
        order = nx.DiGraph()
        for node in self.nodes:
            order.add_node(node[0])
            for source in node[3] if node[1] != "input" else ():
                order.add_edge(source, node[0])
        specs = {node[0]: node for node in self.nodes}
        graph = ComputationalGraph()
        for name in nx.lexicographical_topological_sort(order):
            node = specs[name]
            if node[1] == "input":
                graph.input(name)
            else:
                gate = getattr(gates, node[1])(*node[2])
                graph.add_gate(gate, list(node[3]), name=name)
        graph.output(self.gate_names[-1])
        out = graph.forward(**copy.deepcopy(self.feeds))
        grads = graph.backward(self._upstream(out))
        return out, grads

    def _upstream(self, out):
        if self.upstream is not None:
            return self.upstream
        return 1.0 if np.ndim(out) == 0 else np.ones(np.shape(out))

    def request(self, target: str, backward: bool, out) -> dict:
        """The sandbox request that builds and runs this graph (output ``out``)."""
        runs = [{"f": {k: encode(v) for k, v in self.feeds.items()}}]
        if backward:
            runs.append({"b": encode(self._upstream(out))})
        return {"op": "graph", "cls": target, "nodes": self.nodes, "runs": runs}


class GraphTask(Task):
    """Grade the student's graph class on a list of graphs.

    Parameters
    ----------
    name : str
        The task's name.
    graphs : list of GraphSpec, or callable
        The graphs, or a function of a numpy Generator that draws them.
    check : {"forward", "backward"}
        Compare outputs only, or outputs and every input's gradient.
    target : str, default="Graph"
        The class the student writes.

    Examples
    --------
    >>> task = GraphTask("chain", [chain(10)], "backward")
    >>> task.target
    'Graph'
    """

    def __init__(
        self,
        name: str,
        graphs,
        check: str = "backward",
        points: float = 1.0,
        visibility: str = VISIBLE,
        target: str = "Graph",
        reference: type = ComputationalGraph,
    ):
        if check not in ("forward", "backward"):
            raise ValueError(f"GraphTask check is forward or backward, got {check!r}")
        super().__init__(name, points, visibility, target, reference)
        self.graphs = graphs
        self.check = check

    def run(self, session, rng) -> Outcome:
        """Build, run and compare each graph; fail on the first difference."""
        graphs = self.graphs(rng) if callable(self.graphs) else self.graphs
        backward = self.check == "backward"
        for spec in graphs:
            expected = spec.reference()
            request = spec.request(self.target, backward, expected[0])
            request["what"] = f"grading {self.name}"
            results = session.run(request)
            for result in results:
                if "error" in result:
                    error = result["error"]
                    trace = " <- ".join(reversed(error.get("trace") or []))
                    raise TaskFailure(
                        f"graph {spec.label!r}: {error['where']} raised "
                        f"{error['message']}" + (f" (at {trace})" if trace else "")
                    )
            self._compare(spec, expected, results, backward)
        return Outcome(1.0, f"passed on {len(graphs)} graph(s)")

    def _compare(self, spec, expected, results, backward):
        out, grads = expected
        feeds = ", ".join(f"{k} = {describe(v)}" for k, v in spec.feeds.items())
        problem = compare(out, decode(results[0]["out"]))
        if problem:
            raise TaskFailure(f"graph {spec.label!r} at {feeds}: output {problem}")
        if not backward:
            return
        received = results[1]["grads"]
        for name, grad in grads.items():
            if name not in received:
                raise TaskFailure(
                    f"graph {spec.label!r}: backward returned no gradient for "
                    f"input {name!r} (it returned {sorted(received)})"
                )
            problem = compare(grad, decode(received[name]))
            if problem:
                raise TaskFailure(
                    f"graph {spec.label!r} at {feeds}: gradient of {name!r}: {problem}"
                )


def chain(length: int, label: str | None = None) -> GraphSpec:
    """``y = x + 1 + 1 + ...`` with ``length`` gates; ``dy/dx = 1``.

    >>> chain(3).nodes[-1]
    ('add3', 'AddConstantGate', (1.0,), ('add2',))
    """
    nodes = [("x", "input")]
    previous = "x"
    for k in range(1, length + 1):
        nodes.append((f"add{k}", "AddConstantGate", (1.0,), (previous,)))
        previous = f"add{k}"
    return GraphSpec(nodes, {"x": 0.0}, label=label or f"chain of {length} gates")


_BINARY = ("AddGate", "MultiplyGate", "SubtractGate", "MaxGate")
_UNARY = ("SigmoidGate", "TanhGate", "SquareGate")


def random_graph(
    rng, inputs: int = 3, gates_count: int = 12, shape=(), shuffle=False
) -> GraphSpec:
    """A random DAG with fan-out and depth over bounded gates.

    Each gate reads the newest node and, half the time, an older one, so
    nodes fan out to several consumers and paths have different lengths.
    With ``shuffle`` the gates are listed out of topological order.

    >>> spec = random_graph(np.random.default_rng(0))
    >>> len(spec.gate_names)
    12
    """
    names = [f"x{i}" for i in range(inputs)]
    nodes = [(n, "input") for n in names]
    gate_nodes = []
    for k in range(gates_count):
        newest = names[-1]
        if k < inputs - 1 or rng.random() < 0.6:
            # The first gates read every input; later ones reach back anywhere.
            pick = k if k < inputs - 1 else int(rng.integers(len(names)))
            other = names[pick]
            kind = _BINARY[int(rng.integers(len(_BINARY)))]
            node = (f"g{k}", kind, (), (newest, other))
        else:
            node = (f"g{k}", _UNARY[int(rng.integers(len(_UNARY)))], (), (newest,))
        gate_nodes.append(node)
        names.append(node[0])
    if shape:
        gate_nodes.append(("total", "SumGate", (), (names[-1],)))
    if shuffle:
        # Keep the output last; list every other gate in a random order.
        body = gate_nodes[:-1]
        gate_nodes = [body[i] for i in rng.permutation(len(body))] + gate_nodes[-1:]
    feeds = {
        n: (
            rng.uniform(-1.5, 1.5, size=shape)
            if shape
            else float(rng.uniform(-1.5, 1.5))
        )
        for n, _ in nodes
    }
    label = f"random graph of {len(gate_nodes)} gates" + (
        " (shuffled)" if shuffle else ""
    )
    return GraphSpec(nodes + gate_nodes, feeds, label=label)
