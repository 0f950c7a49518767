"""Shared fixtures: small real data and one real local Ray instance per test session."""

from __future__ import annotations

import os
import signal

import pytest

from evonas.datasets import load_dataset, search_splits
from evonas.workers import Budget, FitnessData

# Keep every Ray process on loopback (Ray 2.60 otherwise advertises the routable address).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

TINY_BUDGET = Budget(epochs=5, batch_size=32, lr=1e-2, kmeans_n_init=2)


def interruptible() -> None:
    """``preexec_fn`` for a `nas` subprocess a test will Ctrl-C: SIGINT handled as a terminal's
    Ctrl-C is, even when the tests run in the background of a non-interactive shell, which
    starts its jobs with SIGINT ignored (and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture(scope="session")
def digits_data() -> FitnessData:
    """The built-in digits: 300 training and 200 validation images."""
    splits = search_splits(load_dataset("digits"), val_size=200, test_fraction=0.2, subset=300)
    assert splits.val.y is not None
    return FitnessData(splits.train.x, splits.val.x, splits.val.y, 10)


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server on 127.0.0.1 for the whole session (tests/postgres.py)."""
    from .postgres import server

    yield from server()


@pytest.fixture
def pg_url(postgres) -> str:
    """The URL of a new, empty PostgreSQL database."""
    return postgres.new_database()


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray instance (2 CPUs, loopback) shared by every test that needs Ray."""
    import ray

    from evonas.workers import start_ray

    started = start_ray(num_cpus=2)
    yield ray
    if started:
        ray.shutdown()
