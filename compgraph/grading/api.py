"""Assignments and tasks: what an instructor writes to grade a submission.

An :class:`Assignment` is a named list of :class:`Task` objects, each with
points and a visibility. A task sends requests to the submission's sandbox
(``session.run``), gets plain values back, and compares them in the grader's
process with what it computes itself; it returns an :class:`Outcome`.
Built-in tasks grade gates (:mod:`compgraph.grading.gatetasks`) and graphs
(:mod:`compgraph.grading.graphtasks`); a new kind of task subclasses
:class:`Task` and writes ``run``.
"""

import importlib
import importlib.util
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from compgraph.errors import CompGraphError
from compgraph.grading.sandbox import Limits

__all__ = [
    "VISIBLE",
    "HIDDEN",
    "Assignment",
    "Task",
    "Outcome",
    "TaskFailure",
    "Case",
    "Random",
    "GradingError",
    "load_assignment",
    "BUILT_IN",
]

#: Gradescope visibilities: shown at once, or only after the due date.
VISIBLE, HIDDEN = "visible", "after_due_date"
#: The assignments that ship with compgraph.
BUILT_IN = ("gates", "graph", "layers")


class GradingError(CompGraphError, ValueError):
    """An assignment, task or command that the grader cannot use."""


class TaskFailure(Exception):
    """Raised inside a task when the submission failed it; the message says why."""


@dataclass
class Outcome:
    """What one task found: the fraction of its points earned, and feedback."""

    fraction: float
    output: str = ""


class Task:
    """One graded item of an assignment.

    Parameters
    ----------
    name : str
        Unique within the assignment; a column of the class CSV.
    points : float
        Points for passing the task.
    visibility : {"visible", "after_due_date"}
        Whether students see the task (and can run it with ``--public``).
    target : str or None
        The class in the submission the task grades, if one: a missing class
        fails the task, and a target that imports, subclasses, calls or copies
        the library's own version scores zero.
    reference : type or None
        The library's version of ``target``, for the copied-code check.
    """

    def __init__(
        self,
        name: str,
        points: float = 1.0,
        visibility: str = VISIBLE,
        target: str | None = None,
        reference: type | None = None,
    ):
        if visibility not in (VISIBLE, HIDDEN, "hidden", "after_published"):
            raise GradingError(
                f"task {name!r}: visibility must be {VISIBLE!r} or {HIDDEN!r}, "
                f"got {visibility!r}"
            )
        self.name = name
        self.points = float(points)
        self.visibility = visibility
        self.target = target
        self.reference = reference

    @property
    def visible(self) -> bool:
        """True if students see this task before the due date."""
        return self.visibility == VISIBLE

    def run(self, session, rng: np.random.Generator) -> Outcome:
        """Grade the submission behind ``session``; raise TaskFailure to fail."""
        raise NotImplementedError(f"{type(self).__name__} must define run()")

    def __repr__(self):
        return (
            f"{type(self).__name__}({self.name!r}, points={self.points:g}, "
            f"visibility={self.visibility!r})"
        )


@dataclass
class Case:
    """Fixed inputs for a gate (and optionally the upstream gradient).

    >>> Case(1.0, np.array([2.0, 3.0])).inputs[0]
    1.0
    """

    inputs: tuple
    upstream: object = None
    label: str = ""
    training: bool | None = None

    def __init__(self, *inputs, upstream=None, label: str = "", training=None):
        self.inputs = tuple(
            float(v) if isinstance(v, int) and not isinstance(v, bool) else v
            for v in inputs
        )
        self.upstream = upstream
        self.label = label
        self.training = training

    def draw(self, rng: np.random.Generator) -> "Case":
        """Fixed cases are already drawn."""
        return self


@dataclass
class Random:
    """Random inputs of given shapes, drawn when a task runs.

    Parameters
    ----------
    shapes : tuple
        One shape per input; ``()`` draws a Python float.
    low, high : float
        Range of the uniform draw.
    away_from_zero : float, default=0
        Inputs closer to zero than this are pushed out (for 1/x, log).
    labels : dict, default={}
        ``{input index: number of classes}``: that input is an integer array
        of class labels of the given shape.

    >>> case = Random((2, 3), (3,)).draw(np.random.default_rng(0))
    >>> [np.shape(v) for v in case.inputs]
    [(2, 3), (3,)]
    """

    shapes: tuple
    low: float = -3.0
    high: float = 3.0
    away_from_zero: float = 0.0
    labels: dict = field(default_factory=dict)
    label: str = "random"
    training: bool | None = None

    def __init__(self, *shapes, low=-3.0, high=3.0, away_from_zero=0.0, labels=None):
        self.shapes = shapes
        self.low, self.high = low, high
        self.away_from_zero = away_from_zero
        self.labels = labels or {}
        self.label = "random"
        self.training = None

    def draw(self, rng: np.random.Generator) -> Case:
        """A :class:`Case` with fresh values."""
        values = []
        for port, shape in enumerate(self.shapes):
            if port in self.labels:
                values.append(rng.integers(0, self.labels[port], size=shape))
                continue
            x = rng.uniform(self.low, self.high, size=shape)
            if self.away_from_zero:
                # Push |x| < a outward to a <= |x| < 2a, keeping the sign.
                small = np.abs(x) < self.away_from_zero
                x = np.where(small, x + np.copysign(self.away_from_zero, x), x)
            values.append(float(x) if shape == () else x)
        return Case(*values, label=self.label)


@dataclass
class Assignment:
    """A named list of tasks, with what a submission may import.

    Parameters
    ----------
    name : str
        Short name (``gates``).
    title : str
        One line for reports.
    filename : str
        The file students hand in (``my_gates.py``).
    tasks : list of Task
        The graded tasks; names must be unique.
    blocked, allowed : tuple of str
        Module prefixes the sandbox refuses to import, and exceptions to that.
    preload : tuple of str
        Modules imported before blocking starts (for use by the runner).
    skeleton : str or None
        The student skeleton's source text.
    limits : Limits
        Default resource limits for this assignment.
    """

    name: str
    title: str
    filename: str
    tasks: list
    blocked: tuple = ("compgraph", "gates")
    allowed: tuple = ("gates.base",)
    preload: tuple = ()
    skeleton: object = None
    limits: Limits = field(default_factory=Limits)

    def __post_init__(self):
        names = [task.name for task in self.tasks]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise GradingError(
                f"assignment {self.name!r} has repeated task names: "
                f"{', '.join(repeated)}; every task needs its own name"
            )

    @property
    def max_score(self) -> float:
        """Points of all tasks."""
        return sum(task.points for task in self.tasks)

    def selected(self, public: bool = False) -> list:
        """The tasks to run: all, or only the visible ones."""
        return [t for t in self.tasks if t.visible or not public]

    def task_rng(self, task: Task, seed: int) -> np.random.Generator:
        """Random numbers for one task: fixed for visible tasks, seeded otherwise."""
        base = 0 if task.visible else seed
        return np.random.default_rng([base, zlib.crc32(task.name.encode())])

    def __repr__(self):
        return (
            f"<Assignment {self.name!r}: {len(self.tasks)} tasks, "
            f"{self.max_score:g} points>"
        )


def load_assignment(name_or_file) -> Assignment:
    """A built-in assignment by name, or the ``ASSIGNMENT`` of a Python file.

    >>> load_assignment("gates").filename
    'my_gates.py'
    """
    if isinstance(name_or_file, Assignment):
        return name_or_file
    text = str(name_or_file)
    if text in BUILT_IN:
        module = importlib.import_module(f"compgraph.grading.assignments.{text}")
        return module.build()
    path = Path(text)
    if not path.is_file():
        raise GradingError(
            f"no assignment {text!r}: give a built-in name "
            f"({', '.join(BUILT_IN)}) or the path of an assignment file"
        )
    spec = importlib.util.spec_from_file_location(f"assignment_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assignment = getattr(module, "ASSIGNMENT", None)
    if not isinstance(assignment, Assignment):
        raise GradingError(
            f"{path} defines no ASSIGNMENT: an assignment file must set "
            "ASSIGNMENT = Assignment(...)"
        )
    assignment.source = str(path.resolve())
    return assignment
