"""``compgraph grade`` and ``compgraph assignment export|bundle``."""

from pathlib import Path

import click

__all__ = ["grade", "assignment"]


def _limits(options, loaded):
    from dataclasses import replace

    chosen = {k: v for k, v in options.items() if v is not None}
    return replace(loaded.limits, **chosen)


@click.command()
@click.argument("submission", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--assignment",
    "-a",
    "assignment_name",
    required=True,
    help="A built-in assignment (gates, graph, layers) or an assignment file.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="results.json for one submission (default ./results.json); the "
    "output folder for a class (default ./grades).",
)
@click.option("--jobs", "-j", default=1, show_default=True, help="Parallel graders.")
@click.option("--public", is_flag=True, help="Run only the tasks students can see.")
@click.option(
    "--single",
    is_flag=True,
    help="SUBMISSION is one student's folder, whatever its files are named.",
)
@click.option("--seed", type=int, default=None, help="Seed of hidden random cases.")
@click.option("--wall", "wall_seconds", type=float, help="Seconds per task.")
@click.option("--cpu", "cpu_seconds", type=int, help="CPU seconds per process.")
@click.option("--memory", "memory_mb", type=int, help="Memory limit in MB.")
@click.option(
    "--output-kb", "output_kb", type=int, help="KB a task may print (stdout, stderr)."
)
@click.option(
    "--file-mb", "file_mb", type=int, help="MB of each file a submission writes."
)
@click.option(
    "--sandbox-user",
    default=None,
    help="When run as root, run submissions as this user (Gradescope: nobody).",
)
def grade(
    submission, assignment_name, out, jobs, public, single, seed, sandbox_user, **limits
):
    """Grade SUBMISSION (a file, a folder, or a folder of students' submissions).

    One submission (a file, or a folder holding the assignment's file, such as
    my_gates.py, or any folder with --single): print its report and write a
    Gradescope results.json. A folder of submissions (each a .py file or a
    subfolder): grade them in parallel with --jobs and write each report,
    each results JSON and grades.csv (one row per student, one column per
    task) to --out.
    """
    from compgraph.grading.api import GradingError, load_assignment

    try:
        loaded = load_assignment(assignment_name)
    except GradingError as error:
        raise click.BadParameter(str(error), param_hint="--assignment") from None
    try:
        _grade(submission, loaded, assignment_name, out, jobs, public, single, seed,
               sandbox_user, limits)  # fmt: skip
    except GradingError as error:
        raise click.ClickException(_one_line(error)) from None


def _grade(
    submission, loaded, assignment_name, out, jobs, public, single, seed,
    sandbox_user, limits,
):  # fmt: skip
    from compgraph.grading.grader import grade as grade_one
    from compgraph.grading.grader import grade_class, is_submission
    from compgraph.grading.report import write_json

    chosen = _limits(limits, loaded)
    if single or is_submission(submission, loaded):
        out = out or Path("results.json")
        result = grade_one(
            submission,
            loaded,
            chosen,
            public,
            seed,
            protect=[str(out.resolve())],
            sandbox_user=sandbox_user,
        )
        click.echo(result.report(), nl=False)
        write_json(result, out)
        click.echo(f"wrote {out}")
        return
    out = out or Path("grades")

    def progress(result):
        click.echo(f"{result.student}: {result.score:g} / {result.max_score:g}")

    results = grade_class(
        submission,
        assignment_name,
        out,
        jobs=jobs,
        limits=chosen,
        public=public,
        seed=seed,
        progress=progress,
        sandbox_user=sandbox_user,
    )
    click.echo(f"graded {len(results)} submissions; wrote {out / 'grades.csv'}")


@click.group()
def assignment():
    """Export an assignment's student skeleton, or bundle it for Gradescope."""


@assignment.command()
@click.argument("name")
@click.argument("directory", type=click.Path(path_type=Path))
def export(name, directory):
    """Write NAME's student skeleton and public tests into DIRECTORY."""
    from compgraph.grading.api import GradingError
    from compgraph.grading.bundle import export_skeleton

    try:
        written = export_skeleton(name, directory)
    except GradingError as error:
        raise click.ClickException(_one_line(error)) from None
    for path in written:
        click.echo(f"wrote {path}")


@assignment.command()
@click.argument("name")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="The zip to write (default ./autograder-NAME.zip).",
)
@click.option(
    "--install",
    type=click.Choice(["wheel", "source", "pypi"]),
    default="wheel",
    show_default=True,
    help="How setup.sh installs compgraph: a wheel built now and put in the "
    "zip, a copy of the source tree (both need compgraph's source tree, as in "
    "a clone installed with pip install -e), or compgraph==VERSION from PyPI "
    "(only if that version is published there).",
)
def bundle(name, out, install):
    """Build a Gradescope autograder zip for NAME (a built-in or a file)."""
    from compgraph.grading.api import GradingError
    from compgraph.grading.bundle import build_bundle, pypi_warning

    try:
        path = build_bundle(name, out, install=install)
    except GradingError as error:
        raise click.ClickException(_one_line(error)) from None
    click.echo(f"wrote {path}")
    if install == "pypi":
        click.echo(f"warning: {pypi_warning()}", err=True)


def _one_line(error) -> str:
    """An error message on one line, as a CLI error should be."""
    return " ".join(str(error).split())
