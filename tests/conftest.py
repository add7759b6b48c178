"""Fixtures shared by every test of every distribution.

Tests pass providers explicitly (``tracer_provider=``, ``meter_provider=``) instead of
touching the global ones.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from peers.phoenix import PhoenixServer, phoenix_executable

from infertel.environment_variables import INFERTEL_RAISE_INTERNAL_ERRORS

# fresh_otel (unset OTel globals, clean env) and otlp_http_receiver, for tests that call configure().
pytest_plugins = ["core._configure_support", "ci_skips"]

# Bugs in infertel must fail tests, not be logged and swallowed as they are in production.
os.environ[INFERTEL_RAISE_INTERNAL_ERRORS] = "true"


@pytest.fixture(autouse=True)
def _fresh_error_reporting() -> Iterator[None]:
    from infertel._internal import errors

    errors.reset_for_tests()
    yield
    errors.reset_for_tests()


@pytest.fixture
def production_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """Internal errors are logged and swallowed, as in production."""
    monkeypatch.setenv(INFERTEL_RAISE_INTERNAL_ERRORS, "false")


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer_provider(span_exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
def metric_reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def meter_provider(metric_reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    provider = MeterProvider(metric_readers=[metric_reader])
    yield provider
    provider.shutdown()


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoenixServer]:
    """A real Arize Phoenix on 127.0.0.1, started once per test session, stopped by PID."""
    executable = phoenix_executable()
    if executable is None:
        pytest.skip("Arize Phoenix is not installed (run scripts/install-peers.sh)")
    server = PhoenixServer(executable, tmp_path_factory.mktemp("phoenix"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
