"""Fixtures of the statistics processor tests (helpers live in stats_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from stats_support import FakeClock

from infertel._internal import processors


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(0.0)


@pytest.fixture(autouse=True)
def _no_installed_stats() -> Iterator[None]:
    processors.uninstall_all()
    yield
    processors.uninstall_all()


@pytest.fixture
def sdk_tracer_provider() -> Iterator[TracerProvider]:
    """A bare SDK provider (no exporter) for tests that only need the statistics processor."""
    provider = TracerProvider()
    yield provider
    provider.shutdown()
