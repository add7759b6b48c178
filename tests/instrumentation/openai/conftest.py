"""Fixtures of the openai instrumentation tests: the OpenAI-compatible server of ``openai_peer``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai_peer import FakeOpenAIServer, uvicorn


@pytest.fixture(scope="session")
def openai_server() -> Iterator[FakeOpenAIServer]:
    """The OpenAI-compatible server for the whole session; stopped at the end."""
    if uvicorn is None:
        pytest.skip("fastapi and uvicorn are needed for the OpenAI-compatible test server")
    server = FakeOpenAIServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
