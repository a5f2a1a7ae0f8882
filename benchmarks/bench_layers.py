"""Training-step speed of networks built from compgraph layers.

Contenders, on the same data and the same initial parameters:

- compgraph: a graph built with ``compgraph.nn`` layers, ``forward``,
  ``backward`` and ``optim.SGD.step``;
- numpy: the hand-written course-assignment code in ``numpy_reference.py``;
- torch: the same network in PyTorch on the CPU, when it is installed.

Networks: an MLP 64-256-256-10 on batches of 128 digits (8x8), in float64
and float32; and a small convnet (conv3x3 1-16 pad 1, relu, maxpool 2,
conv3x3 16-32 pad 1, relu, maxpool 2, linear to 10) on batches of 64 digits
zero-padded to 16x16. Each repetition times one training step of every
contender in turn (interleaved, so a burst of load on the shared machine hits
them alike); the report gives medians, the compgraph/numpy ratio and the
peak memory that tracemalloc sees during one step.

Run:  python benchmarks/bench_layers.py [--reps 300] [--threads 1] [--out FILE]
"""

import argparse
import os
import sys


def _set_threads(argv):
    """BLAS threads must be fixed before numpy is imported."""
    threads = "1"
    if "--threads" in argv:
        threads = argv[argv.index("--threads") + 1]
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = threads
    return int(threads)


THREADS = _set_threads(sys.argv)

import cProfile  # noqa: E402
import io  # noqa: E402
import platform  # noqa: E402
import pstats  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy_reference as ref  # noqa: E402

from compgraph import ComputationalGraph, nn, optim  # noqa: E402

try:
    import torch
except ImportError:  # torch is optional: its column is left out
    torch = None

LR = 0.01
TARGETS = {"mlp": 1.3, "convnet": 1.5}


# -- data --------------------------------------------------------------------


def digits(dtype, batch, padded):
    """Batches of digits scaled to [0, 1], as (N, 64) rows or (N, 1, 16, 16)."""
    data = load_digits()
    x = (data.data / 16.0).astype(dtype)
    y = data.target.astype(np.int64)
    if padded:
        images = np.zeros((len(x), 1, 16, 16), dtype=dtype)
        images[:, 0, 4:12, 4:12] = x.reshape(-1, 8, 8)
        x = images
    count = len(x) // batch
    return [
        (x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch])
        for i in range(count)
    ]


# -- contenders ----------------------------------------------------------------


def compgraph_mlp(params, dtype):
    g = ComputationalGraph()
    x, labels = g.input("x"), g.input("labels")
    model = nn.Sequential(
        nn.Linear(64, 256, rng=0, dtype=dtype),
        nn.ReLU(),
        nn.Linear(256, 256, rng=0, dtype=dtype),
        nn.ReLU(),
        nn.Linear(256, 10, rng=0, dtype=dtype),
    )
    nn.CrossEntropyLoss()(model(x), labels)
    for i in (1, 2, 3):
        g.set_value(f"fc{i}.W", params[f"W{i}"].copy())
        g.set_value(f"fc{i}.b", params[f"b{i}"].copy())
    return _compgraph_step(g)


def compgraph_convnet(params, dtype):
    g = ComputationalGraph()
    x, labels = g.input("x"), g.input("labels")
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, rng=0, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=0, dtype=dtype),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Linear(32 * 4 * 4, 10, rng=0, dtype=dtype),
    )
    nn.CrossEntropyLoss()(model(x), labels)
    names = {"W1": "conv1.W", "b1": "conv1.b", "W2": "conv2.W", "b2": "conv2.b"}
    names.update({"W3": "fc1.W", "b3": "fc1.b"})
    for ours, theirs in names.items():
        g.set_value(theirs, params[ours].copy())
    return _compgraph_step(g)


def _compgraph_step(g):
    sgd = optim.SGD(g, lr=LR)

    def step(x, y):
        loss = g.forward(x=x, labels=y)
        g.backward()
        sgd.step()
        return loss

    step.graph = g
    return step


def numpy_step(net_class, dtype):
    net = net_class(seed=0, dtype=dtype)

    def step(x, y):
        return net.train_step(x, y, LR)

    step.params = net.params
    return step


def torch_mlp(params, dtype):
    layers = []
    for i in (1, 2, 3):
        linear = torch.nn.Linear(*params[f"W{i}"].shape)
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    return _torch_step(model, params, dtype, [0, 2, 4])


def torch_convnet(params, dtype):
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(512, 10),
    )
    return _torch_step(model, params, dtype, [0, 3, 7])


def _torch_step(model, params, dtype, positions):
    model = model.to(torch.float64 if dtype == np.float64 else torch.float32)
    with torch.no_grad():
        for i, position in enumerate(positions, start=1):
            w = params[f"W{i}"]
            w = w.T if w.ndim == 2 else w  # torch keeps Linear weights as (out, in)
            model[position].weight.copy_(torch.from_numpy(np.ascontiguousarray(w)))
            model[position].bias.copy_(torch.from_numpy(params[f"b{i}"]))
    sgd = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(x, y):
        sgd.zero_grad()
        loss = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        sgd.step()
        return loss.item()

    return step


# -- measuring -----------------------------------------------------------------


def contenders(network, dtype):
    net_class = ref.MLP if network == "mlp" else ref.ConvNet
    numpy = numpy_step(net_class, dtype)
    initial = {k: v.copy() for k, v in numpy.params.items()}
    build = compgraph_mlp if network == "mlp" else compgraph_convnet
    steps = {"compgraph": build(initial, dtype), "numpy": numpy}
    if torch is not None:
        build_torch = torch_mlp if network == "mlp" else torch_convnet
        steps["torch"] = build_torch(initial, dtype)
    return steps


def agree(steps, batches):
    """The first steps' losses from every contender, which must agree."""
    losses = {
        name: [float(step(*b)) for b in batches[:3]] for name, step in steps.items()
    }
    reference = np.array(losses["numpy"])
    for name, values in losses.items():
        if not np.allclose(values, reference, rtol=1e-4):
            raise AssertionError(
                f"{name} losses {values} differ from numpy {list(reference)}"
            )
    return losses


def time_interleaved(steps, batches, reps):
    times = {name: [] for name in steps}
    order = list(steps)
    for rep in range(reps):
        x, y = batches[rep % len(batches)]
        for name in order if rep % 2 else reversed(order):
            start = time.perf_counter()
            steps[name](x, y)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, times


def peak_memory(step, batches):
    """Peak bytes that tracemalloc sees during one step (after a warm-up step)."""
    step(*batches[0])
    tracemalloc.start()
    step(*batches[1])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def profile(step, batches, reps=50):
    """The functions where a compgraph step spends its time, as text."""
    profiler = cProfile.Profile()
    profiler.enable()
    for rep in range(reps):
        step(*batches[rep % len(batches)])
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(14)
    return out.getvalue()


def run(network, dtype, reps):
    batch, padded = (128, False) if network == "mlp" else (64, True)
    batches = digits(dtype, batch, padded)
    steps = contenders(network, dtype)
    losses = agree(steps, batches)
    medians, _ = time_interleaved(steps, batches, reps)
    memory = {
        name: peak_memory(step, batches)
        for name, step in steps.items()
        if name != "torch"
    }
    return {
        "medians": medians,
        "memory": memory,
        "losses": losses,
        "steps": steps,
        "batches": batches,
    }


def time_split(step, batches, reps):
    """Where a compgraph step goes: inside gates, in the optimizer, elsewhere.

    Each gate's forward and backward are wrapped (on the instance) by a
    timer; what a step spends outside the gates and outside ``SGD.step`` is
    the engine's own bookkeeping (walking the plan, recording steps, checking
    gradient shapes, summing fan-out). Returns medians in milliseconds, and
    per gate the medians of forward and backward.
    """
    g = step.graph
    spent = {}

    def timed(key, method):
        def wrapper(*args):
            start = time.perf_counter()
            out = method(*args)
            spent[key] = time.perf_counter() - start
            return out

        return wrapper

    names = g.nodes("gate")
    for name in names:
        gate = g.gate(name)
        gate.forward = timed((name, "forward"), gate.forward)
        gate.backward = timed((name, "backward"), gate.backward)
    sgd = optim.SGD(g, lr=LR)
    rows, per_gate = [], []
    try:
        for rep in range(reps):
            x, y = batches[rep % len(batches)]
            spent.clear()
            start = time.perf_counter()
            g.forward(x=x, labels=y)
            g.backward()
            middle = time.perf_counter()
            sgd.step()
            end = time.perf_counter()
            inside = sum(spent.values())
            rows.append((middle - start + end - middle, inside, end - middle))
            per_gate.append(dict(spent))
    finally:
        for name in names:
            del g.gate(name).forward, g.gate(name).backward
    total, gates, optimizer = (
        statistics.median(row[i] for row in rows) * 1e3 for i in range(3)
    )
    engine = statistics.median(r[0] - r[1] - r[2] for r in rows) * 1e3
    gate_table = {
        name: tuple(
            statistics.median(p.get((name, d), 0.0) for p in per_gate) * 1e3
            for d in ("forward", "backward")
        )
        for name in names
    }
    return {
        "total": total,
        "gates": gates,
        "optimizer": optimizer,
        "engine": engine,
        "per_gate": gate_table,
    }


def numpy_breakdown(batches, dtype, reps):
    """Median ms of each hand-written function in one convnet step."""
    net = ref.ConvNet(seed=0, dtype=dtype)
    p = net.params
    parts = {}

    def clock(label, function, *args):
        start = time.perf_counter()
        out = function(*args)
        parts.setdefault(label, []).append(time.perf_counter() - start)
        return out

    for rep in range(reps):
        x, y = batches[rep % len(batches)]
        h, c1 = clock("conv1 forward", ref.conv_forward, x, p["W1"], p["b1"], 1, 1)
        h, r1 = clock("relu1 forward", ref.relu_forward, h)
        h, m1 = clock("pool1 forward", ref.max_pool_forward, h, 2)
        h, c2 = clock("conv2 forward", ref.conv_forward, h, p["W2"], p["b2"], 1, 1)
        h, r2 = clock("relu2 forward", ref.relu_forward, h)
        h, m2 = clock("pool2 forward", ref.max_pool_forward, h, 2)
        s, a3 = clock("fc forward", ref.affine_forward, h, p["W3"], p["b3"])
        _, d = clock("loss", ref.softmax_loss, s, y)
        d, _, _ = clock("fc backward", ref.affine_backward, d, a3)
        d = clock("pool2 backward", ref.max_pool_backward, d, m2)
        d = clock("relu2 backward", ref.relu_backward, d, r2)
        d, _, _ = clock("conv2 backward", ref.conv_backward, d, c2)
        d = clock("pool1 backward", ref.max_pool_backward, d, m1)
        d = clock("relu1 backward", ref.relu_backward, d, r1)
        clock("conv1 backward", ref.conv_backward, d, c1)
    return {label: statistics.median(t) * 1e3 for label, t in parts.items()}


def markdown(results, splits, breakdown, reps):
    versions = f"Python {platform.python_version()}, numpy {np.__version__}, " + (
        f"torch {torch.__version__}" if torch is not None else "torch not installed"
    )
    lines = [
        "# Layer library speed: one training step, compgraph vs numpy vs torch",
        "",
        f"{versions}; BLAS and torch threads: {THREADS}; {os.cpu_count()} CPUs, "
        f"shared with other jobs (load average {os.getloadavg()[0]:.1f} at the end).",
        f"Medians over {reps} interleaved repetitions of one step (forward, loss, "
        "backward, SGD update). Peak memory: tracemalloc's peak during one step "
        "(torch allocates outside tracemalloc's view, so it has no entry).",
        "",
        "| network | dtype | compgraph ms | numpy ms | torch ms | compgraph/numpy "
        "| target | compgraph peak MB | numpy peak MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (network, dtype), r in results.items():
        m, mem = r["medians"], r["memory"]
        ratio = m["compgraph"] / m["numpy"]
        target = TARGETS[network]
        verdict = "met" if ratio <= target else "missed"
        torch_ms = f"{m['torch'] * 1e3:.2f}" if "torch" in m else "-"
        lines.append(
            f"| {network} | {np.dtype(dtype).name} | {m['compgraph'] * 1e3:.2f} "
            f"| {m['numpy'] * 1e3:.2f} | {torch_ms} | {ratio:.2f} "
            f"| <= {target} ({verdict}) | {mem['compgraph'] / 2**20:.1f} "
            f"| {mem['numpy'] / 2**20:.1f} |"
        )
    lines += [
        "",
        "## Where a compgraph step goes",
        "",
        "Gates: time inside the gates' forward and backward. Optimizer: `SGD.step`. "
        "Engine: the rest (walking the plan, step records, gradient shape checks, "
        "fan-out sums, feeding inputs).",
        "",
        "| network | dtype | step ms | gates ms | optimizer ms | engine ms "
        "| engine % |",
        "|---|---|---|---|---|---|---|",
    ]
    for (network, dtype), split in splits.items():
        lines.append(
            f"| {network} | {np.dtype(dtype).name} | {split['total']:.2f} "
            f"| {split['gates']:.2f} | {split['optimizer']:.3f} "
            f"| {split['engine']:.3f} | {100 * split['engine'] / split['total']:.1f} |"
        )
    for (network, dtype), split in splits.items():
        if np.dtype(dtype) != np.float64:
            continue
        lines += [
            "",
            f"### Per gate: {network}, float64 (median ms)",
            "",
            "| gate | forward | backward |",
            "|---|---|---|",
        ]
        for name, (fwd, bwd) in split["per_gate"].items():
            lines.append(f"| {name} | {fwd:.3f} | {bwd:.3f} |")
    lines += [
        "",
        "### The hand-written numpy convnet step, function by function (float64, ms)",
        "",
        "| function | ms |",
        "|---|---|",
    ]
    lines += [f"| {label} | {ms:.3f} |" for label, ms in breakdown.items()]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=300, help="MLP repetitions")
    parser.add_argument("--conv-reps", type=int, default=60, help="convnet reps")
    parser.add_argument("--threads", type=int, default=1, help="BLAS/torch threads")
    parser.add_argument("--out", default=None, help="also write the markdown here")
    parser.add_argument("--profile", action="store_true", help="add cProfile tables")
    args = parser.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(args.threads)

    results, splits = {}, {}
    for network, reps in (("mlp", args.reps), ("convnet", args.conv_reps)):
        for dtype in (np.float64, np.float32):
            r = results[(network, dtype)] = run(network, dtype, reps)
            splits[(network, dtype)] = time_split(
                r["steps"]["compgraph"], r["batches"], reps
            )
            shown = {k: f"{v * 1e3:.2f} ms" for k, v in r["medians"].items()}
            print(network, np.dtype(dtype).name, shown, flush=True)
    conv_batches = results[("convnet", np.float64)]["batches"]
    breakdown = numpy_breakdown(conv_batches, np.float64, args.conv_reps)
    reps = f"{args.reps} (MLP) and {args.conv_reps} (convnet)"
    text = markdown(results, splits, breakdown, reps)
    if args.profile:
        for (network, dtype), r in results.items():
            table = profile(r["steps"]["compgraph"], r["batches"])
            title = f"cProfile of 50 compgraph steps: {network}, {np.dtype(dtype).name}"
            text += f"\n## {title}\n\n```\n{table}```\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
