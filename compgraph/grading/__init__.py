"""The auto-grader: assignments of tasks, a sandbox for student code, reports.

>>> from compgraph.grading import load_assignment
>>> load_assignment("gates")
<Assignment 'gates': 50 tasks, 50 points>
"""

from compgraph.grading.api import (
    HIDDEN,
    VISIBLE,
    Assignment,
    Case,
    GradingError,
    Outcome,
    Random,
    Task,
    TaskFailure,
    load_assignment,
)
from compgraph.grading.gatetasks import GateTask, gate_tasks
from compgraph.grading.grader import grade, grade_class
from compgraph.grading.graphtasks import GraphSpec, GraphTask
from compgraph.grading.report import SubmissionResult, TaskResult
from compgraph.grading.sandbox import Limits

__all__ = [
    "Assignment",
    "Task",
    "Outcome",
    "TaskFailure",
    "Case",
    "Random",
    "GateTask",
    "gate_tasks",
    "GraphSpec",
    "GraphTask",
    "Limits",
    "grade",
    "grade_class",
    "load_assignment",
    "SubmissionResult",
    "TaskResult",
    "GradingError",
    "VISIBLE",
    "HIDDEN",
]
