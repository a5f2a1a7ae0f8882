"""Shared test setup: the ``slow`` marker and a seeded random generator."""

import numpy as np
import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes minutes; deselect with -m 'not slow'"
    )


@pytest.fixture
def rng():
    """A seeded generator, so a failing draw can be replayed."""
    return np.random.default_rng(12345)
