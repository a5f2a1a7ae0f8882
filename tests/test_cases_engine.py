"""The shared failure cases that concern the engine: C01-C09, C19, C20.

Each test builds the case's input and checks the right value given in
``cases/README.md``; gradients are also checked against centered differences.
"""

import sys
import warnings

import numpy as np
import pytest

from compgraph import ComputationalGraph
from compgraph.gradcheck import check_graph
from compgraph.lecture import SIGMOID_NEURON_INPUTS, sigmoid_neuron
from gates import MaxGate, SigmoidGate, TanhGate


def chain_of_ones(length):
    g = ComputationalGraph()
    y = g.input("x")
    for _ in range(length):
        y = y + 1
    return g


# -- C01: deep graphs ---------------------------------------------------------


def test_c01_chain_of_5000_gates_runs_without_recursion_limit():
    g = chain_of_ones(5000)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # no recursion anywhere: a tiny limit is enough
    try:
        assert g.forward(x=0.0) == 5000.0
        assert g.backward() == {"x": 1.0}
    finally:
        sys.setrecursionlimit(limit)


def test_c01_chain_of_a_million_gates_runs_forward_and_backward():
    # About 35 s on a quiet 2-core machine, so not marked slow; the timing
    # itself is measured by benchmarks/bench_engine.py.
    g = chain_of_ones(1_000_000)
    assert g.forward(x=0.0) == 1_000_000.0
    assert g.backward() == {"x": 1.0}


# -- C02-C05: fan-out and shared subgraphs -------------------------------------


def test_c02_one_node_feeding_both_inputs_adds_both_gradients():
    g = ComputationalGraph()
    x = g.input("x")
    x * x
    assert g.forward(x=3.0) == 9.0
    assert g.backward() == {"x": 6.0}


def test_c03_fan_out_into_two_products_sums_the_gradients():
    g = ComputationalGraph()
    a, b, c = g.input("a"), g.input("b"), g.input("c")
    a * b + a * c
    g.forward(a=2.0, b=3.0, c=4.0)
    assert g.backward() == {"a": 7.0, "b": 2.0, "c": 2.0}


def test_c04_shared_subgraph_sends_each_gradient_once():
    g = ComputationalGraph()
    a = g.input("a")
    b = g.rename(a + a, "b")
    g.rename(b + b, "c")
    assert g.forward(a=1.0) == 4.0
    assert g.backward() == {"a": 4.0}
    assert g.grad("b") == 2.0


def test_c05_reused_products_are_ordered_so_every_sum_is_complete():
    g = ComputationalGraph()
    x, a = g.input("x"), g.input("a")
    x * (x * a) + (x * x) * a + x * (x * a)
    assert g.forward(x=1.0, a=1.0) == 3.0
    grads = g.backward()
    assert grads["x"] == 6.0  # 3 x**2 a
    assert grads["a"] == 3.0  # 3 x**2


def test_c05_matches_finite_differences_away_from_one():
    g = ComputationalGraph()
    x, a = g.input("x"), g.input("a")
    x * (x * a) + (x * x) * a + x * (x * a)
    _, report = check_graph(g, x=1.7, a=-0.6)
    assert report.passed and report["x"].verdict == "pass"
    assert g.grad("x") == pytest.approx(6 * 1.7 * -0.6)


# -- C06: max ties --------------------------------------------------------------


def test_c06_max_tie_splits_the_gradient_evenly():
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    x.max(y)
    assert g.forward(x=2.0, y=2.0) == 2.0
    grads = g.backward()
    assert grads == {"x": 0.5, "y": 0.5}
    assert grads["x"] + grads["y"] == 1.0


def test_c06_max_tie_elementwise_on_arrays():
    gate = MaxGate()
    gate.forward(np.array([2.0, 1.0, 3.0]), np.array([2.0, 5.0, 3.0]))
    dx, dy = gate.backward(np.array([1.0, 1.0, 4.0]))
    np.testing.assert_array_equal(dx, [0.5, 0.0, 2.0])
    np.testing.assert_array_equal(dy, [0.5, 1.0, 2.0])


# -- C07, C08: broadcasting -------------------------------------------------------


def test_c07_broadcast_scalar_like_array_gets_the_summed_gradient():
    g = ComputationalGraph()
    a, b = g.input("a"), g.input("B")
    (a * b).sum()
    B = np.arange(20.0).reshape(5, 4)
    assert g.forward(a=np.array([2.0]), B=B) == 380.0
    grads = g.backward()
    assert grads["a"].shape == (1,)
    np.testing.assert_array_equal(grads["a"], [190.0])
    assert grads["B"].shape == (5, 4)
    np.testing.assert_array_equal(grads["B"], np.full((5, 4), 2.0))


def test_c08_bias_gradient_is_summed_over_the_batch():
    g = ComputationalGraph()
    X = g.input("X")
    bias = g.parameter("bias", np.zeros(4))
    (X + bias).sum()
    g.forward(X=np.ones((3, 4)))
    grads = g.backward()
    assert grads["bias"].shape == (4,)
    np.testing.assert_array_equal(grads["bias"], [3.0, 3.0, 3.0, 3.0])
    assert grads["X"].shape == (3, 4)


# -- C09: overflow -----------------------------------------------------------------


def test_c09_sigmoid_saturates_without_warning_or_nan():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gate = SigmoidGate()
        out = gate.forward(np.array([-1000.0, 0.0, 1000.0]))
        (grad,) = gate.backward(np.ones(3))
    np.testing.assert_array_equal(out, [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(grad, [0.0, 0.25, 0.0])


@pytest.mark.parametrize("x, value, slope", [(-1000.0, 0.0, 0.0), (0.0, 0.5, 0.25)])
def test_c09_sigmoid_on_python_floats_in_a_graph(x, value, slope):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = ComputationalGraph(check_finite=True)
        g.input("x").sigmoid()
        assert g.forward(x=x) == value
        assert g.backward() == {"x": slope}
        assert g.forward(x=-x) == 1.0 - value


def test_c09_tanh_saturates_with_zero_gradient():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for x in (1000.0, np.array([-1000.0, 1000.0])):
            gate = TanhGate()
            out = gate.forward(x)
            (grad,) = gate.backward(np.ones_like(x))
            np.testing.assert_array_equal(np.abs(out), 1.0)
            np.testing.assert_array_equal(grad, 0.0)


def test_c09_float32_sigmoid_at_minus_89_stays_finite_and_float32():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gate = SigmoidGate()
        x = np.array([-89.0, 0.0, 89.0], dtype=np.float32)
        out = gate.forward(x)
        (grad,) = gate.backward(np.ones_like(x))
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(grad))
    assert 0.0 <= out[0] < 1e-38 and out[1] == 0.5 and out[2] == 1.0
    assert grad[1] == 0.25


# -- C19, C20: the lecture ---------------------------------------------------------


def test_c19_first_circuit():
    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    q = g.rename(x + y, "q")
    g.rename(q * z, "f")
    assert g.forward(x=-2, y=5, z=-4) == -12.0
    assert g.value("q") == 3.0
    assert g.backward() == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert g.grad("q") == -4.0


C20_GRADIENTS = {
    "w0": -0.1966119332,
    "x0": 0.3932238665,
    "w1": -0.3932238665,
    "x1": -0.5898357997,
    "w2": 0.1966119332,
}


@pytest.mark.parametrize("primitive", [True, False], ids=["chain", "sigmoid-gate"])
def test_c20_sigmoid_neuron_same_numbers_both_ways(primitive):
    g = sigmoid_neuron(primitive=primitive)
    assert g.forward(**SIGMOID_NEURON_INPUTS) == pytest.approx(0.7310585786, abs=1e-10)
    grads = g.backward()
    assert grads == pytest.approx(C20_GRADIENTS, abs=1e-10)
    _, report = check_graph(g, **SIGMOID_NEURON_INPUTS)
    assert all(check.verdict == "pass" for check in report.checks)


def test_c20_chain_and_sigmoid_gate_agree_to_rounding():
    chain, single = sigmoid_neuron(True), sigmoid_neuron(False)
    assert chain.forward(**SIGMOID_NEURON_INPUTS) == pytest.approx(
        single.forward(**SIGMOID_NEURON_INPUTS), rel=1e-15
    )
    assert chain.backward() == pytest.approx(single.backward(), rel=1e-14)
    assert chain.grad("s") == pytest.approx(single.grad("s"), rel=1e-14)
    assert len(chain.nodes("gate")) == len(single.nodes("gate")) + 3
