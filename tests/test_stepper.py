"""The stepper walks the same passes as forward and backward, one gate a step."""

import sys

import numpy as np
import pytest

from compgraph import CompGraphError, ComputationalGraph, GraphStructureError
from compgraph.draw import GRAD_COLOUR
from compgraph.lecture import (
    FIRST_CIRCUIT_INPUTS,
    SIGMOID_NEURON_INPUTS,
    first_circuit,
    sigmoid_neuron,
)
from compgraph.stepper import Stepper

LECTURE = [
    (first_circuit, FIRST_CIRCUIT_INPUTS),
    (lambda: sigmoid_neuron(primitive=True), SIGMOID_NEURON_INPUTS),
    (lambda: sigmoid_neuron(primitive=False), SIGMOID_NEURON_INPUTS),
]


@pytest.mark.parametrize("build, inputs", LECTURE)
def test_stepper_visits_every_gate_once_forward_then_once_backward(build, inputs):
    graph = build()
    gates = [n for n in graph.topological_order() if graph.kind(n) == "gate"]

    records = list(Stepper(graph, **inputs))
    phases = [type(r).__name__ for r in records]

    assert phases == ["ForwardStep"] * len(gates) + ["BackwardStep"] * len(gates)
    assert [r.node for r in records[: len(gates)]] == gates
    assert [r.node for r in records[len(gates) :]] == gates[::-1]


@pytest.mark.parametrize("build, inputs", LECTURE)
def test_stepper_records_agree_with_forward_and_backward(build, inputs):
    reference = build()
    output = reference.forward(**inputs)
    grads = reference.backward()
    stepper = Stepper(build(), **inputs)

    records = list(stepper)

    for record in records[: len(records) // 2]:
        assert record.output == pytest.approx(reference.value(record.node), abs=1e-15)
    for record in records[len(records) // 2 :]:
        assert record.upstream == pytest.approx(reference.grad(record.node), abs=1e-15)
    snapshot = stepper.snapshot()
    assert snapshot.values[reference.output().name] == output
    for name, grad in grads.items():
        assert snapshot.grads[name] == pytest.approx(grad, abs=1e-15)


def test_stepper_shows_the_first_circuit_step_by_step():
    stepper = Stepper(first_circuit(), **FIRST_CIRCUIT_INPUTS)

    first = stepper.next()
    assert (first.node, stepper.phase, stepper.output) == ("q", "forward", 3.0)
    assert stepper.input_values == {"x": -2.0, "y": 5.0}
    assert stepper.cache == {"x": -2.0, "y": 5.0}

    stepper.next()
    assert (stepper.node, stepper.output, stepper.upstream) == ("f", -12.0, None)

    stepper.next()  # backward through f = q * z: multiply swaps
    assert (stepper.phase, stepper.upstream) == ("backward", 1.0)
    assert stepper.local == {"q": -4.0, "z": 3.0}
    assert stepper.downstream == {"q": -4.0, "z": 3.0}
    assert stepper.output is None

    stepper.next()  # backward through q = x + y: add distributes
    assert stepper.downstream == {"x": -4.0, "y": -4.0}
    assert stepper.done
    with pytest.raises(StopIteration, match="all 4 steps are taken"):
        stepper.next()


def test_cache_hides_private_attributes_and_the_training_flag():
    stepper = Stepper(sigmoid_neuron(), **SIGMOID_NEURON_INPUTS)

    stepper.run_to("exp1")

    assert stepper.cache == {"out": pytest.approx(np.exp(-1.0))}
    assert hasattr(stepper.gate, "_compgraph_place") and hasattr(
        stepper.gate, "training"
    )


def test_back_replays_to_the_step_before():
    stepper = Stepper(sigmoid_neuron(), **SIGMOID_NEURON_INPUTS)
    stepper.run_to("exp1", phase="backward")
    upstream = stepper.upstream
    node_before = stepper.records[-2].node

    record = stepper.back()

    assert record.node == node_before == stepper.node
    assert stepper.next().node == "exp1"
    assert stepper.upstream == upstream
    stepper.reset()
    assert stepper.record is None
    with pytest.raises(CompGraphError, match="no step back"):
        stepper.back()


def test_run_to_stops_after_the_named_gate_in_the_named_phase():
    stepper = Stepper(first_circuit(), **FIRST_CIRCUIT_INPUTS)

    assert stepper.run_to("f").output == -12.0
    assert len(stepper.records) == 2
    assert stepper.run_to("q", phase="backward").downstream == (-4.0, -4.0)
    assert stepper.run_to("q").output == 3.0 and len(stepper.records) == 1


def test_run_to_explains_what_it_cannot_reach():
    graph = first_circuit()
    dead = graph.rename(graph["x"].exp(), "dead")  # does not lead to f
    graph.output("f")
    stepper = Stepper(graph, **FIRST_CIRCUIT_INPUTS)

    assert stepper.run_to("dead").output == pytest.approx(np.exp(-2.0))
    with pytest.raises(GraphStructureError, match="'dead' does not run backward"):
        stepper.run_to(dead.name, phase="backward")
    with pytest.raises(GraphStructureError, match="stops at gates; 'x' is an input"):
        stepper.run_to("x")
    with pytest.raises(GraphStructureError, match="no node named 'qq'"):
        stepper.run_to("qq")
    with pytest.raises(ValueError, match="phase must be 'forward' or 'backward'"):
        stepper.run_to("q", phase="sideways")
    assert len(stepper) == 5  # three gates forward, two backward


def test_stepper_needs_exactly_the_graph_inputs():
    with pytest.raises(CompGraphError, match="missing: z, unknown: w"):
        Stepper(first_circuit(), x=1.0, y=2.0, w=3.0)


def test_drawing_at_a_step_shows_only_what_is_known():
    stepper = Stepper(first_circuit(), **FIRST_CIRCUIT_INPUTS)

    at_start = stepper.draw()
    assert {t.wire for t in at_start.find(role="value")} == {
        ("x", "q"),
        ("y", "q"),
        ("z", "f"),
    }
    stepper.next()
    after_q = stepper.draw()
    assert after_q.highlight == "q"
    assert after_q.find(role="value", wire=("q", "f"))[0].text == "3.00"
    assert after_q.find(role="value", wire=("f", None)) == []

    stepper.run_to("f", phase="backward")
    mid_backward = stepper.draw()
    grads = {t.wire: t.text for t in mid_backward.find(role="grad")}
    assert grads == {("f", None): "1.00", ("q", "f"): "-4.00", ("z", "f"): "3.00"}
    assert all(t.colour == GRAD_COLOUR for t in mid_backward.find(role="grad"))


def test_stepper_takes_an_upstream_gradient_for_an_array_output():
    g = ComputationalGraph()
    a = g.input("a")
    g.rename(a * a, "sq")
    stepper = Stepper(g, upstream=np.array([1.0, 10.0]), a=np.array([2.0, 3.0]))

    records = list(stepper)

    # d(a * a)/da = a from each port; the two shares add up to 2a * upstream.
    np.testing.assert_allclose(records[-1].downstream[0], [2.0, 30.0])
    assert stepper.local is None  # a tensor output has no scalar local gradient
    np.testing.assert_allclose(stepper.snapshot().grads["a"], [4.0, 60.0])


def test_widget_slides_over_every_step():
    pytest.importorskip("ipywidgets", reason="the widget needs ipywidgets")
    stepper = Stepper(first_circuit(), **FIRST_CIRCUIT_INPUTS)

    box = stepper.widget()
    slider = box.children[0]

    assert (slider.min, slider.max) == (0, 4)
    slider.value = 3
    assert len(stepper.records) == 3 and stepper.node == "f"


def test_widget_without_ipywidgets_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    stepper = Stepper(first_circuit(), **FIRST_CIRCUIT_INPUTS)

    with pytest.raises(ImportError, match="needs ipywidgets .* step with next"):
        stepper.widget()


def test_describe_and_repr_name_the_step():
    stepper = Stepper(first_circuit(), **FIRST_CIRCUIT_INPUTS)
    assert repr(stepper) == "<Stepper: step 0 of 4, at the start>"

    stepper.run_to("f", phase="backward")

    assert repr(stepper) == "<Stepper: step 3 of 4, backward at 'f' (*)>"
    text = stepper.describe()
    assert "upstream gradient: 1" in text
    assert "local gradients: q=-4, z=3" in text


def test_widget_shows_the_step_record_as_text():
    pytest.importorskip("ipywidgets", reason="the widget needs ipywidgets")
    stepper = Stepper(first_circuit(), **FIRST_CIRCUIT_INPUTS)

    box = stepper.widget()
    box.children[0].value = 4
    record_panel = box.children[1].children[1]

    assert "step 4 of 4: backward through &#x27;q&#x27;" in record_panel.value
    assert "sends: x=-4, y=-4" in record_panel.value
