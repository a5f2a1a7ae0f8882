"""A model solution of the graph assignment.

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
        self.values = dict(inputs)
        for name in self.order():
            gate = self.dag.nodes[name].get("gate")
            if gate is not None:
                args = [self.values[source] for source in self.inputs_of(name)]
                self.values[name] = gate.forward(*args)
        return self.values[self.output]

    def backward(self, upstream=1.0):
        """Seed the output's gradient with ``upstream``, run the gates backward
        in reverse topological order, add up the gradients a node receives
        from all its consumers, and return ``{input name: gradient}`` for
        every input (zero for an input the output does not depend on).
        """
        self.grads = {self.output: upstream}
        for name in reversed(self.order()):
            gate = self.dag.nodes[name].get("gate")
            if gate is None or name not in self.grads:
                continue
            sources = self.inputs_of(name)
            for source, grad in zip(sources, gate.backward(self.grads[name])):
                if grad is not None:
                    # Fan-out: a node read by several gates sums their gradients.
                    self.grads[source] = self.grads.get(source, 0.0) + grad
        return {
            name: self.grads.get(name, 0.0 * self.values[name])
            for name, kind in self.dag.nodes(data="kind")
            if kind == "input"
        }
