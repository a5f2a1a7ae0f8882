"""Hostile and broken submissions: the grader finishes, scores the rest, says why.

Each fixture in tests/grading_fixtures defines a correct AddGate and
MultiplyGate and breaks MaxGate (or the whole file) in one way. They are
graded on the gates assignment's tasks of those three gates with small limits.
"""

import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from compgraph.grading import Assignment, Limits, grade, grade_class, load_assignment

FIXTURES = Path(__file__).parent / "grading_fixtures"
LIMITS = Limits(wall_seconds=2.0, cpu_seconds=10, memory_mb=768, output_kb=64)
THREE = ("AddGate", "MultiplyGate", "MaxGate")


@pytest.fixture(scope="module")
def three_gates():
    full = load_assignment("gates")
    tasks = [t for t in full.tasks if t.target in THREE]
    return Assignment(
        "three", "Add, Multiply, Max", "my_gates.py", tasks, full.blocked, full.allowed
    )


CLASS = [
    "syntax_error",
    "import_error",
    "missing_class.py",
    "wrong_signature.py",
    "endless_backward.py",
    "memory_bomb.py",
    "sys_exit_import.py",
    "os_exit_import.py",
    "forged_output.py",
    "monkeypatch.py",
    "reads_reference.py",
    "flood.py",
]


@pytest.fixture(scope="module")
def graded(three_gates, tmp_path_factory):
    """The hostile fixtures graded as one class, two at a time."""
    root = tmp_path_factory.mktemp("hostile")
    for name in CLASS:
        source = FIXTURES / name
        if source.is_dir():
            shutil.copytree(source, root / name)
        else:
            shutil.copyfile(source, root / name)
    started = time.monotonic()
    results = grade_class(
        root, three_gates, root / "out", jobs=2, limits=LIMITS, seed=7
    )
    elapsed = time.monotonic() - started
    return {r.student: r for r in results}, elapsed, root / "out"


def grade_fixture(name, graded):
    return graded[0][Path(name).stem]


def scores_by_gate(result):
    totals = {}
    for task in result.tasks:
        gate = task.name.split(".")[0]
        totals[gate] = totals.get(gate, 0.0) + task.score
    return totals


def max_outputs(result):
    return [t.output for t in result.tasks if t.name.startswith("MaxGate")]


def assert_others_full(result):
    assert scores_by_gate(result)["AddGate"] == 5.0
    assert scores_by_gate(result)["MultiplyGate"] == 5.0


def test_syntax_error_in_one_file_leaves_the_other_files_graded(graded):
    result = grade_fixture("syntax_error", graded)
    assert_others_full(result)
    assert scores_by_gate(result)["MaxGate"] == 0.0
    assert any("SyntaxError in max_gate.py line 8" in n for n in result.notes)
    assert all("class MaxGate was not found" in o for o in max_outputs(result))
    assert all("SyntaxError" in o for o in max_outputs(result))


def test_import_error_is_reported_with_the_missing_module(graded):
    result = grade_fixture("import_error", graded)
    assert_others_full(result)
    assert scores_by_gate(result)["MaxGate"] == 0.0
    assert any("numpy_extras_that_do_not_exist" in o for o in max_outputs(result))


def test_missing_class_is_named(graded):
    result = grade_fixture("missing_class.py", graded)
    assert_others_full(result)
    assert all(
        o == "class MaxGate was not found in the submission"
        for o in max_outputs(result)
    )


def test_wrong_signature_reports_the_type_error(graded):
    result = grade_fixture("wrong_signature.py", graded)
    assert_others_full(result)
    forward = next(t for t in result.tasks if t.name == "MaxGate.forward")
    assert forward.score == 0.0
    assert "MaxGate.forward raised TypeError" in forward.output
    assert "positional argument" in forward.output


def test_endless_backward_times_out_and_the_rest_is_graded(graded):
    result = grade_fixture("endless_backward.py", graded)
    assert_others_full(result)
    tasks = {t.name: t for t in result.tasks}
    assert tasks["MaxGate.forward"].score == 1.0
    assert "timed out after 2 s" in tasks["MaxGate.backward"].output
    assert "endless loop" in tasks["MaxGate.backward"].output
    for name in ("MaxGate.contract", "MaxGate.hidden", "MaxGate.gradcheck"):
        assert tasks[name].output == "not run: MaxGate timed out in MaxGate.backward"


def test_memory_bomb_hits_the_memory_limit(graded):
    result = grade_fixture("memory_bomb.py", graded)
    assert_others_full(result)
    forward = next(t for t in result.tasks if t.name == "MaxGate.forward")
    assert forward.score == 0.0
    assert "MemoryError" in forward.output or "out of memory" in forward.output


def test_sys_exit_at_import_keeps_what_was_defined_before(graded):
    result = grade_fixture("sys_exit_import.py", graded)
    assert_others_full(result)
    assert any("called sys.exit(0) while being imported" in n for n in result.notes)
    assert all("class MaxGate was not found" in o for o in max_outputs(result))


def test_os_exit_at_import_fails_every_task_with_the_reason(graded):
    result = grade_fixture("os_exit_import.py", graded)
    assert result.score == 0.0
    assert len(result.tasks) == 15
    for task in result.tasks:
        assert task.output == (
            "importing the submission failed: the submission's process exited "
            "with code 0 while importing"
        )


def test_forged_results_and_success_lines_are_only_shown_as_output(graded):
    result = grade_fixture("forged_output.py", graded)
    assert_others_full(result)
    assert scores_by_gate(result)["MaxGate"] == 1.0  # only the contract holds
    assert "All tests passed! Score: 50/50" in result.student_output
    forward = next(t for t in result.tasks if t.name == "MaxGate.forward")
    assert "expected 4, received 2" in forward.output


def test_monkeypatching_numpy_and_the_checker_changes_nothing(graded):
    result = grade_fixture("monkeypatch.py", graded)
    assert_others_full(result)
    assert scores_by_gate(result)["MaxGate"] == 1.0  # only the contract holds
    assert "the submission imports compgraph.gradcheck, which the sandbox blocks" in (
        result.notes
    )


def test_reading_the_reference_and_hidden_cases_is_refused(graded):
    result = grade_fixture("reads_reference.py", graded)
    assert_others_full(result)
    forward = next(t for t in result.tasks if t.name == "MaxGate.forward")
    assert "PermissionError: the grader does not let a submission open" in (
        forward.output
    )
    assert "assignments/gates.py" in forward.output


def test_output_flood_is_capped_and_named(graded):
    result = grade_fixture("flood.py", graded)
    assert_others_full(result)
    forward = next(t for t in result.tasks if t.name == "MaxGate.forward")
    assert "output exceeded the grader's cap" in forward.output
    assert len(result.student_output) <= 4000


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc")
def test_processes_that_outlive_the_submission_are_killed(three_gates, tmp_path):
    marker = tmp_path / "daemon.pid"
    source = (FIXTURES / "spawns_survivor.py").read_text()
    submission = tmp_path / "my_gates.py"
    submission.write_text(source.replace("@MARKER@", str(marker)))

    result = grade(submission, three_gates, LIMITS, seed=7)

    assert scores_by_gate(result)["AddGate"] == 5.0
    pid = int(marker.read_text())
    assert not _alive(pid)
    marker.unlink()
    time.sleep(0.3)
    assert not marker.exists()  # nothing is left to write it again


def test_the_grader_can_be_interrupted_cleanly(three_gates, tmp_path):
    """A sandbox that ignores SIGTERM is still killed when it is closed."""
    from compgraph.grading.grader import Session

    submission = tmp_path / "my_gates.py"
    shutil.copyfile(FIXTURES / "missing_class.py", submission)
    session = Session([submission], three_gates, LIMITS)
    session._start()
    pid = session.sandbox.process.pid
    os.kill(pid, signal.SIGSTOP)
    session.close()
    assert not _alive(pid)


def test_the_class_finishes_and_every_student_gets_a_row(graded):
    results, elapsed, out = graded
    assert sorted(results) == sorted(Path(n).stem for n in CLASS)
    assert elapsed < 150  # generous: the point is that it finishes
    rows = (out / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(CLASS)
    assert rows[0].startswith("student,AddGate.forward,AddGate.backward")
    missing = next(r for r in rows if r.startswith("missing_class,"))
    assert missing.split(",")[1:17] == ["1"] * 10 + ["0"] * 5 + ["10"]


def test_a_crash_in_one_task_restarts_the_process_for_the_others():
    full = load_assignment("gates")
    order = ("MaxGate", "AddGate")
    tasks = [t for gate in order for t in full.tasks if t.target == gate]
    crashing_first = Assignment(
        "two", "Max, Add", "my_gates.py", tasks, full.blocked, full.allowed
    )
    result = grade(FIXTURES / "crash_in_forward.py", crashing_first, LIMITS, seed=7)
    tasks = {t.name: t for t in result.tasks}
    assert tasks["MaxGate.forward"].output == (
        "the submission's process exited with code 3 while grading MaxGate.forward"
    )
    assert scores_by_gate(result) == {"MaxGate": 0.0, "AddGate": 5.0}


def test_a_submission_hanging_at_import_has_the_reason_in_the_csv_notes(
    three_gates, tmp_path
):
    import csv
    from dataclasses import replace

    root = tmp_path / "class"
    root.mkdir()
    shutil.copyfile(FIXTURES / "endless_import.py", root / "carol.py")
    limits = replace(LIMITS, import_seconds=1.0)
    grade_class(root, three_gates, tmp_path / "out", limits=limits, seed=7)
    with open(tmp_path / "out" / "grades.csv", newline="") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["student"] == "carol"
    assert row["total"] == "0"
    assert "importing the submission failed: timed out after 1 s" in row["notes"]
    assert "while importing" in row["notes"]
