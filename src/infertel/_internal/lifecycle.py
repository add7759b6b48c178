"""Flushing telemetry when the process ends: at interpreter exit and on SIGTERM.

``atexit`` handlers do not run when a fatal signal ends the process, and SIGTERM is how
containers and process managers stop a service; without a handler the last batches of spans
and metrics would be lost.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

_registered = False
_shutdown: Callable[..., Any] | None = None


def flush_at_exit(shutdown: Callable[..., Any]) -> None:
    """Call ``shutdown`` at interpreter exit and before a SIGTERM ends the process (once per process).

    The SIGTERM handler is installed only from the main thread and only where SIGTERM has its
    default action, so an application's own handler is never replaced. Servers that install theirs
    later and re-raise the signal after a graceful shutdown (uvicorn does) restore ours first, so
    it still runs.

    Example:
        >>> flush_at_exit(lambda **kwargs: True)  # doctest: +SKIP
    """
    global _registered, _shutdown
    _shutdown = shutdown
    if _registered:
        return
    _registered = True
    atexit.register(shutdown)
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _flush_then_terminate)
    except (ValueError, OSError, AttributeError):  # no signals here (embedded interpreters, Windows)
        return


def _flush_then_terminate(signum: int, frame: Any) -> None:
    try:
        if _shutdown is not None:
            _shutdown(timeout_millis=5_000)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
