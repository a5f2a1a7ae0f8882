"""Comparing what a submission returned with what the reference computed.

Every function here runs in the grader's process on plain values (floats,
numpy arrays, ``None``) decoded from the sandbox's JSON answers, and returns
``None`` when the values agree or a sentence that names the index, the
expected and received values and the relative error when they do not.
"""

import numpy as np

from compgraph.gradcheck import STEP, relative_error
from compgraph.trace import format_value

__all__ = [
    "TOLERANCE",
    "describe",
    "compare",
    "compare_gradients",
    "contract_problems",
    "perturbations",
    "takes_gradient",
]

#: Worst relative error accepted between a submission and the reference.
TOLERANCE = 1e-6


def takes_gradient(value) -> bool:
    """False for an integer array (labels, indices), which gets no gradient."""
    return not (isinstance(value, np.ndarray) and value.dtype.kind != "f")


def describe(value) -> str:
    """A value as a short readable string for feedback."""
    return format_value(value, digits=6, max_items=12)


def compare(expected, received, tolerance: float = TOLERANCE) -> str | None:
    """``None`` if ``received`` matches ``expected``, else why it does not.

    NaN and infinities must sit where the reference has them.

    Examples
    --------
    >>> compare(np.array([1.0, 2.0]), np.array([1.0, 2.0])) is None
    True
    >>> compare(np.array([1.0, 2.0]), np.array([1.0, -2.0]))
    'at index (1,): expected 2, received -2 (relative error 2)'
    >>> compare(np.zeros(3), np.zeros((3, 1)))
    'shape (3, 1), expected shape (3,)'
    """
    if expected is None or received is None:
        if expected is None and received is None:
            return None
        if expected is None:
            return f"expected None (no gradient), received {describe(received)}"
        return f"received None, expected {describe(expected)}"
    want, got = np.asarray(expected, dtype=float), np.asarray(received, dtype=float)
    if want.shape != got.shape:
        return f"shape {got.shape}, expected shape {want.shape}"
    special = ~np.isfinite(want) | ~np.isfinite(got)
    same_special = (np.isnan(want) & np.isnan(got)) | (want == got)
    bad = special & ~same_special
    # NaN and infinities are judged by position above, never subtracted.
    errors = relative_error(np.where(special, 0.0, got), np.where(special, 0.0, want))
    errors = np.where(special, 0.0, errors)
    errors = np.where(bad, np.inf, errors)
    if errors.size == 0 or errors.max() <= tolerance:
        return None
    index = np.unravel_index(int(np.argmax(errors)), errors.shape)
    where = f"at index {tuple(int(i) for i in index)}: " if want.ndim else ""
    return (
        # Adding 0.0 turns -0.0 into 0.0, which reads better in feedback.
        f"{where}expected {want[index] + 0.0:.10g}, received {got[index] + 0.0:.10g} "
        f"(relative error {errors[index]:.3g})"
    )


def compare_gradients(expected, received, inputs) -> str | None:
    """Check one gradient per input (count, then each gradient's values)."""
    if len(received) != len(expected):
        return (
            f"backward returned {len(received)} gradient(s); the gate has "
            f"{len(expected)} input(s), so it must return one per input"
        )
    for port, (want, got) in enumerate(zip(expected, received)):
        problem = compare(want, got)
        if problem is not None:
            return f"gradient of input {port} ({describe(inputs[port])}): {problem}"
    return None


def contract_problems(case, grads, answer) -> list[str]:
    """What a gate's backward broke of the contract, from the sandbox's answer."""
    problems = []
    if len(grads) != len(case.inputs):
        count = len(case.inputs)
        problems.append(
            f"backward returned {len(grads)} gradient(s) for {count} input(s)"
        )
    for port, (value, grad) in enumerate(zip(case.inputs, grads)):
        integer = isinstance(value, np.ndarray) and value.dtype.kind in "iu"
        if grad is None and not integer:
            problems.append(f"gradient of float input {port} is None")
        elif grad is not None and np.shape(grad) != np.shape(value):
            problems.append(
                f"gradient of input {port} has shape {np.shape(grad)}, but the input "
                f"has shape {np.shape(value)} (sum broadcast gradients back)"
            )
    if answer.get("inputs_mutated"):
        problems.append(f"backward modified input(s) {answer['inputs_mutated']}")
    if answer.get("upstream_mutated"):
        problems.append("backward modified the upstream gradient")
    if answer.get("forward_calls"):
        problems.append(
            f"backward called forward {answer['forward_calls']} time(s) instead of "
            "using the cache"
        )
    return problems


def perturbations(inputs):
    """``(port, index, inputs + h e_i, inputs - h e_i, width)`` for float inputs.

    ``width`` is the distance between the two points as floats hold them,
    not ``2h``: next to a large value such as ``1e8`` a step of ``1e-6`` is
    rounded to a multiple of the spacing of floats there.
    """
    for port, value in enumerate(inputs):
        if isinstance(value, np.ndarray) and value.dtype.kind != "f":
            continue
        for index in np.ndindex(np.shape(value)):
            shifted, ends = [], []
            for step in (STEP, -STEP):
                moved = [np.copy(v) if isinstance(v, np.ndarray) else v for v in inputs]
                if np.ndim(value):
                    moved[port][index] += step
                    ends.append(float(moved[port][index]))
                else:
                    moved[port] = value + step
                    ends.append(moved[port])
                shifted.append(moved)
            yield port, index, *shifted, ends[0] - ends[1]
