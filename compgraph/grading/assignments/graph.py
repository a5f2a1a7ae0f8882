"""Built-in assignment ``graph``: forward and backward of a computational graph.

Students get a ``Graph`` class that stores gates in a networkx DAG and
gives them the topological order; they write ``forward`` and ``backward`` as
in the lecture's pseudocode. Graded on the lecture's circuits and on hidden
graphs with fan-out, shared subgraphs, depth, vectors and gates listed out of
topological order, against compgraph's own engine.
"""

from compgraph.grading.api import HIDDEN, Assignment
from compgraph.grading.graphtasks import GraphSpec, GraphTask, chain, random_graph
from compgraph.graph import ComputationalGraph

__all__ = ["build", "SKELETON"]

SKELETON = '''"""Assignment graph: forward and backward of a computational graph.

Write Graph.forward and Graph.backward as in the lecture's pseudocode, then
check yourself:

    compgraph grade my_graph.py --assignment graph --public

The grader builds graphs with add_input and add_gate and calls forward and
backward. Do not import compgraph's ComputationalGraph: such a submission
scores zero.
"""

import networkx as nx


class Graph:
    """A computational graph: inputs and gates as the nodes of a networkx DAG.

    An edge ``u -> v`` with key ``i`` says that node ``u`` is the ``i``-th
    input of gate ``v``. ``values`` and ``grads`` hold each node's value and
    gradient by name; the last gate added is the output.
    """

    def __init__(self):
        self.dag = nx.MultiDiGraph()
        self.values = {}
        self.grads = {}
        self.output = None

    def add_input(self, name):
        """Add an input leaf; its value is fed by name to forward."""
        self.dag.add_node(name, kind="input")

    def add_gate(self, name, gate, inputs):
        """Add ``gate`` reading the nodes named in ``inputs``, in order.

        An input may be a gate that is added later. The new gate becomes
        the output.
        """
        self.dag.add_node(name, kind="gate", gate=gate)
        for port, source in enumerate(inputs):
            self.dag.add_edge(source, name, key=port)
        self.output = name

    def inputs_of(self, name):
        """Names of the nodes gate ``name`` reads, in port order."""
        edges = sorted(self.dag.in_edges(name, keys=True), key=lambda e: e[2])
        return [source for source, _, _ in edges]

    def order(self):
        """Every node name in topological order (inputs before their gates)."""
        return list(nx.topological_sort(self.dag))

    def forward(self, **inputs):
        """Store the inputs' values, run every gate in topological order and
        return the output's value. Each gate's value goes in ``self.values``.
        """
        raise NotImplementedError("Graph.forward: implement me (tasks graph.*)")

    def backward(self, upstream=1.0):
        """Seed the output's gradient with ``upstream``, run the gates backward
        in reverse topological order, add up the gradients a node receives
        from all its consumers, and return ``{input name: gradient}`` for
        every input (zero for an input the output does not depend on).
        """
        raise NotImplementedError("Graph.backward: implement me (tasks graph.*)")
'''


def _lecture():
    first = GraphSpec(
        [
            ("x", "input"),
            ("y", "input"),
            ("z", "input"),
            ("q", "AddGate", (), ("x", "y")),
            ("f", "MultiplyGate", (), ("q", "z")),
        ],
        {"x": -2.0, "y": 5.0, "z": -4.0},
        label="f = (x + y) * z",
    )
    neuron = GraphSpec(
        [
            *((n, "input") for n in ("w0", "x0", "w1", "x1", "w2")),
            ("m0", "MultiplyGate", (), ("w0", "x0")),
            ("m1", "MultiplyGate", (), ("w1", "x1")),
            ("a0", "AddGate", (), ("m0", "m1")),
            ("s", "AddGate", (), ("a0", "w2")),
            ("neg", "NegateGate", (), ("s",)),
            ("e", "ExpGate", (), ("neg",)),
            ("d", "AddConstantGate", (1.0,), ("e",)),
            ("f", "ReciprocalGate", (), ("d",)),
        ],
        {"w0": 2.0, "x0": -1.0, "w1": -3.0, "x1": -2.0, "w2": -3.0},
        label="sigmoid neuron",
    )
    return [first, neuron]


def _fan_out():
    square = GraphSpec(
        [("x", "input"), ("f", "MultiplyGate", (), ("x", "x"))],
        {"x": 3.0},
        label="f = x * x",
    )
    two_products = GraphSpec(
        [
            *((n, "input") for n in "abc"),
            ("ab", "MultiplyGate", (), ("a", "b")),
            ("ac", "MultiplyGate", (), ("a", "c")),
            ("f", "AddGate", (), ("ab", "ac")),
        ],
        {"a": 2.0, "b": 3.0, "c": 4.0},
        label="f = a*b + a*c",
    )
    return [square, two_products]


def _shared():
    doubling = GraphSpec(
        [
            ("a", "input"),
            ("b", "AddGate", (), ("a", "a")),
            ("c", "AddGate", (), ("b", "b")),
            ("d", "AddGate", (), ("c", "c")),
        ],
        {"a": 1.0},
        label="b = a + a, c = b + b, d = c + c",
    )
    products = GraphSpec(
        [
            ("x", "input"),
            ("a", "input"),
            ("xa", "MultiplyGate", (), ("x", "a")),
            ("t1", "MultiplyGate", (), ("x", "xa")),
            ("xx", "MultiplyGate", (), ("x", "x")),
            ("t2", "MultiplyGate", (), ("xx", "a")),
            ("t3", "MultiplyGate", (), ("x", "xa")),
            ("s", "AddGate", (), ("t1", "t2")),
            ("f", "AddGate", (), ("s", "t3")),
        ],
        {"x": 1.0, "a": 1.0},
        label="f = x*(x*a) + (x*x)*a + x*(x*a)",
    )
    return [doubling, products]


def _vectors(rng):
    spec = random_graph(rng, inputs=3, gates_count=10, shape=(4,))
    spec.upstream = None
    matrix = random_graph(rng, inputs=2, gates_count=8, shape=(2, 3))
    return [spec, matrix]


def _random(rng):
    return [random_graph(rng, gates_count=15) for _ in range(3)]


def _shuffled(rng):
    return [random_graph(rng, shuffle=True) for _ in range(2)]


def build() -> Assignment:
    """The ``graph`` assignment.

    >>> a = build()
    >>> [t.name for t in a.selected(public=True)]
    ['graph.lecture_forward', 'graph.lecture_backward', 'graph.fan_out']
    """
    tasks = [
        GraphTask("graph.lecture_forward", _lecture(), "forward", points=2),
        GraphTask("graph.lecture_backward", _lecture(), "backward", points=2),
        GraphTask("graph.fan_out", _fan_out(), "backward", points=2),
        GraphTask("graph.shared", _shared(), "backward", 2, HIDDEN),
        GraphTask("graph.deep", [chain(5000)], "backward", 2, HIDDEN),
        GraphTask("graph.vectors", _vectors, "backward", 2, HIDDEN),
        GraphTask("graph.random", _random, "backward", 2, HIDDEN),
        GraphTask("graph.order", _shuffled, "backward", 2, HIDDEN),
    ]
    assignment = Assignment(
        name="graph",
        title="Assignment graph: forward and backward of a computational graph",
        filename="my_graph.py",
        tasks=tasks,
        blocked=("compgraph",),
        allowed=(),
        preload=("networkx", "gates"),
    )
    assignment.skeleton = SKELETON
    for task in tasks:
        task.reference = ComputationalGraph
    return assignment
