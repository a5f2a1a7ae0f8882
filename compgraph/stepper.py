"""Step through forward and backward one gate at a time.

A :class:`Stepper` drives ``graph.forward_steps`` and then
``graph.backward_steps``, the generators that ``forward`` and ``backward``
run to the end, so what it shows is exactly what runs. Going back a step
starts the passes again and replays them up to the step before: gates keep
one cache each, so the only honest way to see an earlier moment is to
recreate it.
"""

import html

import numpy as np

from compgraph.draw import Snapshot, draw
from compgraph.errors import CompGraphError, GraphStructureError
from compgraph.trace import ForwardStep, Trace

__all__ = ["Stepper"]

PHASES = ("forward", "backward")


class Stepper:
    """Walk a graph's forward pass, then its backward pass, one gate per step.

    Parameters
    ----------
    graph : ComputationalGraph
    upstream : optional
        dL/d(output) for the backward pass; 1 for a scalar output.
    **inputs
        The values fed to the graph's inputs, by name.

    Examples
    --------
    >>> from compgraph.lecture import first_circuit
    >>> stepper = Stepper(first_circuit(), x=-2, y=5, z=-4)
    >>> stepper.next()
    ForwardStep('q': +(-2, 5) = 3)
    >>> stepper.next().output
    -12.0
    >>> stepper.next()
    BackwardStep('f': *, upstream 1 -> (-4, 3))
    >>> stepper.local
    {'q': -4.0, 'z': 3.0}
    >>> len(stepper), stepper.done
    (4, False)
    """

    def __init__(self, graph, upstream=None, **inputs):
        expected = set(graph.nodes("input"))
        if set(inputs) != expected:
            missing = ", ".join(sorted(expected - set(inputs))) or "none"
            unknown = ", ".join(sorted(set(inputs) - expected)) or "none"
            raise CompGraphError(
                f"Stepper needs exactly the graph's inputs "
                f"({', '.join(sorted(expected))}); missing: {missing}, "
                f"unknown: {unknown}"
            )
        self.graph = graph
        self.inputs = inputs
        self.upstream_seed = upstream
        self._length = None
        self.reset()

    # -- moving --------------------------------------------------------------

    def next(self):
        """Take one step; return its ForwardStep or BackwardStep record."""
        record = self._advance()
        if record is None:
            raise StopIteration(
                f"all {len(self.records)} steps are taken; call back() or reset()"
            )
        return record

    __next__ = next

    def __iter__(self):
        return self

    def back(self):
        """Go one step back (by replaying from the start); return the new record."""
        if not self.records:
            raise CompGraphError("the stepper is at the start: there is no step back")
        return self.goto(len(self.records) - 1)

    def goto(self, step: int):
        """Stand after step ``step`` (0 is before the first); return its record."""
        if step < len(self.records):
            self.reset()
        while len(self.records) < step:
            if self._advance() is None:
                raise CompGraphError(
                    f"step {step} is past the end: the passes have "
                    f"{len(self.records)} steps"
                )
        return self.record

    def run_to(self, node: str, phase: str = "forward"):
        """Step until gate ``node`` has run in ``phase``; return that record."""
        if phase not in PHASES:
            raise ValueError(f"phase must be 'forward' or 'backward', got {phase!r}")
        if self.graph.kind(node) != "gate":
            kind = self.graph.kind(node)
            raise GraphStructureError(
                f"run_to stops at gates; {node!r} is {_article(kind)} {kind}"
            )
        for index, record in enumerate(self._all_records()):
            if record.node == node and _phase(record) == phase:
                return self.goto(index + 1)
        raise GraphStructureError(
            f"gate {node!r} does not run {phase}: no gradient reaches it, "
            "because it does not lead to the output"
        )

    def reset(self) -> None:
        """Go back to the start, before the first forward step."""
        self.records = []
        self._forward = self.graph.forward_steps(**self.inputs)
        self._backward = None

    # -- looking -------------------------------------------------------------

    @property
    def record(self):
        """The record of the step just taken, or ``None`` at the start."""
        return self.records[-1] if self.records else None

    @property
    def phase(self) -> str | None:
        """``"forward"`` or ``"backward"``: the phase of the step just taken."""
        return _phase(self.record) if self.record is not None else None

    @property
    def node(self) -> str | None:
        """The name of the gate that ran in the step just taken."""
        return self.record.node if self.record is not None else None

    @property
    def gate(self):
        """The gate that ran in the step just taken."""
        return self.record.gate if self.record is not None else None

    @property
    def input_values(self) -> dict:
        """The values the current gate read, by input name."""
        if self.record is None:
            return {}
        if self.phase == "forward":
            return dict(zip(self.record.inputs, self.record.values))
        return {n: self.graph.value(n) for n in self.record.inputs}

    @property
    def cache(self) -> dict:
        """What the current gate keeps for backward.

        Its attributes, minus private ones and the graph's ``training`` flag.
        """
        if self.gate is None:
            return {}
        return {
            k: v
            for k, v in vars(self.gate).items()
            if not k.startswith("_") and k != "training"
        }

    @property
    def output(self):
        """The current gate's output (forward steps; ``None`` in backward)."""
        return self.record.output if self.phase == "forward" else None

    @property
    def upstream(self):
        """The current gate's upstream gradient (backward steps only)."""
        return self.record.upstream if self.phase == "backward" else None

    @property
    def local(self) -> dict | None:
        """Local gradients d(output)/d(input) by input name (scalar outputs)."""
        if self.phase != "backward" or self.record.local is None:
            return None
        # A numpy scalar shows as the plain number it is.
        local = (
            v.item() if isinstance(v, np.generic) else v for v in self.record.local
        )
        return dict(zip(self.record.inputs, local))

    @property
    def downstream(self) -> dict | None:
        """What the current gate sends to each input (backward steps only)."""
        if self.phase != "backward":
            return None
        return dict(zip(self.record.inputs, self.record.downstream))

    @property
    def done(self) -> bool:
        """True once the last backward step has been taken."""
        return len(self.records) == len(self)

    def forward_trace(self) -> Trace:
        """The forward steps taken so far, as a table."""
        return Trace(r for r in self.records if _phase(r) == "forward")

    def backward_trace(self) -> Trace:
        """The backward steps taken so far, as a table."""
        return Trace(r for r in self.records if _phase(r) == "backward")

    def snapshot(self) -> Snapshot:
        """The values and gradients known after the steps taken so far."""
        forward = [r for r in self.records if _phase(r) == "forward"]
        backward = [r for r in self.records if _phase(r) == "backward"]
        snapshot = Snapshot.from_records(self.graph, forward, backward)
        if not self.records:  # nothing fed yet: show what will be fed
            snapshot.values.update((k, _as_shown(v)) for k, v in self.inputs.items())
        return snapshot

    def draw(self, **options):
        """Draw the graph now: the current gate highlighted, only what is known."""
        options.setdefault("highlight", self.node)
        return draw(self.graph, snapshot=self.snapshot(), **options)

    def describe(self) -> str:
        """The current step in words and numbers."""
        if self.record is None:
            return f"before the first step ({len(self)} steps in all)"
        names = ", ".join(self.record.inputs)
        lines = [
            f"step {len(self.records)} of {len(self)}: {self.phase} through "
            f"{self.node!r} ({self.gate.label}) reading {names}",
            f"  inputs: {_dict_text(self.input_values)}",
            f"  cache: {_dict_text(self.cache) or '(nothing)'}",
        ]
        if self.phase == "forward":
            lines.append(f"  output: {_text(self.output)}")
        else:
            lines.append(f"  upstream gradient: {_text(self.upstream)}")
            if self.local is not None:
                lines.append(f"  local gradients: {_dict_text(self.local)}")
            lines.append(f"  sends: {_dict_text(self.downstream)}")
        return "\n".join(lines)

    def widget(self, **options):
        """A slider over every step, showing the drawing and the step's record.

        Needs ipywidgets; without it, step with :meth:`next` and :meth:`draw`.
        """
        try:
            import ipywidgets
            from IPython.display import display
        except ImportError as error:
            raise ImportError(
                "Stepper.widget needs ipywidgets (pip install ipywidgets); "
                "without it, step with next() and look with draw()"
            ) from error

        slider = ipywidgets.IntSlider(
            value=len(self.records), min=0, max=len(self), description="step"
        )
        picture, text = ipywidgets.Output(), ipywidgets.HTML()

        def show(change=None):
            self.goto(slider.value)
            picture.clear_output(wait=True)
            with picture:
                display(self.draw(**options))
            text.value = f"<pre>{html.escape(self.describe())}</pre>"

        slider.observe(show, names="value")
        show()
        return ipywidgets.VBox([slider, ipywidgets.HBox([picture, text])])

    def __len__(self) -> int:
        """The number of steps of both passes."""
        if self._length is None:
            self._length = len(self._all_records())
        return self._length

    def __repr__(self):
        where = (
            f"{self.phase} at {self.node!r} ({self.gate.label})"
            if self.record
            else "at the start"
        )
        return f"<Stepper: step {len(self.records)} of {len(self)}, {where}>"

    # -- internals -----------------------------------------------------------

    def _advance(self):
        """Take one step; ``None`` once both passes are done."""
        record = None
        if self._backward is None:
            record = next(self._forward, None)
            if record is None:  # forward is complete: backward may start
                self._backward = self.graph.backward_steps(self.upstream_seed)
        if record is None:
            record = next(self._backward, None)
        if record is not None:
            self.records.append(record)
        return record

    def _all_records(self):
        """Every record of both passes; leaves the stepper where it stood."""
        here = len(self.records)
        self.reset()
        while self._advance() is not None:
            pass
        records = self.records
        self._length = len(records)
        self.goto(here)
        return records


def _phase(record) -> str:
    return "forward" if isinstance(record, ForwardStep) else "backward"


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _as_shown(value):
    return float(value) if isinstance(value, int) else value


def _text(value) -> str:
    from compgraph.trace import format_value

    return format_value(value)


def _dict_text(values) -> str:
    return ", ".join(f"{k}={_text(v)}" for k, v in values.items() if _small(v))


def _small(value) -> bool:
    return np.size(value) < 10_000 if value is not None else True
