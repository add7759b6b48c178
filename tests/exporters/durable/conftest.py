"""Fixtures of the durable export tests: a real OTLP receiver process and span helpers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from durable_receiver import Receiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """A real OTLP/HTTP + gRPC receiver process on 127.0.0.1 (stopped by PID afterwards)."""
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_receiver(receiver: Receiver) -> Iterator[Receiver]:
    """The module's receiver, answering normally again after the test."""
    receiver.set_mode("ok")
    yield receiver
    receiver.set_mode("ok")
