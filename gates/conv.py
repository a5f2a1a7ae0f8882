"""Convolution and pooling gates on NCHW batches.

Every gate here reads a batch ``x`` of shape ``(N, C, H, W)``: N samples, C
channels, H rows and W columns. A window of ``KH x KW`` cells slides over
the rows and columns with a stride; the output has

    ``OH = (H + 2 * padding - KH) // stride + 1``

rows (and likewise columns). When ``H + 2 * padding - KH`` is not a multiple
of the stride, the leftover rows at the bottom (columns at the right) are
read by no window: they do not affect the output and their gradient is 0.

Both directions are array operations, never Python loops over pixels:
forward cuts the windows out of ``x`` with strides
(``numpy.lib.stride_tricks.sliding_window_view``); convolution copies them
into one matrix (*im2col*) and multiplies it by the filters, pooling reduces
them with one elementwise maximum or sum per kernel offset ``(i, j)``.
Backward scatters the window gradients back with one strided, vectorized
addition per kernel offset, ``KH * KW`` additions in all (*col2im*); where
windows overlap, the gradients of a shared cell add up.

Float32 inputs stay float32; integer inputs are computed in float64.
"""

import numbers

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from gates.base import Gate

__all__ = ["Conv2dGate", "MaxPool2dGate", "AvgPool2dGate"]


class Conv2dGate(Gate):
    """``y[n,f] = b[f] + sum(w[f] * window of x[n])``; ``dy/dw = window, dy/dx = w``.

    A 2-D cross-correlation (what deep-learning libraries call convolution:
    the kernel is not flipped) of ``x`` of shape ``(N, C, H, W)`` with ``F``
    filters ``w`` of shape ``(F, C, KH, KW)``, plus one bias ``b[f]`` per
    filter; ``xp`` is ``x`` with ``padding`` zeros around its rows and
    columns. The output has shape ``(N, F, OH, OW)``.

    Local gradients, for an upstream gradient ``g`` of the output's shape:
    ``dL/db[f] = sum g[:, f]``; ``dL/dw[f, c, i, j]`` is the sum of ``g[n, f]``
    times the window of ``xp`` at offset ``(i, j)``; ``dL/dxp`` scatters
    ``sum_f w[f, c, i, j] g[n, f, oh, ow]`` back onto every cell the window
    read, adding where windows overlap. Padding cells are dropped from
    ``dL/dx``, and cells no window reads (a stride that does not divide
    evenly) get 0. The function is linear in each input: no kinks.

    Parameters
    ----------
    stride : int or (int, int), default=1
        Step between windows, over rows and columns.
    padding : int or (int, int), default=0
        Zeros added on both sides of the rows and of the columns.

    Examples
    --------
    A 3x3 kernel of ones with stride 2 reads only the top-left 3x3 block of a
    4x4 image; the last row and column get no gradient:

    >>> import numpy as np
    >>> gate = Conv2dGate(stride=2)
    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> gate.forward(x, np.ones((1, 1, 3, 3)), np.zeros(1))
    array([[[[45.]]]])
    >>> dx, dw, db = gate.backward(np.ones((1, 1, 1, 1)))
    >>> dx[0, 0]
    array([[1., 1., 1., 0.],
           [1., 1., 1., 0.],
           [1., 1., 1., 0.],
           [0., 0., 0., 0.]])
    >>> db
    array([1.])
    """

    symbol = "conv"

    def __init__(self, stride=1, padding=0):
        self.stride = _pair(stride, "stride", "Conv2dGate", minimum=1)
        self.padding = _pair(padding, "padding", "Conv2dGate", minimum=0)

    def forward(self, x, w, b):
        x, w, b = np.asarray(x), np.asarray(w), np.asarray(b)
        _check_conv_shapes(x, w, b)
        (sh, sw), (ph, pw) = self.stride, self.padding
        n, c, h, wd = x.shape
        f, _, kh, kw = w.shape
        oh, ow = _out_size("Conv2dGate", (h, wd), (kh, kw), self.stride, self.padding)
        dtype = _float_type(x, w, b)

        # Channels before the batch, (C, N, H', W'): the columns of cols are
        # then ordered (n, oh, ow), and both transposes to and from NCHW move
        # whole images at a time.
        xp = np.zeros((c, n, h + 2 * ph, wd + 2 * pw), dtype)
        xp[:, :, ph : ph + h, pw : pw + wd] = x.transpose(1, 0, 2, 3)
        windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))
        windows = windows[:, :, ::sh, ::sw]  # OH, OW of them: (H' - KH) // s + 1
        # im2col: (C, N, OH, OW, KH, KW) -> rows (c, i, j), columns (n, oh, ow)
        cols = windows.transpose(0, 4, 5, 1, 2, 3).reshape(c * kh * kw, -1)

        # (F, C*KH*KW) @ (C*KH*KW, N*OH*OW) -> (F, N, OH, OW) -> (N, F, OH, OW)
        filters = w.reshape(f, -1).astype(dtype, copy=False)
        product = (filters @ cols).reshape(f, n, oh, ow)
        out = np.empty((n, f, oh, ow), dtype)
        np.add(product.transpose(1, 0, 2, 3), b.reshape(f, 1, 1), out=out)

        self.x, self.w, self.b, self.cols = x, w, b, cols
        self.out_size = (oh, ow)
        return out

    def backward(self, upstream):
        x, w, cols = self.x, self.w, self.cols
        (ph, pw) = self.padding
        n, c, h, wd = x.shape
        f, _, kh, kw = w.shape
        oh, ow = self.out_size
        dtype = cols.dtype
        upstream = np.asarray(upstream, dtype)
        filters = w.reshape(f, -1).T.astype(dtype, copy=False)

        # (N, F, OH, OW) -> (F, N, OH, OW) -> (F, N*OH*OW), the column order of cols
        g = upstream.transpose(1, 0, 2, 3)
        g_cols = np.ascontiguousarray(g).reshape(f, -1)
        db = upstream.sum(axis=(0, 2, 3))
        dw = (g_cols @ cols.T).reshape(w.shape)
        padded = (h + 2 * ph, wd + 2 * pw)
        if self.stride == (1, 1):
            dxp = _col2im_unit_stride(filters, g, (c, kh, kw), padded)
        else:
            dcols = (filters @ g_cols).reshape(c, kh, kw, n, oh, ow)
            dxp = _col2im(dcols, padded, self.stride)
        dx = dxp[:, :, ph : ph + h, pw : pw + wd].transpose(1, 0, 2, 3)

        return (
            _like(np.ascontiguousarray(dx), x),
            _like(dw, w),
            _like(db, self.b),
        )

    def __repr__(self):
        return f"Conv2dGate(stride={self.stride}, padding={self.padding})"


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
        windows, out, dtype = self.windows, self.out, _grad_type(self.x)
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
        total = windows[..., 0, 0].astype(_grad_type(x))
        for i, j in _offsets(self.kernel_size):
            total += windows[..., i, j]
        self.x, self.out_shape = x, total.shape
        return total / (kh * kw)

    def backward(self, upstream):
        kh, kw = self.kernel_size
        dtype = _grad_type(self.x)
        share = np.asarray(upstream, dtype) / (kh * kw)
        parts = (share for _ in range(kh * kw))
        shape, kernel, stride = self.x.shape, self.kernel_size, self.stride
        return (_scatter(parts, shape, self.out_shape, kernel, stride, dtype),)

    def __repr__(self):
        return f"AvgPool2dGate(kernel_size={self.kernel_size}, stride={self.stride})"


# -- helpers shared by the gates above ---------------------------------------


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


def _check_conv_shapes(x, w, b) -> None:
    _check_ndim("Conv2dGate", "x", x, 4, "(N, C, H, W)")
    _check_ndim("Conv2dGate", "w", w, 4, "(F, C, KH, KW)")
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"Conv2dGate: x has {x.shape[1]} channels (shape {x.shape}) but the "
            f"filters w expect {w.shape[1]} (shape {w.shape}); the second axes "
            "must match"
        )
    if b.shape != (w.shape[0],):
        raise ValueError(
            f"Conv2dGate: b must have shape ({w.shape[0]},), one bias per filter "
            f"of w (shape {w.shape}), got shape {b.shape}"
        )


def _windows(gate: str, x, kernel, stride):
    """View of the pooling windows of ``x``: ``(N, C, OH, OW, KH, KW)``."""
    _check_ndim(gate, "x", x, 4, "(N, C, H, W)")
    oh, ow = _out_size(gate, x.shape[2:], kernel, stride, (0, 0))
    windows = sliding_window_view(x, kernel, axis=(2, 3))
    windows = windows[:, :, :: stride[0], :: stride[1]]
    assert windows.shape[2:4] == (oh, ow)
    return windows


def _col2im(dcols, padded, stride):
    """Add window gradients ``(C, KH, KW, N, OH, OW)`` onto ``(C, N, H', W')``.

    One strided addition per kernel offset ``(i, j)``: the cells that offset
    reads, one per window; where windows overlap, the contributions add up.
    """
    c, kh, kw, n, oh, ow = dcols.shape
    dxp = np.zeros((c, n) + padded, dcols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i, i + stride[0] * (oh - 1) + 1, stride[0])
            columns = slice(j, j + stride[1] * (ow - 1) + 1, stride[1])
            dxp[:, :, rows, columns] += dcols[:, i, j]
    return dxp


def _col2im_unit_stride(filters, g, kernel, padded):
    """``_col2im`` of ``filters @ g`` for stride 1, with long contiguous additions.

    With stride 1 the cells that offset ``(i, j)`` reads from one flattened
    padded image are ``i * W' + j + oh * W' + ow``. Give the upstream rows
    the padded width ``W'`` (zeros after column OW) and that becomes one
    contiguous run of ``OH * W'`` cells per image, instead of OH runs of OW
    cells, which numpy adds 2 to 3 times faster. A run's zero tail may
    reach past its image into the next one (or into a spare row after the
    last image), where it adds nothing.
    """
    c, kh, kw = kernel
    f, n, oh, ow = g.shape
    hp, wp = padded
    wide = np.zeros((f, n, oh, wp), g.dtype)
    wide[..., :ow] = g
    # (C*KH*KW, F) @ (F, N*OH*W') -> (C, KH, KW, N, OH*W')
    dcols = (filters @ wide.reshape(f, -1)).reshape(c, kh, kw, n, oh * wp)

    flat = np.zeros(c * n * hp * wp + wp, g.dtype)
    step = flat.itemsize
    strides = (n * hp * wp * step, hp * wp * step, step)
    for i in range(kh):
        for j in range(kw):
            run = as_strided(flat[i * wp + j :], (c, n, oh * wp), strides)
            run += dcols[:, i, j]
    return flat[: c * n * hp * wp].reshape(c, n, hp, wp)


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


def _float_type(*arrays):
    """The float type to compute in: float32 stays, integers become float64."""
    return np.result_type(np.float32, *(a.dtype for a in arrays))


def _grad_type(x):
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)


def _like(grad, value):
    """``grad`` in the float type of the input it belongs to."""
    return grad.astype(_grad_type(value), copy=False)
