"""The grading API: assignment files, tasks in a few lines, comparisons, reports."""

import json

import numpy as np
import pytest

from compgraph.grading import (
    HIDDEN,
    Assignment,
    Case,
    GateTask,
    GradingError,
    Limits,
    Outcome,
    Random,
    Task,
    TaskFailure,
    grade,
    load_assignment,
)
from compgraph.grading.checks import compare, compare_gradients
from compgraph.grading.report import to_gradescope
from compgraph.grading.runner import decode, encode
from gates import SquareGate

ASSIGNMENT_FILE = """
from compgraph.grading import HIDDEN, Assignment, Case, GateTask, Random
from gates import SquareGate

ASSIGNMENT = Assignment(
    "squares", "Square gates", "my_square.py",
    tasks=[
        GateTask("SquareGate", SquareGate, "forward", [Case(3.0)], points=2),
        GateTask("SquareGate", SquareGate, "gradcheck", [Random((4,))],
                 visibility=HIDDEN),
    ],
)
"""

STUDENT = """
from gates.base import Gate


class SquareGate(Gate):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, upstream):
        return (3 * self.x * upstream,)  # should be 2 * x
"""


def test_an_instructor_file_defines_an_assignment_in_a_few_lines(tmp_path):
    path = tmp_path / "squares.py"
    path.write_text(ASSIGNMENT_FILE)
    student = tmp_path / "my_square.py"
    student.write_text(STUDENT)
    result = grade(student, str(path), Limits(wall_seconds=5), seed=0)
    assert [(t.name, t.score) for t in result.tasks] == [
        ("SquareGate.forward", 2.0),
        ("SquareGate.gradcheck", 0.0),
    ]
    gradcheck = result.tasks[1].output
    assert gradcheck.startswith("gradient of input 0 at index (0,) on case random")
    assert "(centered difference of your forward), relative error 0.333" in gradcheck


class CountsInputs(Task):
    """A new kind of task: the gate must accept a batch of any length."""

    def run(self, session, rng):
        for n in (1, 5):
            request = {
                "op": "gate",
                "cls": self.target,
                "calls": [{"f": [encode(np.ones(n))]}],
            }
            out = decode(session.run(request)[0]["out"])
            if np.shape(out) != (n,):
                raise TaskFailure(
                    f"a batch of {n} gave an output of shape {np.shape(out)}"
                )
        return Outcome(1.0, "any batch length works")


def test_a_new_kind_of_task_subclasses_task(tmp_path):
    student = tmp_path / "my_square.py"
    student.write_text(STUDENT)
    task = CountsInputs("batches", points=3, target="SquareGate", reference=SquareGate)
    assignment = Assignment("batches", "Batches", "my_square.py", [task])
    result = grade(student, assignment, Limits(wall_seconds=5))
    assert (result.score, result.tasks[0].output) == (3.0, "any batch length works")


def test_repeated_task_names_are_refused():
    task = GateTask("SquareGate", SquareGate, "forward", [Case(1.0)])
    with pytest.raises(GradingError, match="repeated task names: SquareGate.forward"):
        Assignment("a", "A", "a.py", [task, task])


def test_visibility_must_be_a_gradescope_value():
    with pytest.raises(GradingError, match="visibility must be 'visible' or"):
        Task("t", visibility="secret")


def test_an_assignment_file_without_assignment_is_refused(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    with pytest.raises(GradingError, match="defines no ASSIGNMENT"):
        load_assignment(str(path))


def test_built_in_assignments_have_their_sizes():
    sizes = {n: load_assignment(n).max_score for n in ("gates", "graph", "layers")}
    assert sizes == {"gates": 50.0, "graph": 16.0, "layers": 45.0}
    hidden = [t for t in load_assignment("gates").tasks if t.visibility == HIDDEN]
    assert len(hidden) == 20


def test_random_cases_keep_away_from_zero():
    case = Random((1000,), low=-1, high=1, away_from_zero=0.5).draw(
        np.random.default_rng(0)
    )
    assert np.abs(case.inputs[0]).min() >= 0.5


def test_compare_names_the_index_and_both_values():
    assert compare(np.array([[1.0, 2.0]]), np.array([[1.0, 2.5]])) == (
        "at index (0, 1): expected 2, received 2.5 (relative error 0.2)"
    )
    assert compare(np.array([np.inf, 1.0]), np.array([np.inf, 1.0])) is None
    assert "expected nan" in compare(np.array([np.nan]), np.array([0.0]))
    assert compare(None, 1.0) == "expected None (no gradient), received 1"


def test_compare_gradients_counts_them_first():
    problem = compare_gradients([1.0, 2.0], [1.0], [3.0, 4.0])
    assert problem == (
        "backward returned 1 gradient(s); the gate has 2 input(s), so it must "
        "return one per input"
    )


def test_values_cross_the_pipe_as_plain_json():
    values = [2.5, np.arange(6.0).reshape(2, 3), np.array([1, 2]), None]
    text = json.dumps([encode(v) for v in values])
    back = [decode(v) for v in json.loads(text)]
    assert back[0] == 2.5 and back[3] is None
    np.testing.assert_array_equal(back[1], values[1])
    assert back[2].dtype == np.int64
    with pytest.raises(TypeError, match="got a str, expected a number"):
        encode("4")


def test_gradescope_json_has_the_fields_gradescope_reads(tmp_path):
    student = tmp_path / "my_square.py"
    student.write_text(STUDENT)
    path = tmp_path / "squares.py"
    path.write_text(ASSIGNMENT_FILE)
    data = to_gradescope(grade(student, str(path), Limits(wall_seconds=5), seed=0))
    assert data["score"] == 2.0
    assert [t["visibility"] for t in data["tests"]] == ["visible", "after_due_date"]
    assert [t["max_score"] for t in data["tests"]] == [2.0, 1.0]
