"""How a drawing is painted: texts, circles, boxes and wires on matplotlib axes.

:func:`compgraph.draw.draw` is the entry point; this module holds the
painter it uses, the number formats of the slides, and the record of every
text placed (:class:`DrawnText`), which is what tests read.
"""

from dataclasses import dataclass

import numpy as np

__all__ = [
    "DrawnText",
    "Formatter",
    "Painter",
    "format_number",
    "wire_gradient",
    "VALUE_COLOUR",
    "GRAD_COLOUR",
]

VALUE_COLOUR = "#1a9641"  # green, as on the slides
GRAD_COLOUR = "#d7191c"  # red
NAME_COLOUR = "#777777"
HIGHLIGHT_COLOUR = "#ff8c00"
# Geometry in data units: columns and rows apart, gate radius, inches per unit.
COLUMN, ROW, RADIUS, INCH = 2.6, 1.3, 0.32, 0.62


@dataclass
class DrawnText:
    """One text placed on a drawing.

    ``role`` is ``"label"`` (a gate's symbol or a leaf's name), ``"name"``
    (a gate's node name), ``"value"``, ``"grad"``, ``"sum"`` (a fan-out's
    gradients added up) or ``"output"``. ``node`` names the box the text
    belongs to; ``wire`` is ``(source, target)`` for a wire's value and
    gradient (``target`` is ``None`` on the output wire).
    """

    text: str
    colour: str
    x: float
    y: float
    role: str
    node: str | None = None
    wire: tuple | None = None


class Formatter:
    """Numbers as on the slides; small arrays in full, large ones summarised."""

    def __init__(self, digits: int):
        self.digits = digits

    def value(self, value) -> str:
        """A value or gradient as written on a wire."""
        if np.ndim(value) == 0:
            return format_number(value, self.digits)
        array = np.asarray(value)
        if array.size <= 6:
            return np.array2string(
                array, separator=", ", formatter={"all": self.value}
            ).replace("\n", "")
        low, high = self.value(array.min()), self.value(array.max())
        return f"{array.shape}\nin [{low}, {high}]"

    def sum(self, node, view, snapshot) -> str:
        """``grad = a + b = s`` for a node that fans out, else ``""``."""
        wires = [w for w in view.wires if w.source == node]
        shares = [wire_gradient(w, snapshot) for w in wires]
        if len(wires) < 2 or node not in snapshot.grads or None in shares:
            return ""
        total = self.value(snapshot.grads[node])
        if all(np.ndim(s) == 0 for s in shares):
            terms = " + ".join(self.value(s) for s in shares).replace("+ -", "- ")
            return f"grad = {terms} = {total}"
        return f"grad = sum of {len(shares)} = {total}"


def format_number(value, digits: int = 2) -> str:
    """A number as the slides print it: fixed decimals, or powers of ten.

    >>> format_number(0.7310585786), format_number(-4.0), format_number(2e-7)
    ('0.73', '-4.00', '2.00e-07')
    """
    number = np.asarray(value)[()]
    if np.issubdtype(type(number), np.integer):
        return str(int(number))
    number = float(number) + 0.0  # no "-0.00"
    if number == 0 or not np.isfinite(number) or 10**-digits <= abs(number) < 1e6:
        text = f"{number:.{digits}f}"
        return text[1:] if text.startswith("-") and float(text) == 0 else text
    return f"{number:.{digits}e}"


# Text styles: matplotlib keyword arguments for each role.
LEAF = {"ha": "right", "va": "center", "fontsize": 11}
SYMBOL = {"ha": "center", "va": "center", "fontsize": 10}
NAME = {"ha": "center", "va": "bottom", "fontsize": 8}
ABOVE = {"ha": "center", "va": "bottom", "fontsize": 9}
BELOW = {"ha": "center", "va": "top", "fontsize": 9}
ARROW = {"arrowstyle": "-|>", "color": "#333333", "lw": 1.1, "shrinkA": 0,
         "shrinkB": 0, "mutation_scale": 9}  # fmt: skip


class Painter:
    """Places the boxes, wires and texts of one view on matplotlib axes."""

    def __init__(self, view, snapshot, digits, values, grads, names):
        self.view, self.snapshot = view, snapshot
        self.fmt = Formatter(digits)
        self.show_values, self.show_grads, self.show_names = values, grads, names
        # Columns stand far enough apart for the longest number on a wire.
        longest = max((len(line) for text in self._wire_texts() for line in
                       text.split("\n")), default=0)  # fmt: skip
        self.gap = max(COLUMN, 0.085 * longest + 1.4)
        self.centres = {
            box.id: (box.column * self.gap, -box.y * ROW) for box in view.boxes.values()
        }
        self.texts, self.wires = [], {}

    def _wire_texts(self):
        for wire in self.view.wires:
            if self.show_values and wire.source in self.snapshot.values:
                yield self.fmt.value(self.snapshot.values[wire.source])
            share = wire_gradient(wire, self.snapshot) if self.show_grads else None
            if share is not None:
                yield self.fmt.value(share)

    def bounds(self):
        """``(left, right, bottom, top)`` in data units, room for labels included."""
        xs = [x for x, _ in self.centres.values()] or [0.0]
        ys = [y for _, y in self.centres.values()] or [0.0]
        right = 0.0
        if self.view.output is not None:
            output = self.view.boxes[self.view.box_of[self.view.output]]
            right = self.centres[output.id][0] + self._half_size(output)[0] + 1.7
            right += 0.13 * len(self.view.output)
        return min(xs) - 1.0, max(max(xs) + 0.8, right), min(ys) - 1.0, max(ys) + 0.8

    def paint(self, ax, lit) -> None:
        """Draw everything on ``ax``, with box ``lit`` highlighted."""
        for box in self.view.boxes.values():
            self._box(ax, box, box.id == lit)
        for wire in self.view.wires:
            self._wire(ax, wire)
        if self.show_grads:
            for box in self.view.boxes.values():
                self._sums(ax, box)
        left, right, bottom, top = self.bounds()
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)
        ax.set_aspect("equal")
        ax.set_axis_off()

    def _text(self, ax, text, colour, at, role, node=None, wire=None, **style):
        x, y = float(at[0]), float(at[1])
        ax.text(x, y, text, color=colour, zorder=4, **style)
        self.texts.append(DrawnText(text, colour, x, y, role, node, wire))

    def _half_size(self, box):
        if box.kind in ("input", "parameter", "constant"):
            return 0.0, 0.0
        if box.kind == "group":
            return max(0.7, 0.07 * len(box.label) + 0.25), 0.45
        if len(box.label) <= 4:
            return RADIUS, RADIUS
        return 0.065 * len(box.label) + 0.15, RADIUS

    def _is_circle(self, box):
        return box.kind == "gate" and self._half_size(box) == (RADIUS, RADIUS)

    def _box(self, ax, box, lit):
        from matplotlib.patches import Circle, FancyBboxPatch

        x, y = self.centres[box.id]
        w, h = self._half_size(box)
        face = "#fff3c4" if lit else "white"
        if box.kind in ("input", "parameter", "constant"):
            style = {"fontweight": "bold"} if box.kind == "parameter" else {}
            if lit:
                style["bbox"] = {"facecolor": face, "edgecolor": HIGHLIGHT_COLOUR}
            self._text(ax, box.label, "black", (x - 0.12, y), "label", box.id,
                       **LEAF, **style)  # fmt: skip
            return

        edge = (HIGHLIGHT_COLOUR, 3.0) if lit else ("black", 1.2)
        style = {"facecolor": face, "edgecolor": edge[0], "linewidth": edge[1]}
        if self._is_circle(box):
            ax.add_patch(Circle((x, y), RADIUS, zorder=2, **style))
        else:
            rounded = "round,pad=0.02,rounding_size=0.12"
            corner = (x - w, y - h)
            ax.add_patch(
                FancyBboxPatch(corner, 2 * w, 2 * h, rounded, zorder=2, **style)
            )
        label = box.label
        if box.kind == "group":
            count = sum(self.view.kinds[m] == "gate" for m in box.members)
            label = f"{label}\n{count} gate{'s' if count != 1 else ''}"
        self._text(ax, label, "black", (x, y), "label", box.id, **SYMBOL)
        if self.show_names and box.kind == "gate" and box.id != box.label:
            at = (x, y + h + 0.06)
            self._text(ax, box.id, NAME_COLOUR, at, "name", box.id, **NAME)

    def _wire(self, ax, wire):
        source = self.view.boxes[self.view.box_of[wire.source]]
        sx, sy = self.centres[source.id]
        start = (sx + self._half_size(source)[0], sy)
        bend = 0.0
        if wire.target is None:
            end = (start[0] + 1.5, sy)
            at = (end[0] + 0.1, sy)
            self._text(ax, wire.source, "black", at, "output", wire.source,
                       **{**LEAF, "ha": "left"})  # fmt: skip
        else:
            end, bend = self._port_point(wire)
        arrow = {**ARROW, "connectionstyle": f"arc3,rad={bend}"}
        ax.annotate("", xy=end, xytext=start, zorder=1, arrowprops=arrow)
        key = (wire.source, wire.target)
        segment = (tuple(map(float, start)), tuple(map(float, end)))
        self.wires.setdefault(key, []).append(segment)

        (px, py), (dx, dy) = self._label_point(start, end), np.subtract(end, start)
        if bend:  # the middle of the curve: the chord's middle, pushed sideways
            px, py = (
                (start[0] + end[0]) / 2 + bend * dy / 2,
                (start[1] + end[1]) / 2 - bend * dx / 2,
            )
        value = self.snapshot.values.get(wire.source)
        if self.show_values and value is not None:
            text = self.fmt.value(value)
            self._text(
                ax, text, VALUE_COLOUR, (px, py + 0.07), "value", wire=key, **ABOVE
            )
        share = wire_gradient(wire, self.snapshot)
        if self.show_grads and share is not None:
            text = self.fmt.value(share)
            self._text(
                ax, text, GRAD_COLOUR, (px, py - 0.07), "grad", wire=key, **BELOW
            )

    def _label_point(self, start, end):
        """The middle of a wire between neighbouring columns.

        A longer wire keeps its labels by the gate it feeds, in the last
        column gap, instead of over the gates it passes.
        """
        dx, dy = end[0] - start[0], end[1] - start[1]
        length = float(np.hypot(dx, dy))
        if abs(dx) <= self.gap:
            return start[0] + dx / 2, start[1] + dy / 2
        back = (self.gap - 1.0) / 2 / length
        return end[0] - back * dx, end[1] - back * dy

    def _port_point(self, wire):
        """Where ``wire`` meets its target, and how much it bends.

        Wires meet a gate in the order of their sources' heights, so they do
        not cross at the gate; wires from one node into one gate (``x * x``)
        bend apart so that each keeps its own labels.
        """
        target = self.view.boxes[wire.target]
        into = [w for w in self.view.wires if w.target == wire.target]
        into.sort(key=lambda w: -self.centres[self.view.box_of[w.source]][1])
        k, n = into.index(wire), len(into)
        offset = ((n - 1) / 2 - k) / max(n - 1, 1)  # +1/2 top ... -1/2 bottom
        twins = [w for w in into if w.source == wire.source]
        bend = -1.2 * offset if len(twins) > 1 else 0.0
        x, y = self.centres[target.id]
        w, h = self._half_size(target)
        if self._is_circle(target):
            angle = np.pi - 1.1 * offset
            return (x + RADIUS * np.cos(angle), y + RADIUS * np.sin(angle)), bend
        return (x - w, y + 1.4 * h * offset), bend

    def _sums(self, ax, box):
        x, y = self.centres[box.id]
        w, h = self._half_size(box)
        row = 0
        for member in box.members:
            text = self.fmt.sum(member, self.view, self.snapshot)
            if not text:
                continue
            if box.kind in ("input", "parameter", "constant"):
                at, style = (x - 0.12, y - 0.3), {**BELOW, "ha": "right"}
            else:
                at, style = (x, y - h - 0.08 - 0.25 * row), dict(BELOW)
            style["fontsize"] = 8
            self._text(ax, text, GRAD_COLOUR, at, "sum", member, **style)
            row += 1


def wire_gradient(wire, snapshot):
    """The gradient sent back along ``wire``, or ``None`` if not known yet."""
    if wire.target is None:
        return snapshot.grads.get(wire.source)
    shares = [
        snapshot.shares.get((wire.source, gate, port)) for gate, port in wire.ports
    ]
    if any(s is None for s in shares):
        return None
    return sum(shares[1:], shares[0])
