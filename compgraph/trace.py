"""The step records that forward and backward produce, and their tables.

``graph.forward_steps(...)`` yields one :class:`ForwardStep` per gate and
``graph.backward_steps()`` one :class:`BackwardStep`; ``forward`` and
``backward`` are those loops run to the end. A :class:`Trace` collects
records and renders them as a plain-text table or, in Jupyter, as HTML.
"""

import html

import numpy as np

__all__ = ["ForwardStep", "BackwardStep", "Trace", "format_value"]


class ForwardStep:
    """One gate run forward: its node, gate, input names and values, output."""

    __slots__ = ("node", "gate", "inputs", "values", "output")

    def __init__(self, node, gate, inputs, values, output):
        self.node = node
        self.gate = gate
        self.inputs = inputs
        self.values = values
        self.output = output

    def __repr__(self):
        args = ", ".join(format_value(v) for v in self.values)
        return (
            f"ForwardStep({self.node!r}: {self.gate.label}({args}) "
            f"= {format_value(self.output)})"
        )


class BackwardStep:
    """One gate run backward: its upstream gradient and what each input gets.

    ``downstream[i]`` is the gradient this gate sends to its ``i``-th input
    (``local gradient x upstream``; ``None`` for an input with no gradient).
    ``local`` is the local gradient d(output)/d(input) of each input, for a
    gate with a scalar output; it is computed when first read, from the
    gate's cache, so read it before the next forward pass.
    """

    __slots__ = ("node", "gate", "inputs", "upstream", "downstream", "_local")

    def __init__(self, node, gate, inputs, upstream, downstream):
        self.node = node
        self.gate = gate
        self.inputs = inputs
        self.upstream = upstream
        self.downstream = downstream
        self._local = None

    @property
    def local(self):
        """Local gradients d(output)/d(input_i); ``None`` for a tensor output."""
        if self._local is None and np.ndim(self.upstream) == 0:
            seed = np.ones_like(self.upstream)
            self._local = tuple(self.gate.backward(seed[()]))
        return self._local

    def __repr__(self):
        sent = ", ".join(format_value(g) for g in self.downstream)
        return (
            f"BackwardStep({self.node!r}: {self.gate.label}, upstream "
            f"{format_value(self.upstream)} -> ({sent}))"
        )


def format_value(value, digits: int = 4, max_items: int = 6) -> str:
    """Render a value for a table: numbers rounded, small arrays in full.

    >>> format_value(0.7310585786300049)
    '0.7311'
    >>> format_value(np.arange(3.0))
    '[0, 1, 2]'
    >>> format_value(np.zeros((64, 10)))
    'array (64, 10) in [0, 0]'
    """
    if value is None:
        return "-"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if np.ndim(value) == 0:
        number = float(np.asarray(value).real)
        return f"{number:.{digits}g}" if number == number else "nan"
    array = np.asarray(value)
    if array.size <= max_items:
        items = ", ".join(format_value(v, digits) for v in array.ravel())
        return f"[{items}]" if array.ndim == 1 else f"{array.shape} [{items}]"
    low, high = np.min(array), np.max(array)
    return f"array {array.shape} in [{low:.{digits}g}, {high:.{digits}g}]"


class Trace(list):
    """A list of step records that prints as a table.

    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> x, y = g.input("x"), g.input("y")
    >>> f = g.rename(x * y, "f")
    >>> print(Trace(g.forward_steps(x=3.0, y=-4.0)))
    step  node  gate  inputs     output
       1  f     *     x=3, y=-4     -12
    """

    def rows(self) -> list[list[str]]:
        """The table's header and one row of text cells per record."""
        if self and isinstance(self[0], BackwardStep):
            header = ["step", "node", "gate", "upstream", "local", "sends"]
        else:
            header = ["step", "node", "gate", "inputs", "output"]
        return [header] + [_row(i, r) for i, r in enumerate(self, start=1)]

    def __str__(self):
        rows = self.rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = []
        for row in rows:
            cells = [row[0].rjust(widths[0])]
            cells += [c.ljust(w) for c, w in zip(row[1:-1], widths[1:-1])]
            last = row[-1].rjust if rows[0][-1] == "output" else row[-1].ljust
            cells.append(last(widths[-1]))
            lines.append("  ".join(cells).rstrip())
        return "\n".join(lines)

    def _repr_html_(self):
        rows = self.rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in rows[1:]
        )
        return f"<table><tr>{head}</tr>{body}</table>"


def _named(names, values) -> str:
    return ", ".join(f"{n}={format_value(v)}" for n, v in zip(names, values))


def _row(index, record) -> list[str]:
    names = record.inputs
    if isinstance(record, BackwardStep):
        local = record.local
        local_text = _named(names, local) if local is not None else "(tensor)"
        return [
            str(index),
            record.node,
            record.gate.label,
            format_value(record.upstream),
            local_text,
            _named(names, record.downstream),
        ]
    return [
        str(index),
        record.node,
        record.gate.label,
        _named(names, record.values),
        format_value(record.output),
    ]
