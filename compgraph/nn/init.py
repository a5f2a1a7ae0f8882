"""Initial values for weights: He and Xavier, drawn from a seeded generator.

Both draw from a zero-mean normal distribution whose variance keeps the
signal's scale roughly constant from layer to layer. He (for ReLU networks)
uses ``2 / fan_in``; Xavier, also called Glorot (for tanh and sigmoid), uses
``2 / (fan_in + fan_out)``. Values are drawn in float64 and then cast, so a
seed gives the same numbers (up to rounding) in every dtype.
"""

import numbers

import numpy as np

__all__ = ["INITS", "as_generator", "he_normal", "xavier_normal", "initialize"]

INITS = ("he", "xavier")


def as_generator(rng=None) -> np.random.Generator:
    """A numpy Generator from a Generator, an integer seed, or ``None``.

    ``None`` draws fresh entropy from the operating system; an integer seed
    gives the same numbers on every run.

    >>> a = as_generator(0).normal(size=2)
    >>> b = as_generator(0).normal(size=2)
    >>> bool((a == b).all())
    True
    """
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"rng must be a numpy Generator, an integer seed or None, got "
        f"{type(rng).__name__}"
    )


def he_normal(shape, fan_in: int, rng=None, dtype=np.float64) -> np.ndarray:
    """Draws from ``N(0, 2 / fan_in)``.

    >>> w = he_normal((400, 300), fan_in=400, rng=0)
    >>> round(float(w.var() * 400 / 2), 1)
    1.0
    """
    std = np.sqrt(2.0 / fan_in)
    return (as_generator(rng).normal(size=shape) * std).astype(dtype)


def xavier_normal(
    shape, fan_in: int, fan_out: int, rng=None, dtype=np.float64
) -> np.ndarray:
    """Draws from ``N(0, 2 / (fan_in + fan_out))``.

    >>> w = xavier_normal((400, 300), fan_in=400, fan_out=300, rng=0)
    >>> round(float(w.var() * 700 / 2), 1)
    1.0
    """
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (as_generator(rng).normal(size=shape) * std).astype(dtype)


def initialize(
    init: str, shape, fan_in: int, fan_out: int, rng=None, dtype=np.float64
) -> np.ndarray:
    """Draw a weight array by the name of its initialization, ``"he"`` or ``"xavier"``.

    >>> initialize("he", (3, 2), fan_in=3, fan_out=2, rng=1).shape
    (3, 2)
    """
    if init == "he":
        return he_normal(shape, fan_in, rng, dtype)
    if init == "xavier":
        return xavier_normal(shape, fan_in, fan_out, rng, dtype)
    raise ValueError(f"init must be one of {INITS}, got {init!r}")
