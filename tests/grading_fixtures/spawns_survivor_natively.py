"""Starts a daemon at import through native code (ctypes, the sandbox's
known limit: the runner refuses Python's own ways), with a double fork and
setsid, that tries to outlive grading.

The test replaces @MARKER@ with a file path; the daemon writes its pid
there with libc's calls and keeps rewriting the file while it lives.
"""

import ctypes
import os
import time

from gates.base import Gate, unbroadcast

LIBC = ctypes.CDLL(None, use_errno=True)


class AddGate(Gate):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x + y

    def backward(self, upstream):
        return unbroadcast(upstream, self.x), unbroadcast(upstream, self.y)


class MultiplyGate(Gate):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, upstream):
        dx = unbroadcast(upstream * self.y, self.x)
        return dx, unbroadcast(upstream * self.x, self.y)


def _mark():
    fd = LIBC.open(b"@MARKER@", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    text = str(os.getpid()).encode()
    LIBC.write(fd, text, len(text))
    LIBC.close(fd)


def _daemon():
    if LIBC.fork() == 0:
        LIBC.setsid()
        if LIBC.fork() == 0:
            while True:
                _mark()
                time.sleep(0.05)
        os._exit(0)


_daemon()
