"""Gates that behave differently in training and in evaluation: batch norm, dropout.

Both read the ``training`` flag that the graph sets on every gate
(``graph.train()``, ``graph.eval()``). Batch norm keeps running statistics
on the gate itself: they are buffers, estimated from the data rather than
learned by gradient descent, so they are not parameter nodes of the graph;
``state_dict`` and ``load_state_dict`` save and restore them. Dropout draws
its masks from the gate's own seeded random generator, so a seed reproduces
a run exactly.
"""

import numbers

import numpy as np

from gates.base import Gate

__all__ = ["BatchNormGate", "DropoutGate"]

_BUFFERS = ("running_mean", "running_var")


class BatchNormGate(Gate):
    """``y = gamma * xhat + beta``, ``xhat = (x - mean) / std``; ``dy/dgamma = xhat``.

    Inputs ``(x, gamma, beta)``. For ``x`` of shape ``(N, D)`` every feature
    is normalized over the batch; for ``x`` of shape ``(N, C, H, W)`` every
    channel is normalized over ``(N, H, W)`` (spatial batch norm).
    ``gamma`` and ``beta`` have shape ``(D,)`` or ``(C,)``.

    In training, ``mean`` and ``var`` are the batch's mean and (biased)
    variance over the ``M`` values of each feature, ``std = sqrt(var + eps)``,
    and with upstream gradient ``g``:
    ``dL/dbeta = sum g``, ``dL/dgamma = sum g * xhat`` and
    ``dL/dx = gamma / sqrt(var + eps) * (g - mean(g) - xhat * mean(g * xhat))``,
    sums and means per feature. The last two terms are the paths through
    the batch mean and variance; without them the gradient is wrong. The
    input gradient sums to zero per feature, so an upstream gradient of all
    ones gives exactly 0 and proves nothing in a gradient check.

    Each training forward also updates the running statistics,
    ``running = (1 - momentum) * running + momentum * batch``, using the
    unbiased variance ``var * M / (M - 1)`` for ``running_var`` (as PyTorch
    does). In evaluation (``training`` False) the running statistics stand in
    for the batch's, ``y`` is an affine function of ``x`` and
    ``dL/dx = g * gamma / sqrt(running_var + eps)``.

    A training batch with one value per feature (``x`` of shape ``(1, D)``)
    has variance 0 and would normalize everything to 0 with no gradient;
    it is refused with a ``ValueError``: evaluate with ``graph.eval()`` or
    train on larger batches.

    Parameters
    ----------
    momentum : float, default=0.1
        Weight of the current batch in the running statistics, in [0, 1].
    eps : float, default=1e-5
        Added to the variance before the square root; must be positive.
    num_features : int, default=None
        D or C, to create the running statistics (mean 0, variance 1) now;
        ``None`` creates them at the first forward.

    Attributes
    ----------
    running_mean, running_var : numpy.ndarray or None
        Float64 buffers of shape ``(D,)``; ``None`` until the feature count
        is known.

    Examples
    --------
    Four one-feature samples, with an upstream gradient that is not all ones:

    >>> import numpy as np
    >>> gate = BatchNormGate()
    >>> x = np.array([[1.0], [2.0], [3.0], [4.0]])
    >>> y = gate.forward(x, np.ones(1), np.zeros(1))
    >>> np.round(y.ravel(), 6)
    array([-1.341635, -0.447212,  0.447212,  1.341635])
    >>> dx, dgamma, dbeta = gate.backward(np.array([[0.5], [-1.0], [2.0], [0.25]]))
    >>> dx.ravel().round(10).tolist()
    [0.3577670304, -1.1851120926, 1.2969150443, -0.4695699821]
    >>> gate.state_dict()["running_mean"]
    array([0.25])
    """

    symbol = "BN"

    def __init__(
        self, momentum: float = 0.1, eps: float = 1e-5, num_features: int | None = None
    ):
        if not (isinstance(momentum, numbers.Real) and 0 <= momentum <= 1):
            raise ValueError(
                f"BatchNormGate: momentum must be a number in [0, 1], got {momentum!r}"
            )
        if not (isinstance(eps, numbers.Real) and eps > 0):
            raise ValueError(f"BatchNormGate: eps must be positive, got {eps!r}")
        self.momentum, self.eps = float(momentum), float(eps)
        self.running_mean = self.running_var = None
        if num_features is not None:
            self._create_buffers(int(num_features))

    def forward(self, x, gamma, beta):
        x, gamma, beta = np.asarray(x), np.asarray(gamma), np.asarray(beta)
        axes, shape = _check_batch_norm_shapes(x, gamma, beta, self.running_mean)
        dtype = np.result_type(np.float32, x.dtype, gamma.dtype, beta.dtype)
        count = x.size // x.shape[1]  # values per feature

        if self.running_mean is None:
            self._create_buffers(x.shape[1])
        if self.training:
            _check_batch_size(x, count)
            mean = x.mean(axis=axes, dtype=dtype)
            centered = x - mean.reshape(shape)
            var = np.mean(centered * centered, axis=axes)
            self._update_running(mean, var, count)
        else:
            mean = self.running_mean.astype(dtype, copy=False)
            var = self.running_var.astype(dtype, copy=False)
            centered = x - mean.reshape(shape)

        inv_std = (1.0 / np.sqrt(var + self.eps)).astype(dtype, copy=False)
        xhat = centered * inv_std.reshape(shape)
        self.x_type = _float(x)
        self.xhat, self.inv_std, self.gamma, self.beta = xhat, inv_std, gamma, beta
        self.axes, self.shape, self.normalized_in_training = axes, shape, self.training
        return gamma.reshape(shape) * xhat + beta.reshape(shape)

    def backward(self, upstream):
        xhat, axes, shape = self.xhat, self.axes, self.shape
        g = np.asarray(upstream, xhat.dtype)
        dbeta = g.sum(axis=axes)
        dgamma = (g * xhat).sum(axis=axes)

        dxhat = g * self.gamma.reshape(shape)
        if self.normalized_in_training:
            # Subtract the paths through the batch mean and the batch variance.
            dxhat = (
                dxhat
                - dxhat.mean(axis=axes, keepdims=True)
                - xhat * (dxhat * xhat).mean(axis=axes, keepdims=True)
            )
        dx = (dxhat * self.inv_std.reshape(shape)).astype(self.x_type, copy=False)
        dgamma = dgamma.astype(_float(self.gamma), copy=False)
        return dx, dgamma, dbeta.astype(_float(self.beta), copy=False)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the running statistics; empty before the feature count is known.

        >>> BatchNormGate(num_features=2).state_dict()
        {'running_mean': array([0., 0.]), 'running_var': array([1., 1.])}
        """
        if self.running_mean is None:
            return {}
        return {name: getattr(self, name).copy() for name in _BUFFERS}

    def load_state_dict(self, state) -> None:
        """Restore running statistics saved by :meth:`state_dict`.

        Raises
        ------
        ValueError
            If a name is missing or unexpected, a shape differs from the
            gate's feature count, or a value is not finite (or a variance
            negative).

        Examples
        --------
        >>> gate = BatchNormGate(num_features=1)
        >>> gate.load_state_dict({"running_mean": [2.0], "running_var": [4.0]})
        >>> gate.running_var
        array([4.])
        """
        arrays = _checked_state(state, self.running_mean)
        self.running_mean, self.running_var = arrays
        self.num_features = arrays[0].shape[0]

    def _create_buffers(self, features: int) -> None:
        self.num_features = features
        self.running_mean = np.zeros(features)
        self.running_var = np.ones(features)

    def _update_running(self, mean, var, count: int) -> None:
        m = self.momentum
        unbiased = var * (count / (count - 1))
        self.running_mean = (1 - m) * self.running_mean + m * mean
        self.running_var = (1 - m) * self.running_var + m * unbiased

    def __repr__(self):
        return f"BatchNormGate(momentum={self.momentum}, eps={self.eps})"


class DropoutGate(Gate):
    """``y = x * mask / (1 - p)`` in training, ``y = x`` in evaluation; ``dy/dx`` alike.

    Inverted dropout: in training each element is kept with probability
    ``1 - p`` and scaled by ``1 / (1 - p)`` (so its expected value is
    unchanged), or zeroed with probability ``p``; a new mask is drawn at
    every forward. The local gradient is the same scaled mask, so dropped
    elements get 0. In evaluation the gate is the identity.

    Masks come from the gate's own generator, ``numpy.random.default_rng(seed)``:
    the same seed gives the same sequence of masks. For a gradient check in
    training the mask must stay fixed between the analytic and the numerical
    passes: :meth:`freeze` keeps the last mask (drawing one if there is none)
    for every following forward, until :meth:`unfreeze`.

    Parameters
    ----------
    p : float, default=0.5
        Probability of dropping an element, in [0, 1).
    seed : int, default=None
        Seed of the gate's random generator.

    Attributes
    ----------
    mask : numpy.ndarray or None
        The last mask drawn, already scaled: ``0`` or ``1 / (1 - p)``.

    Examples
    --------
    >>> import numpy as np
    >>> gate = DropoutGate(p=0.5, seed=0)
    >>> y = gate.forward(np.ones(8))
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    >>> bool(np.array_equal(gate.backward(np.ones(8))[0], y))
    True
    >>> gate.training = False
    >>> gate.forward(np.ones(3))
    array([1., 1., 1.])
    """

    symbol = "dropout"

    def __init__(self, p: float = 0.5, seed: int | None = None):
        if not (isinstance(p, numbers.Real) and 0 <= p < 1):
            raise ValueError(
                "DropoutGate: p is the probability of dropping an element and must "
                f"be in [0, 1) (p = 1 would drop everything), got {p!r}"
            )
        self.p, self.seed = float(p), seed
        self.rng = np.random.default_rng(seed)
        self.mask = None
        self.frozen = False

    def freeze(self) -> "DropoutGate":
        """Keep the last mask for the following forwards (for gradient checks)."""
        self.frozen = True
        return self

    def unfreeze(self) -> "DropoutGate":
        """Draw a new mask at every training forward again."""
        self.frozen = False
        return self

    def forward(self, x):
        self.was_float = isinstance(x, float)
        x = np.asarray(x)
        if not self.training or self.p == 0:
            self.scale = None
            return float(x) if self.was_float else x
        if not (self.frozen and self.mask is not None):
            keep = self.rng.random(x.shape) >= self.p
            dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float64)
            self.mask = keep.astype(dtype) * dtype.type(1 / (1 - self.p))
        elif self.mask.shape != x.shape:
            raise ValueError(
                f"DropoutGate: the frozen mask has shape {self.mask.shape} but x "
                f"has shape {x.shape}; unfreeze() to draw a mask for the new shape"
            )
        self.scale = self.mask
        out = x * self.mask
        return float(out) if self.was_float else out

    def backward(self, upstream):
        grad = upstream if self.scale is None else upstream * self.scale
        return (float(grad) if self.was_float else grad,)

    def __repr__(self):
        return f"DropoutGate(p={self.p}, seed={self.seed})"


# -- helpers ------------------------------------------------------------------


def _check_batch_norm_shapes(x, gamma, beta, running):
    """Reduction axes and broadcast shape of the per-feature statistics."""
    if x.ndim not in (2, 4):
        raise ValueError(
            "BatchNormGate: x must have shape (N, D) or (N, C, H, W), got an array "
            f"of shape {x.shape}"
        )
    features = x.shape[1]
    for name, value in (("gamma", gamma), ("beta", beta)):
        if value.shape != (features,):
            raise ValueError(
                f"BatchNormGate: {name} must have shape ({features},), one value per "
                f"feature of x (shape {x.shape}), got shape {value.shape}"
            )
    if running is not None and running.shape != (features,):
        raise ValueError(
            f"BatchNormGate: the running statistics are for {running.shape[0]} "
            f"features but x (shape {x.shape}) has {features}"
        )
    if x.ndim == 2:
        return (0,), (1, features)
    return (0, 2, 3), (1, features, 1, 1)


def _check_batch_size(x, count: int) -> None:
    if count < 2:
        raise ValueError(
            f"BatchNormGate: in training, x of shape {x.shape} has one value per "
            "feature, whose batch variance is 0: normalizing would give 0 with no "
            "gradient. Use graph.eval() to normalize with the running statistics, "
            "or a batch of more than one sample"
        )


def _checked_state(state, current):
    """The two running-statistics arrays of ``state``, validated."""
    gate = "BatchNormGate.load_state_dict"
    missing = [name for name in _BUFFERS if name not in state]
    unexpected = sorted(set(state) - set(_BUFFERS))
    if missing or unexpected:
        raise ValueError(
            f"{gate}: expected exactly {list(_BUFFERS)}; missing {missing}, "
            f"unexpected {unexpected}"
        )
    arrays = [np.array(state[name], dtype=np.float64) for name in _BUFFERS]
    expected = current.shape if current is not None else arrays[0].shape
    for name, array in zip(_BUFFERS, arrays):
        if array.ndim != 1 or array.shape != expected:
            raise ValueError(
                f"{gate}: {name!r} has shape {array.shape}, expected {expected} "
                "(one value per feature)"
            )
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{gate}: {name!r} has non-finite values: {array}")
    if np.any(arrays[1] < 0):
        raise ValueError(f"{gate}: 'running_var' has negative values: {arrays[1]}")
    return arrays


def _float(value):
    return value.dtype if value.dtype.kind == "f" else np.dtype(np.float64)
