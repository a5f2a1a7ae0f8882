"""Max and average pooling on NCHW batches; the window geometry conv shares.

Every gate here reads a batch ``x`` of shape ``(N, C, H, W)``: N samples, C
channels, H rows and W columns, and pools every channel separately. A
window of ``KH x KW`` cells slides over the rows and columns with a stride;
the output has

    ``OH = (H + 2 * padding - KH) // stride + 1``

rows (and likewise columns), where ``padding`` is 0 for pooling. When
``H + 2 * padding - KH`` is not a multiple of the stride, the leftover rows
at the bottom (columns at the right) are read by no window: they do not
affect the output and their gradient is 0. Convolution (:mod:`gates.conv`)
slides its windows the same way, over a padded input, and uses the checks
and sizes defined here.

Both directions are array operations, never Python loops over pixels:
forward cuts the windows out of ``x`` with strides
(``numpy.lib.stride_tricks.sliding_window_view``) and reduces them with one
elementwise maximum or sum per kernel offset ``(i, j)``. Backward scatters
the window gradients back with one strided, vectorized addition per kernel
offset, ``KH * KW`` additions in all; where windows overlap, the gradients
of a shared cell add up.

Float32 inputs stay float32; integer inputs are computed in float64.
"""

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gates.base import Gate
from gates.tensor import _grad_dtype

__all__ = ["MaxPool2dGate", "AvgPool2dGate"]


class MaxPool2dGate(Gate):
    """``y = max(window of x)``; ``dy/dx = 1/k`` at each of its ``k`` maxima, else 0.

    Pools every channel of ``x`` of shape ``(N, C, H, W)`` separately, giving
    ``(N, C, OH, OW)``. Backward routes each window's upstream gradient to
    the cell that held its maximum; where windows overlap, a cell that is the
    maximum of several windows receives the sum of their gradients.

    Ties: a window whose maximum is held by ``k`` cells sends ``1/k`` of its
    upstream gradient to each, so the window's gradient is conserved and no
    cell is favoured by its position. With ``k = 2`` this is the average of
    the one-sided derivatives, which a centered finite difference measures
    (0.5 each); with ``k >= 3`` the per-cell centered difference is still 0.5,
    so a numerical check flags such ties as kinks rather than passing them.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window size ``(KH, KW)``.
    stride : int or (int, int), default=None
        Step between windows; ``None`` means ``kernel_size`` (no overlap).

    Examples
    --------
    Overlapping 2x2 windows with stride 1: the 9 is the maximum of all four
    windows, so it receives all four upstream gradients:

    >>> import numpy as np
    >>> gate = MaxPool2dGate(2, stride=1)
    >>> x = np.array([[1.0, 2, 3], [4, 9, 5], [6, 7, 8]]).reshape(1, 1, 3, 3)
    >>> gate.forward(x)[0, 0]
    array([[9., 9.],
           [9., 9.]])
    >>> gate.backward(np.ones((1, 1, 2, 2)))[0][0, 0]
    array([[0., 0., 0.],
           [0., 4., 0.],
           [0., 0., 0.]])
    """

    symbol = "maxpool"

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = _pair(kernel_size, "kernel_size", "MaxPool2dGate", 1)
        stride = self.kernel_size if stride is None else stride
        self.stride = _pair(stride, "stride", "MaxPool2dGate", minimum=1)

    def forward(self, x):
        x = np.asarray(x)
        windows = _windows("MaxPool2dGate", x, self.kernel_size, self.stride)
        # One elementwise maximum per kernel offset: numpy reduces a strided
        # (N, C, OH, OW, KH, KW) view over its last axes many times slower.
        out = windows[..., 0, 0].copy()
        for i, j in _offsets(self.kernel_size):
            np.maximum(out, windows[..., i, j], out=out)
        self.x, self.windows, self.out = x, windows, out
        return out

    def backward(self, upstream):
        windows, out, dtype = self.windows, self.out, _grad_dtype(self.x)
        offsets = _offsets(self.kernel_size, first=True)
        winners = [windows[..., i, j] == out for i, j in offsets]
        # k: how many cells of each window hold its maximum. A window whose
        # maximum is NaN has none; count 1 so that it passes no gradient.
        ties = np.zeros(out.shape, dtype)
        for winner in winners:
            ties += winner
        np.maximum(ties, 1, out=ties)
        share = np.asarray(upstream, dtype) / ties
        parts = (winner * share for winner in winners)
        shape, kernel, stride = self.x.shape, self.kernel_size, self.stride
        return (_scatter(parts, shape, out.shape, kernel, stride, dtype),)

    def __repr__(self):
        return f"MaxPool2dGate(kernel_size={self.kernel_size}, stride={self.stride})"


class AvgPool2dGate(Gate):
    """``y = mean(window of x)``; ``dy/dx = 1 / (KH * KW)`` at every cell of the window.

    Pools every channel of ``x`` of shape ``(N, C, H, W)`` separately, giving
    ``(N, C, OH, OW)``; where windows overlap, a cell's gradient is the sum
    over the windows that read it. The function is linear: no kinks.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window size ``(KH, KW)``.
    stride : int or (int, int), default=None
        Step between windows; ``None`` means ``kernel_size`` (no overlap).

    Examples
    --------
    >>> import numpy as np
    >>> gate = AvgPool2dGate(2)
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> gate.forward(x)[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]])
    >>> gate.backward(np.ones((1, 1, 2, 2)))[0][0, 0, 0]
    array([0.25, 0.25, 0.25, 0.25])
    """

    symbol = "avgpool"

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = _pair(kernel_size, "kernel_size", "AvgPool2dGate", 1)
        stride = self.kernel_size if stride is None else stride
        self.stride = _pair(stride, "stride", "AvgPool2dGate", minimum=1)

    def forward(self, x):
        x = np.asarray(x)
        windows = _windows("AvgPool2dGate", x, self.kernel_size, self.stride)
        kh, kw = self.kernel_size
        total = windows[..., 0, 0].astype(_grad_dtype(x))
        for i, j in _offsets(self.kernel_size):
            total += windows[..., i, j]
        self.x, self.out_shape = x, total.shape
        return total / (kh * kw)

    def backward(self, upstream):
        kh, kw = self.kernel_size
        dtype = _grad_dtype(self.x)
        share = np.asarray(upstream, dtype) / (kh * kw)
        parts = (share for _ in range(kh * kw))
        shape, kernel, stride = self.x.shape, self.kernel_size, self.stride
        return (_scatter(parts, shape, self.out_shape, kernel, stride, dtype),)

    def __repr__(self):
        return f"AvgPool2dGate(kernel_size={self.kernel_size}, stride={self.stride})"


# -- helpers; convolution uses _pair, _out_size and _check_ndim ----------------


def _pair(value, name: str, gate: str, minimum: int) -> tuple[int, int]:
    """``value`` as a ``(rows, columns)`` pair of ints, each at least ``minimum``."""
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    valid = len(pair) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= minimum
        for v in pair
    )
    if not valid:
        raise ValueError(
            f"{gate}: {name} must be an int >= {minimum} or a pair of them "
            f"(rows, columns), got {value!r}"
        )
    return int(pair[0]), int(pair[1])


def _out_size(gate, size, kernel, stride, padding) -> tuple[int, int]:
    """Output rows and columns; a kernel larger than the padded input is an error."""
    padded = tuple(s + 2 * p for s, p in zip(size, padding))
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(
            f"{gate}: the kernel {kernel[0]}x{kernel[1]} is larger than the "
            f"padded input {padded[0]}x{padded[1]} (input {size[0]}x{size[1]}, "
            f"padding {padding}); use a smaller kernel or more padding"
        )
    return tuple((p - k) // s + 1 for p, k, s in zip(padded, kernel, stride))


def _check_ndim(gate: str, name: str, value, ndim: int, layout: str) -> None:
    if value.ndim != ndim:
        raise ValueError(
            f"{gate}: {name} must have shape {layout}, got an array of shape "
            f"{value.shape}"
        )


def _windows(gate: str, x, kernel, stride):
    """View of the pooling windows of ``x``: ``(N, C, OH, OW, KH, KW)``."""
    _check_ndim(gate, "x", x, 4, "(N, C, H, W)")
    oh, ow = _out_size(gate, x.shape[2:], kernel, stride, (0, 0))
    windows = sliding_window_view(x, kernel, axis=(2, 3))
    windows = windows[:, :, :: stride[0], :: stride[1]]
    assert windows.shape[2:4] == (oh, ow)
    return windows


def _offsets(kernel, first: bool = False):
    """The kernel offsets ``(i, j)`` in row-major order, without (0, 0) by default."""
    offsets = [(i, j) for i in range(kernel[0]) for j in range(kernel[1])]
    return offsets if first else offsets[1:]


def _scatter(parts, shape, out_shape, kernel, stride, dtype):
    """Add per-offset window gradients onto the cells of a pooled input.

    ``parts`` holds one array of ``out_shape`` per kernel offset ``(i, j)``,
    in row-major order; each lands on the cells that offset reads, one per
    window, and where windows overlap the contributions add up.
    """
    (kh, kw), (sh, sw) = kernel, stride
    oh, ow = out_shape[2:]
    # Windows that tile x exactly write each cell once: no zeros needed.
    tiles = (sh, sw) == (kh, kw) and (oh * kh, ow * kw) == tuple(shape[2:])
    dx = np.empty(shape, dtype) if tiles else np.zeros(shape, dtype)
    for (i, j), part in zip(_offsets(kernel, first=True), parts):
        cells = dx[:, :, i : i + sh * (oh - 1) + 1 : sh, j : j + sw * (ow - 1) + 1 : sw]
        if tiles:
            cells[...] = part
        else:
            cells += part
    return dx
