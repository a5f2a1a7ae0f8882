"""The audit hook that refuses, inside a submission's process, what it may not do.

``runner.py`` loads this file by its path before it imports the
submission (``python -I`` puts no folder of ours on ``sys.path``, and
importing ``compgraph.grading.guard`` would load the library that the
submission may not use), so it imports only the standard library.

The hook refuses starting a process or running a program, changing files
outside the sandbox's own folder, reading the grader's files or another
process's ``/proc`` entry, and signalling another process. An audit hook
cannot be removed, and this one keeps its own references to what it calls,
so patching ``os`` or ``builtins`` does not blind it. Native code
(``ctypes``) gets past it: the kernel's limits and the process boundary
are the outer wall.
"""

import os
import stat
import sys

__all__ = ["install"]

#: Audit events that start a process or run a program (CPython's audit events
#: table). ``_posixsubprocess.fork_exec`` raises none: it is replaced instead.
SPAWNING = frozenset(
    {
        "os.exec",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.startfile",
        "os.system",
        "pty.spawn",
        "subprocess.Popen",
        "_winapi.CreateProcess",
    }
)
#: Audit events that change files, with the positions of the paths they
#: change (``open`` only when it opens for writing).
CHANGING = {
    "open": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.link": (0, 1),
    "os.mkdir": (0,),
    "os.mkfifo": (0,),
    "os.mknod": (0,),
    "os.remove": (0,),
    "os.removexattr": (0,),
    "os.rename": (0, 1),
    "os.rmdir": (0,),
    "os.setxattr": (0,),
    "os.truncate": (0,),
    "os.utime": (0,),
    "shutil.chown": (0,),
    "shutil.copyfile": (1,),
    "shutil.copymode": (1,),
    "shutil.copystat": (1,),
    "shutil.copytree": (1,),
    "shutil.move": (0, 1),
    "shutil.rmtree": (0,),
    "sqlite3.connect": (0,),
}
READING = frozenset({"open", "os.listdir", "os.readlink", "os.scandir"})
WRITING = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
#: Audit events that reach the grader's own objects (the hook among them),
#: or the network; a gate needs neither.
INTROSPECTING = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})
#: Modules whose fresh import would bring back the functions replaced here.
RELOADED = frozenset({"_posixsubprocess", "posix"})
REFUSED = "the grader does not let a submission {}"
SPAWN = "start a process or run a program ({})"


def _resolver():
    """``os.path.realpath`` from functions taken now, out of a submission's reach."""
    getcwd, lstat, readlink, is_link = os.getcwd, os.lstat, os.readlink, stat.S_ISLNK

    def resolve(path):
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        todo, done, links = path.split("/")[::-1], [], 0
        while todo:
            part = todo.pop()
            if part in ("", "."):
                continue
            if part == "..":
                done = done[:-1]
                continue
            here = "/" + "/".join([*done, part])
            try:
                link = links < 40 and is_link(lstat(here).st_mode)
                target = readlink(here) if link else None
            except OSError:
                target = None
            if target is None:
                done.append(part)
                continue
            links += 1
            if target.startswith("/"):
                done = []
            todo += target.split("/")[::-1]
        return "/" + "/".join(done)

    return resolve


def _replace_fork_exec():
    """Refuse ``_posixsubprocess.fork_exec``, which forks without an audit event.

    ``multiprocessing`` calls it directly; a fresh copy of the module is
    refused by the hook's ``import`` rule.
    """
    import _posixsubprocess
    import subprocess

    def refuse(*args, **kwargs):
        raise PermissionError(
            REFUSED.format(SPAWN.format("_posixsubprocess.fork_exec"))
        )

    _posixsubprocess.fork_exec = refuse
    subprocess._fork_exec = refuse


def _replace_unaudited(check):
    """Check the calls that make or read files but raise no audit event.

    ``os.mkfifo`` and ``os.mknod`` create files anywhere the process may
    write (a FIFO where the grader reads would hang it); ``os.readlink``
    reads ``/proc`` entries. Both ``os`` and ``posix`` hold them; ``check``
    gets the audit event they would have raised and its arguments.
    """
    import posix

    fspath = os.fspath

    def guarded(name, original):
        def call(path, *args, **kwargs):
            check(f"os.{name}", (fspath(path),))
            return original(path, *args, **kwargs)

        return call

    for name in ("mkfifo", "mknod", "readlink"):
        call = guarded(name, getattr(posix, name))
        setattr(posix, name, call)
        setattr(os, name, call)


def install(workdir, protect):
    """Install the audit hook that refuses what a submission may not do.

    It may read anything but ``protect`` (the grader's files) and other
    processes' ``/proc`` entries, and change files only inside ``workdir``.
    A relative path may not climb with ``..``, and only folders inside
    ``workdir`` may be opened, so that no ``dir_fd`` leads elsewhere;
    symbolic links are refused, so that none can be swapped under a check.
    """
    _replace_fork_exec()
    # Taken now: patching builtins, os or this module later must not change
    # what the hook sees.
    resolve, isinstance_, stat_, is_dir = _resolver(), isinstance, os.stat, stat.S_ISDIR
    home = resolve(workdir) + "/"
    roots = tuple(resolve(p) for p in protect)
    me, group = os.getpid(), os.getpgrp()
    own_proc, changing, spawning = f"/proc/{me}/", dict(CHANGING), SPAWNING
    reading, refused, spawn, writing = READING, REFUSED, SPAWN, WRITING
    introspecting, reloaded = INTROSPECTING, RELOADED
    watched = spawning | reading | frozenset(changing) | introspecting
    watched |= {"import", "os.chdir", "os.kill", "os.killpg", "os.symlink"}
    watched |= {"socket.__new__"}

    def refuse(what):
        raise PermissionError(refused.format(what))

    def named(value):
        """A path as text, or None for a file descriptor (or the working folder)."""
        if isinstance_(value, bytes):
            value = value.decode("utf-8", "surrogateescape")
        if not isinstance_(value, str):
            return None
        if not value.startswith("/") and ".." in value.split("/"):
            refuse(f"use {value!r}: a relative path may not climb with '..'")
        return value

    def check_read(event, path):
        if event == "os.readlink":  # the link itself is read, not its target
            folder, _, name = path.rstrip("/").rpartition("/")
            real = resolve(folder or ".") + "/" + name
        else:
            real = resolve(path)
        for root in roots:
            if real == root or real.startswith(root + "/"):
                refuse(f"open {path!r}")
        pid = real.split("/")[2] if real.startswith("/proc/") else ""
        if pid.isdigit() and not (real + "/").startswith(own_proc):
            refuse(f"read {path!r}, another process's /proc entry")
        if event == "open" and not (real + "/").startswith(home):
            try:
                folder = is_dir(stat_(real).st_mode)
            except OSError:
                folder = False
            if folder:
                refuse(f"open the folder {path!r}; only folders inside its own")

    def check_change(event, args):
        if event == "open" and not (isinstance_(args[2], int) and args[2] & writing):
            return
        for index in changing[event]:
            path = named(args[index])
            if path is None:
                if event in ("open", "os.truncate"):
                    continue  # a descriptor already open for writing
                refuse(f"change a file through its descriptor ({event})")
            check_inside(event, path)

    def check_inside(event, path):
        # The folder itself counts as inside: tempfile opens it to make a file.
        real = resolve(path)
        if not (real + "/").startswith(home) and real != "/dev/null":
            refuse(
                f"change {path!r} ({event}): it may write only inside its own folder"
            )

    def check_chdir(path):
        # Relative paths are checked against the working folder: it stays
        # inside, so that no thread can move it between a check and the call.
        text = named(path)
        if text is None:
            refuse("change the working folder through a descriptor (os.fchdir)")
        if not (resolve(text) + "/").startswith(home):
            refuse(f"change the working folder to {text!r}, outside its own")

    def hook(event, args):
        if event not in watched:
            return
        if event in spawning:
            refuse(spawn.format(event))
        if event == "import" and args[0] in reloaded:
            refuse(f"import a fresh copy of {args[0]}, whose functions are guarded")
        if event in introspecting:
            refuse(f"walk the interpreter's objects ({event})")
        if event == "socket.__new__":
            refuse("open a socket")
        if event == "os.chdir":
            check_chdir(args[0])
        if event == "os.kill" and args[0] not in (0, me, -me):
            refuse("signal another process (os.kill)")
        if event == "os.killpg" and args[0] not in (0, group):
            refuse("signal another process (os.killpg)")
        if event == "os.symlink":
            refuse("create symbolic links (os.symlink)")
        if event in reading:
            path = named(args[0])
            if path is not None:
                check_read(event, path)
        if event in changing:
            check_change(event, args)

    _replace_unaudited(hook)
    sys.addaudithook(hook)
