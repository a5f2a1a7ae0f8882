"""The gradient checker: reports, verdicts, warnings, graph checks, Jacobians."""

import numpy as np
import pytest

from compgraph import ComputationalGraph, GateContractError, GradientCheckError
from compgraph.gradcheck import (
    check_gate,
    check_graph,
    first_failure,
    graph_jacobian,
    jacobian,
    numerical_gradient,
    relative_error,
)
from gates import Gate, MultiplyGate, ReLUGate, SigmoidGate


class HalfWrongMultiply(MultiplyGate):
    """A deliberately broken gate: dx is right, dy is off by a factor 2."""

    def backward(self, upstream):
        dx, dy = super().backward(upstream)
        return dx, 2 * dy


def test_numerical_gradient_of_a_known_function():
    grad, kinks = numerical_gradient(
        lambda v: float(np.sum(v**3)), np.array([1.0, -2.0])
    )
    np.testing.assert_allclose(grad, [3.0, 12.0], rtol=1e-8)
    assert not kinks.any()


def test_relative_error_behaves_near_zero():
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(1e-15, -1e-15) < 1e-6  # both are zero, for all purposes
    assert relative_error(1.0, 1.0 + 1e-9) == pytest.approx(1e-9, rel=1e-3)
    assert relative_error(1.0, 2.0) == 0.5


def test_report_names_input_index_values_error_and_verdict():
    report = check_gate(SigmoidGate(), np.array([[-2.0, 0.5], [3.0, 1.0]]))
    assert report.passed
    check = report["x0"]
    assert check.verdict == "pass"
    assert check.worst_error < 1e-7
    assert check.worst_index in [(i, j) for i in range(2) for j in range(2)]
    lines = str(report).splitlines()
    assert lines[0] == "SigmoidGate"
    assert lines[1].split() == [
        "input",
        "worst",
        "index",
        "analytic",
        "numeric",
        "rel.",
        "error",
        "verdict",
    ]
    assert lines[2].startswith("x0") and lines[2].endswith("pass")


def test_a_broken_gate_fails_with_a_readable_report():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.5, 2.0])
    upstream = np.array([1.0, -1.0, 0.5])
    report = check_gate(HalfWrongMultiply(), x, y, upstream=upstream)
    assert not report.passed
    assert report["x0"].verdict == "pass" and report["x1"].verdict == "fail"
    assert report["x1"].worst_error == pytest.approx(0.5)
    assert report["x1"].analytic[0] == pytest.approx(2.0)
    assert report["x1"].numeric[0] == pytest.approx(1.0)
    text = str(report)
    assert "HalfWrongMultiply" in text and "5.00e-01" in text and "fail" in text
    with pytest.raises(GradientCheckError, match="gradient check failed\nHalfWrong"):
        report.raise_if_failed()


def test_the_upstream_gradient_is_random_not_all_ones():
    # A gate whose dx is right only when upstream is all ones.
    class IgnoresUpstream(Gate):
        def forward(self, x):
            return x * 3.0

        def backward(self, upstream):
            return (np.full_like(upstream, 3.0),)

    assert not check_gate(IgnoresUpstream(), np.array([1.0, 2.0, 3.0])).passed


def test_the_checker_flags_a_step_across_a_kink():
    report = check_gate(ReLUGate(), np.array([5e-7, 1.0]), upstream=np.ones(2))
    check = report["x0"]
    assert check.kinks.tolist() == [True, False]
    assert check.verdict == "kink" and report.passed
    with pytest.warns(UserWarning, match="'x0' crossed a kink; move the input away"):
        report.warn_if_unreliable()


def test_the_checker_flags_a_vacuous_check():
    report = check_gate(ReLUGate(), np.array([-1.0, -2.0]))
    assert report["x0"].verdict == "vacuous"
    with pytest.warns(UserWarning, match="'x0' is vacuous: both gradients are nearly"):
        report.warn_if_unreliable()


def test_check_gate_refuses_a_gate_that_breaks_the_contract():
    class Bare(Gate):
        def forward(self, x):
            return x

        def backward(self, upstream):
            return upstream

    with pytest.raises(
        GateContractError, match="Bare.backward must return a tuple of 1"
    ):
        check_gate(Bare(), np.ones(2))


def test_check_graph_names_the_first_wrong_gate():
    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    q = g.rename(x + y, "q")
    g.rename(g.add_gate(HalfWrongMultiply(), [q, z]), "f")
    g.rename(g["f"].sigmoid(), "s")
    gate_reports, report = check_graph(g, x=0.5, y=-1.0, z=1.5)
    assert list(gate_reports) == ["q", "f", "s"]
    assert first_failure(gate_reports) == "f"
    assert "gate 'f' (HalfWrongMultiply)" in str(gate_reports["f"])
    assert not report.passed
    assert report["z"].verdict == "fail" and report["x"].verdict == "pass"


def test_check_graph_passes_a_right_graph_and_leaves_it_as_it_was():
    g = ComputationalGraph()
    x, w = g.input("x"), g.parameter("w", np.array([0.5, -1.0, 2.0]))
    (x * w).tanh().sum()
    value = np.array([1.0, 2.0, -0.5])
    gate_reports, report = check_graph(g, x=value)
    assert first_failure(gate_reports) is None and report.passed
    np.testing.assert_array_equal(g.value("w"), [0.5, -1.0, 2.0])
    np.testing.assert_allclose(
        g.grad("w"), value * (1 - np.tanh(value * g.value("w")) ** 2)
    )


def test_jacobian_of_an_elementwise_gate_is_diagonal():
    analytic, numeric = jacobian(SigmoidGate(), np.array([-1.0, 0.0, 2.0]))
    s = 1 / (1 + np.exp(-np.array([-1.0, 0.0, 2.0])))
    np.testing.assert_allclose(analytic, np.diag(s * (1 - s)), rtol=1e-15)
    np.testing.assert_allclose(numeric, analytic, rtol=1e-7, atol=1e-10)


def test_jacobian_of_multiply_with_respect_to_a_broadcast_input():
    x, y = np.array([1.0, 2.0, 3.0]), 4.0
    analytic, numeric = jacobian(MultiplyGate(), x, y, wrt=1)
    assert analytic.shape == (3, 1)
    np.testing.assert_allclose(analytic, [[1.0], [2.0], [3.0]])
    np.testing.assert_allclose(numeric, analytic, rtol=1e-8)


def test_graph_jacobian_matches_numeric_for_a_small_graph():
    g = ComputationalGraph()
    x = g.input("x")
    (x * x).exp()
    value = np.array([0.5, -0.25])
    analytic, numeric = graph_jacobian(g, "x", x=value)
    np.testing.assert_allclose(analytic, np.diag(2 * value * np.exp(value**2)))
    np.testing.assert_allclose(numeric, analytic, rtol=1e-7)


def test_check_graph_takes_inputs_named_like_its_options_as_a_dict():
    g = ComputationalGraph()
    h, seed = g.input("h"), g.input("seed")
    (h * seed).tanh()
    gate_reports, report = check_graph(g, {"h": 0.3, "seed": -1.2})
    assert report.passed and set(report.checks[i].name for i in (0, 1)) == {"h", "seed"}
    assert g.grad("h") == pytest.approx(-1.2 * (1 - np.tanh(-0.36) ** 2))


class _ScaledMultiply(MultiplyGate):
    """x * y whose backward for y is off by 1%, to prove the check still bites."""

    def backward(self, upstream):
        dx, dy = super().backward(upstream)
        return dx, 1.01 * dy


def test_tiny_correct_gradient_next_to_a_large_output_is_not_failed():
    # f = sum(u * x * y) is about 3000, so a centered difference carries
    # rounding noise near eps * 3000 / h ~ 1e-6: the tiny true gradient
    # u * 2e-6 of y[1] cannot be resolved, and must not be called wrong.
    x, y = np.array([1000.0, 2e-6]), np.array([3.0, 1.7e-3])
    report = check_gate(MultiplyGate(), x, y, upstream=np.array([1.0, 0.7]))
    assert report.passed, str(report)
    assert report["x1"].verdict in ("pass", "doubtful")


def test_noise_floor_still_fails_a_wrong_gradient():
    x, y = np.array([1000.0, 2e-6]), np.array([3.0, 1.7e-3])
    report = check_gate(_ScaledMultiply(), x, y, upstream=np.array([1.0, 0.7]))
    assert report["x1"].verdict == "fail"
    assert report["x0"].verdict in ("pass", "doubtful")


def test_gradients_below_the_noise_floor_everywhere_are_vacuous():
    # Both gradients are rounding noise of an O(1) output: nothing to judge.
    report = check_gate(MultiplyGate(), np.array([1.0, 2.0]), np.array([1e-13, 0.0]))
    assert report["x0"].verdict == "vacuous"
    assert report["x1"].verdict == "pass"


class _DoublesInPlace(Gate):
    """f = 2x, written the wrong way: it doubles the caller's array."""

    def forward(self, x):
        x *= 2
        return x

    def backward(self, upstream):
        return (2 * upstream,)


class _ScalesUpstreamInPlace(Gate):
    def forward(self, x):
        return 2 * x

    def backward(self, upstream):
        upstream *= 2
        return (upstream,)


def test_check_gate_refuses_a_forward_that_changes_its_input():
    with pytest.raises(GateContractError, match="changed its input 0 in place"):
        check_gate(_DoublesInPlace(), np.array([1.0, 2.0]))


def test_check_gate_refuses_a_backward_that_changes_the_upstream_gradient():
    with pytest.raises(GateContractError, match="changed the upstream gradient"):
        check_gate(_ScalesUpstreamInPlace(), np.array([1.0, 2.0]))


def test_first_failure_takes_the_whole_result_of_check_graph():
    g = ComputationalGraph()
    x = g.input("x")
    g.rename(x.apply(HalfWrongMultiply(), x), "wrong")
    assert first_failure(check_graph(g, x=np.array([1.0, 2.0]))) == "wrong"
