"""Forward + backward speed of the convolution and max-pooling gates.

The layers of the benchmark convnet, on a batch of 64 digits padded to 16x16:

    conv1  x (64, 1, 16, 16)  w (16, 1, 3, 3)   padding 1
    pool1  x (64, 16, 16, 16) 2x2, stride 2
    conv2  x (64, 16, 8, 8)   w (32, 16, 3, 3)  padding 1
    pool2  x (64, 32, 8, 8)   2x2, stride 2

Contenders, each timed on forward then backward with a fixed random upstream
gradient, every input needing a gradient:

- compgraph: ``Conv2dGate`` and ``MaxPool2dGate``;
- numpy: the hand-written course-assignment layers of ``numpy_reference.py``;
- torch: ``conv2d`` and ``max_pool2d`` with autograd, on the CPU, if installed.

Repetitions are interleaved (one of each contender in turn) so that a burst
of load on a shared machine hits them alike; the table gives the median and
the best time in milliseconds, and the ratios of medians (of best times).

Large temporaries cost more than their arithmetic here: glibc hands every
array above its mmap threshold (128 KiB at start, raised as large blocks are
freed) fresh pages from the kernel, and each first touch of a page faults.
``--mmap-threshold 1073741824`` raises the threshold (and the trim threshold)
with ``mallopt`` before timing, so freed blocks are reused instead; compare
the two runs to see what allocation costs.

Run:  python benchmarks/bench_conv.py [--reps 200] [--threads 1]
      [--mmap-threshold BYTES] [--out FILE]
"""

import argparse
import os
import sys


def _set_threads(argv):
    """BLAS threads must be fixed before numpy is imported."""
    threads = argv[argv.index("--threads") + 1] if "--threads" in argv else "1"
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = threads
    return int(threads)


THREADS = _set_threads(sys.argv)

import ctypes  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from gates.conv import Conv2dGate  # noqa: E402
from gates.pooling import MaxPool2dGate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import numpy_reference as ref
except ImportError:  # the hand-written layers are optional here
    ref = None
try:
    import torch
except ImportError:  # torch is optional: its column is left out
    torch = None

LAYERS = [
    ("conv1", "conv", (64, 1, 16, 16), (16, 1, 3, 3)),
    ("pool1", "pool", (64, 16, 16, 16), None),
    ("conv2", "conv", (64, 16, 8, 8), (32, 16, 3, 3)),
    ("pool2", "pool", (64, 32, 8, 8), None),
]


def contenders(kind, x, w, b, upstream):
    """``{name: zero-argument function running forward then backward}``."""
    runs = {}
    if kind == "conv":
        gate = Conv2dGate(padding=1)
        runs["compgraph"] = lambda: (gate.forward(x, w, b), gate.backward(upstream))
    else:
        gate = MaxPool2dGate(2)
        runs["compgraph"] = lambda: (gate.forward(x), gate.backward(upstream))
    if ref is not None and kind == "conv":

        def numpy_conv():
            _, cache = ref.conv_forward(x, w, b, stride=1, pad=1)
            return ref.conv_backward(upstream, cache)

        runs["numpy"] = numpy_conv
    elif ref is not None:

        def numpy_pool():
            _, cache = ref.max_pool_forward(x, 2)
            return ref.max_pool_backward(upstream, cache)

        runs["numpy"] = numpy_pool
    if torch is not None:
        runs["torch"] = torch_run(kind, x, w, b, upstream)
    return runs


def torch_run(kind, x, w, b, upstream):
    functional = torch.nn.functional
    tx = torch.tensor(x, requires_grad=True)
    tup = torch.tensor(upstream)
    if kind == "pool":
        return lambda: functional.max_pool2d(tx, 2).backward(tup)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    return lambda: functional.conv2d(tx, tw, tb, padding=1).backward(tup)


def measure(runs, reps):
    times = {name: [] for name in runs}
    for run in runs.values():  # warm up caches and allocators
        run()
    for _ in range(reps):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1e3)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def table(reps):
    rows = []
    for dtype in (np.float64, np.float32):
        rng = np.random.default_rng(0)
        total = {}
        for layer, kind, x_shape, w_shape in LAYERS:
            x = rng.normal(size=x_shape).astype(dtype)
            w = b = None
            if kind == "conv":
                w = (rng.normal(size=w_shape) * 0.3).astype(dtype)
                b = rng.normal(size=w_shape[0]).astype(dtype)
                out_shape = (x_shape[0], w_shape[0]) + x_shape[2:]
            else:
                out_shape = x_shape[:2] + (x_shape[2] // 2, x_shape[3] // 2)
            upstream = rng.normal(size=out_shape).astype(dtype)
            result = measure(contenders(kind, x, w, b, upstream), reps)
            rows.append((np.dtype(dtype).name, layer, result))
            for name, (median, best) in result.items():
                old = total.get(name, (0.0, 0.0))
                total[name] = (old[0] + median, old[1] + best)
        rows.append((np.dtype(dtype).name, "total", total))
    return rows


def render(rows, reps):
    names = list(rows[0][2])
    header = ["dtype", "layer"] + [f"{n} ms (best)" for n in names]
    header += [f"compgraph/{n}" for n in names if n != "compgraph"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for dtype, layer, result in rows:
        cells = [dtype, layer]
        for n in names:
            cells.append("{:.2f} ({:.2f})".format(*result[n]))
        ours = result["compgraph"]
        cells += [
            f"{ours[0] / result[n][0]:.2f} ({ours[1] / result[n][1]:.2f})"
            for n in names
            if n != "compgraph"
        ]
        lines.append("| " + " | ".join(cells) + " |")
    versions = f"numpy {np.__version__}" + (
        f", torch {torch.__version__}" if torch else ""
    )
    lines += [
        "",
        f"Medians over {reps} interleaved repetitions of forward + backward; "
        f"BLAS and torch threads: {THREADS}; {versions}; python "
        f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores.",
    ]
    return "\n".join(lines)


def raise_mmap_threshold(size: int) -> bool:
    """Ask glibc to serve blocks below ``size`` from its heap; False if not glibc."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, size)) and bool(
        libc.mallopt(m_trim_threshold, size)
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--mmap-threshold", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    allocator = "glibc defaults"
    if args.mmap_threshold and raise_mmap_threshold(args.mmap_threshold):
        allocator = f"glibc mmap and trim thresholds {args.mmap_threshold} bytes"
    if torch is not None:
        torch.set_num_threads(THREADS)
    text = render(table(args.reps), args.reps) + f" Allocator: {allocator}."
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
