"""Student skeletons: signatures and docstrings of the graded classes, no bodies."""

import inspect
import textwrap
from pathlib import Path

from compgraph.grading.api import GradingError
from compgraph.grading.gatetasks import GateTask
from compgraph.grading.subgradients import ACCEPTED, PIECEWISE_LINEAR

__all__ = ["gate_skeleton", "assignment_skeleton", "TIES"]

_SPLIT = (
    "Accepted there: any shares of it for x and y between 0 and the upstream "
    "that sum to it (half each, as the library does, or all to one), never all "
    "of it to both."
)
_WINDOW = (
    "Accepted at a window's k tied maxima: any shares of its gradient between 0 "
    "and it that sum to it (the library sends 1/k to each)."
)
#: What the grader accepts where a gate (by the reference's class name) has
#: ties or kinks; the formula of its docstring is one valid answer there.
TIES = {
    "MaxGate": "At a tie x == y both brackets are 0, which loses the upstream. "
    + _SPLIT,
    "MinGate": "At a tie x == y both brackets are 0, which loses the upstream. "
    + _SPLIT,
    "ReLUGate": "Accepted at the kink x = 0: any local gradient in [0, 1] (0, 1, "
    "or 1/2 as the library uses).",
    "LeakyReLUGate": "Accepted at the kink x = 0: any local gradient between "
    "alpha and 1.",
    "AbsGate": "Accepted at the kink x = 0: any local gradient in [-1, 1].",
    "HingeLossGate": "Accepted at a kink m_j = 0: any slope in [0, 1] (the "
    "library uses 1/2).",
    "MaxPool2dGate": _WINDOW,
}

HEADER = '''"""{title}

Fill in every method that raises NotImplementedError, then check yourself:

    compgraph grade {filename} --assignment {name} --public

The public tasks are a part of the grade; hidden tasks run after the deadline.
Do not import or copy compgraph's own gates: such a class scores zero.
"""

import numpy as np

from gates.base import Gate, unbroadcast  # the contract and a helper you may use
'''


def gate_skeleton(assignment, gates) -> str:
    """Source of a file with one empty class per ``(name, reference[, note])``.

    Each class keeps the reference's constructor and forward signatures and
    the first paragraph of its docstring (function and local gradients),
    then the note and, for a gate with ties or kinks, what the grader
    accepts there (:data:`TIES`).

    >>> from gates import ExpGate
    >>> from compgraph.grading.api import Assignment
    >>> a = Assignment("demo", "Demo gates", "my_gates.py", [])
    >>> print(gate_skeleton(a, [("ExpGate", ExpGate)]).splitlines()[-1].strip())
    raise NotImplementedError("ExpGate.backward: implement me (tasks ExpGate.*)")
    """
    # An assignment file is named by its file on the command line.
    source = getattr(assignment, "source", None)
    spec = Path(source).name if source else assignment.name
    text = HEADER.format(
        title=assignment.title, filename=assignment.filename, name=spec
    )
    for name, reference, *note in gates:
        doc = (inspect.getdoc(reference) or name).split("\n\n")[0]
        for paragraph in [*note, _ties(reference)]:
            if paragraph:
                doc += "\n\n" + textwrap.fill(paragraph, 76)
        doc = "\n    ".join(doc.splitlines()).replace("\n    \n", "\n\n")
        text += f'\n\nclass {name}(Gate):\n    """{doc}"""\n'
        if "__init__" in vars(reference):
            signature = inspect.signature(reference.__init__)
            params = [p for p in signature.parameters if p != "self"]
            text += f"\n    def __init__{_plain(signature)}:\n"
            text += "".join(f"        self.{p} = {p}\n" for p in params)
        forward = _plain(inspect.signature(reference.forward))
        text += (
            f"\n    def forward{forward}:\n"
            '        """Return the output; keep on self what backward needs."""\n'
            f'        raise NotImplementedError("{name}.forward: implement me '
            f'(tasks {name}.*)")\n'
            "\n    def backward(self, upstream):\n"
            '        """Return one gradient per input (a tuple), like the inputs."""\n'
            f'        raise NotImplementedError("{name}.backward: implement me '
            f'(tasks {name}.*)")\n'
        )
    return text


def _plain(signature) -> str:
    """A signature without annotations (the skeleton imports nothing for them)."""
    params = [
        p.replace(annotation=inspect.Parameter.empty)
        for p in signature.parameters.values()
    ]
    return str(
        signature.replace(parameters=params, return_annotation=inspect.Signature.empty)
    )


def _ties(reference) -> str | None:
    """What the grader accepts at the ties and kinks of ``reference``, if any."""
    name = reference.__name__
    if name not in PIECEWISE_LINEAR:
        return None
    return TIES.get(name, ACCEPTED[0].upper() + ACCEPTED[1:] + ".")


def assignment_skeleton(assignment) -> str:
    """The skeleton of an assignment that gives none, made from its gate tasks.

    One class per graded gate, in the order of the tasks, as
    :func:`gate_skeleton` writes it. Other kinds of task say nothing of the
    class students write, so an assignment with them must give its own.

    >>> from gates import SquareGate
    >>> from compgraph.grading.api import Assignment, Case
    >>> task = GateTask("SquareGate", SquareGate, "forward", [Case(3.0)])
    >>> a = Assignment("week2", "Week 2", "my_week2.py", [task])
    >>> "class SquareGate(Gate):" in assignment_skeleton(a)
    True
    """
    others = [t for t in assignment.tasks if not isinstance(t, GateTask)]
    if others or not assignment.tasks:
        kinds = sorted({type(t).__name__ for t in others}) or ["no tasks"]
        raise GradingError(
            f"assignment {assignment.name!r} gives no skeleton, and one is made "
            f"only from GateTask tasks, not from {', '.join(kinds)} "
            f"({', '.join(t.name for t in others) or 'none'}); give the source "
            f"of the {assignment.filename} that students start from as "
            "Assignment(..., skeleton=SOURCE)"
        )
    gates = {}
    for task in assignment.tasks:
        gates.setdefault(task.target, task.reference)
    return gate_skeleton(assignment, list(gates.items()))
