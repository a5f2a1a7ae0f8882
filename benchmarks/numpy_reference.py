"""Hand-written numpy networks: the floor a numpy graph engine is measured against.

This is the classic course-assignment style of backprop: every layer is a
pair of functions, ``*_forward(inputs) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients``, and a network's training step
calls them by hand in order and in reverse. Nothing is generic, nothing is
recorded, nothing is checked: what remains is the arithmetic, which is what
an engine's step time should be compared with.

As in the assignments, every backward returns the gradient of its input too,
including the first layer's (the gradient with respect to the images).

Convolution is im2col through array strides and one matrix product;
max pooling takes elementwise maxima over strided views of the windows.
Ties in a pooling window share the gradient equally, as compgraph's
MaxPool2dGate does.
"""

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "affine_forward",
    "affine_backward",
    "relu_forward",
    "relu_backward",
    "softmax_loss",
    "conv_forward",
    "conv_backward",
    "max_pool_forward",
    "max_pool_backward",
    "MLP",
    "ConvNet",
]


# -- layers ------------------------------------------------------------------


def affine_forward(x, w, b):
    """out = x.reshape(N, D) @ w + b."""
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    x2 = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x2.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x):
    return np.maximum(x, 0), x


def relu_backward(dout, x):
    return dout * (x > 0)


def softmax_loss(scores, y):
    """Mean cross-entropy of softmax(scores) against integer labels, and dscores."""
    n = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].mean()
    dscores = np.exp(log_probs)
    dscores[np.arange(n), y] -= 1
    dscores /= n
    return loss, dscores


def conv_forward(x, w, b, stride=1, pad=0):
    """Convolution by im2col: a strided view of the padded input, then one matmul."""
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    hp, wp = h + 2 * pad, wd + 2 * pad
    oh, ow = (hp - kh) // stride + 1, (wp - kw) // stride + 1

    # (C, KH, KW, N, OH, OW) view of the windows, copied into columns
    s = xp.itemsize
    shape = (c, kh, kw, n, oh, ow)
    strides = (hp * wp * s, wp * s, s, c * hp * wp * s, stride * wp * s, stride * s)
    cols = np.ascontiguousarray(as_strided(xp, shape, strides))
    cols = cols.reshape(c * kh * kw, n * oh * ow)

    out = w.reshape(f, -1) @ cols + b.reshape(-1, 1)
    out = out.reshape(f, n, oh, ow).transpose(1, 0, 2, 3)
    return np.ascontiguousarray(out), (x.shape, w, cols, stride, pad)


def conv_backward(dout, cache):
    x_shape, w, cols, stride, pad = cache
    n, c, h, wd = x_shape
    f, _, kh, kw = w.shape
    oh, ow = dout.shape[2], dout.shape[3]

    db = dout.sum(axis=(0, 2, 3))
    dout2 = dout.transpose(1, 0, 2, 3).reshape(f, -1)
    dw = (dout2 @ cols.T).reshape(w.shape)

    # col2im: add each kernel offset's columns back onto the padded input
    dcols = (w.reshape(f, -1).T @ dout2).reshape(c, kh, kw, n, oh, ow)
    dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=dout.dtype)
    for i in range(kh):
        for j in range(kw):
            window = dxp[
                :, :, i : i + stride * oh : stride, j : j + stride * ow : stride
            ]
            window += dcols[:, i, j].transpose(1, 0, 2, 3)
    dx = dxp[:, :, pad : pad + h, pad : pad + wd]
    return dx, dw, db


def max_pool_forward(x, size):
    """Max over non-overlapping ``size x size`` windows (size divides H and W).

    One elementwise maximum per window offset, over strided views: reducing
    a reshaped (N, C, H/s, s, W/s, s) array over its small axes is the
    textbook way, but numpy runs it tens of times slower.
    """
    out = x[:, :, ::size, ::size].copy()
    for i in range(size):
        for j in range(size):
            np.maximum(out, x[:, :, i::size, j::size], out=out)
    return out, (x, out, size)


def max_pool_backward(dout, cache):
    x, out, size = cache
    offsets = [(i, j) for i in range(size) for j in range(size)]
    masks = [x[:, :, i::size, j::size] == out for i, j in offsets]
    ties = np.zeros_like(dout)
    for mask in masks:
        ties += mask
    share = dout / ties
    dx = np.empty_like(x)
    for (i, j), mask in zip(offsets, masks):
        dx[:, :, i::size, j::size] = mask * share
    return dx


# -- networks ----------------------------------------------------------------


def _he(rng, shape, fan_in, dtype):
    return (rng.normal(size=shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


class MLP:
    """Fully connected ReLU network, e.g. 64-256-256-10, trained with plain SGD."""

    def __init__(self, sizes=(64, 256, 256, 10), seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        self.params = {}
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            self.params[f"W{i}"] = _he(rng, (a, b), a, dtype)
            self.params[f"b{i}"] = np.zeros(b, dtype=dtype)
        self.layers = len(sizes) - 1

    def loss(self, x, y):
        """Loss and gradients of every parameter, by hand."""
        p, caches, h = self.params, [], x
        for i in range(1, self.layers + 1):
            h, cache = affine_forward(h, p[f"W{i}"], p[f"b{i}"])
            caches.append(cache)
            if i < self.layers:
                h, cache = relu_forward(h)
                caches.append(cache)
        loss, dh = softmax_loss(h, y)

        grads = {}
        for i in range(self.layers, 0, -1):
            if i < self.layers:
                dh = relu_backward(dh, caches.pop())
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dh, caches.pop())
        return loss, grads

    def train_step(self, x, y, lr):
        loss, grads = self.loss(x, y)
        for name, grad in grads.items():
            self.params[name] -= lr * grad
        return loss


class ConvNet:
    """conv3x3 1-16 pad 1, relu, maxpool 2, conv3x3 16-32 pad 1, relu, maxpool 2,
    linear to 10, on 1 x 16 x 16 images."""

    def __init__(self, seed=0, dtype=np.float64, size=16, classes=10):
        rng = np.random.default_rng(seed)
        flat = 32 * (size // 4) ** 2
        self.params = {
            "W1": _he(rng, (16, 1, 3, 3), 9, dtype),
            "b1": np.zeros(16, dtype=dtype),
            "W2": _he(rng, (32, 16, 3, 3), 16 * 9, dtype),
            "b2": np.zeros(32, dtype=dtype),
            "W3": _he(rng, (flat, classes), flat, dtype),
            "b3": np.zeros(classes, dtype=dtype),
        }

    def loss(self, x, y):
        p = self.params
        h, c1 = conv_forward(x, p["W1"], p["b1"], 1, 1)
        h, r1 = relu_forward(h)
        h, m1 = max_pool_forward(h, 2)
        h, c2 = conv_forward(h, p["W2"], p["b2"], 1, 1)
        h, r2 = relu_forward(h)
        h, m2 = max_pool_forward(h, 2)
        scores, a3 = affine_forward(h, p["W3"], p["b3"])
        loss, d = softmax_loss(scores, y)

        grads = {}
        d, grads["W3"], grads["b3"] = affine_backward(d, a3)
        d = relu_backward(max_pool_backward(d, m2), r2)
        d, grads["W2"], grads["b2"] = conv_backward(d, c2)
        d = relu_backward(max_pool_backward(d, m1), r1)
        _, grads["W1"], grads["b1"] = conv_backward(d, c1)
        return loss, grads

    def train_step(self, x, y, lr):
        loss, grads = self.loss(x, y)
        for name, grad in grads.items():
            self.params[name] -= lr * grad
        return loss
