"""Slide-style drawings of a graph: values above the wires, gradients below.

Inputs, parameters and constants are labels at the start of their wires,
gates are circles with their symbol (a rounded box with the name for a
longer label), and the output leaves on the right. Each wire carries one
node's value into one gate: the value is written above it in green and,
after backward, the gradient that gate sends back along it below it in red.
Where a node fans out, its label adds those gradients up:
``grad = -0.20 + 0.59 = 0.39``.

The drawing is made with matplotlib alone (no Graphviz), and the
:class:`Drawing` it returns keeps every text it placed, with its colour,
position and the wire or node it belongs to, so tests read what was drawn.
:func:`to_dot` writes the same picture as Graphviz DOT text.
"""

import html
import io

import numpy as np

from compgraph.errors import BackwardBeforeForwardError
from compgraph.layout import build_view, place
from compgraph.render import (
    GRAD_COLOUR,
    HIGHLIGHT_COLOUR,
    INCH,
    VALUE_COLOUR,
    DrawnText,
    Formatter,
    Painter,
    format_number,
    wire_gradient,
)

__all__ = [
    "draw",
    "to_svg",
    "to_dot",
    "Drawing",
    "DrawnText",
    "Snapshot",
    "format_number",
    "VALUE_COLOUR",
    "GRAD_COLOUR",
]


class Snapshot:
    """What a drawing shows: values, gradients, and each wire's share.

    ``shares[(source, gate, port)]`` is the gradient that ``gate`` sends to
    ``source`` through input ``port``; a node's gradient is the sum of its
    shares. A stepper builds a snapshot from the records taken so far;
    :meth:`of_graph` reads a graph after its last forward and backward.
    """

    def __init__(
        self, values: dict | None = None, grads: dict | None = None, shares=None
    ):
        self.values = dict(values or {})
        self.grads = dict(grads or {})
        self.shares = dict(shares or {})

    @classmethod
    def from_records(cls, graph, forward=(), backward=()) -> "Snapshot":
        """The values and gradients known after the given step records."""
        values = {
            n: _known_value(graph, n) for n in graph.nodes() if _is_leaf(graph, n)
        }
        values = {n: v for n, v in values.items() if v is not None}
        values.update((r.node, r.output) for r in forward)
        snapshot = cls(values)
        for record in backward:
            snapshot.grads.setdefault(record.node, record.upstream)
            for port, (source, sent) in enumerate(
                zip(record.inputs, record.downstream)
            ):
                if sent is not None:
                    snapshot._add(source, record.node, port, sent)
        return snapshot

    @classmethod
    def of_graph(cls, graph) -> "Snapshot":
        """Everything ``graph`` knows after its last forward (and backward)."""
        values = {n: _known_value(graph, n) for n in graph.nodes()}
        snapshot = cls({n: v for n, v in values.items() if v is not None})
        if not graph.nodes("gate"):
            return snapshot
        output = graph.output().name
        try:
            graph.grad(output)
        except BackwardBeforeForwardError:
            return snapshot
        reached = {output} | _ancestors(graph, output)
        snapshot.grads[output] = graph.grad(output)
        for name in reversed(graph.topological_order()):
            if name not in reached or graph.kind(name) != "gate":
                continue
            sources = graph.inputs_of(name)
            # A fan-out node's gradient is a sum; to show each consumer's
            # share, ask the consumer again: backward reads the cache only.
            fans_out = any(graph.dag.out_degree(s) > 1 for s in sources)
            sent = graph.gate(name).backward(graph.grad(name)) if fans_out else None
            for port, source in enumerate(sources):
                share = sent[port] if sent is not None else graph.grad(source)
                if _differentiable(snapshot.values.get(source)) and share is not None:
                    snapshot._add(source, name, port, share)
        return snapshot

    def __repr__(self):
        return (
            f"<Snapshot: {len(self.values)} values, {len(self.grads)} gradients, "
            f"{len(self.shares)} shares>"
        )

    def _add(self, source, gate, port, share):
        self.shares[(source, gate, port)] = share
        previous = self.grads.get(source)
        self.grads[source] = share if previous is None else previous + share


class Drawing:
    """A drawn graph: the matplotlib figure and every text placed on it.

    Attributes
    ----------
    figure : matplotlib.figure.Figure
    texts : list of DrawnText
    wires : dict
        ``(source, target)`` -> ``(start, end)`` points of each wire.
    positions : dict
        Box id (a node name, or a collapsed prefix) -> centre ``(x, y)``.
    highlight : str or None
        The box drawn highlighted.
    """

    def __init__(self, figure, texts, wires, positions, highlight):
        self.figure = figure
        self.texts = texts
        self.wires = wires
        self.positions = positions
        self.highlight = highlight

    def find(self, role=None, node=None, wire=None) -> list:
        """The texts with the given role, node and wire (``None`` matches all)."""
        return [
            t
            for t in self.texts
            if role in (None, t.role)
            and node in (None, t.node)
            and wire in (None, t.wire)
        ]

    def save(self, path, dpi: int = 80) -> None:
        """Write the drawing to ``path``; its suffix (.png, .svg) picks the format."""
        self.figure.savefig(path, dpi=dpi, bbox_inches="tight")

    def to_svg(self) -> str:
        """The drawing as SVG text, with text kept as text (small, searchable)."""
        from matplotlib import rc_context

        buffer = io.StringIO()
        with rc_context({"svg.fonttype": "none"}):
            self.figure.savefig(buffer, format="svg", bbox_inches="tight")
        return buffer.getvalue()

    def _repr_svg_(self):
        return self.to_svg()

    def __repr__(self):
        return f"<Drawing: {len(self.positions)} boxes, {len(self.wires)} wires>"


def draw(
    graph,
    values: bool = True,
    grads: bool = True,
    highlight: str | None = None,
    collapse=None,
    digits: int = 2,
    names: bool = True,
    snapshot: Snapshot | None = None,
    ax=None,
) -> Drawing:
    """Draw ``graph`` as on the lecture slides.

    Parameters
    ----------
    graph : ComputationalGraph
    values, grads : bool, default=True
        Write the known values (green, above each wire) and gradients (red,
        below); a node that fans out also shows its gradients' sum.
    highlight : str, optional
        Name of a node to draw highlighted (the current step).
    collapse : bool, list, dict or str, optional
        Prefixes of layers to draw as one box each (``["fc1", "conv1"]``
        collapses ``fc1.W``, ``fc1.affine`` ...); a dict maps a prefix to its
        box's label; ``True`` collapses every dotted prefix.
    digits : int, default=2
        Decimals of the numbers shown (the slides use 2).
    names : bool, default=True
        Write each gate's node name in grey above it.
    snapshot : Snapshot, optional
        What to show; by default everything the graph knows now.
    ax : matplotlib Axes, optional
        Draw into these axes instead of a new figure.

    Returns
    -------
    Drawing

    Examples
    --------
    >>> from compgraph.lecture import first_circuit
    >>> g = first_circuit()
    >>> _ = g.forward(x=-2, y=5, z=-4), g.backward()
    >>> d = draw(g)
    >>> [(t.text, t.colour == GRAD_COLOUR) for t in d.find(wire=("q", "f"))]
    [('3.00', False), ('-4.00', True)]
    """
    from matplotlib.figure import Figure

    view = build_view(graph, collapse)
    place(view)
    snapshot = snapshot if snapshot is not None else Snapshot.of_graph(graph)
    lit = view.box_of[graph[highlight].name] if highlight is not None else None
    painter = Painter(view, snapshot, digits, values, grads, names)
    if ax is None:
        left, right, bottom, top = painter.bounds()
        figure = Figure(figsize=((right - left) * INCH, (top - bottom) * INCH))
        ax = figure.add_axes((0, 0, 1, 1))
    painter.paint(ax, lit)
    return Drawing(ax.figure, painter.texts, painter.wires, painter.centres, lit)


def to_svg(graph, **options) -> str:
    """``draw(graph, **options)`` as SVG text; a graph's rich display in Jupyter."""
    return draw(graph, **options).to_svg()


def to_dot(
    graph,
    values: bool = True,
    grads: bool = True,
    highlight: str | None = None,
    collapse=None,
    digits: int = 2,
) -> str:
    """The same picture as Graphviz DOT text (render it with ``dot -Tsvg``).

    >>> from compgraph.lecture import first_circuit
    >>> print(to_dot(first_circuit()).splitlines()[0])
    digraph compgraph {
    """
    view = build_view(graph, collapse)
    snapshot = Snapshot.of_graph(graph)
    lit = view.box_of[graph[highlight].name] if highlight is not None else None
    fmt = Formatter(digits)
    lines = ["digraph compgraph {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for box in view.boxes.values():
        attributes = _dot_box(box, lit)
        sums = [fmt.sum(n, view, snapshot) for n in box.members] if grads else []
        sums = "".join(
            f'<br/><font color="{GRAD_COLOUR}">{s}</font>' for s in sums if s
        )
        if box.kind == "gate" or sums:
            attributes.append(f"xlabel=<{html.escape(box.id)}{sums}>")
        lines.append(f"  {_quote(box.id)} [{', '.join(attributes)}];")
    if view.output is not None:
        end = _quote(f"output: {view.output}")
        lines.append(f'  {end} [shape=plaintext, label=""];')
    for wire in view.wires:
        source = _quote(view.box_of[wire.source])
        target = _quote(wire.target if wire.target else "output: " + view.output)
        shown = []
        if values and wire.source in snapshot.values:
            shown.append((VALUE_COLOUR, snapshot.values[wire.source]))
        share = wire_gradient(wire, snapshot)
        if grads and share is not None:
            shown.append((GRAD_COLOUR, share))
        parts = [
            f'<font color="{colour}">{_html(fmt.value(number))}</font>'
            for colour, number in shown
        ]
        label = f" [label=<{'<br/>'.join(parts)}>]" if parts else ""
        lines.append(f"  {source} -> {target}{label};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _dot_box(box, lit):
    label = html.escape(box.label)
    if box.kind in ("input", "parameter", "constant"):
        attributes = ["shape=plaintext", f"label=<{label}>"]
    elif box.kind == "group":
        attributes = ["shape=box", "style=rounded", f"label=<{label}>"]
    else:
        shape = "circle" if len(box.label) <= 4 else "box"
        attributes = [f"shape={shape}", f"label=<{label}>"]
    if box.id == lit:
        attributes += [f'color="{HIGHLIGHT_COLOUR}"', "penwidth=3"]
    return attributes


def _html(text: str) -> str:
    return html.escape(text).replace("\n", "<br/>")


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _known_value(graph, name):
    try:
        return graph.value(name)
    except BackwardBeforeForwardError:
        return None


def _is_leaf(graph, name) -> bool:
    return graph.kind(name) != "gate"


def _differentiable(value) -> bool:
    return isinstance(value, float) or (
        isinstance(value, (np.ndarray, np.floating)) and value.dtype.kind == "f"
    )


def _ancestors(graph, name):
    import networkx as nx

    return nx.ancestors(graph.dag, name)
