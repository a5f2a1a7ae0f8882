"""Every lecture notebook runs top to bottom from a clean kernel.

Select or skip these with ``-m notebooks`` / ``-m "not notebooks"``.
"""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="running notebooks needs nbformat")
nbclient = pytest.importorskip("nbclient", reason="running notebooks needs nbclient")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


def test_the_lecture_notebooks_are_all_there():
    names = [path.name[:3] for path in NOTEBOOKS]
    assert names == ["01_", "02_", "03_", "04_", "05_", "06_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_with_its_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]

    assert code and all(cell.execution_count for cell in code)
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_from_a_clean_kernel(path):
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )

    client.execute()  # raises CellExecutionError naming the failing cell

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code)
