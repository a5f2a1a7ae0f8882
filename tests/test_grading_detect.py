"""Submissions that import, subclass, call or copy the library score zero there."""

from pathlib import Path

import pytest

from compgraph.grading import Assignment, Limits, grade, load_assignment
from compgraph.grading.detect import blocked_imports, find_library_use, similarity
from compgraph.graph import ComputationalGraph
from gates import AddGate, MaxGate, SigmoidGate

FIXTURES = Path(__file__).parent / "grading_fixtures"
BLOCKED, ALLOWED = ("gates", "compgraph"), ("gates.base",)


def findings(code, targets=None):
    targets = targets or {"MaxGate": MaxGate}
    return find_library_use({"my_gates.py": code}, targets, BLOCKED, ALLOWED)


def test_subclassing_the_library_gate_is_found():
    code = "from gates import MaxGate as M\nclass MaxGate(M):\n    pass\n"
    assert findings(code) == {"MaxGate": "subclasses the library's gates.MaxGate"}


def test_rebinding_the_library_gate_is_found():
    code = "import gates.arithmetic as ga\nMaxGate = ga.MaxGate\n"
    assert findings(code) == {
        "MaxGate": "is the library's own gates.arithmetic.MaxGate"
    }


def test_calling_the_library_through_a_helper_function_is_found():
    code = (
        "import gates\n"
        "def helper(gate, g):\n"
        "    return gates.MaxGate.backward(gate, g)\n"
        "class MaxGate:\n"
        "    def backward(self, g):\n"
        "        return helper(self, g)\n"
    )
    assert findings(code) == {
        "MaxGate": "uses the library's gates.MaxGate.backward in its code"
    }


def test_importing_inside_a_method_is_found():
    code = (FIXTURES / "calls_library.py").read_text()
    assert findings(code) == {
        "MaxGate": "imports the library's gates.arithmetic in its code"
    }


def test_run_time_imports_are_refused():
    code = (
        "class MaxGate:\n"
        "    def forward(self, x, y):\n"
        "        return __import__('gat' + 'es').MaxGate().forward(x, y)\n"
    )
    assert findings(code) == {
        "MaxGate": "calls __import__() in its code; the grader cannot check code "
        "or imports built at run time"
    }


def test_a_class_that_replaces_a_stray_library_import_is_the_students():
    code = (
        "from gates import MaxGate  # to compare, from the lecture notebook\n"
        "from gates.base import Gate\n"
        "class MaxGate(Gate):\n"
        "    def forward(self, x, y):\n"
        "        return max(x, y)\n"
    )
    assert findings(code) == {}


def test_a_class_that_subclasses_the_import_it_replaces_is_found():
    code = "from gates import MaxGate\nclass MaxGate(MaxGate):\n    pass\n"
    assert findings(code) == {"MaxGate": "subclasses the library's gates.MaxGate"}


def test_a_library_import_after_the_class_replaces_it_and_is_found():
    code = "class MaxGate:\n    pass\nfrom gates import MaxGate\n"
    assert findings(code) == {"MaxGate": "is the library's own gates.MaxGate"}


@pytest.mark.parametrize(
    "call", ["re.compile(r'\\s+')", "frame.eval('x')", "parser.exec()"]
)
def test_methods_that_share_a_name_with_exec_or_eval_are_not_run_time_code(call):
    code = (
        "import re\n"
        f"def describe(value, frame=None, parser=None):\n    return {call}\n"
        "class MaxGate:\n"
        "    def forward(self, x, y):\n"
        "        self.note = describe(x)\n"
        "        return max(x, y)\n"
    )
    assert findings(code) == {}


@pytest.mark.parametrize(
    "call, name",
    [
        ("eval('1')", "eval"),
        ("builtins.exec('1')", "exec"),
        ("compile('', '', 'exec')", "compile"),
        ("importlib.import_module('gates')", "import_module"),
    ],
)
def test_building_code_or_imports_at_run_time_is_found(call, name):
    code = (
        "import builtins, importlib\n"
        f"class MaxGate:\n    def forward(self, x, y):\n        return {call}\n"
    )
    assert findings(code) == {
        "MaxGate": f"calls {name}() in its code; the grader cannot check code "
        "or imports built at run time"
    }


def test_the_gate_base_class_and_helpers_are_allowed():
    code = (
        "from gates.base import Gate, unbroadcast\n"
        "import gates.base\n"
        "class MaxGate(Gate):\n"
        "    def backward(self, g):\n"
        "        return unbroadcast(g, gates.base.shape_of(g)), g\n"
    )
    assert findings(code) == {}


def test_a_pasted_copy_of_the_library_gate_is_found():
    code = (FIXTURES / "copied_library.py").read_text()
    found = findings(code)
    assert set(found) == {"MaxGate"}
    assert found["MaxGate"].startswith("is a copy of the library's MaxGate (token")


def test_a_copy_with_renamed_class_and_comments_is_still_found():
    code = (FIXTURES / "copied_library.py").read_text()
    code = code.replace("class MaxGate(Gate):", "class MaxGate(Gate):  # my own!")
    code = code.replace('"""``f = max(x, y)``', '"""Written by me. ``f = max(x, y)``')
    assert "MaxGate" in findings(code)


def test_short_correct_gates_are_never_called_copies():
    solution = (FIXTURES / "solutions" / "my_gates.py").read_text()
    targets = {"AddGate": AddGate, "MaxGate": MaxGate, "SigmoidGate": SigmoidGate}
    assert findings(solution, targets) == {}


def test_the_graph_solution_is_not_a_copy_of_the_engine():
    solution = (FIXTURES / "solutions" / "my_graph.py").read_text()
    found = find_library_use(
        {"my_graph.py": solution}, {"Graph": ComputationalGraph}, ["compgraph"], []
    )
    assert found == {}


def test_a_graph_built_on_the_engine_is_found():
    code = (
        "from compgraph import ComputationalGraph\n"
        "class Graph(ComputationalGraph):\n"
        "    pass\n"
    )
    found = find_library_use(
        {"my_graph.py": code}, {"Graph": ComputationalGraph}, ["compgraph"], []
    )
    assert found == {"Graph": "subclasses the library's compgraph.ComputationalGraph"}


def test_similarity_counts_matching_tokens():
    assert similarity(["a", "b"], ["a", "b"]) == 1.0
    assert similarity([], ["a"]) == 0.0


def test_importing_the_allowed_base_from_its_package_is_not_a_blocked_import():
    code = "from gates import base\nfrom gates.base import Gate\n"
    assert blocked_imports({"a.py": code}, BLOCKED, ALLOWED) == []


def test_blocked_imports_lists_each_module_once():
    code = "import compgraph.gradcheck\nfrom gates import MaxGate\nimport gates.base\n"
    assert blocked_imports({"a.py": code}, BLOCKED, ALLOWED) == [
        "compgraph.gradcheck",
        "gates",
    ]


@pytest.fixture(scope="module")
def two_gates():
    full = load_assignment("gates")
    tasks = [t for t in full.tasks if t.target in ("AddGate", "MaxGate")]
    return Assignment("two", "Add, Max", "my_gates.py", tasks, BLOCKED, ALLOWED)


@pytest.mark.parametrize(
    "fixture, reason",
    [
        ("subclass_library.py", "subclasses the library's gates.MaxGate"),
        ("copied_library.py", "is a copy of the library's MaxGate"),
        ("calls_library.py", "imports the library's gates.arithmetic in its code"),
    ],
)
def test_library_use_scores_zero_on_that_gate_only(two_gates, fixture, reason):
    result = grade(FIXTURES / fixture, two_gates, Limits(wall_seconds=5), seed=1)
    tasks = {t.name: t for t in result.tasks}
    assert sum(t.score for n, t in tasks.items() if n.startswith("AddGate")) == 5.0
    for name in ("forward", "backward", "contract", "hidden", "gradcheck"):
        task = tasks[f"MaxGate.{name}"]
        assert task.score == 0.0
        assert task.status == "zero"
        assert task.output.startswith(f"Scored 0: MaxGate {reason}")
    assert any(
        note.startswith(f"MaxGate scored 0: it {reason}") for note in result.notes
    )
