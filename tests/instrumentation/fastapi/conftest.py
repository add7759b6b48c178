"""Fixtures for the FastAPI instrumentation tests: a real uvicorn server per test.

No import of fastapi/uvicorn here: a conftest cannot skip, the test modules do (through
``genai_server_app``) when those libraries are absent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def serve() -> Iterator[Callable[[Any], Any]]:
    """Start ``app`` under uvicorn; every server started is stopped at teardown."""
    from genai_server_app import UvicornThread

    started: list[UvicornThread] = []

    def start(app: Any) -> UvicornThread:
        server = UvicornThread(app)
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
