"""Grade a class of 200 `gates` submissions with --jobs 2 and time it.

The submissions are the model solution and copies of it with planted bugs
(wrong signs, missing unbroadcast, stale caches, an endless loop, a syntax
error ...), cycled to 200 students. The target is under 5 minutes on 2 cores.

    python benchmarks/bench_grading.py [--students 200] [--jobs 2] [--out FILE]
"""

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compgraph.grading import Limits

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "tests" / "grading_fixtures" / "solutions" / "my_gates.py"

BUGS = [
    None,
    ("unbroadcast(upstream * self.y, self.x), unbroadcast",
     "unbroadcast(-upstream * self.y, self.x), unbroadcast"),
    ("return unbroadcast(upstream, self.x), unbroadcast(upstream, self.y)",
     "return upstream, upstream"),
    ("dy = -upstream * self.x", "dy = upstream * self.x"),
    ("return (upstream * self.out,)",
     "return (upstream * self.forward(np.log(self.out)),)"),
    ("return (-upstream / (self.x * self.x),)",
     "return -upstream / (self.x * self.x)"),
    ("np.where(np.asarray(self.x) == 0, 0.5, 0.0)",
     "np.where(np.asarray(self.x) == 0, 0.0, 0.0)"),
    ("self.t = np.tanh(x)", "self.t = np.tanh(2 * x)"),
    ("return (upstream * self.s * (1.0 - self.s),)",
     "while True:\n            pass"),
    ("class AddGate(Gate):", "class AddGate(Gate)"),
]  # fmt: skip


def make_class(folder: Path, students: int) -> None:
    """Write ``students`` submissions, cycling through the bugs."""
    source = SOLUTION.read_text()
    for k in range(students):
        bug = BUGS[k % len(BUGS)]
        text = source if bug is None else source.replace(*bug)
        (folder / f"student{k:03d}.py").write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    # The grader's own default, so the figure is what an instructor gets.
    parser.add_argument("--wall", type=float, default=Limits().wall_seconds)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / "class"
        folder.mkdir()
        make_class(folder, args.students)
        grades = Path(temporary) / "grades"
        command = [
            "compgraph", "grade", str(folder), "--assignment", "gates",
            "--jobs", str(args.jobs), "--out", str(grades), "--seed", "1",
            "--wall", str(args.wall),
        ]  # fmt: skip
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"grading failed:\n{done.stderr}")
        with open(grades / "grades.csv") as handle:
            rows = list(csv.DictReader(handle))

    totals = sorted({float(r["total"]) for r in rows})
    line = (
        f"graded {len(rows)} `gates` submissions with --jobs {args.jobs} on "
        f"{os.cpu_count()} cores in {elapsed:.1f} s "
        f"({elapsed / len(rows) * args.jobs:.2f} s per submission per job); "
        f"scores seen: {', '.join(f'{t:g}' for t in totals)} of 50"
    )
    print(line)
    if args.out:
        args.out.write_text(
            "# Grading benchmark\n\n"
            "`python benchmarks/bench_grading.py --students 200 --jobs 2`\n\n"
            f"{line}\n\nTarget: under 300 s. The class cycles the model solution "
            f"through 9 planted bugs, one of them an endless loop ({args.wall:g} s "
            "wall limit per task, the grader's default, then the class's later "
            "tasks are skipped) and one a syntax error.\n"
        )


if __name__ == "__main__":
    main()
