"""Node handles: operators with numbers on either side, methods, repr."""

import numpy as np
import pytest

from compgraph import ComputationalGraph
from compgraph.gradcheck import check_graph


def one_input():
    g = ComputationalGraph()
    return g, g.input("x")


@pytest.mark.parametrize(
    "build, value, slope, gate_name",
    [
        (lambda x: x + 2, 5.0, 1.0, "AddConstantGate"),
        (lambda x: 2 + x, 5.0, 1.0, "AddConstantGate"),
        (lambda x: x - 2, 1.0, 1.0, "AddConstantGate"),
        (lambda x: 2 - x, -1.0, -1.0, "SubtractGate"),
        (lambda x: x * 2, 6.0, 2.0, "ScaleGate"),
        (lambda x: 2 * x, 6.0, 2.0, "ScaleGate"),
        (lambda x: x / 2, 1.5, 0.5, "DivideGate"),
        (lambda x: 6 / x, 2.0, -6 / 9, "DivideGate"),
        (lambda x: 1 / x, 1 / 3, -1 / 9, "ReciprocalGate"),
        (lambda x: x**2, 9.0, 6.0, "PowerGate"),
        (lambda x: -x, -3.0, -1.0, "NegateGate"),
        (lambda x: x.square(), 9.0, 6.0, "SquareGate"),
        (lambda x: x.sqrt(), 3**0.5, 0.5 / 3**0.5, "SqrtGate"),
        (lambda x: x.abs(), 3.0, 1.0, "AbsGate"),
        (lambda x: x.relu(), 3.0, 1.0, "ReLUGate"),
        (lambda x: x.max(4.0), 4.0, 0.0, "MaxGate"),
        (lambda x: x.min(4.0), 3.0, 1.0, "MinGate"),
        (lambda x: x.log(), np.log(3.0), 1 / 3, "LogGate"),
        (lambda x: x.exp(), np.exp(3.0), np.exp(3.0), "ExpGate"),
        (lambda x: x.tanh(), np.tanh(3.0), 1 - np.tanh(3.0) ** 2, "TanhGate"),
    ],
)
def test_operators_and_methods_add_the_right_gate(build, value, slope, gate_name):
    g, x = one_input()
    node = build(x)
    assert type(node.gate).__name__ == gate_name
    assert g.forward(x=3.0) == pytest.approx(value, rel=1e-15)
    assert g.backward()["x"] == pytest.approx(slope, rel=1e-12)


def test_an_array_on_the_left_of_an_operator_builds_one_gate_not_an_object_array():
    g, x = one_input()
    offset = np.array([1.0, 2.0])
    node = offset + x
    assert type(node).__name__ == "Node"
    scaled = np.array([2.0, 3.0]) * node
    np.testing.assert_array_equal(g.forward(x=1.0), [4.0, 9.0])
    assert g.output().name == scaled.name
    assert g.backward(np.ones(2))["x"] == 5.0


def test_node_exponent_is_refused_with_a_hint():
    _, x = one_input()
    with pytest.raises(TypeError, match=r"x \*\* c takes a number c.*\.log\(\)\)\.exp"):
        x**x


def test_truth_value_of_a_node_is_refused():
    _, x = one_input()
    with pytest.raises(TypeError, match="no truth value.*use .max"):
        bool(x)


def test_sum_with_axis_and_keepdims():
    g, x = one_input()
    x.sum(axis=0, keepdims=True)
    value = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(g.forward(x=value), [[3.0, 5.0, 7.0]])
    _, report = check_graph(g, x=value)
    assert report.passed


def test_repr_shows_name_gate_and_value():
    g, x = one_input()
    y = (x * x + 1).sigmoid()
    assert repr(y) == "Node('sigmoid1', SigmoidGate)"
    g.forward(x=0.0)
    assert repr(y) == "Node('sigmoid1', SigmoidGate, value=0.7311)"
    assert repr(x) == "Node('x', input, value=0)"


def test_value_and_grad_properties_read_the_graph():
    g, x = one_input()
    y = x * 3
    g.forward(x=2.0)
    g.backward()
    assert (y.value, y.grad, x.grad) == (6.0, 1.0, 3.0)
