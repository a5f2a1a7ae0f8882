"""The README's Python examples run as written, top to bottom, in one namespace."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_readme_python_examples_run(tmp_path, monkeypatch):
    blocks = BLOCK.findall(README.read_text(encoding="utf-8"))
    assert blocks, "the README should show the API in ```python blocks"
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace = {}
    for number, code in enumerate(blocks, start=1):
        try:
            exec(compile(code, f"README.md python block {number}", "exec"), namespace)
        except Exception as error:  # pragma: no cover - the message is the point
            pytest.fail(f"README python block {number} failed: {error!r}\n{code}")


def test_readme_first_example_values():
    namespace = {}
    exec(BLOCK.findall(README.read_text(encoding="utf-8"))[0], namespace)
    g = namespace["g"]
    assert g.forward(x=-2, y=5, z=-4) == -12.0
    assert g.backward() == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert g.grad("q") == -4.0


def test_readme_trace_tables_are_what_trace_prints():
    from compgraph import Trace
    from compgraph.lecture import first_circuit

    g = first_circuit()
    printed = "\n".join(
        [str(Trace(g.forward_steps(x=-2, y=5, z=-4))), str(Trace(g.backward_steps()))]
    )
    assert printed in README.read_text(encoding="utf-8")
