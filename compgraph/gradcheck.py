"""Gradient checks: numerical gradients, reports, and explicit Jacobians.

Numerical gradients are centered differences in float64,
``(f(x + h) - f(x - h)) / 2h``, one input element at a time. The analytic
gradient passes when its worst relative error is below ``1e-7``, fails above
``1e-4``, and is *doubtful* in between. Two cases are flagged rather than
judged: a *vacuous* check, where both gradients are nearly zero and agreeing
proves little, and a step that crosses a *kink* (relu, max, abs), where the
one-sided slopes differ and no finite difference is reliable.

"Nearly zero" is measured against what a centered difference can resolve.
Rounding leaves an error of about ``eps * S / h`` in each numerical
gradient, where ``S`` is the size of the function's terms (``sum |u * f|``
for upstream ``u``); a component smaller than ``NOISE_MARGIN`` times that
noise is judged by its absolute difference against that floor, so rounding
alone never fails a check, while a mistake larger than the floor still does.
"""

import warnings
from dataclasses import dataclass, field

import numpy as np

from compgraph.errors import GateContractError, GradientCheckError
from gates.base import shape_of

__all__ = [
    "PASS",
    "FAIL",
    "numerical_gradient",
    "relative_error",
    "noise_floor",
    "check_gate",
    "check_graph",
    "first_failure",
    "jacobian",
    "graph_jacobian",
    "InputCheck",
    "GradientReport",
]

PASS, FAIL = 1e-7, 1e-4
STEP = 1e-6
# The smallest floor: below it a gradient counts as zero whatever the scale.
ZERO = 1e-8
# How far above the rounding noise a component must be to be judged relatively;
# noise / floor is then 1e-5, between PASS and FAIL: never a failure by itself.
NOISE_MARGIN = 1e5


def relative_error(analytic, numeric, floor: float = ZERO):
    """Elementwise ``|a - n| / max(|a|, |n|, floor)``: relative, but not near 0.

    >>> float(relative_error(2.0, 1.0))
    0.5
    >>> float(relative_error(0.0, 1e-12)) < 1e-3  # against the floor, not 1e-12
    True
    """
    a, n = np.asarray(analytic, dtype=float), np.asarray(numeric, dtype=float)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)
    return np.abs(a - n) / scale


def noise_floor(terms, h: float = STEP) -> float:
    """Smallest gradient a centered difference resolves for a function of ``terms``.

    ``terms`` are the summands of the checked function (upstream times
    output); rounding them leaves about ``eps * sum |terms| / h`` in each
    numerical gradient.

    >>> round(noise_floor(np.array([3000.0, -1e-3])), 3)
    0.067
    """
    size = float(np.sum(np.abs(np.asarray(terms, dtype=float))))
    return max(ZERO, NOISE_MARGIN * float(np.finfo(float).eps) * size / h)


def numerical_gradient(f, x, h: float = STEP):
    """Centered-difference gradient of the scalar function ``f`` at array ``x``.

    Returns ``(gradient, kinks)``: ``kinks`` marks the elements whose
    one-sided slopes disagree, where the step crossed a corner of ``f``.

    >>> square = lambda v: float(np.sum(v**2))
    >>> grad, kinks = numerical_gradient(square, np.array([1.0, -2.0]))
    >>> np.round(grad, 6)
    array([ 2., -4.])
    """
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    kinks = np.zeros(x.shape, dtype=bool)
    center = f(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus = f(x)
        x[index] = original - h
        minus = f(x)
        x[index] = original
        grad[index] = (plus - minus) / (2 * h)
        right, left = (plus - center) / h, (center - minus) / h
        kinks[index] = abs(right - left) > 1e-3 * (1 + abs(right) + abs(left))
    return grad, kinks


@dataclass
class InputCheck:
    """How one input's analytic gradient compares with the numerical one."""

    name: str
    analytic: np.ndarray
    numeric: np.ndarray
    kinks: np.ndarray
    floor: float = ZERO
    errors: np.ndarray = field(init=False)

    def __post_init__(self):
        self.errors = relative_error(self.analytic, self.numeric, self.floor)

    @property
    def worst_index(self) -> tuple:
        """Index of the element with the largest relative error."""
        return np.unravel_index(int(np.argmax(self.errors)), self.errors.shape)

    @property
    def worst_error(self) -> float:
        """The largest relative error over the input's elements."""
        return float(self.errors.max()) if self.errors.size else 0.0

    @property
    def verdict(self) -> str:
        """``pass``, ``doubtful``, ``fail``, ``kink`` or ``vacuous``."""
        if self.errors.size == 0:
            return "vacuous"
        bad = self.errors > FAIL
        if bad.any() and self.kinks[bad].all():
            return "kink"
        if bad.any():
            return "fail"
        if max(np.abs(self.analytic).max(), np.abs(self.numeric).max()) < self.floor:
            return "vacuous"
        return "pass" if self.worst_error < PASS else "doubtful"

    @property
    def passed(self) -> bool:
        """True unless the verdict is ``fail``."""
        return self.verdict != "fail"

    def row(self) -> list[str]:
        """This input as cells of a report table."""
        if self.errors.size == 0:
            return [self.name, "-", "-", "-", "-", self.verdict]
        i = self.worst_index
        index = str(tuple(int(k) for k in i)) if i else "()"
        return [
            self.name,
            index,
            f"{self.analytic[i]:.10g}",
            f"{self.numeric[i]:.10g}",
            f"{self.worst_error:.2e}",
            self.verdict,
        ]


class GradientReport:
    """The result of a gradient check: one :class:`InputCheck` per input."""

    def __init__(self, subject: str, checks: list[InputCheck]):
        self.subject = subject
        self.checks = checks

    @property
    def passed(self) -> bool:
        """True when no input's check failed."""
        return all(check.passed for check in self.checks)

    def __getitem__(self, name: str) -> InputCheck:
        return next(c for c in self.checks if c.name == name)

    def raise_if_failed(self) -> "GradientReport":
        """Raise :class:`GradientCheckError` with the table if any input failed."""
        if not self.passed:
            raise GradientCheckError(f"gradient check failed\n{self}")
        return self

    def warn_if_unreliable(self, stacklevel: int = 2) -> None:
        """Warn about vacuous checks and steps that crossed a kink."""
        for check in self.checks:
            if check.verdict == "vacuous":
                warnings.warn(
                    f"{self.subject}: the check of {check.name!r} is vacuous: both "
                    "gradients are nearly zero; try other input values",
                    stacklevel=stacklevel,
                )
            elif check.kinks.any():
                warnings.warn(
                    f"{self.subject}: a finite-difference step for {check.name!r} "
                    "crossed a kink; move the input away from the corner",
                    stacklevel=stacklevel,
                )

    def __str__(self):
        header = [
            "input",
            "worst index",
            "analytic",
            "numeric",
            "rel. error",
            "verdict",
        ]
        rows = [header] + [check.row() for check in self.checks]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = [self.subject]
        lines += [
            "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows
        ]
        return "\n".join(lines)

    def __repr__(self):
        verdicts = ", ".join(f"{c.name}: {c.verdict}" for c in self.checks)
        return f"<GradientReport {self.subject}: {verdicts}>"


def check_gate(gate, *inputs, upstream=None, seed: int = 0, h: float = STEP):
    """Check ``gate.backward`` against centered differences of ``gate.forward``.

    Float inputs are checked in float64; integer inputs (labels, indices)
    are held fixed and not checked (a finite difference cannot step them).
    The upstream gradient is drawn at random (not all ones, which hides
    many mistakes) unless given.

    Examples
    --------
    >>> from gates import SigmoidGate
    >>> report = check_gate(SigmoidGate(), np.array([-2.0, 0.5, 3.0]))
    >>> report.passed, report["x0"].verdict
    (True, 'pass')
    """
    values = [_float64(v) for v in inputs]
    originals = [np.copy(v) for v in values]
    output = gate.forward(*values)
    if upstream is None:
        upstream = _random_like(output, seed)
    sent = np.copy(upstream)
    analytic = gate.backward(upstream)
    _check_unchanged(gate, values, originals, upstream, sent)
    _check_contract(gate, values, analytic)

    checks = []
    for port, value in enumerate(values):
        if not _differentiable(value):
            continue

        def f(x, port=port):
            args = list(values)
            args[port] = x if isinstance(values[port], np.ndarray) else float(x)
            return float(np.sum(upstream * np.asarray(gate.forward(*args))))

        numeric, kinks = numerical_gradient(f, value, h)
        got = np.asarray(analytic[port], dtype=float)
        floor = noise_floor(upstream * np.asarray(output, dtype=float), h)
        checks.append(InputCheck(f"x{port}", got, numeric, kinks, floor))
    gate.forward(*values)  # leave the cache as the analytic pass saw it
    return GradientReport(f"{type(gate).__name__}", checks)


def check_graph(
    graph, feed=None, /, upstream=None, seed: int = 0, h: float = STEP, **inputs
):
    """Check every gate of ``graph`` in place, then the whole graph end to end.

    Returns ``(gate_reports, report)``: a dict of per-gate reports, in
    topological order, and the end-to-end report over inputs and parameters.
    A failure names the first wrong gate. Inputs are fed by keyword, or as a
    dict ``feed`` when an input is named ``upstream``, ``seed`` or ``h``.
    """
    inputs = {**(feed or {}), **inputs}
    output = graph.forward(**inputs)
    if upstream is None and np.ndim(output) != 0:
        upstream = _random_like(output, seed)
    records = list(graph.backward_steps(upstream))
    gate_reports = {}
    for record in reversed(records):
        gate_input_values = [graph.value(s) for s in record.inputs]
        report = check_gate(
            record.gate, *gate_input_values, upstream=record.upstream, h=h
        )
        report.subject = f"gate {record.node!r} ({type(record.gate).__name__})"
        gate_reports[record.node] = report

    end_to_end = GradientReport("graph", _check_leaves(graph, upstream, h, inputs))
    graph.forward(**inputs)
    graph.backward(upstream)
    return gate_reports, end_to_end


def first_failure(gate_reports) -> str | None:
    """Name of the first gate, in topological order, whose check failed.

    Takes the per-gate reports, or the whole result of :func:`check_graph`.
    """
    if isinstance(gate_reports, tuple):
        gate_reports = gate_reports[0]
    return next((node for node, r in gate_reports.items() if not r.passed), None)


def jacobian(gate, *inputs, wrt: int = 0, h: float = STEP):
    """Analytic and numerical Jacobians of a gate's output w.r.t. one input.

    Both have shape ``(output.size, input.size)``; the analytic one takes one
    backward pass per output element, with a one-hot upstream gradient. The
    Jacobian of an elementwise gate is diagonal.

    >>> from gates import ReLUGate
    >>> analytic, numeric = jacobian(ReLUGate(), np.array([-1.0, 2.0, 3.0]))
    >>> analytic
    array([[0., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    """
    values = [_float64(v) for v in inputs]
    output = np.asarray(gate.forward(*values))

    def row(upstream):
        return gate.backward(1.0 if upstream is None else upstream)[wrt]

    def run(x):
        return gate.forward(*values[:wrt], x, *values[wrt + 1 :])

    analytic = _analytic_jacobian(row, output, np.size(values[wrt]))
    numeric = _numerical_jacobian(run, values[wrt], h)
    gate.forward(*values)
    return analytic, numeric


def graph_jacobian(graph, wrt: str, h: float = STEP, **inputs):
    """Analytic and numerical Jacobians of a small graph's output w.r.t. ``wrt``."""
    output = np.asarray(graph.forward(**inputs))
    value = graph.value(wrt)

    def row(upstream):
        graph.forward(**inputs)
        graph.backward(upstream)
        return graph.grad(wrt)

    analytic = _analytic_jacobian(row, output, np.size(value))
    numeric = _numerical_jacobian(lambda x: _run_with(graph, wrt, x, inputs), value, h)
    _run_with(graph, wrt, value, inputs)
    return analytic, numeric


def _analytic_jacobian(row, output, size_in):
    """Row ``k`` is ``row(e_k)``: the gradient for a one-hot upstream at ``k``.

    ``row`` gets ``None`` for a scalar output (the engine's seed of 1).
    """
    analytic = np.zeros((output.size, size_in))
    for k in range(output.size):
        onehot = np.zeros(output.size)
        onehot[k] = 1.0
        analytic[k] = np.ravel(
            row(onehot.reshape(output.shape) if output.ndim else None)
        )
    return analytic


def _numerical_jacobian(run, value, h):
    """Column ``k`` is the centered difference of ``run`` along element ``k``."""
    x = np.array(value, dtype=float)
    columns = []
    for index in np.ndindex(x.shape):
        original = x[index]
        ends = []
        for step in (h, -h):
            x[index] = original + step
            ends.append(np.ravel(run(x.copy() if x.ndim else float(x))))
        x[index] = original
        columns.append((ends[0] - ends[1]) / (2 * h))
    return np.stack(columns, axis=1)


def _check_leaves(graph, upstream, h, inputs):
    weights = 1.0 if upstream is None else upstream
    output = graph.value(graph.output().name)
    floor = noise_floor(weights * np.asarray(output, dtype=float), h)
    checks = []
    for name, grad in graph.backward(upstream).items():
        value = graph.value(name)
        if not _differentiable(value):
            continue

        def f(x, name=name):
            out = _run_with(graph, name, x, inputs)
            return float(np.sum(weights * np.asarray(out)))

        numeric, kinks = numerical_gradient(f, value, h)
        _run_with(graph, name, value, inputs)
        grad = np.asarray(grad, dtype=float)
        checks.append(InputCheck(name, grad, numeric, kinks, floor))
    return checks


def _run_with(graph, name, x, inputs):
    """Forward with node ``name`` (an input or a parameter) set to ``x``."""
    x = x.copy() if np.ndim(x) else float(x)
    if graph.kind(name) == "input":
        return graph.forward(**{**inputs, name: x})
    graph.set_value(name, x)
    return graph.forward(**inputs)


def _check_unchanged(gate, values, originals, upstream, sent):
    """A gate that writes into its inputs corrupts its caller's arrays."""
    name = type(gate).__name__
    for port, (value, original) in enumerate(zip(values, originals)):
        if not np.array_equal(value, original, equal_nan=_differentiable(value)):
            raise GateContractError(
                f"{name} changed its input {port} in place; a gate must leave its "
                "inputs as they came in: compute new arrays (y = x * 2, not x *= 2)"
            )
    if not np.array_equal(upstream, sent, equal_nan=True):
        raise GateContractError(
            f"{name}.backward changed the upstream gradient in place; compute a new "
            "array (grad = upstream * 2, not upstream *= 2)"
        )


def _check_contract(gate, values, grads):
    name = type(gate).__name__
    if not isinstance(grads, (tuple, list)) or len(grads) != len(values):
        raise GateContractError(
            f"{name}.backward must return a tuple of {len(values)} gradients, "
            f"one per input; it returned {type(grads).__name__}"
        )
    for port, (value, grad) in enumerate(zip(values, grads)):
        if grad is not None and shape_of(grad) != shape_of(value):
            raise GateContractError(
                f"{name}.backward returned a gradient of shape {shape_of(grad)} "
                f"for input {port}, whose shape is {shape_of(value)}"
            )
        if grad is None and _differentiable(value):
            raise GateContractError(
                f"{name}.backward returned None for float input {port}; only "
                "integer inputs (labels, indices) may have no gradient"
            )


def _float64(value):
    if isinstance(value, np.ndarray):
        return value.astype(np.float64) if value.dtype.kind == "f" else value
    if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
        return float(value)
    return value


def _differentiable(value) -> bool:
    return isinstance(value, float) or (
        isinstance(value, np.ndarray) and value.dtype.kind == "f"
    )


def _random_like(output, seed):
    draw = np.random.default_rng(seed).normal(size=np.shape(output))
    return float(draw) if np.ndim(output) == 0 else draw
