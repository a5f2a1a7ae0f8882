"""MaxGate.forward first runs the code a test puts in place of @CODE@ (one
thing the sandbox refuses, or allows), then returns the maximum."""

import _posixsubprocess
import multiprocessing
import os
import pty
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from gates.base import Gate


class MaxGate(Gate):
    def forward(self, x, y):
        @CODE@
        self.x, self.y = x, y
        return np.maximum(x, y)

    def backward(self, upstream):
        return upstream, upstream
