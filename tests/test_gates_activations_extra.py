import warnings

import numpy as np
import pytest
from gradients import assert_gradients_pass
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes

from compgraph.gradcheck import numerical_gradient
from gates.activations import (
    ClampGate,
    ELUGate,
    HardTanhGate,
    LeakyReLUGate,
    SoftplusGate,
)

seeds = st.integers(0, 2**32 - 1)
shapes = array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
few = settings(max_examples=25, deadline=None)
EXTREMES = np.array([-1e308, -1e8, -1000.0, -1.0, 0.0, 1.0, 1000.0, 1e8, 1e308])


def reference(gate):
    """The closed form of each gate, written out independently."""
    if isinstance(gate, LeakyReLUGate):
        return lambda x: np.where(x > 0, x, gate.alpha * x)
    if isinstance(gate, ELUGate):
        return lambda x: np.where(x > 0, x, gate.alpha * (np.exp(np.minimum(x, 0)) - 1))
    if isinstance(gate, SoftplusGate):
        return lambda x: np.logaddexp(0.0, x)
    return lambda x: np.minimum(np.maximum(x, gate.low), gate.high)


GATES = [
    LeakyReLUGate,
    lambda: LeakyReLUGate(alpha=0.3),
    ELUGate,
    lambda: ELUGate(alpha=0.5),
    SoftplusGate,
    HardTanhGate,
    lambda: ClampGate(-0.5, 2.0),
]


@few
@given(make=st.sampled_from(GATES), shape=shapes, seed=seeds)
def test_activations_match_closed_forms_and_gradcheck(make, shape, seed):
    x = 2 * np.random.default_rng(seed).normal(size=shape)
    gate = make()

    # atol: the reference's exp(x) - 1 is off by about one rounding of 1.0
    # near x = 0, where ELU's expm1 stays exact to 1e-16 relative.
    np.testing.assert_allclose(
        gate.forward(x), reference(gate)(x), rtol=1e-14, atol=4e-16
    )
    assert_gradients_pass(make(), x, seed=seed)


def test_elu_near_zero_keeps_the_precision_that_exp_minus_one_loses():
    x = np.array([-3.5e-3, -1e-10, -1e-300])

    np.testing.assert_allclose(ELUGate().forward(x), np.expm1(x), rtol=1e-15)


def test_activations_match_torch_values_and_gradients():
    torch = pytest.importorskip("torch", reason="torch is the reference")
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x = 3 * rng.normal(size=(4, 5))
    upstream = rng.normal(size=(4, 5))
    cases = [
        (LeakyReLUGate(alpha=0.2), lambda t: F.leaky_relu(t, 0.2)),
        (ELUGate(alpha=0.7), lambda t: F.elu(t, alpha=0.7)),
        (SoftplusGate(), F.softplus),
        (HardTanhGate(), F.hardtanh),
        (ClampGate(-0.5, 2.0), lambda t: F.hardtanh(t, -0.5, 2.0)),
    ]
    for gate, function in cases:
        t = torch.tensor(x, requires_grad=True)
        expected = function(t)
        expected.backward(torch.tensor(upstream))

        np.testing.assert_allclose(gate.forward(x), expected.detach().numpy())
        np.testing.assert_allclose(gate.backward(upstream)[0], t.grad.numpy())


@pytest.mark.parametrize(
    ("gate", "at", "slope"),
    [
        (LeakyReLUGate(alpha=0.1), 0.0, 0.55),
        (ELUGate(alpha=0.5), 0.0, 0.75),
        (HardTanhGate(), -1.0, 0.5),
        (HardTanhGate(), 1.0, 0.5),
        (ClampGate(0.0, 3.0), 3.0, 0.5),
    ],
)
def test_kinks_take_the_average_of_the_one_sided_slopes(gate, at, slope):
    x = np.array([at])
    gate.forward(x)

    (dx,) = gate.backward(np.ones(1))
    numeric, kinks = numerical_gradient(lambda v: float(gate.forward(v)[0]), x)

    assert dx[0] == pytest.approx(slope)
    assert numeric[0] == pytest.approx(slope, abs=1e-6)  # what a centered step sees
    assert kinks[0]


def test_elu_with_alpha_one_has_no_kink_at_zero():
    gate = ELUGate()
    gate.forward(np.array([0.0]))

    assert gate.backward(np.ones(1))[0][0] == 1.0


@pytest.mark.parametrize("make", GATES)
def test_activations_are_finite_and_silent_at_extreme_values(make):
    gate = make()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = gate.forward(EXTREMES)
        (dx,) = gate.backward(np.ones_like(EXTREMES))

    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    np.testing.assert_allclose(out, reference(gate)(EXTREMES), rtol=1e-15)


def test_softplus_keeps_full_precision_far_out():
    gate = SoftplusGate()

    out = gate.forward(np.array([1e8, -1000.0, 40.0, -40.0]))

    np.testing.assert_array_equal(out[:2], [1e8, 0.0])
    assert out[2] == 40.0 + np.exp(-40.0)
    assert out[3] == pytest.approx(np.exp(-40.0), rel=1e-15)


@pytest.mark.parametrize("make", GATES)
def test_python_floats_in_python_floats_out(make):
    gate = make()

    out = gate.forward(-0.5)
    (dx,) = gate.backward(1.0)

    assert type(out) is float and type(dx) is float
    assert out == pytest.approx(float(reference(gate)(np.array(-0.5))))


@pytest.mark.parametrize("make", GATES)
def test_float32_stays_float32(make):
    x = np.linspace(-3, 3, 7, dtype=np.float32)
    gate = make()

    out = gate.forward(x)
    (dx,) = gate.backward(np.ones(7))  # a float64 upstream gradient

    assert out.dtype == np.float32 and dx.dtype == np.float32


def test_clamp_refuses_low_not_below_high():
    with pytest.raises(ValueError, match="ClampGate: low must be less than high"):
        ClampGate(1.0, 1.0)
    with pytest.raises(ValueError, match="HardTanhGate: low must be less than high"):
        HardTanhGate(2.0, -2.0)


def test_gates_show_their_hyper_parameters():
    assert repr(LeakyReLUGate(0.2)) == "LeakyReLUGate(alpha=0.2)"
    assert repr(HardTanhGate()) == "HardTanhGate(low=-1.0, high=1.0)"
    assert HardTanhGate().label == "hardtanh"
