"""ComputationalGraph: building, naming, order, running, and every error."""

import math

import networkx as nx
import numpy as np
import pytest

from compgraph import (
    BackwardBeforeForwardError,
    ComputationalGraph,
    CycleError,
    GateContractError,
    GateFailedError,
    GateReuseError,
    GraphStructureError,
    InputError,
    MissingInputError,
    NonFiniteValueError,
    ShapeMismatchError,
    UnknownInputError,
)
from gates import (
    AddGate,
    ExpGate,
    Gate,
    IndexGate,
    MatMulGate,
    MeanGate,
    MultiplyGate,
    NarrowGate,
    ReshapeGate,
    SumGate,
)


def lecture_circuit():
    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    q = g.rename(x + y, "q")
    g.rename(q * z, "f")
    return g


# -- building and naming -------------------------------------------------------------


def test_explicit_add_gate_and_operators_build_the_same_graph():
    explicit = ComputationalGraph()
    x, y = explicit.input("x"), explicit.input("y")
    explicit.add_gate(MultiplyGate(), [explicit.add_gate(AddGate(), [x, y]), "y"])
    handles = ComputationalGraph()
    a, b = handles.input("x"), handles.input("y")
    (a + b) * b
    assert explicit.nodes() == handles.nodes() == ["x", "y", "add1", "multiply1"]
    assert explicit.forward(x=1.0, y=2.0) == handles.forward(x=1.0, y=2.0) == 6.0
    assert explicit.backward() == handles.backward() == {"x": 2.0, "y": 5.0}


def test_unnamed_gates_are_numbered_per_kind_skipping_taken_names():
    g = ComputationalGraph()
    x = g.input("x")
    g.input("add2")
    a, b, c = x + x, x + x, x * x
    assert [a.name, b.name, c.name] == ["add1", "add3", "multiply1"]
    assert g.constant(2.0).name == "const1"


def test_unnamed_gate_whose_class_name_ends_in_a_digit_gets_a_separator():
    class Log2Gate(Gate):
        def forward(self, x):
            return x

        def backward(self, upstream):
            return (upstream,)

    g = ComputationalGraph()
    node = g.add_gate(Log2Gate(), [g.input("x")])
    assert node.name == "log2_1"


def test_an_empty_name_is_refused_rather_than_replaced():
    g = ComputationalGraph()
    with pytest.raises(GraphStructureError, match="non-empty strings, got ''"):
        g.add_gate(ExpGate(), [g.input("x")], name="")


def test_a_taken_name_is_refused_naming_the_node_kind():
    g = ComputationalGraph()
    g.input("x")
    with pytest.raises(
        GraphStructureError, match="already has a node named 'x' \\(a input"
    ):
        g.parameter("x", 1.0)


def test_rename_keeps_values_gradients_and_the_default_output():
    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    s = x + y
    s * z
    g.forward(x=1.0, y=2.0, z=3.0)
    g.backward()
    g.rename(s, "s")  # an earlier gate; the output stays the last one added
    assert g.output().name == "multiply1"
    assert g.nodes() == ["x", "y", "z", "s", "multiply1"]
    assert g.value("s") == 3.0 and g.grad("s") == 3.0
    assert g.inputs_of("multiply1") == ["s", "z"]
    assert g.forward(x=1.0, y=2.0, z=3.0) == 9.0


def test_rename_of_an_input_keeps_its_place_among_the_inputs():
    g = ComputationalGraph()
    a, b = g.input("a"), g.input("b")
    a - b
    g.rename(a, "first")
    assert g.nodes("input") == ["first", "b"]
    assert g.forward(first=5.0, b=2.0) == 3.0
    assert list(g.backward()) == ["first", "b"]


def test_one_gate_instance_placed_twice_is_refused():
    g = ComputationalGraph()
    x = g.input("x")
    gate = ExpGate()
    g.add_gate(gate, [x])
    with pytest.raises(
        GateReuseError, match="already stands at node 'exp1'.*new instance"
    ):
        g.add_gate(gate, [x])


def test_one_gate_instance_is_still_refused_after_its_node_is_renamed():
    g = ComputationalGraph()
    x = g.input("x")
    gate = ExpGate()
    g.rename(g.add_gate(gate, [x]), "e")
    with pytest.raises(GateReuseError, match="already stands at node 'e'"):
        g.add_gate(gate, [x])


def test_one_gate_instance_in_two_graphs_is_refused():
    first, second = ComputationalGraph(), ComputationalGraph()
    gate = ExpGate()
    first.add_gate(gate, [first.input("x")])
    with pytest.raises(GateReuseError):
        second.add_gate(gate, [second.input("x")])


def test_a_gate_of_a_discarded_graph_may_be_placed_again():
    gate = ExpGate()
    first = ComputationalGraph()
    first.add_gate(gate, [first.input("x")])
    del first
    second = ComputationalGraph()
    assert second.add_gate(gate, [second.input("x")]).name == "exp1"


def test_wrong_number_of_inputs_is_refused_naming_the_gate():
    g = ComputationalGraph()
    with pytest.raises(
        GraphStructureError, match=r"'mul' \(MultiplyGate\) takes 2 input"
    ):
        g.add_gate(MultiplyGate(), [g.input("x")], name="mul")


def test_add_gate_refuses_something_that_is_not_a_gate():
    g = ComputationalGraph()
    with pytest.raises(
        GateContractError,
        match="expects a Gate instance, got builtin_function_or_method",
    ):
        g.add_gate(math.exp, [g.input("x")])


def test_unknown_node_name_suggests_the_closest():
    g = lecture_circuit()
    with pytest.raises(
        GraphStructureError, match="no node named 'zz'; did you mean 'z'"
    ):
        g["zz"]


def test_nodes_of_another_graph_are_refused():
    g, other = ComputationalGraph(), ComputationalGraph()
    x, y = g.input("x"), other.input("y")
    with pytest.raises(GraphStructureError, match="'y' belongs to another graph"):
        x + y


# -- connect and cycles --------------------------------------------------------------


def test_connect_rewires_one_port():
    g = ComputationalGraph()
    x, y, z = g.input("x"), g.input("y"), g.input("z")
    f = x * y
    g.connect(z, f, 1)
    assert g.inputs_of(f.name) == ["x", "z"]
    assert g.forward(x=2.0, y=100.0, z=5.0) == 10.0


def test_connect_refuses_an_edge_that_would_close_a_cycle():
    g = ComputationalGraph()
    x = g.input("x")
    a = g.rename(x.exp(), "a")
    b = g.rename(a + 1, "b")
    c = g.rename(b * b, "c")
    with pytest.raises(CycleError, match="would close the cycle a -> b -> c -> a"):
        g.connect(c, a, 0)
    with pytest.raises(CycleError, match="cycle b -> b"):
        g.connect(b, b, 0)
    assert nx.is_directed_acyclic_graph(g.dag)
    assert g.forward(x=0.0) == 4.0


def test_connect_refuses_a_port_the_gate_does_not_have_and_leaf_targets():
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    f = x.exp()
    with pytest.raises(GraphStructureError, match="takes 1 input.*no port 1"):
        g.connect(y, f, 1)
    with pytest.raises(
        GraphStructureError, match="cannot connect into 'x': it is a input"
    ):
        g.connect(y, x, 0)


# -- order ---------------------------------------------------------------------------


def test_topological_order_breaks_ties_by_insertion_order():
    g = ComputationalGraph()
    b, a = g.input("b"), g.input("a")
    p = g.rename(b.exp(), "p")
    q = g.rename(a.exp(), "q")
    g.rename(q + p, "r")
    # b, a are both free first: insertion order, not alphabetical order.
    assert g.topological_order() == ["b", "a", "p", "q", "r"]
    g.rename(p, "zzz")
    assert g.topological_order() == ["b", "a", "zzz", "q", "r"]


def test_topological_order_is_cached_until_the_graph_changes(monkeypatch):
    g = lecture_circuit()
    calls = []
    original = nx.lexicographical_topological_sort

    def counting_sort(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(nx, "lexicographical_topological_sort", counting_sort)
    g.forward(x=1.0, y=2.0, z=3.0)
    g.backward()
    g.forward(x=1.0, y=2.0, z=3.0)
    order = g.topological_order()
    assert len(calls) == 1
    g["f"].exp()
    assert g.topological_order() == [*order, "exp1"]
    assert len(calls) == 2


# -- running -------------------------------------------------------------------------


def test_forward_returns_the_output_and_keeps_every_value():
    g = lecture_circuit()
    assert g.forward(x=-2, y=5, z=-4) == -12.0
    assert [g.value(n) for n in g.topological_order()] == [-2, 5, -4, 3, -12]


def test_output_can_be_set_to_an_inner_node():
    g = lecture_circuit()
    g.output("q")
    assert g.forward(x=-2, y=5, z=-4) == 3.0
    assert g.backward() == {"x": 1.0, "y": 1.0, "z": 0.0}


def test_repeated_backward_gives_the_same_gradients_not_accumulated():
    g = lecture_circuit()
    g.forward(x=-2, y=5, z=-4)
    first = g.backward()
    assert g.backward() == first == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert g.grad("q") == -4.0


def test_backward_scales_with_upstream():
    g = lecture_circuit()
    g.forward(x=-2, y=5, z=-4)
    assert g.backward(upstream=2.0) == {"x": -8.0, "y": -8.0, "z": 6.0}


def test_backward_before_forward_is_an_error():
    g = lecture_circuit()
    with pytest.raises(BackwardBeforeForwardError, match="call forward\\(...\\) first"):
        g.backward()
    with pytest.raises(BackwardBeforeForwardError, match="'q' has no value yet"):
        g.value("q")


def test_backward_after_a_change_needs_a_new_forward():
    g = lecture_circuit()
    g.forward(x=-2, y=5, z=-4)
    g["f"].exp()
    with pytest.raises(BackwardBeforeForwardError):
        g.backward()


def test_gradients_are_cleared_by_forward_and_kept_by_set_value():
    g = ComputationalGraph()
    w = g.parameter("w", 3.0)
    x = g.input("x")
    w * x
    g.forward(x=2.0)
    assert g.backward() == {"w": 2.0, "x": 3.0}
    g.set_value("w", 5.0)  # an optimizer's step: the gradient stays readable
    assert g.grad("w") == 2.0
    with pytest.raises(BackwardBeforeForwardError):
        g.backward()
    assert g.forward(x=2.0) == 10.0
    with pytest.raises(BackwardBeforeForwardError, match="'w' has no gradient yet"):
        g.grad("w")
    assert g.backward() == {"w": 2.0, "x": 5.0}


def test_set_value_refuses_inputs_and_gates():
    g = lecture_circuit()
    with pytest.raises(GraphStructureError, match="'x' is an input: feed inputs"):
        g.set_value("x", 1.0)


def test_set_value_refuses_a_value_of_another_shape():
    g = ComputationalGraph()
    w = g.parameter("w", np.ones(3))
    (w * 2.0).sum()

    with pytest.raises(ShapeMismatchError, match=r"'w'.*shape \(3,\).*shape \(4,\)"):
        g.set_value("w", np.ones(4))

    g.set_value("w", np.full(3, 2.0))  # the same shape is an optimizer's step
    assert g.forward() == 12.0


def test_a_node_that_no_gradient_reaches_gets_zero_of_its_shape():
    g = ComputationalGraph()
    x, unused = g.input("x"), g.input("unused")
    side = unused.exp()
    g.output(x * 2)
    g.forward(x=1.0, unused=np.array([np.inf, 1.0]))
    grads = g.backward()
    assert grads["x"] == 2.0
    np.testing.assert_array_equal(grads["unused"], [0.0, 0.0])
    np.testing.assert_array_equal(g.grad(side.name), [0.0, 0.0])
    assert side.name not in [r.node for r in g.backward_steps()]


def test_integer_inputs_stay_integers_and_python_numbers_become_floats():
    g = ComputationalGraph()
    x, labels = g.input("x"), g.input("labels")
    x + labels
    g.forward(x=2, labels=np.array([1, 0]))
    assert isinstance(g.value("x"), float)
    assert g.value("labels").dtype.kind == "i"


def test_parameters_returns_the_arrays_themselves():
    g = ComputationalGraph()
    w = np.ones(3)
    g.parameter("w", w)
    assert g.parameters()["w"] is w


def test_train_and_eval_set_the_flag_on_every_gate():
    g = lecture_circuit()
    assert all(g.gate(n).training for n in g.nodes("gate"))
    g.eval()
    assert not any(g.gate(n).training for n in g.nodes("gate"))
    late = g["f"].exp()
    assert late.gate.training is False
    g.train()
    assert all(g.gate(n).training for n in g.nodes("gate"))


# -- errors while running ------------------------------------------------------------


def test_unknown_input_name_suggests_the_closest_input():
    g = lecture_circuit()
    with pytest.raises(UnknownInputError, match="unknown input 'zz'.*Did you mean 'z'"):
        g.forward(x=1, y=2, zz=3)


def test_feeding_a_gate_or_parameter_as_input_says_what_it_is():
    g = lecture_circuit()
    with pytest.raises(
        UnknownInputError, match="given 'q', which is a gate, not an input"
    ):
        g.forward(x=1, y=2, z=3, q=4)


def test_missing_input_is_named():
    g = lecture_circuit()
    with pytest.raises(MissingInputError, match="missing input\\(s\\) 'y', 'z'"):
        g.forward(x=1)


def test_a_value_that_is_not_a_number_is_refused():
    g = lecture_circuit()
    with pytest.raises(ValueError, match="'x' must be a number or a numpy array"):
        g.forward(x="one", y=2, z=3)


def test_shape_mismatch_names_the_gate_and_the_shapes():
    g = ComputationalGraph()
    a, b = g.input("a"), g.input("b")
    g.rename(a + b, "s")
    with pytest.raises(
        ShapeMismatchError, match=r"gate 's' \(AddGate.*a \(3,\), b \(4,\)"
    ):
        g.forward(a=np.ones(3), b=np.ones(4))


def test_non_scalar_output_without_upstream_is_an_error():
    g = ComputationalGraph()
    g.input("x").exp()
    g.forward(x=np.ones(3))
    with pytest.raises(
        ShapeMismatchError, match=r"'exp1' has shape \(3,\), not a scalar"
    ):
        g.backward()
    with pytest.raises(ShapeMismatchError, match=r"upstream gradient has shape \(2,\)"):
        g.backward(upstream=np.ones(2))
    np.testing.assert_allclose(g.backward(np.ones(3))["x"], np.e)


def test_an_error_inside_a_gate_is_wrapped_naming_the_gate():
    class Broken(Gate):
        def forward(self, x):
            raise KeyError("oops")

        def backward(self, upstream):
            return (upstream,)

    g = ComputationalGraph()
    g.add_gate(Broken(), [g.input("x")], name="b")
    with pytest.raises(
        GateFailedError, match=r"gate 'b' \(Broken.*forward raised KeyError"
    ):
        g.forward(x=1.0)


class WrongCount(Gate):
    def forward(self, x, y):
        return x * y

    def backward(self, upstream):
        return (upstream,)


class WrongShape(Gate):
    def forward(self, x):
        return x * 2

    def backward(self, upstream):
        return (np.sum(upstream),)


class BareArray(Gate):
    def forward(self, x):
        return x * 2

    def backward(self, upstream):
        return 2 * upstream


@pytest.mark.parametrize(
    "gate, inputs, message",
    [
        (
            WrongCount(),
            {"x": 1.0, "y": 2.0},
            "must return a tuple of 2 .*returned 1 grad",
        ),
        (
            WrongShape(),
            {"x": np.ones(3)},
            r"shape \(\) for input 0 \('x'\).*shape \(3,\)",
        ),
        (BareArray(), {"x": np.ones(2)}, "returned a bare ndarray.*Wrap a single"),
    ],
)
def test_a_gate_that_breaks_the_contract_is_named(gate, inputs, message):
    g = ComputationalGraph()
    g.add_gate(gate, [g.input(n) for n in inputs], name="user")
    g.output(g["user"].sum())
    g.forward(**inputs)
    with pytest.raises(
        GateContractError, match=rf"gate 'user' \({type(gate).__name__}"
    ):
        g.backward()
    with pytest.raises(GateContractError, match=message):
        g.backward()


def test_check_finite_names_the_first_node_that_made_a_nan():
    g = ComputationalGraph(check_finite=True)
    x = g.input("x")
    g.rename(g.rename(x.log(), "lx").exp() + 1, "out")
    assert g.forward(x=1.0) == 2.0
    with pytest.raises(
        NonFiniteValueError, match=r"gate 'lx' \(log\).*non-finite value"
    ):
        g.forward(x=-1.0)


def test_check_finite_names_an_input_fed_with_inf():
    g = ComputationalGraph(check_finite=True)
    g.input("x").exp()
    with pytest.raises(NonFiniteValueError, match="input 'x' was fed a non-finite"):
        g.forward(x=math.inf)


def test_check_finite_names_the_gate_that_sent_an_infinite_gradient():
    g = ComputationalGraph(check_finite=True)
    y = g.input("y")
    g.add_gate(SumGate(), [y.sqrt()], name="s")
    assert g.forward(y=np.array([0.0, 1.0])) == 1.0  # finite values
    with pytest.raises(NonFiniteValueError, match="gate 'sqrt1'.*gradient for 'y'"):
        g.backward()  # d sqrt(y)/dy at 0 is inf


def test_without_check_finite_nan_flows_silently():
    g = ComputationalGraph()
    g.input("x").log()
    assert math.isnan(g.forward(x=-1.0))


def test_a_gate_with_an_optional_input_takes_it_or_not():
    class Offset(Gate):
        def forward(self, x, shift=0.0):
            return x + shift

        def backward(self, upstream):
            return (upstream,) if self.arity == 1 else (upstream, upstream)

    g = ComputationalGraph()
    x, s = g.input("x"), g.input("s")
    one, two = Offset(), Offset()
    one.arity, two.arity = 1, 2
    g.output(g.add_gate(one, [x]) + g.add_gate(two, [x, s]))
    assert g.forward(x=1.0, s=5.0) == 7.0
    assert g.backward() == {"x": 2.0, "s": 1.0}
    with pytest.raises(
        GraphStructureError, match=r"takes 1 to 2 input\(s\) but was given 3"
    ):
        g.add_gate(Offset(), [x, s, x])


def test_rename_updates_the_handle_it_was_given():
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    s = x + y
    g.rename(s, "s")
    assert s.name == "s"
    s * y  # no stray node named after the old name
    assert g.nodes() == ["x", "y", "s", "multiply1"]
    assert all("kind" in d for _, d in g.dag.nodes(data=True))


def test_a_stale_handle_after_rename_is_refused_naming_the_new_name():
    g = ComputationalGraph()
    x, y = g.input("x"), g.input("y")
    s = x + y
    stale = g["add1"]
    g.rename(s, "s")
    with pytest.raises(
        GraphStructureError, match="no node named 'add1': it was renamed to 's'"
    ):
        stale * y
    assert g.nodes() == ["x", "y", "s"]


# -- what the fast paths must not change -------------------------------------------


class SendsAs(Gate):
    """Doubles its input and sends back the gradient built by ``make``."""

    def __init__(self, make):
        self.make = make

    def forward(self, x):
        return 2 * x

    def backward(self, upstream):
        return (self.make(2 * upstream),)


@pytest.mark.parametrize(
    "make, x", [(np.float64, 3.0), (np.asarray, 3.0), (list, np.array([3.0, 4.0]))]
)
def test_a_gradient_of_the_right_shape_passes_whatever_its_type(make, x):
    g = ComputationalGraph()
    g.add_gate(SendsAs(make), [g.input("x")], name="user")
    g.output(g["user"].sum())
    g.forward(x=x)
    np.testing.assert_array_equal(g.backward()["x"], np.full(np.shape(x), 2.0))


def test_a_gradient_for_a_scalar_input_must_be_scalar():
    g = ComputationalGraph()
    g.add_gate(SendsAs(lambda u: np.array([u])), [g.input("x")], name="user")
    g.forward(x=3.0)
    with pytest.raises(GateContractError, match=r"shape \(1,\) for input 0.*\(\)"):
        g.backward()


def test_a_gradient_with_the_right_size_but_the_wrong_shape_is_refused():
    g = ComputationalGraph()
    g.add_gate(SendsAs(np.transpose), [g.input("x")], name="user")
    g.output(g["user"].sum())
    g.forward(x=np.ones((2, 3)))
    with pytest.raises(
        GateContractError, match=r"gate 'user' \(SendsAs.*shape \(3, 2\).*\(2, 3\)"
    ):
        g.backward()


def test_parameters_follow_the_graph_as_it_grows_and_renames():
    g = ComputationalGraph()
    w = g.parameter("w", 2.0)
    assert list(g.parameters()) == ["w"]
    g.parameter("b", 1.0)
    assert list(g.parameters()) == ["w", "b"]
    g.rename(w, "weight")
    assert list(g.parameters()) == ["weight", "b"]


def test_nodes_returns_a_list_the_caller_may_change():
    g = lecture_circuit()
    g.nodes("input").append("not a node")
    assert g.nodes("input") == ["x", "y", "z"]
    assert g.forward(x=-2, y=5, z=-4) == -12.0


def test_the_inputs_are_checked_at_every_forward_of_a_compiled_graph():
    g = lecture_circuit()
    g.forward(x=1, y=2, z=3)
    with pytest.raises(MissingInputError, match="missing input\\(s\\) 'z'"):
        g.forward(x=1, y=2)
    with pytest.raises(UnknownInputError, match="unknown input 'w'"):
        g.forward(x=1, y=2, z=3, w=4)


# -- integer inputs and what gates return --------------------------------------------


def int_and_float_twins(build, value):
    """The gradients of one expression fed an integer array and its float copy."""
    grads = []
    for fed in (value, value.astype(float)):
        g = ComputationalGraph()
        build(g.input("x"))
        g.forward(x=fed)
        grads.append(g.backward()["x"])
    return grads


@pytest.mark.parametrize(
    "build",
    [
        lambda x: x.sum(),
        lambda x: x.square().sum(),
        lambda x: x.relu().sum(),
        lambda x: (x + x).sum(),
        lambda x: (x * 1.5).exp().sum(),
        lambda x: x.apply(MeanGate()),
        lambda x: (
            x.apply(ReshapeGate((3, 1)))
            .apply(MatMulGate(), x.graph.constant(np.array([[1.0, -2.0]])))
            .sum()
        ),
        lambda x: x.apply(IndexGate(np.array([0, 2, 2]))).square().sum(),
        lambda x: x.apply(NarrowGate(0, 1, 2)).square().sum(),
    ],
    ids=[
        "sum",
        "square",
        "relu",
        "fan-out",
        "exp",
        "mean",
        "matmul",
        "index",
        "narrow",
    ],
)
def test_an_integer_input_gets_the_gradient_of_its_float_twin(build):
    as_int, as_float = int_and_float_twins(build, np.array([1, 2, 3]))

    np.testing.assert_allclose(as_int, as_float)
    assert np.any(as_float != 0) and as_int.dtype == np.float64


def test_an_integer_list_fed_as_input_gets_its_gradient():
    g = ComputationalGraph()
    g.input("x").square().sum()
    g.forward(x=[1, 2, 3])

    np.testing.assert_array_equal(g.backward()["x"], [2.0, 4.0, 6.0])


def test_an_array_of_strings_is_refused_as_input():
    g = ComputationalGraph()
    g.input("x").sum()

    with pytest.raises(InputError, match=r"'x' must hold numbers.*dtype <U1"):
        g.forward(x=np.array(["a", "b"]))


class _Returns(Gate):
    """A broken gate: forward returns whatever it was built with."""

    def __init__(self, out):
        self.out = out

    def forward(self, x):
        return self.out

    def backward(self, upstream):
        return (upstream,)


@pytest.mark.parametrize(
    "out, shown",
    [
        ("hello", "'hello'"),
        (None, "None"),
        ([1.0, 2.0], r"\[1.0, 2.0\]"),
        (np.array([object()]), "an array of dtype object"),
    ],
)
def test_a_forward_that_returns_no_number_is_refused_naming_the_gate(out, shown):
    g = ComputationalGraph()
    g.rename(g.input("x").apply(_Returns(out)), "broken") * 3.0

    with pytest.raises(GateContractError, match=rf"'broken' \(_Returns\).*{shown}"):
        g.forward(x=2.0)


class _NoGradient(Gate):
    """A broken gate: backward forgets its input's gradient."""

    def forward(self, x):
        return 2 * x

    def backward(self, upstream):
        return (None,)


def test_a_backward_that_gives_a_float_input_no_gradient_is_refused():
    g = ComputationalGraph()
    g.rename(g.input("x").apply(_NoGradient()), "double").sum()
    g.forward(x=np.ones(3))

    with pytest.raises(GateContractError, match=r"'double'.*None for input 0 \('x'\)"):
        g.backward()
