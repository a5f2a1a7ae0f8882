"""Elementwise gates: gradient checks, kink conventions, the whole float range."""

import math
import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compgraph.gradcheck import check_gate, jacobian
from gates import (
    AbsGate,
    ExpGate,
    LogGate,
    ReLUGate,
    SigmoidGate,
    SqrtGate,
    SquareGate,
    TanhGate,
)

MAGNITUDES = st.floats(0.25, 3.0)
SIGNED = st.one_of(MAGNITUDES, MAGNITUDES.map(lambda v: -v))
SHAPES = st.sampled_from([(), (4,), (3, 4), (2, 1, 3)])

# Each gate with the values it is checked on: positive only where the
# function is defined only there (log, sqrt), signed and away from 0 (the
# kink of relu and abs) elsewhere.
GATES_AND_DOMAINS = [
    (ExpGate, SIGNED),
    (LogGate, MAGNITUDES),
    (SigmoidGate, SIGNED),
    (TanhGate, SIGNED),
    (ReLUGate, SIGNED),
    (AbsGate, SIGNED),
    (SquareGate, SIGNED),
    (SqrtGate, MAGNITUDES),
]


@st.composite
def gate_and_input(draw):
    gate_class, elements = draw(st.sampled_from(GATES_AND_DOMAINS))
    shape = draw(SHAPES)
    if shape == ():
        return gate_class, draw(elements)
    return gate_class, draw(hnp.arrays(np.float64, shape, elements=elements))


@settings(max_examples=120, deadline=None)
@given(case=gate_and_input())
def test_elementwise_gradients_match_finite_differences(case):
    gate_class, x = case
    report = check_gate(gate_class(), x)
    assert report.passed, str(report)
    # relu on negative inputs gives 0 everywhere: vacuous, but right.
    assert report["x0"].verdict in ("pass", "doubtful", "vacuous"), str(report)
    assert report["x0"].worst_error < 1e-5, str(report)


@pytest.mark.parametrize("gate_class, _", GATES_AND_DOMAINS)
@pytest.mark.parametrize("x", [2.0, -2.0, 0.0, 1e300])
def test_elementwise_gates_keep_python_floats_as_floats(gate_class, _, x):
    # type(), not isinstance(): numpy's float64 is a subclass of float
    gate = gate_class()
    out = gate.forward(x)
    (grad,) = gate.backward(1.0)
    assert type(out) is float and type(grad) is float


@pytest.mark.parametrize("gate_class, _", GATES_AND_DOMAINS)
def test_elementwise_jacobian_is_diagonal_and_matches_numeric(gate_class, _):
    analytic, numeric = jacobian(gate_class(), np.array([0.5, 1.25, 2.0]))
    assert np.count_nonzero(analytic - np.diag(np.diag(analytic))) == 0
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


# -- conventions at kinks -----------------------------------------------------------


def test_relu_gradient_at_zero_is_one_half():
    gate = ReLUGate()
    assert gate.forward(0.0) == 0.0
    assert gate.backward(2.0) == (1.0,)
    gate.forward(np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(gate.backward(np.ones(3))[0], [0.0, 0.5, 1.0])


def test_abs_gradient_at_zero_is_zero():
    gate = AbsGate()
    gate.forward(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(gate.backward(np.ones(3))[0], [-1.0, 0.0, 1.0])
    gate.forward(0.0)
    assert gate.backward(5.0) == (0.0,)


@pytest.mark.parametrize("gate_class", [ReLUGate, AbsGate])
def test_kink_conventions_equal_the_centered_difference(gate_class):
    report = check_gate(gate_class(), np.array([0.0]))
    check = report["x0"]
    assert check.kinks[0], "the step across 0 should be flagged as a kink"
    assert check.numeric[0] == pytest.approx(check.analytic[0])


def test_relu_of_minus_infinity_is_zero_not_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ReLUGate().forward(-math.inf) == 0.0
        assert ReLUGate().forward(math.inf) == math.inf
        out = ReLUGate().forward(np.array([-np.inf, np.inf]))
    np.testing.assert_array_equal(out, [0.0, np.inf])


def test_relu_passes_nan_through_as_numpy_does():
    assert math.isnan(ReLUGate().forward(math.nan))
    assert np.isnan(ReLUGate().forward(np.array([np.nan]))[0])


# -- the whole float range ------------------------------------------------------------


EXTREMES = np.array([-1e308, -1000.0, -89.0, 0.0, 89.0, 1000.0, 1e308])


@pytest.mark.parametrize("gate_class", [SigmoidGate, TanhGate])
def test_saturating_gates_stay_finite_over_the_float_range(gate_class):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gate = gate_class()
        out = gate.forward(EXTREMES)
        (grad,) = gate.backward(np.ones_like(EXTREMES))
        outs = [gate_class().forward(float(x)) for x in EXTREMES]
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    np.testing.assert_array_equal(out, outs)
    assert grad[0] == 0.0 and grad[-1] == 0.0


def test_exp_overflows_to_inf_without_warning_and_underflows_to_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ExpGate().forward(1000.0) == math.inf
        assert ExpGate().forward(-1000.0) == 0.0
        out = ExpGate().forward(np.array([-1000.0, 1000.0]))
    np.testing.assert_array_equal(out, [0.0, np.inf])


def test_log_and_sqrt_at_and_below_zero_give_inf_and_nan_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log, root = LogGate(), SqrtGate()
        np.testing.assert_array_equal(log.forward(np.array([0.0])), [-np.inf])
        assert log.backward(np.array([1.0]))[0][0] == np.inf
        assert math.isnan(log.forward(-1.0))
        assert root.forward(0.0) == 0.0 and root.backward(1.0) == (math.inf,)
        assert math.isnan(root.forward(-1.0))


def test_square_of_a_huge_float_is_inf_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert SquareGate().forward(1e200) == math.inf
