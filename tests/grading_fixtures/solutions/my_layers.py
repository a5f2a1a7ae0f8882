"""A model solution of the layers assignment, written as a student would."""

import numpy as np

from gates.base import Gate


class AffineGate(Gate):
    def forward(self, x, W, b):
        self.shape = x.shape
        self.flat = x.reshape(len(x), -1)
        self.W = W
        return self.flat @ W + b

    def backward(self, upstream):
        dflat = upstream @ self.W.T
        return dflat.reshape(self.shape), self.flat.T @ upstream, upstream.sum(0)


class ReLUGate(Gate):
    def forward(self, x):
        self.x = x
        return np.where(x > 0, x, 0.0)

    def backward(self, upstream):
        return (upstream * ((self.x > 0) * 1.0 + (self.x == 0) * 0.5),)


class SoftmaxGate(Gate):
    def forward(self, x):
        shifted = np.exp(x - x.max(axis=-1, keepdims=True))
        self.p = shifted / shifted.sum(axis=-1, keepdims=True)
        return self.p

    def backward(self, upstream):
        # Full Jacobian-vector product: (diag(p) - p p^T) g.
        inner = (upstream * self.p).sum(axis=-1, keepdims=True)
        return (self.p * (upstream - inner),)


class SoftmaxCrossEntropyGate(Gate):
    def forward(self, scores, labels):
        batch = scores.reshape(-1, scores.shape[-1])
        y = np.reshape(labels, -1)
        top = batch.max(axis=1, keepdims=True)
        logsum = np.log(np.exp(batch - top).sum(axis=1)) + top[:, 0]
        losses = logsum - batch[np.arange(len(y)), y]
        self.shape, self.y = scores.shape, y
        self.p = np.exp(batch - logsum[:, None])
        return float(losses.mean())

    def backward(self, upstream):
        grad = self.p.copy()
        grad[np.arange(len(self.y)), self.y] -= 1.0
        return (grad * upstream / len(self.y)).reshape(self.shape), None


class HingeLossGate(Gate):
    def __init__(self, margin=1.0, reduction="mean"):
        self.margin = margin

    def forward(self, scores, labels):
        batch = scores.reshape(-1, scores.shape[-1])
        y = np.reshape(labels, -1)
        rows = np.arange(len(y))
        m = batch - batch[rows, y][:, None] + self.margin
        m[rows, y] = -np.inf  # the correct class is not a violation
        self.slope = np.where(m > 0, 1.0, np.where(m == 0, 0.5, 0.0))
        self.shape, self.y = scores.shape, y
        return float(np.maximum(m, 0).sum() / len(y))

    def backward(self, upstream):
        grad = self.slope.copy()
        grad[np.arange(len(self.y)), self.y] = -self.slope.sum(axis=1)
        return (grad * upstream / len(self.y)).reshape(self.shape), None


class Conv2dGate(Gate):
    def __init__(self, stride=1, padding=0):
        self.stride = stride
        self.padding = padding

    def forward(self, x, w, b):
        p, s = self.padding, self.stride
        padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        kh, kw = w.shape[2:]
        rows = (padded.shape[2] - kh) // s + 1
        cols = (padded.shape[3] - kw) // s + 1
        out = np.zeros((x.shape[0], w.shape[0], rows, cols))
        for i in range(rows):
            for j in range(cols):
                patch = padded[:, :, i * s : i * s + kh, j * s : j * s + kw]
                out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
        self.x, self.padded, self.w = x, padded, w
        return out + b[None, :, None, None]

    def backward(self, upstream):
        p, s = self.padding, self.stride
        kh, kw = self.w.shape[2:]
        dpadded = np.zeros_like(self.padded)
        dw = np.zeros_like(self.w)
        for i in range(upstream.shape[2]):
            for j in range(upstream.shape[3]):
                g = upstream[:, :, i, j]  # (N, F)
                patch = self.padded[:, :, i * s : i * s + kh, j * s : j * s + kw]
                dw += np.tensordot(g, patch, axes=([0], [0]))
                dpadded[:, :, i * s : i * s + kh, j * s : j * s + kw] += np.tensordot(
                    g, self.w, axes=([1], [0])
                )
        h, wd = self.x.shape[2:]
        dx = dpadded[:, :, p : p + h, p : p + wd]
        return dx, dw, upstream.sum(axis=(0, 2, 3))


class MaxPool2dGate(Gate):
    def __init__(self, kernel_size, stride=None):
        self.k = kernel_size
        self.s = kernel_size if stride is None else stride

    def forward(self, x):
        k, s = self.k, self.s
        rows = (x.shape[2] - k) // s + 1
        cols = (x.shape[3] - k) // s + 1
        out = np.zeros(x.shape[:2] + (rows, cols))
        for i in range(rows):
            for j in range(cols):
                out[:, :, i, j] = x[:, :, i * s : i * s + k, j * s : j * s + k].max(axis=(2, 3))
        self.x, self.out = x, out
        return out

    def backward(self, upstream):
        k, s = self.k, self.s
        dx = np.zeros_like(self.x)
        for i in range(self.out.shape[2]):
            for j in range(self.out.shape[3]):
                window = self.x[:, :, i * s : i * s + k, j * s : j * s + k]
                winners = window == self.out[:, :, i, j][:, :, None, None]
                share = winners / winners.sum(axis=(2, 3), keepdims=True)
                dx[:, :, i * s : i * s + k, j * s : j * s + k] += (
                    share * upstream[:, :, i, j][:, :, None, None]
                )
        return (dx,)


class BatchNormGate(Gate):
    def __init__(self, momentum=0.1, eps=1e-05, num_features=None):
        self.eps = eps

    def forward(self, x, gamma, beta):
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        self.inv = 1.0 / np.sqrt(var + self.eps)
        self.xhat = (x - mu) * self.inv
        self.gamma = gamma
        return gamma * self.xhat + beta

    def backward(self, g):
        n = len(g)
        dxhat = g * self.gamma
        dx = self.inv / n * (n * dxhat - dxhat.sum(0) - self.xhat * (dxhat * self.xhat).sum(0))
        return dx, (g * self.xhat).sum(0), g.sum(0)


class DropoutGate(Gate):
    def __init__(self, p=0.5, seed=None):
        self.p = p
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        if not self.training:
            self.mask = np.ones_like(x)
        else:
            self.mask = (self.rng.random(x.shape) >= self.p) / (1.0 - self.p)
        return x * self.mask

    def backward(self, upstream):
        return (upstream * self.mask,)
