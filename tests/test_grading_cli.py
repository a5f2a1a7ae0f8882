"""``compgraph grade`` and ``compgraph assignment export|bundle``."""

import csv
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from compgraph.cli import main

FIXTURES = Path(__file__).parent / "grading_fixtures"
SOLUTIONS = FIXTURES / "solutions"
README = Path(__file__).resolve().parents[1] / "README.md"
FAST = ["--wall", "5", "--seed", "1"]


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_grade_one_submission_prints_the_report_and_writes_results_json(tmp_path):
    out = tmp_path / "results.json"
    done = run("grade", SOLUTIONS / "my_graph.py", "-a", "graph", "--out", out, *FAST)
    assert done.exit_code == 0
    assert "score 16 / 16" in done.output
    results = json.loads(out.read_text())
    assert results["score"] == 16.0
    first = results["tests"][0]
    assert set(first) == {
        "name",
        "score",
        "max_score",
        "status",
        "output",
        "visibility",
    }
    visibility = {t["name"]: t["visibility"] for t in results["tests"]}
    assert visibility["graph.fan_out"] == "visible"
    assert visibility["graph.deep"] == "after_due_date"


def test_public_runs_only_the_visible_tasks(tmp_path):
    out = tmp_path / "results.json"
    done = run(
        "grade", SOLUTIONS / "my_gates.py", "-a", "gates", "--public", "--out", out
    )
    assert done.exit_code == 0
    names = [t["name"] for t in json.loads(out.read_text())["tests"]]
    assert len(names) == 30
    assert not any(n.endswith((".hidden", ".gradcheck")) for n in names)


def test_feedback_names_task_input_expected_received_and_errors(tmp_path):
    source = (SOLUTIONS / "my_gates.py").read_text()
    submission = tmp_path / "my_gates.py"
    submission.write_text(source.replace("return x * y", "return x * y + 1"))
    out = tmp_path / "results.json"
    done = run("grade", submission, "-a", "gates", "--public", "--out", out)
    assert (
        "FAIL MultiplyGate.forward     0/1\n"
        "       forward on case lecture with inputs (-2, 5): expected -10, received "
        "-9 (relative error 0.1)"
    ) in done.output


def test_unknown_assignment_is_a_clear_usage_error():
    done = CliRunner().invoke(main, ["grade", str(SOLUTIONS), "-a", "nope"])
    assert done.exit_code == 2
    assert "no assignment 'nope': give a built-in name (gates, graph, layers)" in (
        done.output
    )


def test_a_class_folder_gives_a_csv_row_per_student(tmp_path):
    roster = tmp_path / "class"
    roster.mkdir()
    shutil.copyfile(SOLUTIONS / "my_graph.py", roster / "ada.py")
    (roster / "bob").mkdir()
    shutil.copyfile(FIXTURES / "os_exit_import.py", roster / "bob" / "my_graph.py")
    (roster / "cyd.py").write_text("this is not python(\n")
    out = tmp_path / "grades"
    done = run("grade", roster, "-a", "graph", "--jobs", "2", "--out", out, *FAST)
    assert done.exit_code == 0
    assert "graded 3 submissions" in done.output
    with open(out / "grades.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["ada"]["total"] == "16"
    assert rows["bob"]["total"] == "0" and rows["cyd"]["total"] == "0"
    assert rows["ada"]["graph.deep"] == "2"
    assert "SyntaxError in cyd.py line 1" in (out / "cyd.txt").read_text()
    assert json.loads((out / "ada.json").read_text())["score"] == 16.0


def test_export_writes_the_skeleton_and_public_tests_only(tmp_path):
    done = run("assignment", "export", "gates", tmp_path / "hw")
    assert done.exit_code == 0
    skeleton = (tmp_path / "hw" / "my_gates.py").read_text()
    assert 'raise NotImplementedError("MaxGate.backward: implement me' in skeleton
    assert "def forward(self, x, y):" in skeleton
    assert sorted(p.name for p in (tmp_path / "hw").iterdir()) == [
        "my_gates.py",
        "test_public_gates.py",
    ]
    tests = (tmp_path / "hw" / "test_public_gates.py").read_text()
    assert "MaxGate.forward" in tests and "MaxGate.hidden" not in tests
    again = CliRunner().invoke(
        main, ["assignment", "export", "gates", str(tmp_path / "hw")]
    )
    assert again.exit_code != 0  # never overwrites a student's file


def test_exported_public_tests_pass_from_any_folder(tmp_path):
    run("assignment", "export", "gates", tmp_path / "hw")
    shutil.copy(SOLUTIONS / "my_gates.py", tmp_path / "hw" / "my_gates.py")

    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "hw/test_public_gates.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout[-2000:]
    assert "30 passed" in done.stdout


def test_export_makes_a_skeleton_for_the_readme_assignment_file(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    (week2,) = [b for b in blocks if '"week2"' in b]
    (tmp_path / "week2.py").write_text(week2)
    done = run("assignment", "export", tmp_path / "week2.py", tmp_path / "hw2")
    assert done.exit_code == 0, done.output
    skeleton = (tmp_path / "hw2" / "my_week2.py").read_text()
    assert "class SquareGate(Gate):" in skeleton
    assert "class MaxGate(Gate):" in skeleton
    assert "At a tie x == y both brackets are 0" in skeleton
    assert "compgraph grade my_week2.py --assignment week2.py --public" in skeleton
    tests = (tmp_path / "hw2" / "test_public_week2.py").read_text()
    assert "'SquareGate.forward'" in tests and "MaxGate.hidden" not in tests
    out = tmp_path / "results.json"
    skeleton_path = tmp_path / "hw2" / "my_week2.py"
    run("grade", skeleton_path, "-a", tmp_path / "week2.py", "--public", "--out", out)
    outputs = {t["name"]: t["output"] for t in json.loads(out.read_text())["tests"]}
    assert sorted(outputs) == [
        "MaxGate.backward",
        "MaxGate.contract",
        "MaxGate.forward",
        "SquareGate.forward",
    ]
    assert outputs["SquareGate.forward"] == (
        "SquareGate.forward raised NotImplementedError: SquareGate.forward: "
        "implement me (tasks SquareGate.*) (at my_week2.py:21 in forward: raise "
        'NotImplementedError("SquareGate.forward: implement me (tasks '
        'SquareGate.*)"))'
    )


def test_export_without_a_skeleton_it_can_make_says_what_to_give(tmp_path):
    (tmp_path / "custom.py").write_text(
        "from compgraph.grading import Assignment, Task\n"
        'ASSIGNMENT = Assignment("custom", "Custom", "my_custom.py", '
        '[Task("speed", target="Fast")])\n'
    )
    done = CliRunner().invoke(
        main, ["assignment", "export", str(tmp_path / "custom.py"), str(tmp_path)]
    )
    assert done.exit_code == 1
    assert done.output == (
        "Error: assignment 'custom' gives no skeleton, and one is made only from "
        "GateTask tasks, not from Task (speed); give the source of the "
        "my_custom.py that students start from as Assignment(..., "
        "skeleton=SOURCE)\n"
    )
    assert not (tmp_path / "my_custom.py").exists()


def test_the_exported_skeleton_grades_to_zero_with_named_tasks(tmp_path):
    run("assignment", "export", "graph", tmp_path)
    out = tmp_path / "results.json"
    run("grade", tmp_path / "my_graph.py", "-a", "graph", "--public", "--out", out)
    outputs = [t["output"] for t in json.loads(out.read_text())["tests"]]
    assert all("NotImplementedError: Graph.forward: implement me" in o for o in outputs)


def test_bundle_has_setup_run_autograder_assignment_and_a_wheel(tmp_path):
    target = tmp_path / "autograder.zip"
    done = run("assignment", "bundle", "gates", "--out", target)
    assert done.exit_code == 0
    with zipfile.ZipFile(target) as archive:
        names = sorted(archive.namelist())
        setup = archive.read("setup.sh").decode()
        mode = archive.getinfo("run_autograder").external_attr >> 16
    wheel = [n for n in names if n.endswith(".whl")]
    assert names == sorted(["assignment.py", "run_autograder", "setup.sh", *wheel])
    assert len(wheel) == 1 and wheel[0].startswith("compgraph-")
    assert f"pip install --quiet ./{wheel[0]}" in setup
    assert mode & stat.S_IXUSR


@pytest.mark.skipif(shutil.which("compgraph") is None, reason="needs the CLI")
def test_run_autograder_grades_a_gradescope_layout_like_locally(tmp_path):
    target = tmp_path / "autograder.zip"
    run("assignment", "bundle", "graph", "--install", "source", "--out", target)
    source = tmp_path / "root" / "source"
    with zipfile.ZipFile(target) as archive:
        archive.extractall(source)
    assert (source / "compgraph-src" / "pyproject.toml").exists()
    submission = tmp_path / "root" / "submission"
    submission.mkdir()
    # Named otherwise than the skeleton: still one submission, not a class.
    shutil.copyfile(SOLUTIONS / "my_graph.py", submission / "graph_homework.py")
    env = {**os.environ, "AUTOGRADER_ROOT": str(tmp_path / "root")}
    done = subprocess.run(
        ["bash", str(source / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "root" / "results" / "results.json").read_text())
    assert results["score"] == 16.0
    assert len(results["tests"]) == 8


@pytest.mark.skipif(shutil.which("compgraph") is None, reason="needs the CLI")
def test_a_submission_cannot_overwrite_the_results_file(tmp_path):
    """Through a real `compgraph grade` process: the submission reads --out from
    the grader's command line, writes a forged file and leaves a daemon that
    keeps rewriting it; the grader kills the daemon and writes the real one."""
    submission = tmp_path / "my_gates.py"
    shutil.copyfile(FIXTURES / "overwrites_results.py", submission)
    out = tmp_path / "results.json"
    command = ["compgraph", "grade", str(submission), "-a", "gates", "--public"]
    done = subprocess.run(
        [*command, "--out", str(out), "--wall", "5"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    first = json.loads(out.read_text())
    time.sleep(0.5)  # a surviving daemon would have rewritten it by now
    assert json.loads(out.read_text()) == first
    assert first["score"] == 6.0  # the visible tasks of AddGate and MultiplyGate
    assert "score 6 / 30" in done.stdout


def test_bundle_falls_back_to_an_isolated_build_without_the_wheel_package(
    tmp_path, monkeypatch
):
    # A fresh venv (setuptools 65.5, no wheel package) fails the quick build
    # exactly so; the bundle must then build with pip's build isolation.
    from compgraph.grading import bundle

    real_run = subprocess.run
    commands = []

    def fresh_venv_run(command, **kwargs):
        commands.append(command)
        if "--no-build-isolation" in command:
            return subprocess.CompletedProcess(
                command, 1, "", "error: invalid command 'bdist_wheel'\n"
            )
        return real_run(command, **kwargs)

    monkeypatch.setattr(bundle.subprocess, "run", fresh_venv_run)
    target = tmp_path / "autograder.zip"
    done = run("assignment", "bundle", "gates", "--out", target)
    assert done.exit_code == 0, done.output
    assert [("--no-build-isolation" in c) for c in commands] == [True, False]
    with zipfile.ZipFile(target) as archive:
        assert any(n.endswith(".whl") for n in archive.namelist())


def test_a_failed_wheel_build_is_a_one_line_error_naming_both_attempts(
    tmp_path, monkeypatch
):
    from compgraph.grading import bundle

    def failing_run(command, **kwargs):
        why = "no backend" if "--no-build-isolation" not in command else "bdist_wheel"
        return subprocess.CompletedProcess(command, 1, "", f"line\nerror: {why}\n")

    monkeypatch.setattr(bundle.subprocess, "run", failing_run)
    done = run("assignment", "bundle", "gates", "--out", tmp_path / "a.zip")
    assert done.exit_code != 0
    lines = done.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: building the compgraph")
    assert "error: bdist_wheel" in lines[0] and "error: no backend" in lines[0]
    assert not (tmp_path / "a.zip").exists()


@pytest.mark.parametrize("install", ["wheel", "source"])
def test_bundle_without_the_source_tree_is_a_one_line_error(
    tmp_path, monkeypatch, install
):
    # As after a plain `pip install .`: no pyproject.toml next to the package.
    from compgraph.grading import bundle

    monkeypatch.setattr(bundle, "_source_root", lambda: None)
    done = CliRunner().invoke(
        main,
        ["assignment", "bundle", "gates", "--install", install, "--out", "x.zip"],
    )
    assert done.exit_code == 1
    assert done.exception is None or isinstance(done.exception, SystemExit)
    lines = done.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: --install {install} needs compgraph's source")
    assert "pip install -e" in lines[0]


def test_bundle_from_pypi_warns_that_the_pinned_version_must_be_published(tmp_path):
    target = tmp_path / "p.zip"
    done = run("assignment", "bundle", "gates", "--install", "pypi", "--out", target)
    assert done.exit_code == 0
    with zipfile.ZipFile(target) as archive:
        setup = archive.read("setup.sh").decode()
    import compgraph

    pin = f"compgraph=={compgraph.__version__}"
    assert f"pip install --quiet {pin}" in setup
    assert f"warning: setup.sh installs {pin} from PyPI" in done.output
    assert "must be published" in done.output


def test_export_into_a_folder_with_a_skeleton_is_a_one_line_error(tmp_path):
    assert run("assignment", "export", "gates", tmp_path).exit_code == 0
    done = CliRunner().invoke(main, ["assignment", "export", "gates", str(tmp_path)])
    assert done.exit_code == 1
    assert done.output.startswith("Error: ") and "exists" in done.output
    assert len(done.output.strip().splitlines()) == 1


@pytest.mark.parametrize("name", ["gates", "graph", "layers"])
def test_grading_an_exported_folder_ignores_its_public_test_file(tmp_path, name):
    folder = tmp_path / "hw1"
    assert run("assignment", "export", name, folder).exit_code == 0
    out = tmp_path / "results.json"
    done = run("grade", folder, "--assignment", name, "--public", "--out", out)
    assert done.exit_code == 0
    assert "note:" not in done.output
    assert "sandbox blocks" not in done.output
    assert json.loads(out.read_text())["score"] == 0


def test_a_folder_of_only_test_files_is_still_graded(tmp_path):
    folder = tmp_path / "sub"
    folder.mkdir()
    shutil.copyfile(SOLUTIONS / "my_graph.py", folder / "test_graph.py")
    out = tmp_path / "results.json"
    done = run("grade", folder, "-a", "graph", "--single", "--out", out, *FAST)
    assert done.exit_code == 0
    assert "score 16 / 16" in done.output


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipes_planted_for_classmates_cannot_hang_the_class_run(tmp_path):
    """A submission can make named pipes (os.mkfifo) where the grader reads a
    classmate's files and writes his reports; opening one waits for ever for
    the other end. Planted here by the test, before the run: the run still
    finishes, grades everyone, and names the pipes it left out."""
    roster, out = tmp_path / "class", tmp_path / "out"
    (roster / "bob").mkdir(parents=True)
    out.mkdir()
    for student in ("ada.py", "bob/my_gates.py", "cyd.py"):
        shutil.copyfile(SOLUTIONS / "my_gates.py", roster / student)
    planted = ["bob/zz_helpers.py", "zed.py"], ["bob.txt", "bob.json", "grades.csv"]
    for pipe in [roster / p for p in planted[0]] + [out / p for p in planted[1]]:
        os.mkfifo(pipe)
    command = [sys.executable, "-c", "from compgraph.cli import main; main()"]
    command += ["grade", roster, "-a", "gates", "--public", "--jobs", "2"]
    grading = subprocess.Popen(
        [str(c) for c in [*command, "--out", out, *FAST]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = grading.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(grading.pid, signal.SIGKILL)
        grading.communicate()
        pytest.fail("the class run hung on a named pipe")

    assert grading.returncode == 0, stderr
    assert "graded 4 submissions" in stdout
    with open(out / "grades.csv") as handle:
        rows = {row["student"]: row for row in csv.DictReader(handle)}
    assert rows["ada"]["total"] == rows["bob"]["total"] == rows["cyd"]["total"] == "30"
    assert rows["bob"]["notes"] == (
        "zz_helpers.py is a named pipe (FIFO), not a regular file, so the grader "
        "left it out"
    )
    assert rows["zed"]["total"] == "0"
    assert rows["zed"]["notes"] == (
        "zed.py is a named pipe (FIFO), not a regular file, so the grader left it out"
    )
    assert "note: zz_helpers.py is a named pipe (FIFO)" in (out / "bob.txt").read_text()
    assert json.loads((out / "bob.json").read_text())["score"] == 30.0
    assert all(stat.S_ISREG((out / p).stat().st_mode) for p in planted[1])
