"""Elementwise losses, a prediction against a target, and the L2 penalty.

MSE, L1 and smooth L1 (regression) and BCE and BCE with logits (binary
classification) compute one loss per element of a prediction and a target
of the same shape. Their ``reduction`` is that of every loss gate (see
:mod:`gates.losses`): ``"mean"`` averages over every element (not only the
batch axis), as PyTorch does, ``"sum"`` adds them and ``"none"`` returns
them in the inputs' shape. Targets are floats and receive a gradient like
the predictions.

Every gate here is stable over the whole float range: the binary
cross-entropies never take the log of 0, and nothing overflows where the
true value is finite (a loss beyond the float range is ``inf``, silently).
"""

import numpy as np

from gates.base import Gate, log, shape_of, sigmoid
from gates.losses import _LossGate
from gates.tensor import _grad_like, _scalar

__all__ = [
    "MSELossGate",
    "L1LossGate",
    "SmoothL1LossGate",
    "BCELossGate",
    "BCEWithLogitsLossGate",
    "L2PenaltyGate",
]

#: BCE clamps each logarithm at this value, so p = 0 or 1 gives a finite loss.
LOG_FLOOR = -100.0
#: BCE divides its gradient by max(p (1 - p), BCE_EPSILON), finite at p = 0, 1.
BCE_EPSILON = 1e-12


class MSELossGate(_LossGate):
    """``L = (p - t)**2`` per element; ``dL/dp = 2 (p - t)``, ``dL/dt = -2 (p - t)``.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` averages over every element.

    Examples
    --------
    >>> MSELossGate().forward(np.array([1.0, 2.0]), np.array([0.0, 0.0]))
    2.5
    """

    symbol = "MSE"

    def forward(self, prediction, target):
        self.diff = _difference(type(self).__name__, prediction, target)
        self.prediction, self.target = prediction, target
        with np.errstate(over="ignore"):  # past the float range, inf is right
            return self._reduce(self.diff * self.diff)

    def backward(self, upstream):
        with np.errstate(over="ignore"):
            grad = 2.0 * self.diff * self._spread(upstream)
        return _grad_like(grad, self.prediction), _grad_like(-grad, self.target)


class L1LossGate(_LossGate):
    """``L = |p - t|`` per element; ``dL/dp = sign(p - t)``, ``dL/dt = -sign(p - t)``.

    At the kink ``p = t`` the local gradient is 0, the average of -1 and 1.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` averages over every element.
    """

    symbol = "L1"

    def forward(self, prediction, target):
        self.diff = _difference(type(self).__name__, prediction, target)
        self.prediction, self.target = prediction, target
        return self._reduce(np.abs(self.diff))

    def backward(self, upstream):
        grad = np.sign(self.diff) * self._spread(upstream)
        return _grad_like(grad, self.prediction), _grad_like(-grad, self.target)


class SmoothL1LossGate(_LossGate):
    """``L = d**2/2b if |d| < b else |d| - b/2``, d = p-t; ``dL/dp = clip(d/b, -1, 1)``.

    ``b`` is ``beta``; ``dL/dt = -dL/dp``. This is the Huber loss scaled by
    ``1/beta``, as in PyTorch; its slope is continuous, so it has no kink.

    Parameters
    ----------
    beta : float, default=1.0
        Where the quadratic part gives way to the linear one; positive.
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` averages over every element.
    """

    symbol = "smooth L1"

    def __init__(self, beta: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        if not beta > 0:
            raise ValueError(
                f"SmoothL1LossGate: beta must be positive; got {beta!r} "
                "(for beta = 0, use L1LossGate)"
            )
        self.beta = beta

    def forward(self, prediction, target):
        d = _difference(type(self).__name__, prediction, target)
        self.diff, self.prediction, self.target = d, prediction, target
        size = np.abs(d)
        with np.errstate(over="ignore"):
            losses = np.where(
                size < self.beta, 0.5 * d * d / self.beta, size - 0.5 * self.beta
            )
        return self._reduce(losses)

    def backward(self, upstream):
        grad = np.clip(self.diff / self.beta, -1, 1) * self._spread(upstream)
        return _grad_like(grad, self.prediction), _grad_like(-grad, self.target)

    def __repr__(self):
        return f"SmoothL1LossGate(beta={self.beta!r}, reduction={self.reduction!r})"


class BCELossGate(_LossGate):
    """``L = -t ln p - (1-t) ln(1-p)``; ``dL/dp = (p-t)/p(1-p)``, ``dL/dt = ln(1/p-1)``.

    Inputs are probabilities ``p`` in ``[0, 1]`` and float targets ``t`` of
    the same shape. Each logarithm is clamped at ``LOG_FLOOR = -100``, as in
    PyTorch, so ``p = 0`` or ``p = 1`` gives a finite loss; the gradient
    divides by ``max(p (1 - p), BCE_EPSILON)`` with ``BCE_EPSILON = 1e-12``,
    so it stays finite too. Prefer :class:`BCEWithLogitsLossGate` on scores:
    it needs no clamping.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` averages over every element.
    """

    symbol = "BCE"

    def forward(self, probs, targets):
        _difference(type(self).__name__, probs, targets)
        inside = (np.asarray(probs) >= 0) & (np.asarray(probs) <= 1)
        if not inside.all():
            raise ValueError(
                "BCELossGate: probabilities must lie in [0, 1]; got "
                f"{np.asarray(probs)[~inside].ravel()[0]!r}. For scores, use "
                "BCEWithLogitsLossGate"
            )
        self.probs, self.targets = probs, targets
        self.log_p = np.maximum(log(probs), LOG_FLOOR)
        self.log_q = np.maximum(log(1 - probs), LOG_FLOOR)
        return self._reduce(-(targets * self.log_p + (1 - targets) * self.log_q))

    def backward(self, upstream):
        p, t = self.probs, self.targets
        spread = self._spread(upstream)
        dp = (p - t) / np.maximum(p * (1 - p), BCE_EPSILON) * spread
        dt = (self.log_q - self.log_p) * spread
        return _grad_like(dp, p), _grad_like(dt, t)


class BCEWithLogitsLossGate(_LossGate):
    """``L = -t ln σ(x) - (1-t) ln(1 - σ(x))``; ``dL/dx = σ(x) - t``, ``dL/dt = -x``.

    Computed as ``(1 - t) max(x, 0) + t max(-x, 0) + ln(1 + e**-|x|)``: no
    exponential of a positive number and no cancellation of large terms,
    so it is exact over the whole float range.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        ``"mean"`` averages over every element.
    """

    symbol = "BCE logits"

    def forward(self, logits, targets):
        _difference(type(self).__name__, logits, targets)
        self.logits, self.targets = logits, targets
        x, t = logits, targets
        softplus = np.log1p(np.exp(-np.abs(x)))
        return self._reduce(
            (1 - t) * np.maximum(x, 0) + t * np.maximum(-x, 0) + softplus
        )

    def backward(self, upstream):
        x, t = self.logits, self.targets
        spread = self._spread(upstream)
        return _grad_like((sigmoid(x) - t) * spread, x), _grad_like(-x * spread, t)


class L2PenaltyGate(Gate):
    """``f = strength * sum(W**2)``; ``df/dW = 2 strength W``.

    Weight decay as a loss term: add it to the data loss.

    Parameters
    ----------
    strength : float
        The regularization strength; not negative.

    Examples
    --------
    >>> L2PenaltyGate(0.5).forward(np.array([1.0, -2.0]))
    2.5
    """

    symbol = "L2"

    def __init__(self, strength: float):
        if not strength >= 0:
            raise ValueError(
                f"L2PenaltyGate: strength must be zero or positive; got {strength!r}"
            )
        self.strength = strength

    def forward(self, W):
        self.W = W
        with np.errstate(over="ignore"):
            return _scalar(self.strength * np.sum(np.square(W)))

    def backward(self, upstream):
        return (_grad_like(2.0 * self.strength * self.W * upstream, self.W),)

    def __repr__(self):
        return f"L2PenaltyGate(strength={self.strength!r})"


def _difference(gate, prediction, target):
    if shape_of(prediction) != shape_of(target):
        raise ValueError(
            f"{gate}: prediction and target must have the same shape; got "
            f"{shape_of(prediction)} and {shape_of(target)}"
        )
    with np.errstate(over="ignore"):  # beyond the float range, inf is right
        return np.asarray(prediction) - np.asarray(target)
