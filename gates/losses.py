"""Losses over class scores, the softmax family they build on, and reductions.

Softmax and log-softmax turn scores into (log-)probabilities; softmax
cross-entropy, NLL and hinge score them against integer class labels. The
losses that compare a prediction with a target element by element (MSE,
L1, smooth L1, BCE) and the L2 penalty are in :mod:`gates.elementwise_losses`.

Every gate here is stable over the whole float range: softmax and the
cross-entropy shift scores by their maximum before exponentiating, and
nothing overflows where the true value is finite (a loss beyond the float
range is ``inf``, silently).

Reductions (``reduction=``), the same for every loss gate:

- Losses over a batch of class scores (softmax cross-entropy, NLL, hinge)
  compute one loss per sample, a row of ``(N, C)`` scores; ``"mean"`` (the
  default) averages them over the batch, ``"sum"`` adds them, ``"none"``
  returns the ``N`` per-sample losses. A single sample of shape ``(C,)``
  gives one loss.
- Elementwise losses (MSE, L1, smooth L1, BCE, BCE with logits) compute
  one loss per element; ``"mean"`` averages over every element (not only
  the batch axis), as PyTorch does, ``"sum"`` adds them and ``"none"``
  returns them in the inputs' shape.

Labels are integer class indices in ``[0, C)``: an integer array of shape
``(N,)`` for scores ``(N, C)``, or a 0-d integer array (or numpy integer)
for scores ``(C,)``. Labels receive no gradient (``None``). A Python int fed
to a graph becomes a float, and float labels are refused: feed
``np.array(1)``.
"""

import numpy as np

from gates.base import Gate, shape_of
from gates.tensor import _axes, _check_indices, _grad_like, _scalar

__all__ = [
    "SoftmaxGate",
    "LogSoftmaxGate",
    "SoftmaxCrossEntropyGate",
    "NLLLossGate",
    "HingeLossGate",
]

REDUCTIONS = ("mean", "sum", "none")


class SoftmaxGate(Gate):
    """``s_i = e**x_i / sum_j e**x_j``; ``dL/dx = s * (g - sum_j g_j s_j)``.

    The backward pass is the full Jacobian-vector product
    ``(diag(s) - s s.T) g``, not its diagonal alone.

    Parameters
    ----------
    axis : int, default=-1
        The axis that sums to one.

    Examples
    --------
    >>> gate = SoftmaxGate()
    >>> gate.forward(np.array([0.0, np.log(3.0)]))
    array([0.25, 0.75])
    """

    symbol = "softmax"

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        _require_axis("SoftmaxGate", x, self.axis)
        self.x = x
        self.out = _softmax(x, self.axis)
        return self.out

    def backward(self, upstream):
        s = self.out
        dot = np.sum(upstream * s, axis=self.axis, keepdims=True)
        return (_grad_like(s * (upstream - dot), self.x),)

    def __repr__(self):
        return f"SoftmaxGate(axis={self.axis!r})"


class LogSoftmaxGate(Gate):
    """``y_i = x_i - ln sum_j e**x_j``; ``dL/dx = g - softmax(x) sum_j g_j``.

    The backward pass is the full Jacobian-vector product, not its diagonal.

    Parameters
    ----------
    axis : int, default=-1
        The axis to normalize over.
    """

    symbol = "log softmax"

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        _require_axis("LogSoftmaxGate", x, self.axis)
        self.x = x
        out = _log_softmax(x, self.axis)
        self.probs = np.exp(out)
        return out

    def backward(self, upstream):
        total = np.sum(upstream, axis=self.axis, keepdims=True)
        return (_grad_like(upstream - self.probs * total, self.x),)

    def __repr__(self):
        return f"LogSoftmaxGate(axis={self.axis!r})"


class _LossGate(Gate):
    """A loss with a ``reduction``: ``"mean"``, ``"sum"`` or ``"none"``."""

    def __init__(self, reduction: str = "mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be 'mean', 'sum' or "
                f"'none'; got {reduction!r}"
            )
        self.reduction = reduction

    def _reduce(self, losses):
        """The per-sample or elementwise ``losses``, reduced."""
        self.count = losses.size
        if self.reduction == "none":
            return _scalar(losses)
        if self.count == 0:
            raise ValueError(f"{type(self).__name__}: got no samples to average")
        total = losses.sum()
        return _scalar(total / self.count if self.reduction == "mean" else total)

    def _spread(self, upstream, per_row: bool = False):
        """dL/d(each unreduced loss), from the upstream gradient.

        With ``per_row``, per-sample gradients get a trailing axis so that
        they multiply rows of ``(N, C)`` scores.
        """
        if self.reduction == "none":
            upstream = np.asarray(upstream)
            return upstream[..., None] if per_row else upstream
        return upstream / self.count if self.reduction == "mean" else upstream

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class SoftmaxCrossEntropyGate(_LossGate):
    """``L = -ln softmax(s)_y``; ``dL/ds = softmax(s) - onehot(y)``, none for y.

    Fused and stable: ``-ln softmax(s)_y`` is computed as
    ``ln sum_j e**(s_j - m) - (s_y - m)`` with ``m = max_j s_j``, so scores
    of any size give the exact loss. Inputs are ``scores`` of shape
    ``(N, C)`` or ``(C,)`` and integer ``labels`` (see the module notes).

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses combine: mean or sum over the batch, or
        the ``(N,)`` losses themselves.

    Examples
    --------
    >>> gate = SoftmaxCrossEntropyGate()
    >>> gate.forward(np.array([1e8, 1e8]), np.array(1))
    0.6931471805599453
    >>> gate.backward(1.0)
    (array([ 0.5, -0.5]), None)
    """

    symbol = "CE"

    def forward(self, scores, labels):
        self.labels = _class_labels(type(self).__name__, scores, labels)
        self.scores = scores
        z = _shifted(scores, -1)
        exps = np.exp(z)
        total = np.sum(exps, axis=-1, keepdims=True)
        self.probs = exps / total
        # -ln softmax(s)_y = ln sum_j e**z_j - z_y: exact however large s is.
        return self._reduce(np.log(total[..., 0]) - _pick(z, self.labels))

    def backward(self, upstream):
        onehot = _onehot(self.labels, self.scores.shape[-1])
        grad = (self.probs - onehot) * self._spread(upstream, per_row=True)
        return _grad_like(grad, self.scores), None


class NLLLossGate(_LossGate):
    """``L = -x_y`` for log-probabilities x; ``dL/dx = -onehot(y)``, none for y.

    Inputs are ``log_probs`` of shape ``(N, C)`` or ``(C,)``, typically from
    :class:`LogSoftmaxGate`, and integer ``labels``.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses combine.
    """

    symbol = "NLL"

    def forward(self, log_probs, labels):
        self.labels = _class_labels(type(self).__name__, log_probs, labels)
        self.log_probs = log_probs
        return self._reduce(-_pick(log_probs, self.labels))

    def backward(self, upstream):
        onehot = _onehot(self.labels, self.log_probs.shape[-1])
        grad = onehot * -self._spread(upstream, per_row=True)
        return _grad_like(grad, self.log_probs), None


class HingeLossGate(_LossGate):
    """``L = Σ_{j≠y} max(0, m_j)``; ``dL/ds_j = [m_j > 0]``, ``dL/ds_y = -Σ_j [m_j>0]``.

    The multiclass SVM loss of a linear classifier, with the margin
    violations ``m_j = s_j - s_y + margin``: each class ``j ≠ y`` with
    ``m_j > 0`` pulls ``s_j`` up by one and ``s_y`` down by one. At the kink
    ``m_j = 0`` the local gradient is 1/2, the average of the one-sided
    slopes 0 and 1, as everywhere in this library. Unlike PyTorch's
    ``multi_margin_loss``, the sum over classes is not divided by the
    number of classes.

    Parameters
    ----------
    margin : float, default=1.0
        The margin by which the correct score should beat every other.
    reduction : {"mean", "sum", "none"}, default="mean"
        How the per-sample losses combine.

    Examples
    --------
    >>> gate = HingeLossGate()
    >>> round(gate.forward(np.array([[3.2, 5.1, -1.7]]), np.array([0])), 6)
    2.9
    >>> gate.backward(1.0)[0]
    array([[-1.,  1.,  0.]])
    """

    symbol = "svm"

    def __init__(self, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.margin = margin

    def forward(self, scores, labels):
        self.labels = _class_labels(type(self).__name__, scores, labels)
        self.scores = scores
        others = ~_onehot(self.labels, scores.shape[-1])
        with np.errstate(over="ignore"):  # beyond the float range, inf is right
            margins = scores - _pick(scores, self.labels)[..., None] + self.margin
        self.slopes = ((margins > 0) + 0.5 * (margins == 0)) * others
        return self._reduce((np.maximum(margins, 0) * others).sum(axis=-1))

    def backward(self, upstream):
        slopes = self.slopes
        onehot = _onehot(self.labels, self.scores.shape[-1])
        local = slopes - onehot * slopes.sum(axis=-1, keepdims=True)
        grad = local * self._spread(upstream, per_row=True)
        return _grad_like(grad, self.scores), None

    def __repr__(self):
        return f"HingeLossGate(margin={self.margin!r}, reduction={self.reduction!r})"


def _softmax(x, axis):
    z = np.exp(_shifted(x, axis))
    return z / np.sum(z, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    z = _shifted(x, axis)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _shifted(x, axis):
    """``x - max(x)``, whose exponentials sum to a number in ``[1, C]``.

    The largest exponent becomes ``e**0 = 1``, so neither exp nor log can
    overflow.
    """
    # Only a score gap beyond the float range (1e308 vs -1e308) overflows,
    # to -inf, whose exponential is the right 0.
    with np.errstate(over="ignore"):
        return x - np.max(x, axis=axis, keepdims=True)


def _require_axis(gate, x, axis):
    if np.ndim(x) == 0:
        raise ValueError(f"{gate}: needs an array with at least one axis; got {x!r}")
    _axes(gate, axis, np.ndim(x))


def _class_labels(gate, scores, labels):
    """Check scores (N, C) or (C,) against their labels; return the labels."""
    if np.ndim(scores) not in (1, 2):
        raise ValueError(
            f"{gate}: scores must have shape (N, C) or (C,); got shape "
            f"{shape_of(scores)}"
        )
    labels = _check_indices(gate, labels, scores.shape[-1], what="labels")
    if labels.shape != scores.shape[:-1]:
        raise ValueError(
            f"{gate}: scores of shape {scores.shape} need labels of shape "
            f"{scores.shape[:-1]}; got labels of shape {labels.shape}"
        )
    return labels


def _pick(values, labels):
    """``values[n, labels[n]]`` for every sample n: the (N,) or () picked scores."""
    if values.ndim == 1:
        return values[labels]
    return values[np.arange(len(values)), labels]


def _onehot(labels, classes):
    return labels[..., None] == np.arange(classes)
