"""Step records: stepping agrees with forward/backward; traces render as tables."""

import numpy as np
import pytest

from compgraph import BackwardStep, ComputationalGraph, ForwardStep, Trace
from compgraph.lecture import SIGMOID_NEURON_INPUTS, first_circuit, sigmoid_neuron
from compgraph.trace import format_value


def test_forward_steps_yield_one_record_per_gate_in_order():
    g = first_circuit()
    steps = list(g.forward_steps(x=-2, y=5, z=-4))
    assert [type(s) for s in steps] == [ForwardStep, ForwardStep]
    assert [s.node for s in steps] == ["q", "f"]
    assert steps[0].inputs == ("x", "y") and steps[0].values == [-2.0, 5.0]
    assert steps[0].output == 3.0 and steps[1].output == -12.0
    assert steps[1].gate is g.gate("f")


def test_backward_steps_record_upstream_local_and_downstream():
    g = first_circuit()
    g.forward(x=-2, y=5, z=-4)
    steps = list(g.backward_steps())
    assert [s.node for s in steps] == ["f", "q"]
    f, q = steps
    assert (f.upstream, tuple(f.downstream), tuple(f.local)) == (
        1.0,
        (-4.0, 3.0),
        (-4.0, 3.0),
    )
    assert (q.upstream, tuple(q.downstream), tuple(q.local)) == (
        -4.0,
        (-4.0, -4.0),
        (1.0, 1.0),
    )


@pytest.mark.parametrize("primitive", [True, False])
def test_stepping_to_the_end_gives_what_forward_and_backward_give(primitive):
    stepped, direct = sigmoid_neuron(primitive), sigmoid_neuron(primitive)
    forward = list(stepped.forward_steps(**SIGMOID_NEURON_INPUTS))
    assert forward[-1].output == direct.forward(**SIGMOID_NEURON_INPUTS)
    for step in forward:
        assert direct.value(step.node) == step.output
    backward = list(stepped.backward_steps())
    expected = direct.backward()
    assert {n: stepped.grad(n) for n in expected} == expected
    for step in backward:
        assert direct.grad(step.node) == step.upstream
    assert len(forward) == len(backward) == len(direct.nodes("gate"))


def test_a_forward_stopped_halfway_does_not_allow_backward():
    g = first_circuit()
    steps = g.forward_steps(x=-2, y=5, z=-4)
    next(steps)
    with pytest.raises(Exception, match="call forward"):
        g.backward()


def test_trace_renders_a_forward_table():
    g = first_circuit()
    text = str(Trace(g.forward_steps(x=-2, y=5, z=-4)))
    assert text.splitlines() == [
        "step  node  gate  inputs     output",
        "   1  q     +     x=-2, y=5       3",
        "   2  f     *     q=3, z=-4     -12",
    ]


def test_trace_renders_a_backward_table_with_local_gradients():
    g = first_circuit()
    g.forward(x=-2, y=5, z=-4)
    text = str(Trace(g.backward_steps()))
    assert text.splitlines() == [
        "step  node  gate  upstream  local      sends",
        "   1  f     *     1         q=-4, z=3  q=-4, z=3",
        "   2  q     +     -4        x=1, y=1   x=-4, y=-4",
    ]


def test_trace_renders_html_with_escaped_cells():
    g = ComputationalGraph()
    a, b = g.input("a<b"), g.input("b")
    g.rename(a + b, "s&t")
    html = Trace(g.forward_steps(**{"a<b": 1.0, "b": 2.0}))._repr_html_()
    assert html.startswith("<table><tr><th>step</th>")
    assert "<td>s&amp;t</td>" in html and "a&lt;b=1" in html
    assert html.count("<tr>") == 2


def test_trace_of_a_tensor_gate_says_tensor_for_local():
    g = ComputationalGraph()
    g.input("x").exp()
    g.forward(x=np.array([0.0, 1.0]))
    rows = Trace(g.backward_steps(np.ones(2))).rows()
    assert rows[1][4] == "(tensor)"
    assert rows[1][5] == "x=[1, 2.718]"


def test_format_value_rounds_numbers_and_summarises_big_arrays():
    assert format_value(None) == "-"
    assert format_value(np.float32(0.1)) == "0.1"
    assert format_value(float("nan")) == "nan"
    assert format_value(np.eye(2)) == "(2, 2) [1, 0, 0, 1]"
    assert format_value(np.arange(10.0)) == "array (10,) in [0, 9]"


def test_step_reprs_are_readable():
    g = first_circuit()
    (step, _) = g.forward_steps(x=-2, y=5, z=-4)
    assert repr(step) == "ForwardStep('q': +(-2, 5) = 3)"
    (back, _) = g.backward_steps()
    assert isinstance(back, BackwardStep)
    assert repr(back) == "BackwardStep('f': *, upstream 1 -> (-4, 3))"
