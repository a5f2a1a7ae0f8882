"""Arithmetic gates: gradient checks on shapes drawn by hypothesis, conventions.

Inputs are drawn with magnitudes in [0.25, 3] so that no finite-difference
step crosses a kink (max, min) or a pole (divide, reciprocal); the kinks
themselves are tested separately, with their conventions.
"""

import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from compgraph.gradcheck import check_gate
from gates import (
    AddConstantGate,
    AddGate,
    DivideGate,
    MaxGate,
    MinGate,
    MultiplyGate,
    NegateGate,
    PowerGate,
    ReciprocalGate,
    ScaleGate,
    SubtractGate,
    SumGate,
)
from gates.base import unbroadcast

# () stands for a Python float; the others are numpy shapes that broadcast.
SHAPE_PAIRS = [
    ((), ()),
    ((3,), ()),
    ((), (3,)),
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 4), (1,)),
    ((3, 4), (3, 1)),
    ((2, 1), (1, 3)),
    ((5, 4), (5, 4)),
    ((2, 3, 4), (3, 1)),
]
MAGNITUDES = st.floats(0.25, 3.0)
ELEMENTS = st.one_of(MAGNITUDES, MAGNITUDES.map(lambda v: -v))


def values(shape, elements=ELEMENTS):
    """A Python float for shape (), else a float64 array of that shape."""
    if shape == ():
        return elements
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def input_pair(draw, elements=ELEMENTS):
    shape_x, shape_y = draw(st.sampled_from(SHAPE_PAIRS))
    return draw(values(shape_x, elements)), draw(values(shape_y, elements))


def assert_gradients_check(gate, *inputs):
    report = check_gate(gate, *inputs)
    assert report.passed, str(report)
    # "vacuous" is right for an input that gets no gradient (max's loser).
    verdicts = [c.verdict for c in report.checks]
    assert set(verdicts) <= {"pass", "doubtful", "vacuous"}, str(report)
    assert "pass" in verdicts or "doubtful" in verdicts, str(report)
    assert max(c.worst_error for c in report.checks) < 1e-5, str(report)


def broadcast_shape(*inputs):
    return np.broadcast_shapes(*(np.shape(v) for v in inputs))


@settings(max_examples=40, deadline=None)
@given(pair=input_pair(), gate_class=st.sampled_from([AddGate, SubtractGate]))
def test_add_and_subtract_gradients_match_finite_differences(pair, gate_class):
    assert_gradients_check(gate_class(), *pair)


@settings(max_examples=40, deadline=None)
@given(pair=input_pair())
def test_multiply_gradients_match_finite_differences(pair):
    assert_gradients_check(MultiplyGate(), *pair)


@settings(max_examples=40, deadline=None)
@given(pair=input_pair())
def test_divide_gradients_match_finite_differences(pair):
    assert_gradients_check(DivideGate(), *pair)


@settings(max_examples=40, deadline=None)
@given(pair=input_pair(), gate_class=st.sampled_from([MaxGate, MinGate]))
def test_max_and_min_gradients_match_finite_differences_away_from_ties(
    pair, gate_class
):
    x, y = pair
    assume(np.all(np.abs(np.subtract(x, y)) > 1e-3))
    assert_gradients_check(gate_class(), x, y)


@settings(max_examples=30, deadline=None)
@given(
    x=st.sampled_from([(), (4,), (3, 4)]).flatmap(values),
    gate=st.sampled_from(
        [NegateGate(), ScaleGate(-2.5), ScaleGate(3), AddConstantGate(-1.5)]
    ),
)
def test_one_input_linear_gates_match_finite_differences(x, gate):
    assert_gradients_check(gate, x)


@settings(max_examples=30, deadline=None)
@given(x=st.sampled_from([(), (4,), (3, 4)]).flatmap(values))
def test_reciprocal_gradient_matches_finite_differences(x):
    assert_gradients_check(ReciprocalGate(), x)


@settings(max_examples=40, deadline=None)
@given(
    x=st.sampled_from([(), (4,), (3, 4)]).flatmap(lambda s: values(s, MAGNITUDES)),
    c=st.sampled_from([2, 3, -1, -2, 0.5, 1.5, -0.5]),
)
def test_power_gradient_matches_finite_differences_on_positive_bases(x, c):
    assert_gradients_check(PowerGate(c), x)


@settings(max_examples=20, deadline=None)
@given(
    x=st.sampled_from([(), (4,), (3, 4)]).flatmap(values),
    c=st.sampled_from([2, 3, -1]),
)
def test_power_with_integer_exponent_accepts_negative_bases(x, c):
    assert_gradients_check(PowerGate(c), x)


@settings(max_examples=30, deadline=None)
@given(
    x=values((2, 3, 4)),
    options=st.sampled_from(
        [(None, False), (0, False), (-1, False), ((0, 2), False), (1, True)]
    ),
)
def test_sum_gradient_matches_finite_differences(x, options):
    axis, keepdims = options
    assert_gradients_check(SumGate(axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("shape_x, shape_y", SHAPE_PAIRS)
@pytest.mark.parametrize(
    "gate_class", [AddGate, SubtractGate, MultiplyGate, DivideGate, MaxGate, MinGate]
)
def test_binary_gates_return_gradients_shaped_like_their_inputs(
    gate_class, shape_x, shape_y, rng
):
    x = float(rng.uniform(1, 2)) if shape_x == () else rng.uniform(1, 2, shape_x)
    y = float(rng.uniform(3, 4)) if shape_y == () else rng.uniform(3, 4, shape_y)
    gate = gate_class()
    out = gate.forward(x, y)
    assert np.shape(out) == broadcast_shape(x, y)
    dx, dy = gate.backward(1.0 if isinstance(out, float) else np.ones_like(out))
    assert np.shape(dx) == np.shape(x) and np.shape(dy) == np.shape(y)
    if shape_x == ():
        assert isinstance(dx, float)


def test_add_sums_the_gradient_of_a_broadcast_row_over_the_batch():
    gate = AddGate()
    gate.forward(np.zeros((3, 4)), np.zeros(4))
    upstream = np.arange(12.0).reshape(3, 4)
    dx, dy = gate.backward(upstream)
    np.testing.assert_array_equal(dx, upstream)
    np.testing.assert_array_equal(dy, upstream.sum(axis=0))


# -- conventions at ties ---------------------------------------------------------


@pytest.mark.parametrize("gate_class", [MaxGate, MinGate])
def test_max_and_min_split_a_tie_evenly_on_floats(gate_class):
    gate = gate_class()
    assert gate.forward(2.0, 2.0) == 2.0
    assert gate.backward(3.0) == (1.5, 1.5)


@pytest.mark.parametrize("gate_class", [MaxGate, MinGate])
def test_max_and_min_tie_convention_is_what_finite_differences_measure(gate_class):
    report = check_gate(gate_class(), np.array([1.0, 2.0]), np.array([1.0, -4.0]))
    assert report.passed, str(report)
    # At the tie the one-sided slopes are 0 and 1: the step crossed a kink,
    # and the centered difference measures their average, as the gate does.
    assert report["x0"].kinks[0] and report["x0"].numeric[0] == pytest.approx(
        report["x0"].analytic[0]
    )


def test_min_routes_the_gradient_to_the_smaller_input():
    gate = MinGate()
    gate.forward(np.array([1.0, 5.0]), 3.0)
    dx, dy = gate.backward(np.array([2.0, 7.0]))
    np.testing.assert_array_equal(dx, [2.0, 0.0])
    assert dy == 7.0


# -- numbers at the edges of the float range -----------------------------------------


def test_divide_and_reciprocal_by_zero_give_inf_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert DivideGate().forward(1.0, 0.0) == np.inf
        assert ReciprocalGate().forward(0.0) == np.inf
        out = DivideGate().forward(np.array([1.0, -1.0]), np.array([0.0, 0.0]))
    np.testing.assert_array_equal(out, [np.inf, -np.inf])


def test_power_overflows_to_inf_without_exception_or_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gate = PowerGate(400)
        assert gate.forward(10.0) == np.inf
        assert gate.backward(1.0) == (np.inf,)
        assert PowerGate(2).forward(1e200) == np.inf
        np.testing.assert_array_equal(gate.forward(np.array([10.0])), [np.inf])


def test_power_zero_is_one_with_zero_gradient_everywhere():
    gate = PowerGate(0)
    np.testing.assert_array_equal(gate.forward(np.array([-2.0, 0.0, 3.0])), 1.0)
    np.testing.assert_array_equal(gate.backward(np.ones(3))[0], 0.0)


def test_power_of_a_negative_base_with_fractional_exponent_is_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(PowerGate(0.5).forward(-4.0))


def test_multiply_of_huge_floats_overflows_to_inf_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert MultiplyGate().forward(1e200, 1e200) == np.inf


def test_unbroadcast_refuses_a_shape_in_place_of_the_input():
    with pytest.raises(TypeError, match="not a shape; got the tuple \\(3,\\)"):
        unbroadcast(np.ones((2, 3)), (3,))


def test_division_by_a_denormal_gives_inf_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = DivideGate().forward(np.array([1.0, 1.0]), np.array([5e-324, 1e-310]))
    assert np.all(np.isinf(out))


@pytest.mark.parametrize(
    "make",
    [AddGate, SubtractGate, MultiplyGate, DivideGate, MaxGate, MinGate],
)
@pytest.mark.parametrize("x, y", [(2.0, 3.0), (2.0, 0.0), (0.0, 0.0), (1e300, 1e300)])
def test_binary_gates_keep_python_floats_at_zeros_and_overflow(make, x, y):
    # type(), not isinstance(): numpy's float64 is a subclass of float
    gate = make()
    out = gate.forward(x, y)
    grads = gate.backward(1.0)
    assert type(out) is float and all(type(g) is float for g in grads)


@pytest.mark.parametrize(
    "gate",
    [NegateGate(), ReciprocalGate(), ScaleGate(3.0), AddConstantGate(3.0),
     PowerGate(3), PowerGate(0.5), PowerGate(-1)],
    ids=repr,
)  # fmt: skip
@pytest.mark.parametrize("x", [2.0, -2.0, 0.0, 1e300])
def test_unary_gates_keep_python_floats_at_zeros_and_overflow(gate, x):
    out = gate.forward(x)
    (grad,) = gate.backward(1.0)
    assert type(out) is float and type(grad) is float
