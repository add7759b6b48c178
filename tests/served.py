"""A real uvicorn server on 127.0.0.1 in a thread, for the tests that serve an ASGI app over HTTP."""

from __future__ import annotations

import threading
import time
from typing import Any

from peers.phoenix import free_port


class Served:
    """A real uvicorn server on 127.0.0.1 in a thread (lifespan on)."""

    def __init__(self, app: Any) -> None:
        import uvicorn  # modules that import this one also serve unit tests, without a server

        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
