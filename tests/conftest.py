"""Shared pytest configuration for the deeplearning101 test-suite.

Hypothesis profiles (pick one with the environment variable ``DL101_HYPOTHESIS_PROFILE``):

* ``dev`` (default): a modest number of examples so that the whole ``tests/`` folder
  runs in well under a minute on a 2-core machine;
* ``thorough``: many more examples, for a slow local run before a release.

``deadline=None`` because the first example of a test also pays for imports and
because timings on shared CI machines are noisy.
"""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import deeplearning101 as dl

settings.register_profile(
    "dev", deadline=None, max_examples=30, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "thorough", deadline=None, max_examples=500, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("DL101_HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _grad_mode_is_restored():
    """Every test starts with graph recording on, and must leave it on.

    A test (or a package bug) that leaves `GradMode.enabled` switched off would
    silently turn every later gradient test into a no-op, so this is checked."""
    assert dl.is_grad_enabled(), "an earlier test left gradient recording switched off"
    yield
    assert dl.is_grad_enabled(), "this test left gradient recording switched off"


@pytest.fixture
def rng():
    "A fresh, seeded NumPy generator per test (tests stay reproducible)."
    return np.random.default_rng(20240601)
