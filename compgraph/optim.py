"""Optimizers over a graph's parameters, and learning-rate schedules.

After ``graph.forward(...)`` and ``graph.backward()``, ``optimizer.step()``
reads ``graph.grad(name)`` for every parameter and updates the parameter's
value: in place for arrays (so their dtype is kept), through
``graph.set_value`` for scalar parameters. The updates follow PyTorch's
formulas, so the two agree step for step:

- SGD: ``g = grad + wd * p``; with momentum ``v = mu * v + g``; the step is
  ``v`` (or ``g + mu * v`` with Nesterov); ``p -= lr * step``.
- Adam: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g**2``,
  ``p -= lr * m_hat / (sqrt(v_hat) + eps)`` with the bias-corrected
  ``m_hat = m / (1 - b1**t)`` and ``v_hat = v / (1 - b2**t)``.

``state_dict()`` holds only numbers and numpy arrays under flat string keys
(``"lr"``, ``"step"``, ``"velocity/fc1.W"``), so it can be saved in an
``.npz`` next to the parameters and a run resumed exactly.
"""

import math
import numbers

import numpy as np

from compgraph.errors import CompGraphError

__all__ = ["Optimizer", "SGD", "Adam", "StepLR", "CosineLR", "OptimizerStateError"]


class OptimizerStateError(CompGraphError, ValueError):
    """An optimizer or schedule state that does not fit what it is loaded into."""


class Optimizer:
    """Base class: holds the graph, the learning rate and per-parameter buffers.

    Subclasses name their buffers in ``buffers`` and write ``_update``.
    """

    #: Names of the per-parameter buffers, used as prefixes in ``state_dict``.
    buffers: tuple = ()
    #: Names of the hyper-parameters saved in ``state_dict``.
    hyper_parameters: tuple = ("lr", "weight_decay")

    def __init__(self, graph, lr: float, weight_decay: float = 0.0):
        self.graph = graph
        self.lr = lr
        self.weight_decay = _check(self, "weight_decay", weight_decay, low=0.0)
        self.step_count = 0
        self.state = {buffer: {} for buffer in self.buffers}

    @property
    def lr(self) -> float:
        """The learning rate; schedules set it between steps."""
        return self._lr

    @lr.setter
    def lr(self, value: float):
        self._lr = _check(self, "lr", value, low=0.0)

    def step(self) -> None:
        """Update every parameter of the graph from its gradient."""
        self.step_count += 1
        graph = self.graph
        for name, value in graph.parameters().items():
            grad = graph.grad(name)
            if self.weight_decay:
                grad = grad + self.weight_decay * value
            change = self._update(name, value, grad)
            if isinstance(value, np.ndarray):
                value -= change
            else:
                graph.set_value(name, value - change)

    def _update(self, name, value, grad):
        """Return what to subtract from parameter ``name``."""
        raise NotImplementedError

    def _buffer(self, kind: str, name: str, like):
        """The ``kind`` buffer of parameter ``name``, zeros on first use."""
        table = self.state[kind]
        if name not in table:
            table[name] = np.zeros_like(like) if np.ndim(like) else 0.0
        return table[name]

    def state_dict(self) -> dict:
        """Hyper-parameters, the step count and every buffer, as numbers and arrays.

        Keys are flat strings: ``"lr"``, ``"step"``, ``"<buffer>/<parameter>"``.
        The arrays are copies.
        """
        state = {name: getattr(self, name) for name in self.hyper_parameters}
        state["step"] = self.step_count
        for kind, table in self.state.items():
            for name, value in table.items():
                state[f"{kind}/{name}"] = np.array(value, copy=True)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned (numbers may be 0-d arrays).

        Raises :class:`OptimizerStateError` naming the key that is missing,
        unexpected, or shaped unlike its parameter.
        """
        kind = type(self).__name__
        required = (*self.hyper_parameters, "step")
        missing = [key for key in required if key not in state]
        if missing:
            raise OptimizerStateError(
                f"{kind} state has no {missing[0]!r}; it was not saved by "
                f"{kind}.state_dict() (its keys: {', '.join(sorted(state))})"
            )
        parameters = self.graph.parameters()
        buffers = {kind: {} for kind in self.buffers}
        for key, value in state.items():
            if key in required:
                continue
            buffer, _, name = key.partition("/")
            if buffer not in buffers or name not in parameters:
                raise OptimizerStateError(
                    f"unexpected {kind} state entry {key!r}: expected "
                    f"'<buffer>/<parameter>' with a buffer in {self.buffers} "
                    "and a parameter of the graph"
                )
            if np.shape(value) != np.shape(parameters[name]):
                raise OptimizerStateError(
                    f"{kind} state {key!r} has shape {np.shape(value)}, but "
                    f"parameter {name!r} has shape {np.shape(parameters[name])}"
                )
            like = parameters[name]
            buffers[buffer][name] = (
                np.array(value, dtype=like.dtype)
                if isinstance(like, np.ndarray)
                else float(value)
            )
        for name in self.hyper_parameters:
            setattr(self, name, _plain(state[name]))
        self.step_count = int(state["step"])
        self.state = buffers

    def __repr__(self):
        settings = ", ".join(
            f"{name}={getattr(self, name)!r}" for name in self.hyper_parameters
        )
        return f"{type(self).__name__}({settings})"


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum, Nesterov and weight decay.

    Parameters
    ----------
    graph : ComputationalGraph
        Its parameters are updated from their gradients.
    lr : float
        Learning rate, ``>= 0``.
    momentum : float, default=0.0
        ``mu`` in ``v = mu * v + g``, in ``[0, 1)``.
    nesterov : bool, default=False
        Step by ``g + mu * v`` instead of ``v``; needs ``momentum > 0``.
    weight_decay : float, default=0.0
        Adds ``weight_decay * p`` to each gradient (an L2 penalty of
        ``weight_decay / 2 * sum(p**2)`` on every parameter, biases too).

    Examples
    --------
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> w = g.parameter("w", 3.0)
    >>> loss = w * w
    >>> optimizer = SGD(g, lr=0.25)
    >>> _ = g.forward(); _ = g.backward(); optimizer.step()
    >>> g.value("w")  # 3 - 0.25 * 6
    1.5
    """

    buffers = ("velocity",)
    hyper_parameters = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(
        self,
        graph,
        lr: float,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        super().__init__(graph, lr, weight_decay)
        self.momentum = _check(self, "momentum", momentum, low=0.0, below=1.0)
        if nesterov and not momentum:
            raise ValueError(
                "SGD with nesterov=True needs a momentum in (0, 1); got momentum=0"
            )
        self.nesterov = bool(nesterov)

    def _update(self, name, value, grad):
        if not self.momentum:
            return self.lr * grad
        velocity = self._buffer("velocity", name, value)
        if isinstance(velocity, np.ndarray):
            velocity *= self.momentum
            velocity += grad
        else:
            velocity = self.state["velocity"][name] = self.momentum * velocity + grad
        if self.nesterov:
            return self.lr * (grad + self.momentum * velocity)
        return self.lr * velocity


class Adam(Optimizer):
    """Adam: steps scaled by running averages of the gradient and its square.

    Parameters
    ----------
    graph : ComputationalGraph
        Its parameters are updated from their gradients.
    lr : float, default=1e-3
        Learning rate, ``>= 0``.
    betas : (float, float), default=(0.9, 0.999)
        Decay rates of the two averages, each in ``[0, 1)``.
    eps : float, default=1e-8
        Added to ``sqrt(v_hat)`` so the step stays finite; ``> 0``.
    weight_decay : float, default=0.0
        Adds ``weight_decay * p`` to each gradient (as PyTorch's Adam).

    Examples
    --------
    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> w = g.parameter("w", 3.0)
    >>> loss = w * w
    >>> optimizer = Adam(g, lr=0.1)
    >>> _ = g.forward(); _ = g.backward(); optimizer.step()
    >>> round(g.value("w"), 6)  # the first step is lr * sign(grad)
    2.9
    """

    buffers = ("m", "v")
    hyper_parameters = ("lr", "beta1", "beta2", "eps", "weight_decay")

    def __init__(
        self,
        graph,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(graph, lr, weight_decay)
        if len(betas) != 2:
            raise ValueError(f"Adam betas is a pair (beta1, beta2), got {betas!r}")
        self.beta1 = _check(self, "beta1", betas[0], low=0.0, below=1.0)
        self.beta2 = _check(self, "beta2", betas[1], low=0.0, below=1.0)
        self.eps = _check(self, "eps", eps, low=0.0, strict=True)

    @property
    def betas(self) -> tuple:
        """``(beta1, beta2)``."""
        return (self.beta1, self.beta2)

    def _update(self, name, value, grad):
        b1, b2, t = self.beta1, self.beta2, self.step_count
        m = self._buffer("m", name, value)
        v = self._buffer("v", name, value)
        if isinstance(m, np.ndarray):
            m *= b1
            m += (1 - b1) * grad
            v *= b2
            v += (1 - b2) * grad * grad
        else:
            m = self.state["m"][name] = b1 * m + (1 - b1) * grad
            v = self.state["v"][name] = b2 * v + (1 - b2) * grad * grad
        # lr * m_hat / (sqrt(v_hat) + eps), with the corrections folded in
        step_size = self.lr / (1 - b1**t)
        return step_size * m / (np.sqrt(v / (1 - b2**t)) + self.eps)


class _Schedule:
    """Base class: sets ``optimizer.lr`` from the base rate and a step count."""

    def __init__(self, optimizer: Optimizer):
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.step_count = 0

    def step(self) -> None:
        """Advance one step (or epoch) and set the optimizer's learning rate."""
        self.step_count += 1
        self.optimizer.lr = self.lr_at(self.step_count)

    def lr_at(self, step: int) -> float:
        """The learning rate after ``step`` calls of :meth:`step`."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """``{"base_lr": ..., "step": ...}``, enough to resume the schedule."""
        return {"base_lr": self.base_lr, "step": self.step_count}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned, and the optimizer's rate."""
        missing = [key for key in ("base_lr", "step") if key not in state]
        if missing:
            raise OptimizerStateError(
                f"{type(self).__name__} state has no {missing[0]!r}; expected "
                "the keys 'base_lr' and 'step'"
            )
        self.base_lr = float(state["base_lr"])
        self.step_count = int(state["step"])
        self.optimizer.lr = self.lr_at(self.step_count)


class StepLR(_Schedule):
    """Multiply the learning rate by ``gamma`` every ``step_size`` steps.

    >>> from compgraph import ComputationalGraph
    >>> g = ComputationalGraph()
    >>> optimizer = SGD(g, lr=1.0)
    >>> schedule = StepLR(optimizer, step_size=2, gamma=0.5)
    >>> rates = []
    >>> for _ in range(5):
    ...     schedule.step()
    ...     rates.append(optimizer.lr)
    >>> rates
    [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        if not isinstance(step_size, numbers.Integral) or step_size < 1:
            raise ValueError(f"StepLR step_size must be an int >= 1, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = _check(self, "gamma", gamma, low=0.0)

    def lr_at(self, step: int) -> float:
        """``base_lr * gamma ** (step // step_size)``."""
        return self.base_lr * self.gamma ** (step // self.step_size)


class CosineLR(_Schedule):
    """Lower the learning rate from its base to ``min_lr`` along half a cosine.

    After ``total_steps`` steps the rate stays at ``min_lr``.

    >>> from compgraph import ComputationalGraph
    >>> optimizer = SGD(ComputationalGraph(), lr=1.0)
    >>> schedule = CosineLR(optimizer, total_steps=4)
    >>> rates = []
    >>> for _ in range(5):
    ...     schedule.step()
    ...     rates.append(round(optimizer.lr, 4))
    >>> rates
    [0.8536, 0.5, 0.1464, 0.0, 0.0]
    """

    def __init__(self, optimizer: Optimizer, total_steps: int, min_lr: float = 0.0):
        super().__init__(optimizer)
        if not isinstance(total_steps, numbers.Integral) or total_steps < 1:
            raise ValueError(
                f"CosineLR total_steps must be an int >= 1, got {total_steps!r}"
            )
        self.total_steps = int(total_steps)
        self.min_lr = _check(self, "min_lr", min_lr, low=0.0)

    def lr_at(self, step: int) -> float:
        """``min_lr + (base_lr - min_lr) * (1 + cos(pi * t / T)) / 2``, t <= T."""
        fraction = min(step, self.total_steps) / self.total_steps
        cosine = (1 + math.cos(math.pi * fraction)) / 2
        return self.min_lr + (self.base_lr - self.min_lr) * cosine


def _check(owner, name, value, low, below=None, strict=False):
    """``value`` as a float, or a ValueError naming the owner and the range."""
    kind = type(owner).__name__
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{kind} {name} must be a number, got {value!r}")
    value = float(value)
    too_low = value <= low if strict else value < low
    if not math.isfinite(value) or too_low or (below is not None and value >= below):
        lower = "(" if strict else "["
        upper = f"{below})" if below is not None else "inf)"
        raise ValueError(
            f"{kind} {name} must be in {lower}{low}, {upper}, got {value!r}"
        )
    return value


def _plain(value):
    """A saved number (a Python number or a 0-d array) as a Python number."""
    value = np.asarray(value)
    if value.dtype.kind == "b":
        return bool(value)
    if value.dtype.kind in "iu":
        return int(value)
    return float(value)
