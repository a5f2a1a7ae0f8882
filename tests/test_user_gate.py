"""A user's own gate, ten lines, works everywhere a built-in gate does."""

import numpy as np
import pytest

from compgraph import ComputationalGraph, Trace
from compgraph.gradcheck import check_gate, check_graph
from gates import Gate


class XSinXGate(Gate):
    """``f = x sin x``; ``df/dx = sin x + x cos x``."""

    def forward(self, x):
        self.x = x
        return x * np.sin(x)

    def backward(self, upstream):
        return (upstream * (np.sin(self.x) + self.x * np.cos(self.x)),)


def test_user_gate_runs_in_a_graph_with_nothing_registered():
    g = ComputationalGraph()
    x = g.input("x")
    y = x.apply(XSinXGate()) * 2
    assert g.forward(x=2.0) == pytest.approx(2 * 2.0 * np.sin(2.0))
    assert g.backward()["x"] == pytest.approx(2 * (np.sin(2.0) + 2.0 * np.cos(2.0)))
    assert g.inputs_of(y.name) == ["xsinx1"]


def test_user_gate_passes_the_gradient_check_on_arrays_and_floats():
    assert check_gate(XSinXGate(), np.array([-2.0, 0.5, 3.0])).passed
    assert check_gate(XSinXGate(), 1.3)["x0"].verdict == "pass"
    g = ComputationalGraph()
    g.input("x").apply(XSinXGate()).sum()
    gate_reports, report = check_graph(g, x=np.array([0.3, -1.2]))
    assert all(r.passed for r in gate_reports.values()) and report.passed


def test_user_gate_shows_up_in_traces_by_class_name_or_symbol():
    g = ComputationalGraph()
    g.input("x").apply(XSinXGate(), name="f")
    forward = str(Trace(g.forward_steps(x=2.0)))
    assert forward.splitlines()[1].split() == ["1", "f", "XSinXGate", "x=2", "1.819"]
    backward = str(Trace(g.backward_steps()))
    assert backward.splitlines()[1].split()[2:5] == ["XSinXGate", "1", "x=0.077"]

    class Labelled(XSinXGate):
        symbol = "x·sin x"

    g2 = ComputationalGraph()
    g2.input("x").apply(Labelled(), name="f")
    assert "x·sin x" in str(Trace(g2.forward_steps(x=2.0)))
