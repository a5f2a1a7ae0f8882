"""Tries to start a daemon at import (double fork, setsid) that would outlive
grading; the sandbox refuses the first fork.

The test replaces @MARKER@ with a file path; the daemon would write its pid
there and keep touching the file while it lives.
"""

import os
import time

from gates.base import Gate, unbroadcast


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


def _daemon():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            while True:
                with open("@MARKER@", "w") as handle:
                    handle.write(str(os.getpid()))
                time.sleep(0.05)
        os._exit(0)


_daemon()
