"""MaxGate that needs a package the grader does not have."""

import numpy_extras_that_do_not_exist  # noqa: F401

from gates.base import Gate


class MaxGate(Gate):
    pass
