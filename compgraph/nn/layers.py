"""Layers with parameters: Linear, Conv2d, Embedding, BatchNorm; and Dropout.

Weights are drawn when the layer is constructed, from ``rng`` (a numpy
Generator, an integer seed, or ``None`` for fresh entropy), so a seed
reproduces them exactly whatever else the program draws. Biases start at
zero, batch-norm scales at one.
"""

import numpy as np

from compgraph.nn.base import Layer
from compgraph.nn.init import as_generator, initialize
from gates.conv import Conv2dGate
from gates.normalization import BatchNormGate, DropoutGate
from gates.tensor import AffineGate, EmbeddingGate, MatMulGate

__all__ = ["Linear", "Conv2d", "Embedding", "BatchNorm", "Dropout"]


class Linear(Layer):
    """``y = x W + b``: a fully connected layer on a batch of ``N`` rows.

    Adds the parameters ``<name>.W`` (in_features, out_features) and
    ``<name>.b`` (out_features,) and an ``AffineGate`` ``<name>.affine``,
    which flattens an input of shape (N, d1, d2 ...) to (N, d1 * d2 ...).
    Without a bias it adds a ``MatMulGate`` ``<name>.matmul``, which takes
    (N, in_features) as it is: put a :class:`Flatten` before it for images.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of an input row and an output row.
    name : str, optional
        Prefix of the layer's node names; default ``fc1``, ``fc2`` ...
    bias : bool, default=True
        Whether to add the bias ``b``.
    init : {"he", "xavier"}, default="he"
        How ``W`` is drawn: ``N(0, 2/in)`` or ``N(0, 2/(in + out))``.
    rng : numpy Generator, int or None
        Where ``W`` is drawn from; an integer seed reproduces it exactly.
    dtype : numpy dtype, default=float64
        Dtype of the parameters (float32 halves memory and time).

    Examples
    --------
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> fc = Linear(3, 2, rng=0)
    >>> y = fc(g.input("x"))
    >>> fc, fc.parameter_names, y.name
    (Linear(3 -> 2, name='fc1'), ['fc1.W', 'fc1.b'], 'fc1.affine')
    >>> g.forward(x=np.ones((4, 3))).shape
    (4, 2)
    """

    prefix = "fc"

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        name: str | None = None,
        bias: bool = True,
        init: str = "he",
        rng=None,
        dtype=np.float64,
    ):
        super().__init__(name)
        self.in_features = _positive_int("Linear", "in_features", in_features)
        self.out_features = _positive_int("Linear", "out_features", out_features)
        self.bias = bias
        self.init = init
        shape = (in_features, out_features)
        W = initialize(init, shape, in_features, out_features, rng, dtype)
        self._values = {"W": W, "b": np.zeros(out_features, dtype=dtype)}

    def _build(self, graph, x):
        W = self._parameter("W", self._values["W"])
        if not self.bias:
            return self._gate(MatMulGate(), [x, W], "matmul")
        b = self._parameter("b", self._values["b"])
        return self._gate(AffineGate(), [x, W, b], "affine")

    def _describe(self):
        bias = "" if self.bias else ", bias=False"
        return f"{self.in_features} -> {self.out_features}{bias}"


class Conv2d(Layer):
    """A 2-D convolution of an NCHW batch: ``F`` kernels of shape (C, KH, KW).

    Adds ``<name>.W`` (out_channels, in_channels, KH, KW), ``<name>.b``
    (out_channels,) and a ``Conv2dGate`` ``<name>.conv``. An input
    (N, C, H, W) gives (N, F, (H + 2p - KH) // s + 1, (W + 2p - KW) // s + 1).

    Parameters
    ----------
    in_channels, out_channels : int
        ``C`` and ``F``.
    kernel_size : int or (int, int)
        ``KH`` and ``KW``; one int means a square kernel.
    stride, padding : int, default=1 and 0
        Step between windows and zeros added on every side.
    name, init, rng, dtype
        As for :class:`Linear`; the fans are ``C*KH*KW`` in and ``F*KH*KW`` out.

    Examples
    --------
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> conv = Conv2d(1, 4, 3, padding=1, rng=0)
    >>> y = conv(g.input("images"))
    >>> conv
    Conv2d(1 -> 4, kernel_size=3, stride=1, padding=1, name='conv1')
    >>> g.forward(images=np.zeros((2, 1, 8, 8))).shape
    (2, 4, 8, 8)
    """

    prefix = "conv"

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size,
        *,
        stride: int = 1,
        padding: int = 0,
        name: str | None = None,
        init: str = "he",
        rng=None,
        dtype=np.float64,
    ):
        super().__init__(name)
        self.in_channels = _positive_int("Conv2d", "in_channels", in_channels)
        self.out_channels = _positive_int("Conv2d", "out_channels", out_channels)
        self.kernel_size = kernel_size
        kh, kw = _pair("Conv2d", "kernel_size", kernel_size)
        self.stride = stride
        self.padding = padding
        self.init = init
        shape = (out_channels, in_channels, kh, kw)
        fan_in, fan_out = in_channels * kh * kw, out_channels * kh * kw
        W = initialize(init, shape, fan_in, fan_out, rng, dtype)
        self._values = {"W": W, "b": np.zeros(out_channels, dtype=dtype)}

    def _build(self, graph, x):
        W = self._parameter("W", self._values["W"])
        b = self._parameter("b", self._values["b"])
        gate = Conv2dGate(stride=self.stride, padding=self.padding)
        return self._gate(gate, [x, W, b], "conv")

    def _describe(self):
        return (
            f"{self.in_channels} -> {self.out_channels}, "
            f"kernel_size={self.kernel_size!r}, stride={self.stride!r}, "
            f"padding={self.padding!r}"
        )


class Embedding(Layer):
    """A lookup table: integer indices of any shape pick rows of ``<name>.table``.

    Adds ``<name>.table`` (num_embeddings, embedding_dim), drawn from
    ``N(0, 1)``, and an ``EmbeddingGate`` ``<name>.lookup``. Indices of shape
    (N, T) give (N, T, embedding_dim); rows picked several times add up
    their gradients.

    Examples
    --------
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> emb = Embedding(10, 4, rng=0)
    >>> vectors = emb(g.input("tokens"))
    >>> g.forward(tokens=np.array([[1, 2, 1]])).shape
    (1, 3, 4)
    """

    prefix = "embedding"

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        *,
        name: str | None = None,
        rng=None,
        dtype=np.float64,
    ):
        super().__init__(name)
        self.num_embeddings = _positive_int(
            "Embedding", "num_embeddings", num_embeddings
        )
        self.embedding_dim = _positive_int("Embedding", "embedding_dim", embedding_dim)
        shape = (num_embeddings, embedding_dim)
        table = as_generator(rng).normal(size=shape).astype(dtype)
        self._values = {"table": table}

    def _build(self, graph, indices):
        table = self._parameter("table", self._values["table"])
        return self._gate(EmbeddingGate(), [indices, table], "lookup")

    def _describe(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class BatchNorm(Layer):
    """Batch normalization over features (N, D) or channels (N, C, H, W).

    Adds ``<name>.gamma`` (ones) and ``<name>.beta`` (zeros), both of shape
    (num_features,), and a ``BatchNormGate`` ``<name>.batchnorm``, which
    keeps running statistics for evaluation mode (saved with the parameters
    by :func:`compgraph.io.save_parameters`).

    Examples
    --------
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> bn = BatchNorm(3)
    >>> y = bn(g.input("x"))
    >>> bn, bn.parameter_names
    (BatchNorm(3, name='bn1'), ['bn1.gamma', 'bn1.beta'])
    """

    prefix = "bn"

    def __init__(
        self,
        num_features: int,
        *,
        momentum: float = 0.1,
        eps: float = 1e-5,
        name: str | None = None,
        dtype=np.float64,
    ):
        super().__init__(name)
        self.num_features = _positive_int("BatchNorm", "num_features", num_features)
        self.momentum = momentum
        self.eps = eps
        self._values = {
            "gamma": np.ones(num_features, dtype=dtype),
            "beta": np.zeros(num_features, dtype=dtype),
        }

    def _build(self, graph, x):
        gamma = self._parameter("gamma", self._values["gamma"])
        beta = self._parameter("beta", self._values["beta"])
        gate = BatchNormGate(self.momentum, self.eps, num_features=self.num_features)
        return self._gate(gate, [x, gamma, beta], "batchnorm")

    def _describe(self):
        extra = "" if self.momentum == 0.1 else f", momentum={self.momentum!r}"
        extra += "" if self.eps == 1e-5 else f", eps={self.eps!r}"
        return f"{self.num_features}{extra}"


class Dropout(Layer):
    """Inverted dropout: in training, zero each value with probability ``p``.

    The kept values are scaled by ``1 / (1 - p)``, so evaluation mode
    (``graph.eval()``) passes the input through unchanged. Adds one
    ``DropoutGate`` named after the layer (``dropout1``).

    Examples
    --------
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> y = Dropout(0.5, seed=0)(g.input("x"))
    >>> g.eval().forward(x=np.ones(3))
    array([1., 1., 1.])
    """

    prefix = "dropout"

    def __init__(self, p: float = 0.5, *, seed=None, name: str | None = None):
        super().__init__(name)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout probability p must be in [0, 1), got {p!r}")
        self.p = p
        self.seed = seed

    def _build(self, graph, x):
        return self._gate(DropoutGate(p=self.p, seed=self.seed), [x])

    def _describe(self):
        return f"p={self.p!r}"


def _positive_int(layer: str, what: str, value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{layer} {what} must be an int, got {value!r}")
    if value < 1:
        raise ValueError(f"{layer} {what} must be at least 1, got {value!r}")
    return int(value)


def _pair(layer: str, what: str, value) -> tuple:
    values = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(values) != 2:
        raise ValueError(f"{layer} {what} is an int or a pair of ints, got {value!r}")
    return tuple(_positive_int(layer, what, v) for v in values)
