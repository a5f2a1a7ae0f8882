"""Convolution on NCHW batches.

:class:`Conv2dGate` slides ``F`` filters of ``KH x KW`` cells over a batch
``x`` of shape ``(N, C, H, W)``, padded with zeros, with a stride. Its
windows and output size are those of pooling: see :mod:`gates.pooling`,
whose checks and sizes it uses.

Both directions are array operations, never Python loops over pixels:
forward cuts the windows out of ``x`` with strides
(``numpy.lib.stride_tricks.sliding_window_view``), copies them into one
matrix (*im2col*) and multiplies it by the filters. Backward scatters the
window gradients back with one strided, vectorized addition per kernel
offset ``(i, j)``, ``KH * KW`` additions in all (*col2im*); where windows
overlap, the gradients of a shared cell add up.

Float32 inputs stay float32; integer inputs are computed in float64.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view

from gates.base import Gate
from gates.pooling import _check_ndim, _out_size, _pair
from gates.tensor import _grad_dtype

__all__ = ["Conv2dGate"]


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


# -- helpers -------------------------------------------------------------------


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


def _float_type(*arrays):
    """The float type to compute in: float32 stays, integers become float64."""
    return np.result_type(np.float32, *(a.dtype for a in arrays))


def _like(grad, value):
    """``grad`` in the float type of the input it belongs to."""
    return grad.astype(_grad_dtype(value), copy=False)
