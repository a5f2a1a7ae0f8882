"""Where things go in a drawing: boxes, wires and a left-to-right layout.

A drawing does not show the graph's nodes one to one: a collapsed layer
becomes one box. :func:`build_view` turns a graph into *boxes* (a leaf, a
gate, or a collapsed group of nodes) and *wires* (the value of one node
carried into one box), and :func:`place` gives every box a column and a
height. Columns are the longest path from the leaves; within a column the
boxes sit near the mean height of their neighbours (a barycentre pass),
which keeps wires short and removes most crossings.

Nothing here draws: :mod:`compgraph.draw` renders the result with
matplotlib, and :func:`compgraph.draw.to_dot` writes it as Graphviz text.
"""

from dataclasses import dataclass, field

import networkx as nx

from compgraph.errors import GraphStructureError

__all__ = ["Box", "Wire", "View", "build_view", "place"]

LEAF_KINDS = ("input", "parameter", "constant")


@dataclass
class Box:
    """One thing drawn: a leaf, a gate, or a group of collapsed nodes."""

    id: str
    kind: str
    label: str
    members: list = field(default_factory=list)
    column: int = 0
    y: float = 0.0


@dataclass
class Wire:
    """The value of node ``source`` carried into box ``target``.

    ``ports`` lists the ``(gate node, port)`` pairs the wire feeds; a wire
    into a collapsed group may feed several. ``target`` is ``None`` for the
    output wire that leaves the graph on the right.
    """

    source: str
    target: str | None
    ports: tuple = ()


@dataclass
class View:
    """The boxes and wires of a drawing, and which box holds which node."""

    boxes: dict
    wires: list
    box_of: dict
    output: str | None
    kinds: dict


def build_view(graph, collapse=None) -> View:
    """Boxes and wires for ``graph``, with the named groups collapsed.

    ``collapse`` is ``None``, ``True`` (every dotted prefix such as ``fc1``
    in ``fc1.W`` becomes a group), a list of prefixes, or a dict from prefix
    to the label its box shows.
    """
    groups = _groups(graph, collapse)
    boxes, box_of = {}, {}
    for name in graph.nodes():
        prefix = _prefix_of(name, groups)
        if prefix is None:
            kind = graph.kind(name)
            label = graph.gate(name).label if kind == "gate" else name
            boxes[name] = Box(name, kind, label, [name])
            box_of[name] = name
        else:
            box = boxes.setdefault(prefix, Box(prefix, "group", groups[prefix]))
            box.members.append(name)
            box_of[name] = prefix

    wires = {}
    for name in graph.topological_order():
        if graph.kind(name) != "gate":
            continue
        target = box_of[name]
        for port, source in enumerate(graph.inputs_of(name)):
            if box_of[source] == target:
                continue
            # One wire per port into a gate (x * x shows both); one wire per
            # source into a group, which sums what the group sends back.
            key = (source, target, port if target == name else None)
            wire = wires.setdefault(key, Wire(source, target))
            wire.ports += ((name, port),)
    # A graph without gates has no output yet: its leaves are drawn alone.
    output = graph.output().name if graph.nodes("gate") else None
    wire_list = [*wires.values()] + ([Wire(output, None)] if output else [])
    _check_acyclic(boxes, wire_list, box_of)
    kinds = {name: graph.kind(name) for name in graph.nodes()}
    return View(boxes, wire_list, box_of, output, kinds)


def place(view: View) -> None:
    """Give each box a column (longest path from the leaves) and a height ``y``.

    Inputs stand in the first column; parameters and constants stand one
    column before their first consumer. Heights grow downward here (row 0 is
    the top); the drawing flips them.
    """
    preds, succs = _neighbours(view)
    for box_id in _box_order(view, preds):
        box = view.boxes[box_id]
        if box.kind == "gate" or (box.kind == "group" and preds[box_id]):
            box.column = 1 + max(
                (view.boxes[p].column for p in preds[box_id]), default=0
            )
    for box in view.boxes.values():
        if box.kind in ("parameter", "constant") and succs[box.id]:
            box.column = max(min(view.boxes[s].column for s in succs[box.id]) - 1, 0)

    columns = {}
    for box in view.boxes.values():
        columns.setdefault(box.column, []).append(box)
    for rank, box in enumerate(view.boxes.values()):
        box.y = float(rank)
    # Barycentre sweeps: a gate wants the mean height of its inputs, a leaf
    # the mean height of its consumers; three rounds settle small graphs.
    for _ in range(3):
        for column in sorted(columns):
            wanted = {}
            for box in columns[column]:
                near = preds[box.id] if box.kind in ("gate", "group") else ()
                near = near or succs[box.id]
                ys = [view.boxes[n].y for n in near]
                wanted[box.id] = sum(ys) / len(ys) if ys else box.y
            _spread(columns[column], wanted)


def _spread(boxes, wanted, gap: float = 1.0) -> None:
    """Put boxes in the order of their wanted heights, at least ``gap`` apart."""
    boxes.sort(key=lambda b: wanted[b.id])
    placed = []
    for box in boxes:
        y = wanted[box.id]
        placed.append(max(y, placed[-1] + gap) if placed else y)
    shift = sum(wanted[b.id] - y for b, y in zip(boxes, placed)) / len(boxes)
    for box, y in zip(boxes, placed):
        box.y = y + shift


def _neighbours(view):
    preds = {box_id: [] for box_id in view.boxes}
    succs = {box_id: [] for box_id in view.boxes}
    for wire in view.wires:
        if wire.target is None:
            continue
        source = view.box_of[wire.source]
        if source not in preds[wire.target]:
            preds[wire.target].append(source)
            succs[source].append(wire.target)
    return preds, succs


def _box_order(view, preds):
    dag = nx.DiGraph()
    dag.add_nodes_from(view.boxes)
    dag.add_edges_from((p, box) for box, ps in preds.items() for p in ps)
    return list(nx.topological_sort(dag))


def _groups(graph, collapse) -> dict:
    """Prefix -> label of each group to collapse."""
    if collapse is None or collapse is False:
        return {}
    if collapse is True:
        prefixes = {n.split(".")[0] for n in graph.nodes() if "." in n}
        return {p: p for p in sorted(prefixes)}
    if isinstance(collapse, str):
        collapse = [collapse]
    groups = dict(collapse) if isinstance(collapse, dict) else {p: p for p in collapse}
    for prefix in groups:
        if not any(_in_group(n, prefix) for n in graph.nodes()):
            raise GraphStructureError(
                f"collapse names {prefix!r}, but no node is named {prefix!r} or "
                f"starts with '{prefix}.'; layer nodes are named like 'fc1.W'"
            )
    return groups


def _prefix_of(name, groups):
    # The longest prefix wins, so "block1.conv" can be collapsed inside "block1".
    matches = [p for p in groups if _in_group(name, p)]
    return max(matches, key=len) if matches else None


def _in_group(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _check_acyclic(boxes, wires, box_of):
    dag = nx.DiGraph()
    dag.add_nodes_from(boxes)
    dag.add_edges_from((box_of[w.source], w.target) for w in wires if w.target)
    if not nx.is_directed_acyclic_graph(dag):
        cycle = " -> ".join(u for u, _ in nx.find_cycle(dag))
        raise GraphStructureError(
            f"collapsing makes the drawing cyclic ({cycle}): a group's output "
            "feeds back into the group; collapse a smaller or larger prefix"
        )
