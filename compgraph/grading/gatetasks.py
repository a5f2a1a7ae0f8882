"""Tasks that grade one gate class of a submission against the library's gate.

Five checks, each its own task so that each earns its own points:

- ``forward``: outputs against the reference gate's on the given cases;
- ``backward``: gradients against the reference gate's on the given cases;
- ``hidden``: both, on hidden and random cases;
- ``gradcheck``: gradients against centered differences of the student's
  *own* forward, so a wrong forward with a consistent backward still earns
  these points. The grader asks the sandbox for forward values at perturbed
  inputs and takes the differences itself: a submission cannot fake them;
- ``contract``: one gradient per input, shaped like it; inputs and upstream
  gradient left unmodified; backward reads the cache of the latest forward
  and does not call forward again (through the instance, a class or
  ``super()``: the runner counts the calls of every forward on the class).

For gates with ties or kinks (:data:`~.subgradients.PIECEWISE_LINEAR`),
``backward``, ``hidden`` and ``gradcheck`` accept any valid subgradient
there: any split of the upstream between tied inputs that sums to it, any
local gradient between a kink's one-sided slopes
(:mod:`compgraph.grading.subgradients`).
"""

import copy

import numpy as np

from compgraph.gradcheck import FAIL, relative_error
from compgraph.grading.api import HIDDEN, VISIBLE, Case, Outcome, Task, TaskFailure
from compgraph.grading.checks import (
    compare,
    compare_gradients,
    contract_problems,
    describe,
    perturbations,
    takes_gradient,
)
from compgraph.grading.runner import decode, encode
from compgraph.grading.subgradients import PIECEWISE_LINEAR, subgradient_problem

__all__ = ["GateTask", "gate_tasks", "CHECKS"]

CHECKS = ("forward", "backward", "hidden", "gradcheck", "contract")


class GateTask(Task):
    """Grade one check of the submission's class ``gate`` against ``reference``.

    Parameters
    ----------
    gate : str
        The class name students write (``"MaxGate"``).
    reference : type
        The library's gate class that computes the right answers.
    check : {"forward", "backward", "hidden", "gradcheck", "contract"}
        What to check; see the module docstring.
    cases : list of Case or Random
        Inputs to check on (the contract check needs two array cases).
    args : tuple, default=()
        Constructor arguments, for both the student's gate and the reference.
    subgradients : bool, optional
        Accept any valid subgradient at ties and kinks; by default for the
        gates in :data:`~.subgradients.PIECEWISE_LINEAR`.

    Examples
    --------
    >>> from gates import SquareGate
    >>> task = GateTask("SquareGate", SquareGate, "forward", [Case(3.0)])
    >>> task.name, task.points
    ('SquareGate.forward', 1.0)
    """

    def __init__(
        self,
        gate: str,
        reference: type,
        check: str,
        cases: list,
        points: float = 1.0,
        visibility: str = VISIBLE,
        args: tuple = (),
        name: str | None = None,
        subgradients: bool | None = None,
    ):
        if check not in CHECKS:
            raise ValueError(f"GateTask check must be one of {CHECKS}, got {check!r}")
        super().__init__(name or f"{gate}.{check}", points, visibility, gate, reference)
        self.check = check
        self.cases = list(cases)
        self.args = tuple(args)
        if subgradients is None:
            subgradients = reference.__name__ in PIECEWISE_LINEAR
        self.subgradients = subgradients

    def run(self, session, rng) -> Outcome:
        """Run the check; raise :class:`TaskFailure` naming the first problem."""
        cases = [copy.copy(case.draw(rng)) for case in self.cases]
        for case in cases:
            if case.upstream is None:
                case.upstream = _random_like(
                    self._reference(case).forward(*_copy(case.inputs)), rng
                )
        getattr(self, f"_check_{self.check}")(session, cases)
        return Outcome(1.0, f"passed on {len(cases)} case(s)")

    # -- the checks ------------------------------------------------------------

    def _check_forward(self, session, cases):
        results = self._request(session, [_fwd(c) for c in cases])
        for case, result in zip(cases, results):
            problem = compare(
                self._reference(case).forward(*_copy(case.inputs)), _out(result)
            )
            if problem:
                raise TaskFailure(f"forward {_show(case)}: {problem}")

    def _check_backward(self, session, cases, forward_too=False):
        calls = []
        for case in cases:
            calls += [_fwd(case), {"b": encode(case.upstream)}]
        results = self._request(session, calls)
        for k, case in enumerate(cases):
            reference = self._reference(case)
            out = reference.forward(*_copy(case.inputs))
            if forward_too:
                problem = compare(out, _out(results[2 * k]))
                if problem:
                    raise TaskFailure(f"forward {_show(case)}: {problem}")
            grads = _grads(results[2 * k + 1])
            expected = reference.backward(case.upstream)
            problem = compare_gradients(expected, grads, case.inputs)
            if problem and self._fits(case, grads):
                # At a tie or kink the reference's answer is one of many.
                kinks, other = subgradient_problem(
                    self._reference_forwards(case),
                    case.inputs,
                    case.upstream,
                    grads,
                    exact=list(expected),
                )
                if kinks:
                    problem = other
            if problem:
                raise TaskFailure(f"backward {_show(case, upstream=True)}: {problem}")

    def _check_hidden(self, session, cases):
        self._check_backward(session, cases, forward_too=True)

    def _check_gradcheck(self, session, cases):
        if self.subgradients:
            self._check_subgradients(session, cases)
            return
        for case in cases:
            calls = [_fwd(case), {"b": encode(case.upstream)}]
            points = list(perturbations(case.inputs))
            for _, _, plus, minus, _ in points:
                calls += [_fwd(case, plus), _fwd(case, minus)]
            results = self._request(session, calls)
            analytic = _grads(results[1])
            if len(analytic) != len(case.inputs):
                raise TaskFailure(
                    f"backward returned {len(analytic)} gradient(s) for "
                    f"{len(case.inputs)} input(s)"
                )
            for n, (port, index, _, _, width) in enumerate(points):
                up, down = _out(results[2 + 2 * n]), _out(results[3 + 2 * n])
                with np.errstate(all="ignore"):  # a student's inf or nan
                    change = float(np.sum(case.upstream * (np.asarray(up) - down)))
                    numeric = change / width
                grad = analytic[port]
                if grad is None or np.shape(grad) != np.shape(case.inputs[port]):
                    raise TaskFailure(
                        f"gradient of input {port} has shape {np.shape(grad)}, "
                        f"expected {np.shape(case.inputs[port])}"
                    )
                value = float(np.asarray(grad)[index])
                with np.errstate(all="ignore"):
                    error = float(relative_error(value, numeric))
                if not error <= FAIL:  # also catches nan
                    where = f" at index {index}" if index else ""
                    shown = _show(case, upstream=True)
                    raise TaskFailure(
                        f"gradient of input {port}{where} {shown}: "
                        f"analytic {value:.10g}, numeric {numeric:.10g} (centered "
                        f"difference of your forward), relative error {error:.3g}"
                    )

    def _check_subgradients(self, session, cases):
        """The gradient check of a gate with ties or kinks, on its own forward."""
        for case in cases:
            results = self._request(session, [_fwd(case), {"b": encode(case.upstream)}])
            analytic = _grads(results[1])
            if len(analytic) != len(case.inputs):
                raise TaskFailure(
                    f"backward returned {len(analytic)} gradient(s) for "
                    f"{len(case.inputs)} input(s)"
                )
            for port, (grad, value) in enumerate(zip(analytic, case.inputs)):
                if takes_gradient(value) and np.shape(grad) != np.shape(value):
                    raise TaskFailure(
                        f"gradient of input {port} has shape {np.shape(grad)}, "
                        f"expected {np.shape(value)}"
                    )

            def forwards(batch, case=case):
                calls = [_fwd(case, inputs) for inputs in batch]
                return [_out(r) for r in self._request(session, calls)]

            _, problem = subgradient_problem(
                forwards, case.inputs, case.upstream, analytic
            )
            if problem:
                raise TaskFailure(
                    f"{_show(case, upstream=True)}, against centered differences of "
                    f"your forward: {problem}"
                )

    def _check_contract(self, session, cases):
        first = cases[0]
        # A second input of the same shapes; reversing keeps every value in
        # the gate's domain while changing what a stale cache would hold.
        second = (
            cases[1] if len(cases) > 1 else Case(*(np.flip(v) for v in first.inputs))
        )
        problems = []
        results = self._request(
            session,
            [_fwd(first), {"b": encode(first.upstream)}],
            fresh=False,
        )
        forward, backward = results
        if forward["mutated"]:
            problems.append(f"forward modified its input(s) {forward['mutated']}")
        if "not_tuple" in backward:
            problems.append(
                f"backward returned a {backward['not_tuple']}, not a tuple with one "
                "gradient per input (wrap a single gradient as (grad,))"
            )
        else:
            problems += contract_problems(first, _grads(backward), backward)
        # The same gate, fed twice, must give what a fresh gate gives after
        # one forward: backward reads the cache of the latest forward.
        stale = self._request(
            session,
            [
                _fwd(second),
                _fwd(first),
                {"b": encode(first.upstream)},
            ],
            fresh=False,
        )
        if (
            "grads" in stale[2]
            and "grads" in backward
            and self._deterministic(first, second)
        ):
            problem = compare_gradients(
                _grads(backward), _grads(stale[2]), first.inputs
            )
            if problem:
                problems.append(
                    "after two forwards, backward did not use the latest forward's "
                    f"cache: {problem}"
                )
        if problems:
            raise TaskFailure("; ".join(problems))

    # -- helpers -----------------------------------------------------------------

    def _deterministic(self, first, second) -> bool:
        """Whether the reference, fed twice, gives a fresh gate's gradients.

        A dropout gate draws a new mask at every forward, so it does not.
        """
        fresh = self._reference(first)
        fresh.forward(*_copy(first.inputs))
        twice = self._reference(first)
        twice.forward(*_copy(second.inputs))
        twice.forward(*_copy(first.inputs))
        expected = fresh.backward(first.upstream)
        got = list(twice.backward(first.upstream))
        return compare_gradients(expected, got, first.inputs) is None

    def _fits(self, case, grads) -> bool:
        """Whether ``grads`` may be judged as subgradients: one per input, shaped."""
        return (
            self.subgradients
            and len(grads) == len(case.inputs)
            and all(
                g is not None and np.shape(g) == np.shape(v)
                for g, v in zip(grads, case.inputs)
                if takes_gradient(v)
            )
        )

    def _reference_forwards(self, case):
        def forwards(batch):
            return [self._reference(case).forward(*_copy(i)) for i in batch]

        return forwards

    def _reference(self, case):
        gate = self.reference(*self.args)
        if case.training is not None:
            gate.training = case.training
        return gate

    def _request(self, session, calls, fresh=True):
        request = {
            "op": "gate",
            "cls": self.target,
            "args": [encode(a) if isinstance(a, np.ndarray) else a for a in self.args],
            "calls": calls,
            "fresh": fresh,
            "what": f"grading {self.name}",
        }
        results = session.run(request)
        for result in results:
            if "error" in result:
                error = result["error"]
                trace = " <- ".join(reversed(error.get("trace") or []))
                raise TaskFailure(
                    f"{error['where']} raised {error['message']}"
                    + (f" (at {trace})" if trace else "")
                )
        if len(results) != len(calls):
            raise TaskFailure("the submission answered fewer calls than it was asked")
        return results


def gate_tasks(
    gate: str,
    reference: type,
    public: list,
    hidden: list,
    args: tuple = (),
    points: dict | None = None,
    gradcheck: list | None = None,
) -> list[GateTask]:
    """The five tasks of one gate, each worth ``points[check]`` (default 1).

    ``forward``, ``backward`` and ``contract`` are visible and use the
    ``public`` cases (the contract prefers two array cases); ``hidden`` and
    ``gradcheck`` run after the due date on ``hidden`` (or ``gradcheck``) cases.

    >>> from gates import ExpGate
    >>> tasks = gate_tasks("ExpGate", ExpGate, [Case(1.0)], [Case(2.0)])
    >>> [t.name.split(".")[1] for t in tasks]
    ['forward', 'backward', 'contract', 'hidden', 'gradcheck']
    """
    points = {**dict.fromkeys(CHECKS, 1.0), **(points or {})}
    arrays = [c for c in public + hidden if _all_arrays(c)]
    # Two cases of the same shapes: a gate may keep state tied to its shapes.
    arrays = [c for c in arrays if _shapes(c) == _shapes(arrays[0])] if arrays else []
    plan = [
        ("forward", public, VISIBLE),
        ("backward", public, VISIBLE),
        ("contract", arrays[:2] or public, VISIBLE),
        ("hidden", hidden, HIDDEN),
        ("gradcheck", hidden if gradcheck is None else gradcheck, HIDDEN),
    ]
    return [
        GateTask(gate, reference, check, cases, points[check], visibility, args)
        for check, cases, visibility in plan
    ]


def _shapes(case):
    return [np.shape(v) for v in case.inputs]


def _all_arrays(case) -> bool:
    return isinstance(case, Case) and all(
        isinstance(v, np.ndarray) for v in case.inputs
    )


def _random_like(output, rng):
    draw = rng.normal(size=np.shape(output))
    return float(draw) if np.ndim(output) == 0 else draw


def _copy(inputs):
    return [np.copy(v) if isinstance(v, np.ndarray) else v for v in inputs]


def _fwd(case, inputs=None):
    """A forward call on ``inputs`` (the case's own by default), in its mode."""
    call = {"f": _enc(case.inputs if inputs is None else inputs)}
    if case.training is not None:
        call["t"] = bool(case.training)
    return call


def _enc(inputs):
    return [encode(v) for v in inputs]


def _out(result):
    return decode(result["out"])


def _grads(result):
    if "not_tuple" in result:
        raise TaskFailure(
            f"backward returned a {result['not_tuple']}, not a tuple with one "
            "gradient per input (wrap a single gradient as (grad,))"
        )
    return [decode(g) for g in result["grads"]]


def _show(case, upstream=False) -> str:
    label = f" {case.label}" if case.label else ""
    inputs = ", ".join(describe(v) for v in case.inputs)
    text = f"on case{label} with inputs ({inputs})"
    if upstream:
        text += f" and upstream {describe(case.upstream)}"
    return text
