"""Grading results and their three forms: text, Gradescope JSON, class CSV."""

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from compgraph.io import atomic_file

__all__ = [
    "TaskResult",
    "SubmissionResult",
    "write_json",
    "write_csv",
    "write_report",
    "to_gradescope",
]


@dataclass
class TaskResult:
    """One task's score and the feedback that explains it."""

    name: str
    score: float
    max_score: float
    visibility: str
    status: str  # passed, failed, zero (library used), error, skipped
    output: str = ""

    @property
    def passed(self) -> bool:
        """True when the task earned all its points."""
        return self.score == self.max_score


@dataclass
class SubmissionResult:
    """All task results of one submission, and notes about it as a whole.

    >>> r = SubmissionResult("ada", "gates", [TaskResult("a", 1, 2, "visible",
    ...                      "failed", "wrong")])
    >>> r.score, r.max_score
    (1.0, 2.0)
    """

    student: str
    assignment: str
    tasks: list
    notes: list = field(default_factory=list)
    student_output: str = ""

    @property
    def score(self) -> float:
        """Points earned over all tasks."""
        return float(sum(t.score for t in self.tasks))

    @property
    def max_score(self) -> float:
        """Points available over all tasks."""
        return float(sum(t.max_score for t in self.tasks))

    def scores(self) -> dict:
        """``{task name: score}``."""
        return {t.name: t.score for t in self.tasks}

    def report(self) -> str:
        """A readable report: one line per task, feedback under failures."""
        lines = [
            f"{self.assignment}: {self.student}",
            f"score {self.score:g} / {self.max_score:g}",
        ]
        lines += [f"note: {note}" for note in self.notes]
        lines.append("")
        width = max((len(t.name) for t in self.tasks), default=4)
        for task in self.tasks:
            mark = "ok  " if task.passed else "FAIL"
            lines.append(
                f"{mark} {task.name.ljust(width)}  {task.score:g}/{task.max_score:g}"
                + ("" if task.visibility == "visible" else "  (hidden)")
            )
            if not task.passed and task.output:
                lines += [f"       {line}" for line in task.output.splitlines()]
        return "\n".join(lines) + "\n"

    def __repr__(self):
        return (
            f"<SubmissionResult {self.student!r} {self.assignment}: "
            f"{self.score:g}/{self.max_score:g}>"
        )


def to_gradescope(result: SubmissionResult) -> dict:
    """The ``results.json`` Gradescope reads: score, tests, visibility, output."""
    output = "\n".join(result.notes)
    if result.student_output:
        output += "\nWhat your code printed (first lines):\n" + result.student_output
    return {
        "score": result.score,
        "output": output.strip(),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [
            {
                "name": task.name,
                "score": task.score,
                "max_score": task.max_score,
                "status": "passed" if task.passed else "failed",
                "output": task.output,
                "visibility": task.visibility,
            }
            for task in result.tasks
        ],
    }


def write_json(result: SubmissionResult, path) -> Path:
    """Write ``results.json`` atomically: a reader never sees half a file.

    The file is written after every sandbox process of the submission is
    dead, and replaces whatever a submission may have put at that path.
    """
    return _replace(path, json.dumps(to_gradescope(result), indent=2))


def write_report(result: SubmissionResult, path) -> Path:
    """Write the readable report of :meth:`SubmissionResult.report` atomically."""
    return _replace(path, result.report())


def write_csv(results: list, path, task_names: list) -> Path:
    """One row per student, one column per task, then total and max (atomically)."""
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(["student", *task_names, "total", "max", "notes"])
    for result in sorted(results, key=lambda r: r.student):
        scores = result.scores()
        writer.writerow(
            [
                result.student,
                *(f"{scores.get(name, 0.0):g}" for name in task_names),
                f"{result.score:g}",
                f"{result.max_score:g}",
                " | ".join(result.notes),
            ]
        )
    return _replace(path, table.getvalue())


def _replace(path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`compgraph.io.atomic_file`).

    Whatever a submission put at ``path``, a forged file or a named pipe
    whose opening would block, is replaced without being opened.
    """
    with atomic_file(path, "w") as stream:
        stream.write(text)
    return Path(path)
