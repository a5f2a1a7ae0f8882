"""Planted bugs: the model solutions score full marks; each bug loses exactly
the points of the tasks it should.

A bug is a text substitution in a model solution (tests/grading_fixtures/
solutions); the expected losses are the tasks whose check can see it.
"""

from pathlib import Path

import pytest

from compgraph.grading import Assignment, Limits, grade, grade_class, load_assignment

SOLUTIONS = Path(__file__).parent / "grading_fixtures" / "solutions"
LIMITS = Limits(wall_seconds=10.0, cpu_seconds=60, memory_mb=1024)


def planted(tmp_path, solution, old, new, name):
    source = (SOLUTIONS / solution).read_text()
    assert source.count(old) == 1, f"bug {name!r} does not match the solution once"
    path = tmp_path / name / solution
    path.parent.mkdir()
    path.write_text(source.replace(old, new))
    return path.parent


def lost_tasks(result):
    return sorted(t.name for t in result.tasks if t.score < t.max_score)


@pytest.mark.parametrize("name", ["gates", "graph", "layers"])
def test_model_solution_scores_full_marks(name):
    solution = SOLUTIONS / load_assignment(name).filename
    result = grade(solution, name, LIMITS, seed=3)
    assert lost_tasks(result) == []
    assert result.score == result.max_score
    assert result.notes == []


GATE_BUGS = {
    "multiply_wrong_sign": (
        "unbroadcast(upstream * self.y, self.x), unbroadcast",
        "unbroadcast(-upstream * self.y, self.x), unbroadcast",
        ["MultiplyGate.backward", "MultiplyGate.gradcheck", "MultiplyGate.hidden"],
    ),
    "max_gradient_to_both_tied_inputs": (
        "dy = unbroadcast(upstream * (1.0 - to_x), self.y)",
        "dy = unbroadcast(upstream * (self.y >= self.x), self.y)",
        ["MaxGate.gradcheck", "MaxGate.hidden"],
    ),
    "add_without_unbroadcast": (
        "return unbroadcast(upstream, self.x), unbroadcast(upstream, self.y)",
        "return upstream, upstream",
        ["AddGate.gradcheck", "AddGate.hidden"],
    ),
    "divide_wrong_sign": (
        "dy = -upstream * self.x",
        "dy = upstream * self.x",
        ["DivideGate.backward", "DivideGate.gradcheck", "DivideGate.hidden"],
    ),
    "exp_forward_mutates_its_input": (
        "self.out = np.exp(x)",
        "self.out = np.exp(x, out=x) if isinstance(x, np.ndarray) else np.exp(x)",
        ["ExpGate.contract"],
    ),
    "exp_backward_recomputes_forward": (
        "return (upstream * self.out,)",
        "return (upstream * self.forward(np.log(self.out)),)",
        ["ExpGate.contract"],
    ),
    "reciprocal_backward_not_a_tuple": (
        "return (-upstream / (self.x * self.x),)",
        "return -upstream / (self.x * self.x)",
        [
            "ReciprocalGate.backward",
            "ReciprocalGate.contract",
            "ReciprocalGate.gradcheck",
            "ReciprocalGate.hidden",
        ],
    ),
    "sigmoid_keeps_its_first_cache": (
        "        e = np.exp(-np.abs(x))\n        self.s =",
        "        e = np.exp(-np.abs(x))\n        if hasattr(self, 's'):\n"
        "            return self.s\n        self.s =",
        ["SigmoidGate.contract"],
    ),
    "tanh_wrong_forward_consistent_backward": (
        "self.t = np.tanh(x)\n        return self.t\n\n"
        "    def backward(self, upstream):\n"
        "        return (upstream * (1.0 - self.t**2),)",
        "self.t = np.tanh(2 * x)\n        return self.t\n\n"
        "    def backward(self, upstream):\n"
        "        return (2 * upstream * (1.0 - self.t**2),)",
        ["TanhGate.backward", "TanhGate.forward", "TanhGate.hidden"],
    ),
    "relu_slope_two_at_the_kink": (
        "np.where(np.asarray(self.x) == 0, 0.5, 0.0)",
        "np.where(np.asarray(self.x) == 0, 2.0, 0.0)",
        ["ReLUGate.gradcheck", "ReLUGate.hidden"],
    ),
    "max_negative_share_at_a_tie": (
        "np.where(self.x == self.y, 0.5, 0.0)",
        "np.where(self.x == self.y, -0.5, 0.0)",
        ["MaxGate.gradcheck", "MaxGate.hidden"],
    ),
    # Valid subgradients at ties and kinks (C06: "split evenly, or one winner
    # takes 1"): they lose nothing.
    "valid_max_tie_all_to_x": (
        "np.where(self.x == self.y, 0.5, 0.0)",
        "np.where(self.x == self.y, 1.0, 0.0)",
        [],
    ),
    "valid_max_tie_all_to_y": (
        "np.where(self.x == self.y, 0.5, 0.0)",
        "np.where(self.x == self.y, 0.0, 0.0)",
        [],
    ),
    "valid_max_tie_uneven_split": (
        "np.where(self.x == self.y, 0.5, 0.0)",
        "np.where(self.x == self.y, 0.25, 0.0)",
        [],
    ),
    "valid_relu_zero_slope_at_the_kink": (
        "np.where(np.asarray(self.x) == 0, 0.5, 0.0)",
        "np.where(np.asarray(self.x) == 0, 0.0, 0.0)",
        [],
    ),
    "valid_relu_slope_one_at_the_kink": (
        "np.where(np.asarray(self.x) == 0, 0.5, 0.0)",
        "np.where(np.asarray(self.x) == 0, 1.0, 0.0)",
        [],
    ),
}


@pytest.fixture(scope="module")
def gate_bug_results(tmp_path_factory):
    """Every planted gate bug graded as one class, two submissions at a time."""
    root = tmp_path_factory.mktemp("gate_bugs")
    for bug, (old, new, _) in GATE_BUGS.items():
        planted(root, "my_gates.py", old, new, bug)
    results = grade_class(root, "gates", root / "out", jobs=2, limits=LIMITS, seed=3)
    return {result.student: result for result in results}


@pytest.mark.parametrize("bug", sorted(GATE_BUGS))
def test_planted_gate_bug_loses_exactly_its_tasks(gate_bug_results, bug):
    result = gate_bug_results[bug]
    expected = GATE_BUGS[bug][2]
    assert lost_tasks(result) == sorted(expected)
    assert result.score == result.max_score - len(expected)


@pytest.mark.parametrize(
    "bug", ["max_gradient_to_both_tied_inputs", "max_negative_share_at_a_tie"]
)
def test_feedback_at_a_tie_says_any_split_summing_to_the_upstream_is_accepted(
    gate_bug_results, bug
):
    tasks = {t.name: t for t in gate_bug_results[bug].tasks}
    for name in ("MaxGate.hidden", "MaxGate.gradcheck"):
        output = tasks[name].output
        assert "on case tie with inputs (2, 2)" in output
        assert "any valid subgradient is accepted" in output
        assert "as long as the shares sum to the upstream" in output
    if bug == "max_gradient_to_both_tied_inputs":
        assert "inputs 0 and 1 are tied or at a kink together" in output
    else:
        assert "must lie between the one-sided slopes" in output


EXP_ON_A_BASE = """
import numpy as np

from gates.base import Gate


class Exponential(Gate):
    def forward(self, x):
        self.out = np.exp(x)
        return self.out


class ExpGate(Exponential):
    def forward(self, x):
        return super().forward(x)

    def backward(self, upstream):
        return (upstream * CALL,)
"""


@pytest.mark.parametrize(
    "call",
    [
        "self.forward(np.log(self.out))",
        "type(self).forward(self, np.log(self.out))",
        "ExpGate.forward(self, np.log(self.out))",
        "Exponential.forward(self, np.log(self.out))",
        "super().forward(np.log(self.out))",
    ],
)
def test_backward_calling_forward_through_a_class_breaks_the_contract(tmp_path, call):
    task = exp_contract(tmp_path, EXP_ON_A_BASE.replace("CALL", call))
    # One call, though ExpGate.forward itself calls Exponential.forward.
    assert (task.score, task.output) == (
        0.0,
        "backward called forward 1 time(s) instead of using the cache",
    )


def test_backward_using_the_cache_of_a_base_class_keeps_the_contract(tmp_path):
    task = exp_contract(tmp_path, EXP_ON_A_BASE.replace("CALL", "self.out"))
    assert (task.score, task.output) == (1.0, "passed on 2 case(s)")


def exp_contract(tmp_path, source):
    """The ExpGate.contract task graded on ``source``."""
    full = load_assignment("gates")
    contract = [t for t in full.tasks if t.name == "ExpGate.contract"]
    assignment = Assignment("exp", "Exp", "my_gates.py", contract, full.blocked)
    submission = tmp_path / "my_gates.py"
    submission.write_text(source)
    (task,) = grade(submission, assignment, LIMITS, seed=3).tasks
    return task


LAYER_BUGS = {
    "affine_matmul_gradient_not_transposed": (
        "dflat = upstream @ self.W.T",
        "dflat = upstream @ self.W",
        ["AffineGate.backward", "AffineGate.contract", "AffineGate.gradcheck"]
        + ["AffineGate.hidden"],
    ),
    "softmax_backward_only_the_diagonal": (
        "return (self.p * (upstream - inner),)",
        "return (self.p * (1 - self.p) * upstream,)",
        ["SoftmaxGate.backward", "SoftmaxGate.gradcheck", "SoftmaxGate.hidden"],
    ),
    "batch_norm_without_the_mean_and_variance_paths": (
        "dx = self.inv / n * (n * dxhat - dxhat.sum(0) - self.xhat * "
        "(dxhat * self.xhat).sum(0))",
        "dx = self.inv * dxhat",
        ["BatchNormGate.backward", "BatchNormGate.gradcheck", "BatchNormGate.hidden"],
    ),
    "dropout_ignores_evaluation_mode": (
        "        if not self.training:",
        "        if False:",
        ["DropoutGate.hidden"],
    ),
    "max_pool_full_gradient_to_every_tied_maximum": (
        "share = winners / winners.sum(axis=(2, 3), keepdims=True)",
        "share = winners * 1.0",
        ["MaxPool2dGate.gradcheck", "MaxPool2dGate.hidden"],
    ),
    "valid_max_pool_first_tied_maximum_takes_all": (
        "share = winners / winners.sum(axis=(2, 3), keepdims=True)",
        "flat = winners.reshape(*winners.shape[:2], -1)\n"
        "                share = (winners & (np.cumsum(flat, -1) == 1)"
        ".reshape(winners.shape)) * 1.0",
        [],
    ),
    "valid_relu_zero_slope_at_the_kink": (
        "(self.x == 0) * 0.5",
        "(self.x == 0) * 0.0",
        [],
    ),
    "valid_relu_slope_one_at_the_kink": (
        "(self.x == 0) * 0.5",
        "(self.x == 0) * 1.0",
        [],
    ),
}


@pytest.fixture(scope="module")
def layer_bug_results(tmp_path_factory):
    root = tmp_path_factory.mktemp("layer_bugs")
    for bug, (old, new, _) in LAYER_BUGS.items():
        planted(root, "my_layers.py", old, new, bug)
    results = grade_class(root, "layers", root / "out", jobs=2, limits=LIMITS, seed=3)
    return {result.student: result for result in results}


@pytest.mark.parametrize("bug", sorted(LAYER_BUGS))
def test_planted_layer_bug_loses_exactly_its_tasks(layer_bug_results, bug):
    result = layer_bug_results[bug]
    expected = LAYER_BUGS[bug][2]
    assert lost_tasks(result) == sorted(expected)
    assert result.score == result.max_score - len(expected)


GRAPH_FAN_OUT = ["graph.fan_out", "graph.order", "graph.random", "graph.shared"]
GRAPH_BUGS = {
    "overwrite_instead_of_add_at_fan_out": (
        "self.grads[source] = self.grads.get(source, 0.0) + grad",
        "self.grads[source] = grad",
        [*GRAPH_FAN_OUT, "graph.vectors"],
    ),
    "backward_in_forward_order": (
        "for name in reversed(self.order()):",
        "for name in self.order():",
        [
            "graph.deep",
            "graph.lecture_backward",
            *GRAPH_FAN_OUT,
            "graph.vectors",
        ],
    ),
    "insertion_order_instead_of_topological": (
        "return list(nx.topological_sort(self.dag))",
        "return list(self.dag.nodes)",
        ["graph.order"],
    ),
}


@pytest.mark.parametrize("bug", sorted(GRAPH_BUGS))
def test_planted_graph_bug_loses_exactly_its_tasks(tmp_path, bug):
    old, new, expected = GRAPH_BUGS[bug]
    submission = planted(tmp_path, "my_graph.py", old, new, bug)
    result = grade(submission, "graph", LIMITS, seed=3)
    assert lost_tasks(result) == sorted(expected)
    assert result.score == result.max_score - 2 * len(expected)
    feedback = {t.name: t.output for t in result.tasks}
    if bug == "overwrite_instead_of_add_at_fan_out":
        # C02: f = x * x at x = 3; overwriting instead of adding gives 3.
        assert feedback["graph.fan_out"] == (
            "graph 'f = x * x' at x = 3: gradient of 'x': expected 6, received 3 "
            "(relative error 0.5)"
        )
    if bug == "backward_in_forward_order":
        # C19: df/dx = -4 in the lecture's first circuit.
        assert feedback["graph.lecture_backward"].startswith(
            "graph 'f = (x + y) * z' at x = -2, y = 5, z = -4: gradient of 'x': "
            "expected -4, received 0"
        )


def test_recursive_backward_fails_deep_graphs_and_shared_subgraphs(tmp_path):
    recursive = """        self.grads = {}
        self._push(self.output, upstream)
        return {
            name: self.grads.get(name, 0.0 * self.values[name])
            for name, kind in self.dag.nodes(data="kind")
            if kind == "input"
        }

    def _push(self, name, grad):
        # Sends the running total down on every visit: counts paths twice.
        self.grads[name] = self.grads.get(name, 0.0) + grad
        gate = self.dag.nodes[name].get("gate")
        if gate is not None:
            for source, g in zip(self.inputs_of(name), gate.backward(self.grads[name])):
                self._push(source, g)
"""
    source = (SOLUTIONS / "my_graph.py").read_text()
    start = source.index("        self.grads = {self.output: upstream}")
    path = tmp_path / "my_graph.py"
    path.write_text(source[:start] + recursive)
    result = grade(path, "graph", LIMITS, seed=3)
    tasks = {t.name: t for t in result.tasks}
    assert "RecursionError" in tasks["graph.deep"].output
    assert "gradient of 'a': expected 8, received" in tasks["graph.shared"].output
    assert tasks["graph.lecture_backward"].passed
    assert tasks["graph.fan_out"].passed
