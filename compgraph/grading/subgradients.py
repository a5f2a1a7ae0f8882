"""Accepting any valid subgradient where a gate has a tie or a kink.

At ``max(x, y)`` with ``x == y`` every split of the upstream gradient
between ``x`` and ``y`` whose shares lie between 0 and the upstream and sum
to it is a valid gradient (half and half, the library's convention, or all
to one winner); at relu's kink ``x = 0`` every local gradient in ``[0, 1]``
is. The grader accepts them all, and still rejects a max that sends the
whole upstream to both tied inputs.

The test needs nothing but the gate's forward, so the same code judges a
submission against the reference gate (``hidden``, ``backward``) and against
its own forward (``gradcheck``). For each float input element the one-sided
differences of ``L = sum(upstream * forward(inputs))`` are taken; where they
differ, the element sits at a kink, and its gradient must lie between them.
Kinked elements that move a common output element (the tied inputs of one
max, the tied maxima of one pooling window) form a group, and moving the
whole group together must change ``L`` as the gradients predict: that is
the rule that the shares add up to the upstream. For a tie or kink whose
inputs feed no other tie these conditions are exactly the valid
subgradients; groups that chain through shared inputs (broadcasting,
overlapping windows) are judged by the same necessary conditions.
"""

import numpy as np
from networkx.utils import UnionFind

from compgraph.gradcheck import FAIL, STEP, noise_floor, relative_error
from compgraph.grading.checks import TOLERANCE, perturbations, takes_gradient

__all__ = ["PIECEWISE_LINEAR", "ACCEPTED", "subgradient_problem"]

#: Reference gates (by class name) whose gradient has ties or kinks where
#: more than one answer is right; their tasks accept any valid subgradient.
PIECEWISE_LINEAR = frozenset(
    {
        "MaxGate",
        "MinGate",
        "ReLUGate",
        "LeakyReLUGate",
        "AbsGate",
        "ClampGate",
        "HardTanhGate",
        "HingeLossGate",
        "L1LossGate",
        "MaxPool2dGate",
    }
)

#: The rule, said once in every feedback about a tie or kink.
ACCEPTED = (
    "at a tie or kink any valid subgradient is accepted: each tied input may get "
    "any share between 0 and the upstream, as long as the shares sum to the "
    "upstream (half each, or all to one), and a kink's local gradient may be "
    "anything between its one-sided slopes (relu at 0: 0, 0.5 or 1)"
)


def subgradient_problem(forwards, inputs, upstream, received, exact=None, h=STEP):
    """Judge ``received`` as a subgradient; return ``(kinks, problem)``.

    Parameters
    ----------
    forwards : callable
        Takes a list of input lists and returns the gate's output for each.
    inputs : sequence
        The point: one value per input.
    upstream : float or ndarray
        The upstream gradient, shaped like the output.
    received : list
        One gradient per input, each shaped like its input (or None for an
        integer input).
    exact : list or None
        The right gradients away from kinks (the reference's); None compares
        them with centered differences instead (``gradcheck``).

    Returns
    -------
    kinks : int
        How many input elements sit at a tie or kink.
    problem : str or None
        Why ``received`` is not a valid subgradient, or None.

    Examples
    --------
    >>> top = lambda batch: [np.maximum(x, y) for x, y in batch]
    >>> subgradient_problem(top, [2.0, 2.0], 1.0, [1.0, 0.0])
    (2, None)
    >>> kinks, problem = subgradient_problem(top, [2.0, 2.0], 1.0, [1.0, 1.0])
    >>> problem.split(":")[0]
    'inputs 0 and 1 are tied or at a kink together'
    """
    points = list(perturbations(inputs))
    batch = [list(inputs)]
    for _, _, plus, minus, _ in points:
        batch += [plus, minus]
    outputs = [np.asarray(out, dtype=float) for out in forwards(batch)]
    base = outputs[0]
    terms = np.asarray(upstream, dtype=float) * base
    noise = 10 * noise_floor(terms, h) if np.all(np.isfinite(terms)) else 0.0
    start = _loss(upstream, base)
    kinked = []  # (port, index, affected output elements)
    for n, (port, index, plus, minus, _) in enumerate(points):
        up, down = outputs[1 + 2 * n], outputs[2 + 2 * n]
        here = _at(inputs[port], index)
        rise, fall = _at(plus[port], index) - here, here - _at(minus[port], index)
        right = (_loss(upstream, up) - start) / rise
        left = (start - _loss(upstream, down)) / fall
        low, high = min(left, right), max(left, right)
        value = _at(received[port], index)
        where = _where(port, index, inputs)
        if high - low > _slack(low, high, noise):
            if (
                not low - _slack(low, high, noise)
                <= value
                <= high + _slack(low, high, noise)
            ):
                return len(kinked) + 1, (
                    f"gradient of {where} is {value:.10g}, but it sits at a tie or "
                    f"kink where it must lie between the one-sided slopes "
                    f"{low:.6g} and {high:.6g}; {ACCEPTED}"
                )
            changed = (up != base) | (down != base) if up.shape == base.shape else 1
            kinked.append((port, index, set(np.flatnonzero(changed).tolist())))
            continue
        if exact is not None:
            want = _at(exact[port], index)
            error, limit = float(relative_error(value, want)), TOLERANCE
        else:
            want = (_loss(upstream, up) - _loss(upstream, down)) / (rise + fall)
            error, limit = float(relative_error(value, want)), FAIL
        if not error <= limit:
            return len(kinked), (
                f"gradient of {where}: expected {want:.10g}, received {value:.10g} "
                f"(relative error {error:.3g})"
            )
    return len(kinked), _group_problem(
        forwards, inputs, upstream, received, kinked, start, noise, h
    )


def _group_problem(forwards, inputs, upstream, received, kinked, start, noise, h):
    """Whether the gradients of each group of tied elements add up as they must."""
    groups = [g for g in _groups(kinked) if len(g) > 1]
    if not groups:
        return None
    batch = []
    for group in groups:
        for sign in (1.0, -1.0):
            moved = [
                np.array(v, dtype=float) if takes_gradient(v) else v for v in inputs
            ]
            for port, index, _ in group:
                moved[port][index] += sign * h
            batch.append(
                [
                    float(v) if np.ndim(v) == 0 and takes_gradient(v) else v
                    for v in moved
                ]
            )
    outputs = forwards(batch)
    for k, group in enumerate(groups):
        right = (_loss(upstream, outputs[2 * k]) - start) / h
        left = (start - _loss(upstream, outputs[2 * k + 1])) / h
        low, high = min(left, right), max(left, right)
        total = sum(_at(received[port], index) for port, index, _ in group)
        slack = _slack(low, high, noise * len(group))
        if not low - slack <= total <= high + slack:
            names = sorted({port for port, _, _ in group})
            which = " and ".join(str(p) for p in names)
            elements = ", ".join(_where(p, i, inputs) for p, i, _ in group)
            should = (
                f"{low:.6g}"
                if high - low <= slack
                else f"between {low:.6g} and {high:.6g}"
            )
            return (
                f"inputs {which} are tied or at a kink together: the gradients of "
                f"{elements} sum to {total:.6g}, but must sum to {should} (what "
                f"moving them all at once changes); {ACCEPTED}"
            )
    return None


def _groups(kinked):
    """Kinked elements joined when they move a common output element."""
    joined = UnionFind(range(len(kinked)))
    owner = {}
    for i, (_, _, affected) in enumerate(kinked):
        for element in affected:
            joined.union(owner.setdefault(element, i), i)
    return [[kinked[i] for i in sorted(group)] for group in joined.to_sets()]


def _loss(upstream, out) -> float:
    with np.errstate(all="ignore"):  # a student's inf or nan
        return float(np.sum(np.asarray(upstream, dtype=float) * np.asarray(out)))


def _slack(low, high, noise) -> float:
    return 1e-6 * max(1.0, abs(low), abs(high)) + noise


def _at(value, index) -> float:
    return float(np.asarray(value, dtype=float)[index])


def _where(port, index, inputs) -> str:
    return f"input {port}" + (f" at index {index}" if np.ndim(inputs[port]) else "")
