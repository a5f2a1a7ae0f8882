"""Export a student skeleton; bundle an assignment as a Gradescope autograder.

The autograder zip holds ``setup.sh`` (installs compgraph), ``run_autograder``
(grades ``/autograder/submission`` into ``/autograder/results/results.json``
with the same ``compgraph grade`` command as locally) and ``assignment.py``.
compgraph is installed from a wheel built here with ``pip wheel --no-deps``
and put in the zip (the default: Gradescope then grades with exactly this
code, offline), from a copy of the source tree, or from PyPI by name and
version (which works only if that version is published there).
"""

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import compgraph
from compgraph.grading.api import BUILT_IN, GradingError, load_assignment
from compgraph.grading.skeleton import assignment_skeleton

__all__ = ["export_skeleton", "build_bundle", "pypi_warning", "PUBLIC_TESTS"]

PUBLIC_TESTS = '''"""Public tests of assignment {name}; hidden ones run later.

Run them with ``pytest {test_file}`` or ``compgraph grade {filename} \\
--assignment {spec} --public``.
"""

from pathlib import Path

import pytest

from compgraph.grading import grade

TASKS = {tasks!r}
HERE = Path(__file__).parent  # so that pytest may run from any folder


@pytest.fixture(scope="module")
def result():
    return grade(HERE / "{filename}", {assignment}, public=True)


@pytest.mark.parametrize("task", TASKS)
def test_public_task(result, task):
    found = {{t.name: t for t in result.tasks}}[task]
    assert found.passed, found.output
'''

SETUP = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
apt-get update -qq && apt-get install -y -qq python3 python3-pip >/dev/null || true
python3 -m pip install --quiet {install}
"""

RUN = """#!/usr/bin/env bash
# Gradescope runs this for each submission. AUTOGRADER_ROOT lets an instructor
# try it locally on a folder laid out like /autograder.
set -uo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
SOURCE="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$ROOT/results"
# The submission must not read the assignment or write the results: as root,
# run it as nobody (when nobody can run Python) and lock both folders.
USER_OPTION=()
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null \\
        && runuser -u nobody -- python3 -c "import numpy" >/dev/null 2>&1; then
    chmod 700 "$SOURCE" "$ROOT/results"
    USER_OPTION=(--sandbox-user nobody)
fi
compgraph grade "$ROOT/submission" --single --assignment "$SOURCE/assignment.py" \\
    --out "$ROOT/results/results.json" "${{USER_OPTION[@]}}"
"""

ASSIGNMENT_FILE = '''"""The graded assignment: compgraph's built-in ``{name}``."""

from compgraph.grading.assignments.{name} import build

ASSIGNMENT = build()
'''


def export_skeleton(name, directory) -> list[Path]:
    """Write the skeleton and the public tests into ``directory``.

    Only the skeleton and the names of the visible tasks are written; the
    assignment itself (with its hidden cases) is not. An assignment that
    gives no skeleton gets one made from its gate tasks
    (:func:`~.skeleton.assignment_skeleton`).
    """
    loaded = load_assignment(name)
    text = loaded.skeleton
    if text is None:
        text = assignment_skeleton(loaded)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    skeleton = directory / loaded.filename
    if skeleton.exists():
        raise GradingError(
            f"{skeleton} exists; export into an empty folder so that no "
            "student work is overwritten"
        )
    skeleton.write_text(text, "utf-8")
    built_in = str(name) in BUILT_IN
    spec = str(name) if built_in else Path(str(name)).name
    tests = directory / f"test_public_{loaded.name}.py"
    tests.write_text(
        PUBLIC_TESTS.format(
            name=loaded.name,
            spec=spec,
            filename=loaded.filename,
            assignment=repr(spec) if built_in else f'str(HERE / "{spec}")',
            test_file=tests.name,
            tasks=[t.name for t in loaded.selected(public=True)],
        ),
        "utf-8",
    )
    return [skeleton, tests]


def build_bundle(name, out=None, install: str = "wheel") -> Path:
    """Build the Gradescope autograder zip of assignment ``name``; return its path."""
    loaded = load_assignment(name)
    out = Path(out or f"autograder-{loaded.name}.zip")
    with tempfile.TemporaryDirectory() as temporary:
        staging = Path(temporary)
        if str(name) in BUILT_IN:
            (staging / "assignment.py").write_text(
                ASSIGNMENT_FILE.format(name=name), "utf-8"
            )
        else:
            shutil.copyfile(name, staging / "assignment.py")
        target = _stage_compgraph(staging, install)
        (staging / "setup.sh").write_text(SETUP.format(install=target), "utf-8")
        (staging / "run_autograder").write_text(RUN.format(), "utf-8")
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(staging.rglob("*")):
                if path.is_file():
                    member = path.relative_to(staging).as_posix()
                    info = zipfile.ZipInfo.from_file(path, member)
                    if member in ("setup.sh", "run_autograder"):
                        info.external_attr = 0o100755 << 16
                    archive.writestr(info, path.read_bytes())
    return out


def pypi_warning() -> str:
    """What an instructor must know before uploading a ``--install pypi`` bundle.

    Not checked online: bundling stays quick and works offline.

    >>> "compgraph==" in pypi_warning()
    True
    """
    pin = f"compgraph=={compgraph.__version__}"
    return (
        f"setup.sh installs {pin} from PyPI; that version must be published "
        f"there (check: pip download --no-deps {pin}), or Gradescope's setup fails"
    )


def _source_root() -> Path | None:
    """The source tree compgraph runs from, or None for a plain ``pip install``."""
    root = Path(compgraph.__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").exists() else None


def _stage_compgraph(staging: Path, install: str) -> str:
    """Put compgraph into the staging folder; return what pip should install."""
    if install == "pypi":
        return f"compgraph=={compgraph.__version__}"
    root = _source_root()
    if root is None:
        raise GradingError(
            f"--install {install} needs compgraph's source tree, but this compgraph "
            f"is installed without it ({Path(compgraph.__file__).parent}); bundle "
            "from a clone installed with pip install -e, or use --install pypi if "
            f"compgraph {compgraph.__version__} is published on PyPI"
        )
    target = staging / "compgraph-src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for part in ("compgraph", "gates"):
        shutil.copytree(root / part, target / part, ignore=ignore)
    for part in ("pyproject.toml", "README.md"):
        shutil.copyfile(root / part, target / part)
    if install == "source":
        return "./compgraph-src"
    try:
        wheel = _build_wheel(target, staging)
    finally:
        shutil.rmtree(target)
    return f"./{wheel.name}"


def _build_wheel(source: Path, wheel_dir: Path) -> Path:
    """Build compgraph's wheel from ``source`` (a copy: the checkout stays clean).

    First without build isolation: quick, and offline with the setuptools
    and ``wheel`` already installed. A fresh virtual environment has an old
    setuptools (65.5 with Python 3.11) and no ``wheel`` package, so that
    build fails with "invalid command 'bdist_wheel'"; then pip builds in an
    isolated environment with the backend pyproject.toml declares, fetched
    from the package index.
    """
    base = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet"]
    base += ["--wheel-dir", str(wheel_dir), str(source)]
    failures = []
    for extra in (["--no-build-isolation"], []):
        done = subprocess.run(
            base[:4] + extra + base[4:], capture_output=True, text=True
        )
        if done.returncode == 0:
            return next(wheel_dir.glob("compgraph-*.whl"))
        failures.append(_last_line(done.stderr or done.stdout))
    raise GradingError(
        "building the compgraph wheel failed, with the installed setuptools "
        f"({failures[0]}) and with an isolated build ({failures[1]}); install "
        "setuptools and wheel, or bundle with --install source"
    )


def _last_line(text: str) -> str:
    """The last non-empty line of pip's output: the error that ended it."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"
