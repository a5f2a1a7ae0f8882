"""Grade one submission, or a whole class in parallel.

The grader's process holds the assignment, the references, the hidden cases
and the scores; each submission runs in a :class:`~.sandbox.Sandbox` that
receives only inputs and returns only numbers. A task whose request kills,
hangs or floods the sandbox fails with the reason, the sandbox is restarted,
and the remaining tasks are graded as usual.
"""

import concurrent.futures
import multiprocessing
import os
import secrets
import site
import stat
import sys
from pathlib import Path

import compgraph
import gates
from compgraph.grading.api import TaskFailure, load_assignment
from compgraph.grading.detect import blocked_imports, find_library_use
from compgraph.grading.report import (
    SubmissionResult,
    TaskResult,
    write_csv,
    write_json,
    write_report,
)
from compgraph.grading.sandbox import (
    Limits,
    Sandbox,
    SandboxError,
    become_subreaper,
    descendants,
    kill_descendants,
)

__all__ = [
    "grade",
    "grade_class",
    "Session",
    "submission_files",
    "is_submission",
    "read_sources",
]

#: After this many crashes of one submission's process, stop restarting it.
MAX_RESTARTS = 8
#: Source larger than this is not read (a submission is a page of code).
MAX_SOURCE_BYTES = 1_000_000
KINDS = {
    stat.S_ISDIR: "a folder",
    stat.S_ISFIFO: "a named pipe (FIFO)",
    stat.S_ISSOCK: "a socket",
    stat.S_ISCHR: "a character device",
    stat.S_ISBLK: "a block device",
}


class Session:
    """The sandbox of one submission, restarted after a task kills it.

    ``files`` maps each file's name to its source, as :func:`read_sources`
    read it: the code that runs is the code the grader analysed.
    """

    def __init__(self, files: dict, assignment, limits: Limits, protect=(), user=None):
        self.files, self.limits = files, limits
        gates_dir = Path(gates.__file__).parent
        self.config = {
            "blocked": list(assignment.blocked),
            "allowed": list(assignment.allowed),
            "preload": list(assignment.preload),
            "gates_base": (
                str(gates_dir / "base.py")
                if "gates.base" in assignment.allowed and "gates" in assignment.blocked
                else None
            ),
            "protect": [str(p) for p in (*_library_roots(), *protect)],
            "user": _user_ids(user),
        }
        self.sandbox = None
        self.fatal = None
        self.problems = {}
        self.restarts = 0
        self._printed = ""  # by a sandbox that is gone, not yet shown

    def run(self, request: dict) -> list:
        """Send a request; return its results or raise TaskFailure with the reason."""
        self._start()
        try:
            answer = self.sandbox.request(request)
        except SandboxError as error:
            self._discard()
            self.restarts += 1
            raise TaskFailure(str(error)) from None
        if "missing" in answer:
            raise TaskFailure(self._missing(str(answer["missing"])))
        if "fatal" in answer:
            raise TaskFailure(f"the sandbox failed: {answer['fatal'].get('message')}")
        results = answer.get("results")
        if not isinstance(results, list) or not all(
            isinstance(r, dict) for r in results
        ):
            raise TaskFailure("the submission's process sent an unreadable answer")
        return results

    def output(self) -> str:
        """What the submission printed during the last task."""
        printed, self._printed = self._printed, ""
        if self.sandbox is not None:
            printed += self.sandbox.output()
        return printed

    def _start(self):
        if self.fatal:
            raise TaskFailure(self.fatal)
        if self.sandbox is not None:
            return
        if self.restarts > MAX_RESTARTS:
            self.fatal = f"the submission's process crashed {self.restarts} times"
            raise TaskFailure(self.fatal)
        sandbox = Sandbox(self.files, self.config, self.limits)
        try:
            ready = sandbox.start()
        except SandboxError as error:
            self.fatal = f"importing the submission failed: {error}"
            self._printed += sandbox.output()
            sandbox.cleanup()
            raise TaskFailure(self.fatal) from None
        self.problems = ready.get("problems") or {}
        self.sandbox = sandbox

    def _missing(self, name):
        text = f"class {name} was not found in the submission"
        if self.problems:
            why = "; ".join(f"{m}: {p}" for m, p in self.problems.items())
            text += f" (importing it failed: {why})"
        return text

    def _discard(self):
        if self.sandbox is not None:
            self._printed += self.sandbox.output()
            self.sandbox.cleanup()
            self.sandbox = None

    def close(self):
        """Kill the sandbox and everything it started."""
        self._discard()


def _user_ids(user):
    """``(uid, gid)`` of the account the sandbox drops to (grader run as root)."""
    if user is None:
        return None
    import pwd

    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _library_roots():
    """Where compgraph's source lives: the whole checkout if it is one.

    A Python environment inside the checkout (a CI virtualenv) is left out:
    the submission's interpreter runs from it and reads numpy there.
    """
    package = Path(compgraph.__file__).resolve().parent
    checkout = package.parent
    if not (checkout / "pyproject.toml").exists():
        return [package, Path(gates.__file__).resolve().parent]
    environments = [
        Path(p).resolve()
        for p in (sys.prefix, sys.exec_prefix, *site.getsitepackages())
    ]
    return [
        entry
        for entry in sorted(checkout.iterdir())
        if not any(env == entry or entry in env.parents for env in environments)
    ]


def submission_files(path, assignment) -> list[Path]:
    """The Python files of a submission: the file, or a folder's ``*.py``.

    A folder's pytest files (``test_*.py``, ``*_test.py``, ``conftest.py``,
    such as the exported ``test_public_gates.py``) are tests, not the
    submission: they are neither analysed nor imported, unless the folder
    holds nothing else.
    """
    path = Path(path)
    if not path.is_dir():
        return [path]
    files = sorted(path.glob("*.py"))
    graded = [f for f in files if not _is_test_file(f)] or files
    expected = path / assignment.filename
    return sorted(graded, key=lambda p: p != expected)


def _is_test_file(path: Path) -> bool:
    name = path.name
    return (
        name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")
    )


def read_sources(files) -> tuple[dict, list]:
    """Read a submission's files, each once, before any of its code runs.

    Returns ``{file name: bytes}`` and a note for each file left out. Only
    regular files are read. Anything else under a submission's name, such
    as a named pipe that another submission made there, is left out with a
    note: it is never opened for blocking reads, so it cannot hang the
    grader.
    """
    sources, notes = {}, []
    for path in files:
        path = Path(path)
        source, why = _read_regular(path)
        if why is None:
            sources[path.name] = source
        else:
            notes.append(f"{path.name} {why}, so the grader left it out")
    return sources, notes


def _read_regular(path: Path):
    """``(bytes, None)`` for a regular file, else ``(None, why not)``."""
    try:
        # O_NONBLOCK: opening a named pipe returns at once instead of waiting
        # for a writer; what was opened is then asked what it is.
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(descriptor, "rb") as handle:
            kind = _kind(os.fstat(handle.fileno()).st_mode)
            if kind:
                return None, f"is {kind}, not a regular file"
            source = handle.read(MAX_SOURCE_BYTES + 1)
    except OSError as error:
        return None, f"could not be read ({error.strerror or error})"
    if len(source) > MAX_SOURCE_BYTES:
        return None, f"is larger than {MAX_SOURCE_BYTES:,} bytes, the most allowed"
    return source, None


def _kind(mode) -> str | None:
    """What a file that is not a regular file is, in words; None if it is one."""
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in KINDS.items() if test(mode)), "special")


def is_submission(path, assignment) -> bool:
    """A file, or a folder holding the assignment's file (``my_gates.py``)."""
    path = Path(path)
    return path.is_file() or (path / assignment.filename).is_file()


def grade(
    submission,
    assignment,
    limits: Limits | None = None,
    public: bool = False,
    seed: int | None = None,
    student: str | None = None,
    protect=(),
    sandbox_user: str | None = None,
) -> SubmissionResult:
    """Grade one submission (a file or a folder) and return its result.

    Parameters
    ----------
    submission : path
        A Python file, or a folder of them (like Gradescope's submission).
    assignment : str, path or Assignment
        A built-in name (``gates``, ``graph``, ``layers``) or a file.
    limits : Limits, optional
        Resource limits; the assignment's by default.
    public : bool, default=False
        Run only the visible tasks (what students run themselves).
    seed : int, optional
        Seed of the hidden random cases; secret and fresh by default.
    protect : sequence of path
        More paths the submission may not open (results, other students).
    sandbox_user : str, optional
        When the grader runs as root, run submissions as this user.

    Examples
    --------
    >>> result = grade("no_such_file.py", "gates", public=True)
    >>> result.score, result.notes[0][:25]
    (0.0, 'no Python file found at n')
    """
    assignment = load_assignment(assignment)
    limits = limits or assignment.limits
    seed = secrets.randbits(63) if seed is None else seed
    path = Path(submission)
    student = student or path.stem
    paths = submission_files(path, assignment) if path.exists() else []
    files, unread = read_sources(paths)
    tasks = assignment.selected(public)
    if not files:
        unread = unread or [
            f"no Python file found at {path} (expected {assignment.filename})"
        ]
        why = "; ".join(unread)
        results = [_result(t, 0.0, "error", why) for t in tasks]
        return SubmissionResult(student, assignment.name, results, unread)

    sources = {name: data.decode("utf-8", "replace") for name, data in files.items()}
    targets = {t.target: t.reference for t in tasks if t.target}
    findings = find_library_use(
        sources, targets, assignment.blocked, assignment.allowed
    )
    protect = [*protect, *(str(path.resolve()),)]
    if getattr(assignment, "source", None):
        protect.append(assignment.source)
    become_subreaper()
    # Processes the caller already had (pool workers, trackers) are not ours.
    spared = frozenset(descendants(os.getpid()))
    session = Session(files, assignment, limits, protect, sandbox_user)
    results, printed, stuck = [], [], {}
    try:
        for task in tasks:
            if task.target in stuck:
                # One endless loop per class is enough to wait for.
                why = f"not run: {task.target} timed out in {stuck[task.target]}"
                results.append(_result(task, 0.0, "failed", why))
                continue
            results.append(_run_task(task, session, findings, assignment, seed))
            if "timed out" in results[-1].output and task.target:
                stuck[task.target] = task.name
            text = session.output()
            if text:
                printed.append(f"[{task.name}] {text}")
    finally:
        session.close()
        kill_descendants(spared)
    notes = [*unread, *(f"{m}: {p}" for m, p in session.problems.items())]
    if session.fatal:
        # Importing hung or crashed: every task failed for this one reason.
        notes.append(session.fatal)
    notes += [f"{t} scored 0: it {why}" for t, why in findings.items()]
    notes += [
        f"the submission imports {name}, which the sandbox blocks"
        for name in blocked_imports(sources, assignment.blocked, assignment.allowed)
    ]
    return SubmissionResult(
        student, assignment.name, results, notes, "\n".join(printed)[:4000]
    )


def _run_task(task, session, findings, assignment, seed) -> TaskResult:
    if task.target in findings:
        why = f"Scored 0: {task.target} {findings[task.target]}."
        return _result(task, 0.0, "zero", why)
    try:
        outcome = task.run(session, assignment.task_rng(task, seed))
    except TaskFailure as failure:
        return _result(task, 0.0, "failed", str(failure))
    except (KeyError, TypeError, ValueError, IndexError, ArithmeticError) as error:
        # The answer decoded, but not into the values asked for.
        return _result(
            task, 0.0, "error", f"the submission's answer could not be read: {error!r}"
        )
    score = round(task.points * max(0.0, min(1.0, outcome.fraction)), 6)
    status = "passed" if score == task.points else "failed"
    return _result(task, score, status, outcome.output)


def _result(task, score, status, output):
    return TaskResult(task.name, score, task.points, task.visibility, status, output)


def _grade_one(args):
    submission, assignment, limits, public, seed, protect, user = args
    try:
        return grade(submission, assignment, limits, public, seed, None, protect, user)
    except Exception as error:  # noqa: BLE001  one bad submission never stops the class
        loaded = load_assignment(assignment)
        why = f"the grader failed on this submission: {error!r}"
        results = [_result(t, 0.0, "error", why) for t in loaded.selected(public)]
        return SubmissionResult(Path(submission).stem, loaded.name, results, [why])


def grade_class(
    directory,
    assignment,
    out_dir,
    jobs: int = 1,
    limits: Limits | None = None,
    public: bool = False,
    seed: int | None = None,
    progress=None,
    sandbox_user: str | None = None,
) -> list[SubmissionResult]:
    """Grade every submission in ``directory``; write reports, JSON and a CSV.

    Each ``*.py`` file or subfolder of ``directory`` (but ``out_dir``) is
    one student's submission. ``out_dir`` receives ``STUDENT.txt``,
    ``STUDENT.json`` (Gradescope format) and ``grades.csv``.
    """
    loaded = load_assignment(assignment)
    spec = assignment if isinstance(assignment, str) else loaded
    directory, out_dir = Path(directory), Path(out_dir)
    entries = sorted(
        p
        for p in directory.iterdir()
        if (p.suffix == ".py" or p.is_dir()) and p.resolve() != out_dir.resolve()
    )
    # Made before any code runs, so that nothing else can take its place.
    out_dir.mkdir(parents=True, exist_ok=True)
    seed = secrets.randbits(63) if seed is None else seed
    protect = (str(directory.resolve()), str(out_dir.resolve()))
    work = [
        (str(p), spec, limits, public, seed, protect, sandbox_user) for p in entries
    ]
    if jobs <= 1:
        results = []
        for item in work:
            results.append(_grade_one(item))
            if progress:
                progress(results[-1])
    else:
        results = _in_parallel(work, jobs, progress)
    # Written atomically: a file a submission put at one of these paths, even
    # a named pipe, is replaced, never opened.
    for result in results:
        write_report(result, out_dir / f"{result.student}.txt")
        write_json(result, out_dir / f"{result.student}.json")
    names = [t.name for t in loaded.selected(public)]
    write_csv(results, out_dir / "grades.csv", names)
    return results


def _in_parallel(work, jobs, progress):
    """Grade in ``jobs`` fresh grader processes, each a subreaper of its own."""
    context = multiprocessing.get_context("spawn")
    results = {}
    with concurrent.futures.ProcessPoolExecutor(
        jobs, mp_context=context, initializer=become_subreaper
    ) as pool:
        futures = {pool.submit(_grade_one, item): item for item in work}
        for future in concurrent.futures.as_completed(futures):
            item = futures[future]
            try:
                result = future.result()
            except Exception as error:  # noqa: BLE001
                loaded = load_assignment(item[1])
                why = f"the grader process failed: {error!r}"
                result = SubmissionResult(
                    Path(item[0]).stem,
                    loaded.name,
                    [_result(t, 0.0, "error", why) for t in loaded.selected(item[3])],
                    [why],
                )
            results[item[0]] = result
            if progress:
                progress(result)
    return [results[item[0]] for item in work]
