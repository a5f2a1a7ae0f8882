"""Shared test setup: a seeded random generator, and Hypothesis profiles.

Property tests draw new examples on every local run, to keep finding
cases; under CI (``CI`` set, as on the project's CI machine) they draw a
fixed set, so that a run is reproducible and a red CI always means a
change, not a lucky draw. ``HYPOTHESIS_PROFILE=explore`` draws anew there too.
"""

import os

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "explore")
)


@pytest.fixture
def rng():
    """A seeded generator, so a failing draw can be replayed."""
    return np.random.default_rng(12345)
