"""Built-in assignment ``gates``: the lecture's gates, forward and backward.

Ten gates, five tasks each (forward, backward and contract visible; hidden
cases and the gradient check after the due date), one point per task.
Hidden cases hold what the lecture warns about: broadcasting, ties of max,
the kink of relu, saturation of sigmoid and tanh, overflow of exp. At ties
and kinks any valid subgradient earns the points.
"""

import numpy as np

from compgraph.grading.api import Assignment, Case, Random
from compgraph.grading.gatetasks import gate_tasks
from compgraph.grading.skeleton import gate_skeleton
from gates.activations import ExpGate, ReLUGate, SigmoidGate, TanhGate
from gates.arithmetic import (
    AddGate,
    DivideGate,
    MaxGate,
    MultiplyGate,
    ReciprocalGate,
    SubtractGate,
)

__all__ = ["build", "GATES"]

#: (class students write, the library's reference) in the order of the lecture.
GATES = [
    ("AddGate", AddGate),
    ("MultiplyGate", MultiplyGate),
    ("MaxGate", MaxGate),
    ("SubtractGate", SubtractGate),
    ("DivideGate", DivideGate),
    ("ExpGate", ExpGate),
    ("ReciprocalGate", ReciprocalGate),
    ("SigmoidGate", SigmoidGate),
    ("TanhGate", TanhGate),
    ("ReLUGate", ReLUGate),
]


def _a(*values):
    return np.array(values, dtype=float)


def _binary(public_pair, away=0.0):
    """Public, hidden and gradient-check cases of a broadcasting binary gate."""
    public = [
        Case(*public_pair, label="lecture"),
        Case(_a(1.0, -2.0, 3.0), _a(0.5, 4.0, -1.5), label="vectors"),
    ]
    hidden = [
        Case(
            np.arange(1.0, 13.0).reshape(3, 4) / 4,
            _a(1.5, -2.0, 0.75, 3.0),
            label="broadcast (3, 4) with (4,)",
        ),
        Case(_a(2.0), np.linspace(0.5, 3.0, 6).reshape(2, 3), label="broadcast (1,)"),
        Random((2, 3), (2, 3), away_from_zero=away),
        Random((), (), away_from_zero=away),
    ]
    return public, hidden


def _tasks():
    cases = {}
    for name in ("AddGate", "MultiplyGate", "SubtractGate"):
        cases[name] = (*_binary((-2.0, 5.0)), None)
    cases["DivideGate"] = (*_binary((1.0, 4.0), away=0.5), None)
    cases["MaxGate"] = (
        [Case(4.0, 2.0, label="lecture"), Case(_a(1.0, -3.0), _a(0.5, 2.0))],
        [
            Case(2.0, 2.0, label="tie"),
            Case(_a(1.0, 3.0, -2.0), _a(1.0, 0.5, -2.0), label="ties in vectors"),
            Random((3, 4), (3, 4)),
            Case(_a(1.0, 5.0, -1.0), 2.0, label="broadcast a number"),
        ],
        None,
    )
    cases["ExpGate"] = (
        [Case(1.0), Case(_a(-1.0, 0.0, 2.0))],
        [Case(_a(-1000.0, 0.0, 700.0), label="extremes"), Random((3, 2))],
        [Random((3, 2)), Random(())],
    )
    cases["ReciprocalGate"] = (
        [Case(2.0), Case(_a(0.5, -4.0, 1.0))],
        [Random((5,), away_from_zero=0.5), Case(_a(-0.25, 1e-3), label="small")],
        [Random((5,), away_from_zero=0.5)],
    )
    cases["SigmoidGate"] = (
        [Case(0.0), Case(_a(-2.0, 0.5, 3.0))],
        [Case(_a(-1000.0, 0.0, 1000.0), label="saturation"), Random((3, 4))],
        None,
    )
    cases["TanhGate"] = (
        [Case(0.5), Case(_a(-1.0, 0.0, 2.0))],
        [Case(_a(-1000.0, 1000.0), label="saturation"), Random((3, 4))],
        None,
    )
    cases["ReLUGate"] = (
        [Case(_a(-1.0, 2.0, 3.0)), Case(1.5)],
        [Case(_a(-2.0, 0.0, 3.0), label="kink at 0"), Random((3, 4))],
        None,
    )
    tasks = []
    for name, reference in GATES:
        public, hidden, gradcheck = cases[name]
        tasks += gate_tasks(name, reference, public, hidden, gradcheck=gradcheck)
    return tasks


def build() -> Assignment:
    """The ``gates`` assignment.

    >>> a = build()
    >>> a.max_score, len(a.selected(public=True))
    (50.0, 30)
    """
    assignment = Assignment(
        name="gates",
        title="Assignment gates: the lecture's gates, forward and backward",
        filename="my_gates.py",
        tasks=_tasks(),
        blocked=("gates", "compgraph"),
        allowed=("gates.base",),
    )
    assignment.skeleton = gate_skeleton(assignment, GATES)
    return assignment
