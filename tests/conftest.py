"""Shared test setup: a seeded random generator."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded generator, so a failing draw can be replayed."""
    return np.random.default_rng(12345)
