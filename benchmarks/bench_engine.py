"""Speed of the engine on scalar graphs, next to micrograd and a plain-Python floor.

Run ``python benchmarks/bench_engine.py`` (add ``--quick`` to skip the
million-node graphs, ``--markdown FILE`` to write the tables). Each
measurement runs in its own subprocess, so one contender's memory never
slows another and the peak resident memory (RSS) is that run's alone;
contenders are interleaved and repeated, and the median is reported,
because the machine is shared and noisy.

Two expressions, each of N gates, with the operations micrograd also has
(``+``, ``*``, relu):

- chain: ``y = relu(0.9 * y + 0.1)`` repeated, one long path;
- dag: every gate reads the previous gate and, for ``+`` and ``*``, one
  earlier gate chosen at random (mostly recent ones), so nodes fan out.

What is timed, in microseconds per gate:

- compgraph: ``build`` (add the gates), ``first`` (the first forward, which
  also sorts the graph), then ``fwd`` and ``bwd`` on the built graph, run
  again and again as in training;
- micrograd: its forward *builds* the graph (``build``), then ``bwd``; a
  graph built once cannot be run again, so its ``build + bwd`` is what one
  training step costs, and it is what compgraph's ``fwd + bwd`` is compared
  with;
- floor: a list of closures run forward, then a list run in reverse, the
  least a Python engine can do per gate.

micrograd's backward sorts the graph by recursion, one Python frame per
node of the path; it runs here in a thread with a large stack and a raised
recursion limit, and a size where it still fails is reported as such.
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import threading
import time

SIZES = [1_000, 10_000, 100_000, 1_000_000]
REPEATS = {1_000: 20, 10_000: 8, 100_000: 3, 1_000_000: 1}
CONTENDERS = ["compgraph", "micrograd", "floor"]


def recipe(kind, n, seed=0):
    """A list of (op, other) steps; ``other`` is the index of an earlier gate."""
    rng = random.Random(seed)
    steps = []
    for i in range(n):
        if kind == "chain":
            op = ("mul", "add", "relu")[i % 3]
            steps.append((op, None))
        else:
            op = rng.choice(("add", "mul", "relu"))
            back = min(int(rng.expovariate(1 / 20)) + 1, i + 1)
            steps.append((op, i - back if op != "relu" else None))
    return steps


# -- compgraph -------------------------------------------------------------------


def run_compgraph(steps, repeats):
    from compgraph import ComputationalGraph

    times = {}
    cpu = time.process_time()
    start = time.perf_counter()
    g = ComputationalGraph()
    x = g.input("x")
    nodes, y = [], x
    for op, other in steps:
        if op == "relu":
            y = y.relu()
        elif other is None:  # chain steps with constants
            y = y * 0.9 if op == "mul" else y + 0.1
        else:
            z = nodes[other] if other >= 0 else x
            y = y * z if op == "mul" else y + z
        nodes.append(y)
    times["build"] = time.perf_counter() - start

    start = time.perf_counter()
    g.forward(x=0.5)
    times["first"] = time.perf_counter() - start
    start = time.perf_counter()
    g.backward()
    times["first_bwd"] = time.perf_counter() - start
    times["one_pass_cpu"] = time.process_time() - cpu

    fwd, bwd = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        g.forward(x=0.5)
        fwd.append(time.perf_counter() - start)
        start = time.perf_counter()
        g.backward()
        bwd.append(time.perf_counter() - start)
    times["fwd"], times["bwd"] = statistics.median(fwd), statistics.median(bwd)
    times["one_pass"] = times["build"] + times["first"] + times["first_bwd"]
    return times


# -- micrograd -------------------------------------------------------------------


def run_micrograd(steps, repeats):
    from micrograd.engine import Value

    def once():
        start = time.perf_counter()
        x = Value(0.5)
        nodes, y = [], x
        for op, other in steps:
            if op == "relu":
                y = y.relu()
            elif other is None:
                y = y * 0.9 if op == "mul" else y + 0.1
            else:
                z = nodes[other] if other >= 0 else x
                y = y * z if op == "mul" else y + z
            nodes.append(y)
        built = time.perf_counter()
        y.backward()
        return built - start, time.perf_counter() - built

    sys.setrecursionlimit(10 * len(steps) + 10_000)
    threading.stack_size(1 << 30)  # micrograd recurses once per node of a path
    results, errors = [], []

    def target():
        try:
            for _ in range(repeats):
                results.append(once())
        except BaseException as error:  # RecursionError, MemoryError ...
            errors.append(repr(error))

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if errors:
        return {"error": errors[0][:200]}
    return {
        "build": statistics.median(r[0] for r in results),
        "bwd": statistics.median(r[1] for r in results),
    }


# -- the floor: closures ---------------------------------------------------------------


def run_floor(steps, repeats):
    start = time.perf_counter()
    n = len(steps)
    value, grad = [0.0] * (n + 1), [0.0] * (n + 1)
    forward, backward = [], []
    for i, (op, other) in enumerate(steps):
        out, a = i + 1, i
        b = None if other is None else other + 1
        forward.append(_floor_forward(value, op, out, a, b))
        backward.append(_floor_backward(value, grad, op, out, a, b))
    built = time.perf_counter() - start

    fwd, bwd = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        value[0] = 0.5
        for step in forward:
            step()
        fwd.append(time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(n + 1):
            grad[i] = 0.0
        grad[n] = 1.0
        for step in reversed(backward):
            step()
        bwd.append(time.perf_counter() - start)
    return {
        "build": built,
        "fwd": statistics.median(fwd),
        "bwd": statistics.median(bwd),
    }


def _floor_forward(value, op, out, a, b):
    if op == "relu":

        def step():
            v = value[a]
            value[out] = v if v > 0 else 0.0

    elif b is None and op == "mul":

        def step():
            value[out] = value[a] * 0.9

    elif b is None:

        def step():
            value[out] = value[a] + 0.1

    elif op == "mul":

        def step():
            value[out] = value[a] * value[b]

    else:

        def step():
            value[out] = value[a] + value[b]

    return step


def _floor_backward(value, grad, op, out, a, b):
    if op == "relu":

        def step():
            if value[a] > 0:
                grad[a] += grad[out]

    elif b is None:
        c = 0.9 if op == "mul" else 1.0

        def step():
            grad[a] += c * grad[out]

    elif op == "mul":

        def step():
            grad[a] += value[b] * grad[out]
            grad[b] += value[a] * grad[out]

    else:

        def step():
            grad[a] += grad[out]
            grad[b] += grad[out]

    return step


RUNNERS = {"compgraph": run_compgraph, "micrograd": run_micrograd, "floor": run_floor}


def child(contender, kind, n):
    """One measurement, in this process; prints a JSON line."""
    times = RUNNERS[contender](recipe(kind, n), REPEATS[n])
    times["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(times), flush=True)


def measure(contender, kind, n):
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", contender, kind, str(n)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:200]}", "wall": wall}
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = wall
    return result


# -- report ----------------------------------------------------------------------


def median_of(runs, key):
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else None


def us(seconds, n):
    return "-" if seconds is None else f"{seconds / n * 1e6:.2f}"


def tables(results, sizes, rounds):
    lines = [
        f"Median of {rounds} interleaved rounds (each a fresh subprocess); "
        "microseconds per gate.",
        "",
    ]
    for kind in ("chain", "dag"):
        lines += [
            f"### {kind}",
            "",
            "| gates | compgraph build | first fwd+bwd | fwd | bwd | fwd+bwd "
            "| micrograd build | bwd | build+bwd | floor fwd+bwd "
            "| ratio compgraph / micrograd | ratio compgraph / floor |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for n in sizes:
            ours, theirs, floor = (results[(c, kind, n)] for c in CONTENDERS)
            fwd, bwd = median_of(ours, "fwd"), median_of(ours, "bwd")
            first = _sum(median_of(ours, "first"), median_of(ours, "first_bwd"))
            mg_build, mg_bwd = median_of(theirs, "build"), median_of(theirs, "bwd")
            floor_run = _sum(median_of(floor, "fwd"), median_of(floor, "bwd"))
            run, mg = _sum(fwd, bwd), _sum(mg_build, mg_bwd)
            errors = {r["error"] for r in theirs if "error" in r}
            mg_text = us(mg, n) if mg is not None else f"failed: {errors.pop()}"
            lines.append(
                f"| {n:,} | {us(median_of(ours, 'build'), n)} | {us(first, n)} "
                f"| {us(fwd, n)} | {us(bwd, n)} | **{us(run, n)}** "
                f"| {us(mg_build, n)} | {us(mg_bwd, n)} | **{mg_text}** "
                f"| {us(floor_run, n)} | {_ratio(run, mg)} | {_ratio(run, floor_run)} |"
            )
        lines.append("")
    lines += [
        "### one pass, compgraph: build + first forward + first backward",
        "",
        "| expression | gates | wall seconds | CPU seconds "
        "| subprocess wall seconds, with start-up and exit | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for kind in ("chain", "dag"):
        for n in sizes:
            runs = results[("compgraph", kind, n)]
            lines.append(
                f"| {kind} | {n:,} | {median_of(runs, 'one_pass'):.2f} "
                f"| {median_of(runs, 'one_pass_cpu'):.2f} "
                f"| {median_of(runs, 'wall'):.2f} "
                f"| {median_of(runs, 'peak_rss_mib'):.0f} |"
            )
    lines += [
        "",
        "Peak RSS MiB of micrograd / floor, same order: "
        + ", ".join(
            f"{kind} {n:,}: {_peak(results, 'micrograd', kind, n)}"
            f" / {_peak(results, 'floor', kind, n)}"
            for kind in ("chain", "dag")
            for n in sizes
        ),
    ]
    return "\n".join(lines)


def _sum(a, b):
    return None if a is None or b is None else a + b


def _ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}"


def _peak(results, contender, kind, n):
    value = median_of(results[(contender, kind, n)], "peak_rss_mib")
    return "-" if value is None else f"{value:.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip 1,000,000 gates")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--markdown", help="also write the tables to this file")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        contender, kind, n = args.child
        return child(contender, kind, int(n))

    sizes = SIZES[:-1] if args.quick else SIZES
    results = {
        (c, k, n): [] for c in CONTENDERS for k in ("chain", "dag") for n in sizes
    }
    for round_number in range(args.rounds):
        for n in sizes:
            if n >= 1_000_000 and round_number > 0:
                continue  # one round at a million: each takes about a minute
            for kind in ("chain", "dag"):
                for contender in CONTENDERS:
                    result = measure(contender, kind, n)
                    results[(contender, kind, n)].append(result)
                    print(
                        f"round {round_number + 1} {contender:9} {kind:5} {n:>9,}: "
                        + ", ".join(
                            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in result.items()
                        ),
                        file=sys.stderr,
                        flush=True,
                    )
    text = tables(results, sizes, args.rounds)
    text += f"\n\nLoad average at the end (1, 5, 15 min): {os.getloadavg()}"
    print(text)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(text + "\n")


if __name__ == "__main__":
    main()
