"""Run untrusted submissions in a separate, limited process and talk JSON to it.

A :class:`Sandbox` starts ``runner.py`` with a fresh interpreter
(``python -I``) in an empty working directory that holds only a copy of the
submission, with its own session and process group, a scrubbed environment,
and kernel limits on CPU time, address space and the size of each file it
writes set before any student code runs. Requests and responses travel over
two pipes as JSON lines; the submission's own stdout and stderr go to a third
pipe that the grader drains while it waits, counting what each task prints
against the output cap. That output is shown to the student, never parsed.

Two limits on writing
---------------------
What a task prints and the scratch files it writes are limited separately.
The output cap is counted by the grader on the pipe, per task: a task that
prints more loses its process, and the next task gets a fresh one. Files
are limited by the kernel (``RLIMIT_FSIZE``), per file and for the life of
the process, so a trace that a submission appends to on every call has
room to grow while a loop that fills the disk with one file still stops.
A pipe is not a file, so the kernel's limit never cuts the printed output.

Killing the whole process tree
------------------------------
The runner refuses every way Python has of starting a process, but native
code (``ctypes``) can still fork, double-fork and ``setsid`` so that its
processes leave its process group and are re-parented away from it. We make the
grading process a *child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``,
Linux): orphans of the sandbox are then re-parented to the grader instead of
to init, so every process a submission ever started stays a descendant of
the grader, found by scanning ``/proc``, stopped and killed. We chose this
over tracking descendants through ``/proc`` alone because a double fork
breaks the parent chain before a scan can see it. Where ``prctl`` is
missing (not Linux), the process group is still killed.
"""

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Limits",
    "Sandbox",
    "SandboxError",
    "become_subreaper",
    "descendants",
    "kill_descendants",
]

RUNNER = Path(__file__).with_name("runner.py")
PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Limits:
    """Resource limits of one submission's process.

    Parameters
    ----------
    wall_seconds : float, default=10.0
        Wall-clock time a single task may take before its process is killed.
    cpu_seconds : int, default=60
        CPU time one sandbox process may use over its life (``RLIMIT_CPU``).
    memory_mb : int, default=1024
        Address space of the sandbox process (``RLIMIT_AS``).
    output_kb : int, default=256
        Kilobytes the submission may print (stdout and stderr) per task.
    import_seconds : float, default=20.0
        Wall-clock time for starting the process and importing the submission.
    file_mb : int, default=32
        Megabytes of each file the submission writes, such as scratch files
        in its folder (``RLIMIT_FSIZE``).

    Examples
    --------
    >>> Limits(wall_seconds=2).wall_seconds
    2
    """

    wall_seconds: float = 10.0
    cpu_seconds: int = 60
    memory_mb: int = 1024
    output_kb: int = 256
    import_seconds: float = 20.0
    file_mb: int = 32


class SandboxError(Exception):
    """The sandbox process died, hung, or answered with something unreadable."""


def become_subreaper() -> bool:
    """Make this process adopt orphaned descendants (Linux); report success."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _parents() -> dict[int, int]:
    """``{pid: parent pid}`` for every process visible in ``/proc``."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command name sits in parentheses and may contain spaces.
        fields = stat[stat.rindex(b")") + 2 :].split()
        parents[int(entry)] = int(fields[1])
    return parents


def descendants(root: int, spared=frozenset()) -> set[int]:
    """Every process below ``root`` in the process tree, except ``spared`` ones."""
    parents = _parents()
    children = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, stack = set(), [p for p in children.get(root, []) if p not in spared]
    while stack:
        pid = stack.pop()
        if pid not in found:
            found.add(pid)
            stack.extend(children.get(pid, []))
    return found


def kill_descendants(spared=frozenset(), rounds: int = 20) -> int:
    """Stop, then kill, every descendant of this process except ``spared``.

    Stopping first keeps a process that forks in a loop from outrunning the
    scan. Returns how many processes were killed.
    """
    if not os.path.isdir("/proc"):
        return 0
    me, killed = os.getpid(), set()
    for _ in range(rounds):
        found = descendants(me, spared) - killed
        if not found:
            break
        for pid in found:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
        killed |= found
    for pid in killed:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    _reap(killed)
    return len(killed)


def _reap(pids):
    """Collect the killed processes that are (or became) our children."""
    deadline = time.monotonic() + 2.0
    pending = set(pids)
    while pending and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                # Not our child (yet): gone, or still being re-parented to us.
                if not os.path.exists(f"/proc/{pid}"):
                    pending.discard(pid)
                continue
            if done:
                pending.discard(pid)
        if pending:
            time.sleep(0.01)


def _readable(descriptor) -> bool:
    """True when reading ``descriptor`` would not block."""
    return bool(select.select([descriptor], [], [], 0)[0])


class Sandbox:
    """One running sandbox process that holds one imported submission.

    Parameters
    ----------
    files : dict of str to bytes
        The submission's Python files by name, as the grader read them; they
        are written, in this order, into a fresh directory.
    config : dict
        What the runner preloads and blocks: ``blocked`` and ``allowed``
        module prefixes, ``preload`` module names, ``gates_base`` (a path or
        None), ``protect`` (paths the submission may not open). Whatever
        they say, the submission may not start processes, nor change files
        outside its working directory (see ``runner.py``).
    limits : Limits
        Time, memory, output and file limits.
    """

    def __init__(self, files: dict, config: dict, limits: Limits):
        self.limits = limits
        self.workdir = Path(tempfile.mkdtemp(prefix="compgraph-sandbox-"))
        os.chmod(self.workdir, 0o755)
        copies = []
        for name, source in files.items():
            target = self.workdir / Path(name).name
            target.write_bytes(source)
            copies.append(str(target))
        self._config = {
            **config,
            "files": copies,
            "workdir": str(self.workdir),
            "memory_mb": limits.memory_mb,
            "cpu_seconds": limits.cpu_seconds,
            # RLIMIT_FSIZE, per file the process writes; printing goes to a
            # pipe, which it does not cut, so it bounds the scratch files alone.
            "file_bytes": limits.file_mb * 1024 * 1024,
            "file_too_large": (
                f"a file the submission wrote reached the grader's limit of "
                f"{limits.file_mb} MB per file (printed output has its own cap, "
                f"{limits.output_kb} KB per task)"
            ),
        }
        self._spared = frozenset(descendants(os.getpid()))
        self.process = None
        self._counter = 0
        self._buffer = b""
        self._printing = None  # read end of the submission's stdout and stderr
        self._printed = bytearray()  # kept since output() last cleared it
        self._printed_in_task = 0

    def start(self) -> dict:
        """Start the process and import the submission; return its ready message."""
        child_reads, grader_writes = os.pipe()
        grader_reads, child_writes = os.pipe()
        self._printing, child_prints = os.pipe()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.workdir),
            "TMPDIR": str(self.workdir),  # the one folder the submission may write
            "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-I", str(RUNNER), str(child_reads), str(child_writes)],
            stdin=subprocess.DEVNULL,
            stdout=child_prints,
            stderr=child_prints,
            pass_fds=(child_reads, child_writes),
            cwd=self.workdir,
            env=env,
            start_new_session=True,
        )
        for descriptor in (child_reads, child_writes, child_prints):
            os.close(descriptor)
        self._out = os.fdopen(grader_writes, "w", encoding="utf-8")
        self._in = grader_reads
        self._out.write(json.dumps(self._config) + "\n")
        self._out.flush()
        self._printed_in_task = 0
        return self._receive(self.limits.import_seconds, what="importing")

    def request(self, message: dict, timeout: float | None = None) -> dict:
        """Send one request and wait for its answer, at most ``timeout`` seconds."""
        self._counter += 1
        message = {**message, "id": self._counter}
        self._printed_in_task = 0
        try:
            self._out.write(json.dumps(message) + "\n")
            self._out.flush()
        except (BrokenPipeError, OSError) as error:
            raise SandboxError(self._death("before the request", error)) from None
        timeout = self.limits.wall_seconds if timeout is None else timeout
        while True:
            answer = self._receive(timeout, what=message.get("what", "running"))
            if answer.get("id") == self._counter:
                return answer

    def output(self, limit: int = 2000) -> str:
        """What the submission printed since the last call (capped), then clear it."""
        text, self._printed = bytes(self._printed), bytearray()
        shown = text[:limit].decode("utf-8", "replace")
        return shown + (" [...]" if len(text) > limit else "")

    def _receive(self, timeout, what):
        deadline = time.monotonic() + timeout
        cap = 64 * 1024 * 1024
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.close()
                raise SandboxError(
                    f"timed out after {timeout:g} s of wall-clock time while "
                    f"{what} (an endless loop?)"
                )
            streams = [self._in]
            if self._printing is not None:
                streams.append(self._printing)
            ready, _, _ = select.select(streams, [], [], left)
            if self._printing in ready:
                self._read_printed(what)
            if self._in not in ready:
                continue
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                # What it printed before it died often says why.
                with contextlib.suppress(SandboxError):
                    self._read_printed(what)
                raise SandboxError(self._death(f"while {what}"))
            self._buffer += chunk
            if len(self._buffer) > cap:
                self.close()
                raise SandboxError("the submission's process sent more than 64 MB")
        # The runner flushes what was printed before it answers: collect it.
        self._read_printed(what)
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            answer = json.loads(line)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise SandboxError(f"unreadable answer from the submission while {what}")
        return answer

    def _read_printed(self, what):
        """Read whatever the submission has printed; past the cap, kill it."""
        cap = self.limits.output_kb * 1024
        while self._printing is not None and _readable(self._printing):
            chunk = os.read(self._printing, 1 << 16)
            if not chunk:
                # It closed its stdout and stderr, or it is gone.
                os.close(self._printing)
                self._printing = None
                return
            self._printed += chunk[: max(0, cap - len(self._printed))]
            self._printed_in_task += len(chunk)
            if self._printed_in_task > cap:
                self.close()
                raise SandboxError(
                    f"the submission printed more than the output cap of "
                    f"{self.limits.output_kb} KB per task while {what}; print "
                    "less, or write what you need to a file in your folder"
                )

    def _death(self, when, error=None):
        """Why the process is gone, in words a student understands."""
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.close()
            return f"the submission's process stopped answering {when}"
        finally:
            self.close()
        if code is not None and code < 0:
            reason = {
                signal.SIGXCPU: (
                    f"exceeded the CPU time limit of {self.limits.cpu_seconds} s"
                ),
                signal.SIGKILL: "was killed (out of memory, or by the grader)",
                signal.SIGSEGV: "crashed (segmentation fault)",
                signal.SIGXFSZ: (
                    f"wrote a file past the limit of {self.limits.file_mb} MB per file"
                ),
            }.get(-code, f"was killed by signal {signal.Signals(-code).name}")
            return f"the submission's process {reason} {when}"
        return f"the submission's process exited with code {code} {when}"

    def close(self) -> None:
        """Kill the process and everything it started; close its pipes."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait()
            with contextlib.suppress(OSError, AttributeError):
                self._out.close()
            for descriptor in (self._in, self._printing):
                with contextlib.suppress(OSError, TypeError):
                    os.close(descriptor)
            self._printing = None
            self.process = None
        kill_descendants(self._spared)

    def cleanup(self) -> None:
        """Close, then remove the working directory."""
        self.close()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
