"""Drawings are tested through what they draw: texts, colours, positions."""

import math
import re

import numpy as np
import pytest

from compgraph import ComputationalGraph, GraphStructureError
from compgraph.draw import (
    GRAD_COLOUR,
    VALUE_COLOUR,
    Drawing,
    Snapshot,
    draw,
    format_number,
    to_dot,
    to_svg,
)
from compgraph.lecture import (
    FIRST_CIRCUIT_INPUTS,
    SIGMOID_NEURON_INPUTS,
    first_circuit,
    sigmoid_neuron,
)
from gates import Gate


def run(graph, **inputs):
    graph.forward(**inputs)
    graph.backward()
    return graph


def wire_numbers(drawing, wire):
    """The (value, gradient) texts on one wire, checking colour and position."""
    value = drawing.find(role="value", wire=wire)
    grad = drawing.find(role="grad", wire=wire)
    assert len(value) == len(grad) == 1, (wire, value, grad)
    value, grad = value[0], grad[0]
    assert value.colour == VALUE_COLOUR and grad.colour == GRAD_COLOUR
    (start, end) = drawing.wires[wire][0]
    # Both sit by the wire, the value above it and the gradient below it.
    t = (value.x - start[0]) / (end[0] - start[0])
    wire_y = start[1] + t * (end[1] - start[1])
    assert 0.0 < t < 1.0
    assert value.y > wire_y > grad.y
    assert value.y - grad.y < 0.5
    return value.text, grad.text


# C19: f = (x + y) * z at (-2, 5, -4).
C19_WIRES = {
    ("x", "q"): ("-2.00", "-4.00"),
    ("y", "q"): ("5.00", "-4.00"),
    ("z", "f"): ("-4.00", "3.00"),
    ("q", "f"): ("3.00", "-4.00"),
    ("f", None): ("-12.00", "1.00"),
}


def test_first_circuit_drawing_puts_every_slide_number_on_its_wire():
    drawing = draw(run(first_circuit(), **FIRST_CIRCUIT_INPUTS))

    found = {wire: wire_numbers(drawing, wire) for wire in C19_WIRES}

    assert found == C19_WIRES
    labels = {t.node: t.text for t in drawing.find(role="label")}
    assert labels == {"x": "x", "y": "y", "z": "z", "q": "+", "f": "*"}


def test_first_circuit_layout_runs_left_to_right_by_depth():
    drawing = draw(first_circuit())
    x = {name: drawing.positions[name][0] for name in "xyzqf"}
    y = {name: drawing.positions[name][1] for name in "xyzqf"}

    assert x["x"] == x["y"] == x["z"] < x["q"] < x["f"]
    # The barycentre pass puts q between its inputs and keeps z below them.
    assert min(y["x"], y["y"]) < y["q"] < max(y["x"], y["y"])
    assert y["z"] < min(y["x"], y["y"])


def sigmoid_slide():
    """The lecture's neuron worked by hand, rounded as on the slide."""
    w0, x0, w1, x1, w2 = (
        SIGMOID_NEURON_INPUTS[k] for k in ("w0", "x0", "w1", "x1", "w2")
    )
    s = w0 * x0 + w1 * x1 + w2
    e = math.exp(-s)
    d = 1 + e
    df_dd = -1 / d**2
    df_ds = -e * df_dd  # through exp (local e) and *-1 (local -1)
    slide = {
        ("w0", "multiply1"): (w0, x0 * df_ds),
        ("x0", "multiply1"): (x0, w0 * df_ds),
        ("w1", "multiply2"): (w1, x1 * df_ds),
        ("x1", "multiply2"): (x1, w1 * df_ds),
        ("multiply1", "add1"): (w0 * x0, df_ds),
        ("multiply2", "add1"): (w1 * x1, df_ds),
        ("add1", "s"): (w0 * x0 + w1 * x1, df_ds),
        ("w2", "s"): (w2, df_ds),
        ("s", "negate1"): (s, df_ds),
        ("negate1", "exp1"): (-s, -df_ds),
        ("exp1", "addconstant1"): (e, df_dd),
        ("addconstant1", "f"): (d, df_dd),
        ("f", None): (1 / d, 1.0),
    }
    return {wire: (f"{v:.2f}", f"{g:.2f}") for wire, (v, g) in slide.items()}


def test_sigmoid_neuron_drawing_matches_the_slide_on_every_wire():
    expected = sigmoid_slide()
    drawing = draw(run(sigmoid_neuron(primitive=True), **SIGMOID_NEURON_INPUTS))

    found = {wire: wire_numbers(drawing, wire) for wire in expected}

    assert found == expected
    assert found[("x0", "multiply1")] == ("-1.00", "0.39")
    assert found[("x1", "multiply2")] == ("-2.00", "-0.59")
    symbols = {t.text for t in drawing.find(role="label")}
    assert {"*", "+", "*-1", "exp", "+1", "1/x"} <= symbols


def test_sigmoid_gate_drawing_shows_the_same_gradients_as_the_chain():
    chain = sigmoid_slide()
    drawing = draw(run(sigmoid_neuron(primitive=False), **SIGMOID_NEURON_INPUTS))

    assert wire_numbers(drawing, ("s", "f")) == ("1.00", "0.20")
    for wire in [("w0", "multiply1"), ("x0", "multiply1"), ("w2", "s")]:
        assert wire_numbers(drawing, wire) == chain[wire]
    assert drawing.find(role="label", node="f")[0].text == "σ"


def test_first_circuit_dot_names_every_node_and_edge_with_numbers():
    graph = run(first_circuit(), **FIRST_CIRCUIT_INPUTS)

    dot = to_dot(graph)

    assert dot.startswith("digraph compgraph {") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    declared = re.findall(r'^  "([^"]+)" \[', dot, flags=re.M)
    assert set(graph.nodes()) <= set(declared)
    edges = re.findall(r'^  "([^"]+)" -> "([^"]+)" \[label=<(.*)>\];$', dot, flags=re.M)
    labels = {(u, v): label for u, v, label in edges}
    assert set(labels) == {
        ("x", "q"),
        ("y", "q"),
        ("z", "f"),
        ("q", "f"),
        ("f", "output: f"),
    }
    for (u, v), (value, grad) in C19_WIRES.items():
        label = labels[(u, v or "output: f")]
        assert f'<font color="{VALUE_COLOUR}">{value}</font>' in label
        assert f'<font color="{GRAD_COLOUR}">{grad}</font>' in label
    assert re.search(r'"q" \[shape=circle, label=<\+>, xlabel=<q>\]', dot)


# pydot 4 still calls pyparsing's old camelCase names, which warn on import.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_dot_parses_with_pydot_when_it_is_installed():
    pydot = pytest.importorskip("pydot", reason="pydot is optional")
    graph = run(first_circuit(), **FIRST_CIRCUIT_INPUTS)

    parsed = pydot.graph_from_dot_data(to_dot(graph))[0]

    names = {n.get_name().strip('"') for n in parsed.get_nodes()}
    assert set(graph.nodes()) <= names


class XSinX(Gate):
    """A user's gate with no symbol: f = x sin x, df/dx = sin x + x cos x."""

    def forward(self, x):
        self.x = x
        return x * math.sin(x)

    def backward(self, upstream):
        return (upstream * (math.sin(self.x) + self.x * math.cos(self.x)),)


def user_graph():
    g = ComputationalGraph()
    x = g.input("x")
    y = g.rename(x.apply(XSinX()), "user.xsinx")
    g.rename(y * 3.0, "out")
    return run(g, x=2.0)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"values": False},
        {"grads": False},
        {"highlight": "user.xsinx"},
        {"collapse": ["user"]},
        {"collapse": True},
        {"digits": 4},
        {"names": False},
    ],
)
def test_user_gate_is_drawn_with_its_class_name_under_every_option(options):
    drawing = draw(user_graph(), **options)

    labels = [t.text for t in drawing.find(role="label")]
    if "collapse" in options:
        assert "user\n1 gate" in labels
    else:
        assert "XSinX" in labels
    values = [t.text for t in drawing.find(role="value")]
    grads = [t.text for t in drawing.find(role="grad")]
    digits = options.get("digits", 2)
    # dy/dx = 3 (sin 2 + 2 cos 2), worked by hand.
    dx = f"{3 * (math.sin(2) + 2 * math.cos(2)):.{digits}f}"
    assert (dx in grads) == options.get("grads", True)
    assert (f"{2:.{digits}f}" in values) == options.get("values", True)
    assert f"{2 * math.sin(2):.{digits}f}" in values or not options.get("values", True)


def test_user_gate_works_in_dot_and_svg():
    graph = user_graph()

    assert "label=<XSinX>" in to_dot(graph)
    assert "label=<user>" in to_dot(graph, collapse=["user"])
    assert "XSinX" in to_svg(graph, highlight="user.xsinx")


def test_fan_out_shows_each_consumer_share_and_their_sum():
    # C03: f = a*b + a*c at (2, 3, 4); df/da = b + c = 7.
    g = ComputationalGraph()
    a, b, c = g.input("a"), g.input("b"), g.input("c")
    g.rename(g.rename(a * b, "ab") + g.rename(a * c, "ac"), "f")
    drawing = draw(run(g, a=2.0, b=3.0, c=4.0))

    assert wire_numbers(drawing, ("a", "ab")) == ("2.00", "3.00")
    assert wire_numbers(drawing, ("a", "ac")) == ("2.00", "4.00")
    sums = drawing.find(role="sum")
    assert [(s.text, s.node, s.colour) for s in sums] == [
        ("grad = 3.00 + 4.00 = 7.00", "a", GRAD_COLOUR)
    ]


def test_one_node_feeding_both_inputs_draws_two_wires_and_their_sum():
    # C02: f = x * x at x = 3; df/dx = 3 + 3 = 6.
    g = ComputationalGraph()
    x = g.input("x")
    g.rename(x * x, "f")
    drawing = draw(run(g, x=3.0))

    assert len(drawing.wires[("x", "f")]) == 2
    grads = drawing.find(role="grad", wire=("x", "f"))
    assert [t.text for t in grads] == ["3.00", "3.00"]
    assert grads[0].y != grads[1].y  # the twin wires bend apart
    assert drawing.find(role="sum")[0].text == "grad = 3.00 + 3.00 = 6.00"


def test_negative_shares_read_as_a_difference():
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    g.rename(x * y + x, "f")
    drawing = draw(run(g, x=1.0, y=-3.0))

    assert drawing.find(role="sum")[0].text == "grad = -3.00 + 1.00 = -2.00"


def test_before_forward_only_the_structure_is_drawn():
    drawing = draw(first_circuit())

    assert drawing.find(role="value") == drawing.find(role="grad") == []
    assert len(drawing.wires) == 5


def test_after_forward_values_show_but_no_gradients():
    graph = first_circuit()
    graph.forward(**FIRST_CIRCUIT_INPUTS)

    drawing = draw(graph)

    assert len(drawing.find(role="value")) == 5
    assert drawing.find(role="grad") == []


def test_highlight_marks_one_box_and_rejects_unknown_names():
    graph = first_circuit()

    assert draw(graph, highlight="q").highlight == "q"
    with pytest.raises(
        GraphStructureError, match="no node named 'qq'; did you mean 'q'"
    ):
        draw(graph, highlight="qq")


def layer_graph():
    """x -> fc1 (W*x + b) -> relu -> fc2 (V*h) -> out, named like layers."""
    g = ComputationalGraph()
    x = g.input("x")
    w, b = g.parameter("fc1.W", 2.0), g.parameter("fc1.b", -1.0)
    h = g.rename(g.rename(w * x, "fc1.mul") + b, "fc1.affine")
    r = g.rename(h.relu(), "act")
    v = g.parameter("fc2.W", 3.0)
    g.rename(v * r, "fc2.mul")
    return run(g, x=1.5)


def test_collapse_draws_a_layer_as_one_box_with_its_wires():
    graph = layer_graph()

    drawing = draw(graph, collapse={"fc1": "Linear 1->1", "fc2": "Linear"})

    assert set(drawing.positions) == {"x", "fc1", "act", "fc2"}
    labels = {t.node: t.text for t in drawing.find(role="label")}
    assert labels["fc1"] == "Linear 1->1\n2 gates"
    # x (1.5) enters fc1; dL/dx = V * relu'(h) * W = 3 * 1 * 2.
    assert wire_numbers(drawing, ("x", "fc1")) == ("1.50", "6.00")
    assert wire_numbers(drawing, ("fc1.affine", "act")) == ("2.00", "3.00")
    assert wire_numbers(drawing, ("act", "fc2")) == ("2.00", "3.00")
    assert draw(graph, collapse=["fc1"], highlight="fc1.mul").highlight == "fc1"


def test_collapse_of_an_unknown_prefix_says_how_layers_are_named():
    with pytest.raises(GraphStructureError, match="no node is named 'conv9'"):
        draw(layer_graph(), collapse=["conv9"])


def test_arrays_show_in_full_when_small_and_as_a_summary_when_large():
    g = ComputationalGraph()
    a, big = g.input("a"), g.input("big")
    g.rename((a * 2.0).sum() + big.sum(), "L")
    drawing = draw(run(g, a=np.array([1.0, -2.0]), big=np.arange(12.0).reshape(3, 4)))

    assert wire_numbers(drawing, ("a", "scale1")) == ("[1.00, -2.00]", "[2.00, 2.00]")
    value, grad = wire_numbers(drawing, ("big", "sum2"))
    assert value == "(3, 4)\nin [0.00, 11.00]"
    assert grad == "(3, 4)\nin [1.00, 1.00]"
    assert "(3, 4)<br/>in [0.00, 11.00]" in to_dot(g)


def test_format_number_rounds_like_the_slides():
    assert format_number(0.7310585786) == "0.73"
    assert format_number(-0.001) == "-1.00e-03"
    assert format_number(-1e-9) == "-1.00e-09"
    assert format_number(-0.0) == "0.00"
    assert format_number(np.int64(7)) == "7"
    assert format_number(float("nan")) == "nan"
    assert format_number(3.14159, digits=4) == "3.1416"


def test_save_writes_png_and_svg(tmp_path):
    drawing = draw(run(first_circuit(), **FIRST_CIRCUIT_INPUTS))

    drawing.save(tmp_path / "f.png")
    drawing.save(tmp_path / "f.svg")

    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (tmp_path / "f.svg").read_text()


def test_graph_shows_itself_as_svg_in_jupyter():
    graph = run(first_circuit(), **FIRST_CIRCUIT_INPUTS)

    svg = graph._repr_svg_()

    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert "-12.00" in svg  # text stays text, so the numbers are in the SVG
    assert isinstance(graph.draw(), Drawing)


def test_snapshot_of_a_graph_sums_its_shares_into_the_gradients():
    graph = run(first_circuit(), **FIRST_CIRCUIT_INPUTS)

    snapshot = Snapshot.of_graph(graph)

    assert snapshot.shares[("q", "f", 0)] == -4.0
    assert snapshot.shares[("z", "f", 1)] == 3.0
    assert snapshot.grads == {"f": 1.0, "q": -4.0, "z": 3.0, "x": -4.0, "y": -4.0}


def test_a_graph_without_gates_draws_its_leaves_alone():
    g = ComputationalGraph()
    g.input("x")
    g.parameter("w", 2.0)

    drawing = draw(g)

    assert [t.text for t in drawing.find(role="label")] == ["x", "w"]
    assert drawing.wires == {}
    assert '"w" [shape=plaintext' in to_dot(g)


def test_draw_into_given_axes_side_by_side():
    from matplotlib.figure import Figure

    figure = Figure()
    left, right = figure.subplots(1, 2)
    chain = run(sigmoid_neuron(primitive=True), **SIGMOID_NEURON_INPUTS)
    one_gate = run(sigmoid_neuron(primitive=False), **SIGMOID_NEURON_INPUTS)

    first, second = draw(chain, ax=left), draw(one_gate, ax=right)

    assert first.figure is second.figure is figure
    assert wire_numbers(second, ("x0", "multiply1")) == ("-1.00", "0.39")
