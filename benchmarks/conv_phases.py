"""Where the time of the benchmark convnet's conv2 goes, phase by phase.

conv2 (x (64, 16, 8, 8), w (32, 16, 3, 3), padding 1) is the one layer of
the benchmark convnet where compgraph trails PyTorch in float32. This
script times the phases of ``Conv2dGate`` one by one, with the same numpy
calls the gate makes, next to PyTorch's whole conv2d forward + backward:

- pad: copy ``x`` into the zero-padded ``(C, N, H', W')`` buffer;
- im2col: copy the windows into the ``(C*KH*KW, N*OH*OW)`` matrix;
- gemm fwd, gemm dw, gemm dx: the three matrix products;
- col2im: the ``KH * KW`` strided additions of the window gradients.

The matrix products alone are the floor of an im2col engine built on
numpy; the copies around them are what a fused kernel avoids. PyTorch is
timed twice: as it runs by default (oneDNN's convolution kernels) and with
oneDNN switched off.

Run:  python benchmarks/conv_phases.py [--reps 300]
"""

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # before numpy is imported: one BLAS thread

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402

from gates.conv import _col2im_unit_stride  # noqa: E402

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # torch is optional: its row is left out
    torch = None

N, C, H, F, K = 64, 16, 8, 32, 3


def phases(dtype, rng):
    """The gate's phases as closures over arrays of conv2's shapes."""
    x = rng.normal(size=(N, C, H, H)).astype(dtype)
    w = rng.normal(size=(F, C, K, K)).astype(dtype)
    g = rng.normal(size=(F, N, H, H)).astype(dtype)
    xp = np.zeros((C, N, H + 2, H + 2), dtype)
    windows = sliding_window_view(xp, (K, K), axis=(2, 3))
    cols = windows.transpose(0, 4, 5, 1, 2, 3).reshape(C * K * K, -1)
    filters = w.reshape(F, -1)
    g_cols = g.reshape(F, -1)

    def pad():
        xp[:, :, 1:-1, 1:-1] = x.transpose(1, 0, 2, 3)

    return {
        "pad": pad,
        "im2col": lambda: windows.transpose(0, 4, 5, 1, 2, 3).reshape(C * K * K, -1),
        "gemm fwd": lambda: filters @ cols,
        "gemm dw": lambda: g_cols @ cols.T,
        "gemm dx + col2im": lambda: _col2im_unit_stride(
            filters.T, g, (C, K, K), (H + 2, H + 2)
        ),
        "gemm dx alone": lambda: filters.T @ g_cols,
    }


def torch_step(dtype, rng):
    """PyTorch's conv2d forward and backward on the same shapes."""
    kind = torch.float32 if dtype == np.float32 else torch.float64
    x = torch.tensor(rng.normal(size=(N, C, H, H)), dtype=kind, requires_grad=True)
    w = torch.tensor(rng.normal(size=(F, C, K, K)), dtype=kind, requires_grad=True)
    g = torch.tensor(rng.normal(size=(N, F, H, H)), dtype=kind)

    def step():
        x.grad = w.grad = None
        torch.nn.functional.conv2d(x, w, padding=1).backward(g)

    return step


def median_ms(run, reps):
    run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300)
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    print("| phase | float64 ms | float32 ms |")
    print("|---|---:|---:|")
    rows = {}
    for dtype in (np.float64, np.float32):
        for name, run in phases(dtype, rng).items():
            rows.setdefault(name, []).append(median_ms(run, args.reps))
        if torch is not None:
            step = torch_step(dtype, rng)
            rows.setdefault("torch conv2d fwd + bwd", []).append(
                median_ms(step, args.reps)
            )
            # Without oneDNN, torch falls back to im2col and GEMMs, as we do.
            with torch.backends.mkldnn.flags(enabled=False):
                rows.setdefault("torch conv2d, oneDNN off", []).append(
                    median_ms(step, args.reps)
                )
    for name, (t64, t32) in rows.items():
        print(f"| {name} | {t64:.3f} | {t32:.3f} |")
    print(
        f"\nMedians of {args.reps} runs; one BLAS and torch thread; numpy "
        f"{np.__version__}" + (f", torch {torch.__version__}" if torch else "")
    )


if __name__ == "__main__":
    main()
