"""A graph's plan: its gates in topological order, each with its inputs.

The order comes from networkx (never from recursion), with ties broken by
insertion order so that runs are reproducible. ``ComputationalGraph``
caches the plan and compiles it again only after the graph changes.
"""

import itertools
import operator

import networkx as nx

from compgraph import contract

__all__ = ["compile_plan"]

PORT = operator.itemgetter(2)  # the key of an edge (source, target, port)


def compile_plan(dag) -> tuple[list, list]:
    """``(order, plan)``: all node names in order, and ``(name, gate, sources)``.

    ``sources`` are the names a gate reads, ordered by port; a gate with an
    unconnected port is refused here, before anything runs.

    >>> dag = nx.MultiDiGraph()
    >>> dag.add_node("x", index=0, gate=None)
    >>> dag.add_node("y", index=1, gate=None)
    >>> from gates import AddGate
    >>> dag.add_node("q", index=2, gate=AddGate())
    >>> dag.add_edge("y", "q", key=1)
    1
    >>> dag.add_edge("x", "q", key=0)
    0
    >>> order, plan = compile_plan(dag)
    >>> order, [(name, sources) for name, _, sources in plan]
    (['x', 'y', 'q'], [('q', ('x', 'y'))])
    """
    index = dict(dag.nodes(data="index"))
    order = list(nx.lexicographical_topological_sort(dag, key=index.__getitem__))
    del index  # a million-gate graph needs the memory back
    gates = dict(dag.nodes(data="gate"))
    plan = []
    for name, sources in zip(order, _sources_in_order(dag, order)):
        gate = gates[name]
        if gate is not None:
            contract.check_arity(name, gate, len(sources), connected=True)
            plan.append((name, gate, sources))
    return order, plan


def _sources_in_order(dag, order):
    """Each node's inputs as a tuple ordered by port, in ``order``."""
    by_target = {}
    # in_edges runs target by target: sort each gate's few edges by port.
    edges = dag.in_edges(keys=True)
    for target, group in itertools.groupby(edges, key=lambda edge: edge[1]):
        by_target[target] = tuple(u for u, _, _ in sorted(group, key=PORT))
    return (by_target.get(name, ()) for name in order)
