"""Student skeletons: what their docstrings say is what the grader accepts."""

import ast

import pytest

from compgraph.grading import Assignment, Case, GateTask, Task, load_assignment
from compgraph.grading.api import GradingError
from compgraph.grading.skeleton import assignment_skeleton
from compgraph.grading.subgradients import PIECEWISE_LINEAR
from gates import ExpGate, SquareGate


def class_docs(source):
    """``{class name: docstring on one line}`` of a skeleton's source."""
    return {
        node.name: " ".join(ast.get_docstring(node).split())
        for node in ast.parse(source).body
        if isinstance(node, ast.ClassDef)
    }


def test_the_max_gate_skeleton_says_a_tie_splits_the_upstream():
    doc = class_docs(load_assignment("gates").skeleton)["MaxGate"]
    assert doc.startswith("``f = max(x, y)``; ``df/dx = [x > y]``")
    assert (
        "At a tie x == y both brackets are 0, which loses the upstream. Accepted "
        "there: any shares of it for x and y between 0 and the upstream that sum "
        "to it (half each, as the library does, or all to one), never all of it "
        "to both."
    ) in doc


@pytest.mark.parametrize("name", ["gates", "layers"])
def test_the_relu_skeleton_accepts_any_slope_in_zero_one_at_the_kink(name):
    doc = class_docs(load_assignment(name).skeleton)["ReLUGate"]
    assert "Accepted at the kink x = 0: any local gradient in [0, 1]" in doc


@pytest.mark.parametrize("name", ["gates", "layers"])
def test_every_skeleton_gate_with_ties_or_kinks_says_what_is_accepted(name):
    assignment = load_assignment(name)
    references = {t.target: t.reference for t in assignment.tasks}
    docs = class_docs(assignment.skeleton)
    tied = [g for g in docs if references[g].__name__ in PIECEWISE_LINEAR]
    assert tied
    for gate in tied:
        assert "accepted" in docs[gate].lower(), gate


def test_an_assignment_of_gate_tasks_gets_one_class_per_gate():
    tasks = [
        GateTask("SquareGate", SquareGate, "forward", [Case(3.0)]),
        GateTask("ExpGate", ExpGate, "backward", [Case(1.0)]),
        GateTask("SquareGate", SquareGate, "backward", [Case(3.0)]),
    ]
    source = assignment_skeleton(Assignment("w", "Week", "my_week.py", tasks))
    assert list(class_docs(source)) == ["SquareGate", "ExpGate"]
    assert "class SquareGate(Gate):" in source
    assert (
        'raise NotImplementedError("SquareGate.backward: implement me '
        '(tasks SquareGate.*)")'
    ) in source


def test_an_assignment_with_other_tasks_must_give_its_skeleton():
    tasks = [
        GateTask("SquareGate", SquareGate, "forward", [Case(3.0)]),
        Task("batches", target="SquareGate"),
    ]
    assignment = Assignment("w", "Week", "my_week.py", tasks)
    with pytest.raises(
        GradingError,
        match=r"assignment 'w' gives no skeleton, and one is made only from "
        r"GateTask tasks, not from Task \(batches\); give the source of the "
        r"my_week.py that students start from as Assignment\(\.\.\., "
        r"skeleton=SOURCE\)",
    ):
        assignment_skeleton(assignment)
