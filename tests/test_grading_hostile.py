"""Hostile and broken submissions: the grader finishes, scores the rest, says why.

Each fixture in tests/grading_fixtures defines a correct AddGate and
MultiplyGate and breaks MaxGate (or the whole file) in one way. They are
graded on the gates assignment's tasks of those three gates with small limits.
"""

import os
import shutil
import signal
import stat
import time
from dataclasses import replace
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


def test_memory_bomb_hits_the_memory_limit(three_gates):
    # Graded alone, with wall-clock and CPU limits far above what filling
    # the memory takes even on a loaded machine: the memory limit comes first.
    limits = replace(LIMITS, wall_seconds=60.0, cpu_seconds=120)
    result = grade(FIXTURES / "memory_bomb.py", three_gates, limits, seed=7)
    assert_others_full(result)
    for task in result.tasks:
        if task.name.startswith("MaxGate") and task.name != "MaxGate.contract":
            assert task.score == 0.0
            assert "timed out" not in task.output
            assert "MemoryError" in task.output or "out of memory" in task.output


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
    for task in result.tasks:
        if task.name.startswith("MaxGate"):
            assert task.output == (
                "the submission printed more than the output cap of 64 KB per task "
                f"while grading {task.name}; print less, or write what you need to "
                "a file in your folder"
            )
    assert "flood flood" in result.student_output
    assert len(result.student_output) <= 4000


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


def test_a_daemon_started_with_os_fork_is_refused_at_import(three_gates, tmp_path):
    marker = tmp_path / "daemon.pid"
    source = (FIXTURES / "spawns_survivor.py").read_text()
    submission = tmp_path / "my_gates.py"
    submission.write_text(source.replace("@MARKER@", str(marker)))

    result = grade(submission, three_gates, LIMITS, seed=7)

    assert_others_full(result)
    assert result.notes[0] == (
        "my_gates: PermissionError: the grader does not let a submission start "
        "a process or run a program (os.fork)"
    )
    time.sleep(0.3)
    assert not marker.exists()  # no daemon ever ran


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs Linux /proc")
def test_processes_that_outlive_the_submission_are_killed(three_gates, tmp_path):
    """Native code forks past the runner's refusals; the subreaper still
    finds the daemon after its double fork and setsid, and kills it."""
    marker = tmp_path / "daemon.pid"
    source = (FIXTURES / "spawns_survivor_natively.py").read_text()
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
    session = Session({"my_gates.py": submission.read_bytes()}, three_gates, LIMITS)
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


def test_a_backward_that_runs_the_library_in_a_child_interpreter_is_refused(
    three_gates,
):
    result = grade(FIXTURES / "library_in_a_child.py", three_gates, LIMITS, seed=7)
    assert_others_full(result)
    tasks = {t.name: t for t in result.tasks}
    assert tasks["MaxGate.forward"].score == 1.0
    for name in ("MaxGate.backward", "MaxGate.hidden", "MaxGate.gradcheck"):
        assert tasks[name].score == 0.0
        assert (
            "MaxGate.backward raised PermissionError: the grader does not let a "
            "submission start a process or run a program (subprocess.Popen)"
        ) in tasks[name].output


def test_a_shell_cannot_overwrite_a_classmate_while_the_class_is_graded(
    three_gates, tmp_path
):
    root = tmp_path / "class"
    root.mkdir()
    alice = root / "alice.py"
    shutil.copyfile(FIXTURES / "missing_class.py", alice)
    before = alice.read_text()
    source = (FIXTURES / "overwrites_a_classmate.py").read_text()
    (root / "mallory.py").write_text(source.replace("@TARGET@", str(alice)))

    results = grade_class(root, three_gates, tmp_path / "out", jobs=1, seed=7)

    assert alice.read_text() == before
    graded = {r.student: r for r in results}
    assert_others_full(graded["alice"])
    assert_others_full(graded["mallory"])
    assert graded["mallory"].notes == [
        "mallory: PermissionError: the grader does not let a submission start a "
        "process or run a program (subprocess.Popen)"
    ]


@pytest.fixture(scope="module")
def max_forward():
    """Only MaxGate.forward: one quick task per refused operation."""
    full = load_assignment("gates")
    tasks = [t for t in full.tasks if t.name == "MaxGate.forward"]
    return Assignment(
        "max", "Max forward", "my_gates.py", tasks, full.blocked, full.allowed
    )


def forward_running(code, assignment, tmp_path, **names):
    """Grade a MaxGate whose forward first runs ``code``; return the task."""
    for name, value in names.items():
        code = code.replace(name, repr(str(value)))
    source = (FIXTURES / "forward_runs.py").read_text()
    submission = tmp_path / "submission" / "my_gates.py"
    submission.parent.mkdir()
    submission.write_text(source.replace("@CODE@", code.replace("\n", "\n        ")))
    (task,) = grade(submission, assignment, LIMITS, seed=7).tasks
    return task


SPAWNS = {
    'subprocess.run(["true"])': "subprocess.Popen",
    'os.popen("true").read()': "subprocess.Popen",
    'os.system("true")': "os.system",
    'os.execv("/bin/true", ["true"])': "os.exec",
    'os.posix_spawn("/bin/true", ["true"], {})': "os.posix_spawn",
    'os.spawnv(os.P_WAIT, "/bin/true", ["true"])': "os.fork",
    "os.fork()": "os.fork",
    "os.forkpty()": "os.forkpty",
    'pty.spawn("true")': "pty.spawn",
    'multiprocessing.get_context("fork").Process(target=print).start()': "os.fork",
    'multiprocessing.get_context("spawn").Process(target=print).start()': (
        "_posixsubprocess.fork_exec"
    ),
    "_posixsubprocess.fork_exec()": "_posixsubprocess.fork_exec",
}


@pytest.mark.parametrize("code", sorted(SPAWNS))
def test_every_way_of_starting_a_process_is_refused_and_named(
    max_forward, tmp_path, code
):
    task = forward_running(code, max_forward, tmp_path)
    assert task.score == 0.0
    assert task.output.startswith(
        "MaxGate.forward raised PermissionError: the grader does not let a "
        f"submission start a process or run a program ({SPAWNS[code]})"
    )


VICTIM = "elsewhere/victim.txt"
#: Code that changes a file outside the sandbox's folder, the audit event it
#: raises, and the path it changes (under the test's folder).
CHANGES = {
    'open(VICTIM, "w")': ("open", VICTIM),
    'open(VICTIM, "a")': ("open", VICTIM),
    "os.open(VICTIM, os.O_RDWR)": ("open", VICTIM),
    "os.remove(VICTIM)": ("os.remove", VICTIM),
    'os.rename(VICTIM, "mine.txt")': ("os.rename", VICTIM),
    'open("mine.txt", "w").close()\nos.replace("mine.txt", VICTIM)': (
        "os.rename",
        VICTIM,
    ),
    "os.truncate(VICTIM, 0)": ("os.truncate", VICTIM),
    "os.chmod(VICTIM, 0o777)": ("os.chmod", VICTIM),
    "os.utime(VICTIM, (0, 0))": ("os.utime", VICTIM),
    'os.link(VICTIM, "mine.txt")': ("os.link", VICTIM),
    'os.mkdir(FOLDER + "/new")': ("os.mkdir", "elsewhere/new"),
    "shutil.rmtree(FOLDER)": ("shutil.rmtree", "elsewhere"),
    "shutil.copyfile(__file__, VICTIM)": ("shutil.copyfile", VICTIM),
    'os.mkfifo(FOLDER + "/pipe")': ("os.mkfifo", "elsewhere/pipe"),
    'os.mknod(FOLDER + "/node")': ("os.mknod", "elsewhere/node"),
    'import sqlite3\nsqlite3.connect(FOLDER + "/x.db")': (
        "sqlite3.connect",
        "elsewhere/x.db",
    ),
}


def elsewhere(tmp_path):
    """A folder outside the sandbox's, with a file that must stay intact."""
    victim = tmp_path / VICTIM
    victim.parent.mkdir()
    victim.write_text("intact")
    return {"VICTIM": victim, "FOLDER": victim.parent}


@pytest.mark.parametrize("code", sorted(CHANGES))
def test_changing_files_outside_the_own_folder_is_refused_and_named(
    max_forward, tmp_path, code
):
    names = elsewhere(tmp_path)
    mode = names["VICTIM"].stat().st_mode
    task = forward_running(code, max_forward, tmp_path, **names)
    event, changed = CHANGES[code]
    assert task.score == 0.0
    assert (
        "PermissionError: the grader does not let a submission change "
        f"{str(tmp_path / changed)!r} ({event}): it may write only inside its "
        "own folder"
    ) in task.output
    assert names["VICTIM"].read_text() == "intact"
    assert names["VICTIM"].stat().st_mode == mode


@pytest.mark.parametrize(
    ("code", "refused"),
    [
        ('os.symlink(VICTIM, "mine.txt")', "create symbolic links (os.symlink)"),
        ('open("../victim.txt", "w")', "a relative path may not climb with '..'"),
        ("os.open(FOLDER, os.O_RDONLY)", "open the folder"),
        ("os.fchmod(os.open(VICTIM, os.O_RDONLY), 0o777)", "through its descriptor"),
        ("os.kill(os.getppid(), 0)", "signal another process (os.kill)"),
        ("os.killpg(os.getpgid(os.getppid()), 0)", "signal another process"),
        (
            'open(f"/proc/{os.getppid()}/cmdline").read()',
            "cmdline', another process's /proc entry",
        ),
        ('os.listdir(f"/proc/{os.getppid()}/fd")', "another process's /proc entry"),
        ('os.readlink(f"/proc/{os.getppid()}/cwd")', "another process's /proc entry"),
        # A working folder outside would let a thread move it between the
        # check of a relative path and the call that uses it.
        ("os.chdir(FOLDER)", "change the working folder to"),
        ("os.chdir(os.fsencode(FOLDER))", "change the working folder to"),
        ("os.fchdir(0)", "change the working folder through a descriptor"),
        # The hook's own state is reachable only through the collector.
        ("import gc\ngc.get_objects()", "walk the interpreter's objects"),
        ("import gc\ngc.get_referrers(os)", "walk the interpreter's objects"),
        ("import socket\nsocket.socket()", "open a socket"),
        (
            'del sys.modules["_posixsubprocess"]\nimport _posixsubprocess',
            "import a fresh copy of _posixsubprocess",
        ),
        (
            'del sys.modules["posix"]\nimport posix',
            "import a fresh copy of posix",
        ),
    ],
)
def test_links_climbing_folders_signals_and_other_processes_are_refused(
    max_forward, tmp_path, code, refused
):
    names = elsewhere(tmp_path)
    task = forward_running(code, max_forward, tmp_path, **names)
    assert task.score == 0.0
    assert "PermissionError: the grader does not let a submission " in task.output
    assert refused in task.output
    assert names["VICTIM"].read_text() == "intact"
    assert stat.S_IMODE(names["VICTIM"].stat().st_mode) != 0o777


@pytest.mark.parametrize(
    "code",
    [
        'open("notes.txt", "w").write("x")\nos.rename("notes.txt", "kept.txt")\n'
        'os.remove("kept.txt")',
        'os.makedirs("a/b")\nopen("a/b/c", "w").close()\nshutil.rmtree("a")',
        "with tempfile.TemporaryDirectory() as folder:\n"
        '    open(os.path.join(folder, "scratch"), "w").close()',
        'open(os.devnull, "w").write("quiet")',
        # tempfile opens the folder itself to make an unnamed file in it
        'with tempfile.TemporaryFile() as f:\n    f.write(b"debug")',
        'with tempfile.NamedTemporaryFile() as f:\n    f.write(b"debug")',
        'os.mkfifo("pipe")\nos.remove("pipe")',
        'home = os.getcwd()\nos.makedirs("sub", exist_ok=True)\nos.chdir("sub")\n'
        "os.chdir(home)",
        'import sqlite3\nsqlite3.connect(":memory:").close()',
        'open("/proc/self/status").read()',
        "os.kill(os.getpid(), 0)",
        "import fractions",
    ],
)
def test_scratch_work_in_the_own_folder_is_allowed(max_forward, tmp_path, code):
    task = forward_running(code, max_forward, tmp_path)
    assert (task.score, task.output) == (1.0, "passed on 2 case(s)")


def test_a_virtualenv_inside_the_checkout_stays_readable(tmp_path, monkeypatch):
    # CI makes its virtualenv inside the checkout; protecting the whole
    # checkout refused the submission numpy's own modules.
    import types

    from compgraph.grading import grader

    checkout = tmp_path / "checkout"
    for folder in ("compgraph", "gates", "tests", ".venv-ci/lib/site-packages"):
        (checkout / folder).mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("")
    fake = types.SimpleNamespace(__file__=str(checkout / "compgraph/__init__.py"))
    monkeypatch.setattr(grader, "compgraph", fake)
    monkeypatch.setattr(grader.sys, "prefix", str(checkout / ".venv-ci"))

    roots = grader._library_roots()

    assert checkout / ".venv-ci" not in roots
    assert {checkout / n for n in ("compgraph", "gates", "tests")} <= set(roots)
    assert checkout / "pyproject.toml" in roots


def test_scratch_files_do_not_count_against_the_output_cap(three_gates):
    """A trace that grows by 1 KB on every forward call outgrows the output cap
    (1 KB here) many times over: the cap counts only what is printed."""
    limits = replace(LIMITS, output_kb=1)
    result = grade(FIXTURES / "writes_a_trace.py", three_gates, limits, seed=7)
    report = result.report()
    assert report.startswith("three: writes_a_trace\nscore 15 / 15\n\n"), report
    assert "cap" not in report


def test_a_scratch_file_past_the_file_limit_fails_naming_that_limit(
    max_forward, tmp_path
):
    source = (FIXTURES / "forward_runs.py").read_text()
    code = 'open("big.bin", "wb").write(bytes(2 * 1024 * 1024))'
    submission = tmp_path / "my_gates.py"
    submission.write_text(source.replace("@CODE@", code))
    limits = replace(LIMITS, file_mb=1)
    (task,) = grade(submission, max_forward, limits, seed=7).tasks
    assert task.score == 0.0
    assert task.output.startswith(
        "MaxGate.forward raised OSError: [Errno 27] File too large: a file the "
        "submission wrote reached the grader's limit of 1 MB per file (printed "
        "output has its own cap, 64 KB per task) (at my_gates.py:"
    )
