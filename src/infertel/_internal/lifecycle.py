"""Flushing telemetry when the process ends: at interpreter exit and on SIGTERM.

``atexit`` handlers do not run when a fatal signal ends the process, and SIGTERM is how
containers and process managers stop a service; without a handler the last batches of spans
and metrics would be lost.

The SIGTERM handler runs on the main thread wherever it was interrupted, possibly inside a
critical section of infertel, the SDK or the application, so it takes no lock and runs no
flush itself: it hands the flush to a helper thread, started beforehand, with one lock-free
``SimpleQueue.put_nowait`` and returns at once, so that the interrupted thread can leave its
critical section. The helper runs ``shutdown()`` (bounded by its ``timeout_millis``), then sends
SIGTERM again; the handler, seeing the flush done, restores the previous disposition (the
default action: the process ends with SIGTERM, as it would have without infertel). Should the
main thread never get back to the interpreter to run it, the helper ends the process itself
with exit status 143 (128 + SIGTERM) after a grace period.

A server that resets SIGTERM to its default action after ``configure()`` ran (gunicorn's
``UvicornWorker`` in a ``--preload`` worker) takes the handler away; :func:`flush_on_sigterm`
installs it again (gunicorn's ``post_worker_init`` hook), and the FastAPI instrumentation
flushes at the ASGI lifespan shutdown, which such a worker runs just before it ends.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any

_logger = logging.getLogger(__name__)

SIGTERM_FLUSH_MILLIS = 5_000
"""Time budget of the flush on SIGTERM (process managers usually wait 10 to 30 s before SIGKILL)."""
_GRACE_S = 2.0
"""How long the helper waits for the main thread to take the re-sent SIGTERM before ending the process."""

_registered = False
_shutdown: Callable[..., Any] | None = None
_handler_installed = False
_previous: Any = signal.SIG_DFL
_requests: SimpleQueue[int] = SimpleQueue()
_helper: threading.Thread | None = None
_flushed = threading.Event()  # set by the helper only; read (is_set, no lock) by the handler
_flushing = False


def flush_at_exit(shutdown: Callable[..., Any]) -> None:
    """Call ``shutdown`` at interpreter exit and before a SIGTERM ends the process (once per process).

    The SIGTERM handler is installed only from the main thread and only where SIGTERM has its
    default action, so an application's own handler is never replaced (it decides when the
    process ends; ``atexit`` still flushes then). Servers that install theirs later and re-raise
    the signal after a graceful shutdown (uvicorn does) restore ours first, so it still runs.

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
            _install()
    except (ValueError, OSError, AttributeError):  # no signals here (embedded interpreters, Windows)
        return


def flush_on_sigterm() -> bool:
    """Install the SIGTERM flush again in a process that reset SIGTERM to its default action.

    Gunicorn's ``UvicornWorker`` resets every signal to its default action after the fork; uvicorn
    then saves that disposition, handles SIGTERM itself (graceful shutdown), restores the saved
    disposition and raises the signal again, so the worker ends by SIGTERM's default action with
    neither ``atexit`` nor this module's flush. Called where SIGTERM has its default action again
    (gunicorn's ``post_worker_init`` hook runs after the reset and before uvicorn saves the
    disposition), it installs the flush: uvicorn saves it, restores it and the re-raised signal
    runs it. Never replaces another handler (returns ``False`` then, as it does off the main
    thread or before ``configure()``).

    Example:
        >>> flush_on_sigterm()  # doctest: +SKIP
        True
    """
    if _shutdown is None or threading.current_thread() is not threading.main_thread():
        return False
    try:
        current = signal.getsignal(signal.SIGTERM)
        if current is _on_sigterm:
            if _helper is None or not _helper.is_alive():
                _start_helper()
            return True
        if current is not signal.SIG_DFL:
            return False
        _install()
    except (ValueError, OSError, AttributeError):  # no signals here (embedded interpreters, Windows)
        return False
    return True


def _install() -> None:
    global _handler_installed, _previous
    if _helper is None or not _helper.is_alive():
        _start_helper()
    _previous = signal.signal(signal.SIGTERM, _on_sigterm)
    _handler_installed = True


def _start_helper() -> None:
    global _helper
    helper = threading.Thread(target=_serve, args=(_requests,), name="infertel-sigterm", daemon=True)
    helper.start()
    _helper = helper


def _on_sigterm(signum: int, frame: Any) -> None:
    """The SIGTERM handler: a lock-free hand-over to the helper; after the flush, the previous disposition."""
    global _flushing
    if _flushed.is_set():
        _terminate(signum, frame)
        return
    if _flushing:
        return  # the flush is under way; the helper sends SIGTERM again when it is done
    _flushing = True
    helper = _helper
    if helper is None or not helper.is_alive():  # cannot flush (no helper): what SIGTERM would have done
        _terminate(signum, frame)
        return
    _requests.put_nowait(signum)


def _terminate(signum: int, frame: Any) -> None:
    previous = _previous
    signal.signal(signal.SIGTERM, previous)
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        os.kill(os.getpid(), signum)


def _serve(requests: SimpleQueue[int]) -> None:
    signum = requests.get()
    try:
        if _shutdown is not None:
            ok = _shutdown(timeout_millis=SIGTERM_FLUSH_MILLIS)
            if ok is False:
                _logger.warning("infertel: the flush on SIGTERM was incomplete (see the line above)")
    except Exception as exc:  # the process must end whatever the flush did
        _logger.warning("infertel: the flush on SIGTERM failed: %r", exc)
    finally:
        _flushed.set()
        os.kill(os.getpid(), signum)
        if _previous == signal.SIG_DFL:
            # The main thread runs the handler when it next gets to the interpreter; if it never does
            # (stuck in a C call), end the process the way SIGTERM's default action would have.
            time.sleep(_GRACE_S)
            os._exit(128 + signum)


def reset_after_fork() -> None:
    """In a forked child (the at-fork hook of :mod:`infertel._internal.forking`): its own helper.

    The child inherits the SIGTERM handler but not the parent's helper thread, and none of its
    state: a flush the parent had begun is not the child's.
    """
    global _requests, _flushed, _flushing
    _requests = SimpleQueue()
    _flushed = threading.Event()
    _flushing = False
    if _handler_installed and signal.getsignal(signal.SIGTERM) is _on_sigterm:
        _start_helper()
