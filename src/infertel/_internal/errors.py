"""Keep infertel's own failures away from the user's control flow.

Every piece of infertel code that runs on the user's thread (decorator entry and exit,
context managers, span processor hooks, wrapt wrappers, observable callbacks) runs inside
:data:`handle_internal_errors`. An ``Exception`` raised there is logged once per call site on
the ``infertel`` logger and swallowed, so the data point is dropped and the user's code goes
on. With ``INFERTEL_RAISE_INTERNAL_ERRORS=true`` (set by the test suite) it re-raises instead,
so bugs are not hidden.

User-supplied callbacks (a ``usage=`` extractor, an alert hook) are a different matter: their
failures are the user's, are never re-raised, and go through :func:`call_user_callback`.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from infertel.environment_variables import INFERTEL_RAISE_INTERNAL_ERRORS

_logger = logging.getLogger("infertel")

_F = TypeVar("_F", bound=Callable[..., Any])
_T = TypeVar("_T")

_TRUE = frozenset({"1", "true", "yes", "on"})


def reraise_enabled() -> bool:
    """Whether internal errors re-raise (the test-suite switch)."""
    return os.environ.get(INFERTEL_RAISE_INTERNAL_ERRORS, "").strip().lower() in _TRUE


class _OncePerKey:
    """A bounded set of keys already reported, so each call site logs once."""

    def __init__(self, max_keys: int = 1024) -> None:
        self._seen: set[object] = set()
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def first(self, key: object) -> bool:
        with self._lock:
            if key in self._seen:
                return False
            if len(self._seen) >= self._max_keys:
                # Bounded: past the cap every further site is reported (rare, and never unbounded memory).
                return True
            self._seen.add(key)
            return True

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()


_reported = _OncePerKey()


def _call_site(tb: TracebackType | None) -> tuple[str, int]:
    if tb is None:
        return ("<unknown>", 0)
    return (tb.tb_frame.f_code.co_filename, tb.tb_lineno)


def log_internal_error(exc: BaseException, site: tuple[str, int] | None = None) -> None:
    """Log an internal error once per call site (warning level, with traceback)."""
    key = site if site is not None else _call_site(exc.__traceback__)
    if _reported.first(key):
        _logger.warning(
            "infertel internal error at %s:%d (dropped the data point; the application is unaffected)",
            key[0],
            key[1],
            exc_info=exc,
        )


class HandleInternalErrors:
    """Context manager and decorator that swallows and logs ``Exception`` from infertel code.

    ``BaseException`` (``KeyboardInterrupt``, ``SystemExit``, ``GeneratorExit``,
    ``asyncio.CancelledError``) always propagates.

    Example:
        >>> with handle_internal_errors:
        ...     raise RuntimeError("a bug in infertel")  # logged once, not raised
    """

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if exc is None or not isinstance(exc, Exception):
            return False
        if reraise_enabled():
            return False
        log_internal_error(exc, _call_site(tb))
        return True

    def __call__(self, fn: _F) -> _F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if reraise_enabled():
                    raise
                log_internal_error(exc)
                return None

        return wrapper  # type: ignore[return-value]


handle_internal_errors = HandleInternalErrors()
"""The single guard object; use as ``with handle_internal_errors:`` or ``@handle_internal_errors``."""


def call_user_callback(fn: Callable[..., _T], *args: Any, default: _T, what: str, **kwargs: Any) -> _T:
    """Call a user-supplied callback; on ``Exception`` warn (rate-limited) and return ``default``.

    Never re-raises, even under the test-suite switch: a user's failing hook must not break
    the user's own inference call.
    """
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        warn_rate_limited(("user-callback", what), "infertel: the %s raised %r; ignoring it", what, exc)
        return default


class _RateLimiter:
    """At most one log record per key per ``interval_s`` (bounded number of keys)."""

    def __init__(self, interval_s: float = 60.0, max_keys: int = 1024) -> None:
        self._interval_s = interval_s
        self._max_keys = max_keys
        self._last: dict[object, float] = {}
        self._lock = threading.Lock()

    def allow(self, key: object) -> bool:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._interval_s:
                return False
            if last is None and len(self._last) >= self._max_keys:
                self._last.clear()
            self._last[key] = now
            return True

    def clear(self) -> None:
        with self._lock:
            self._last.clear()


_rate_limiter = _RateLimiter()


def warn_rate_limited(key: object, msg: str, *args: Any) -> None:
    """Log ``msg % args`` at warning level at most once a minute per ``key``.

    Used for bad data on the hot path (negative token counts, oversized attributes ...).
    """
    if _rate_limiter.allow(key):
        _logger.warning(msg, *args)


def reset_for_tests() -> None:
    """Forget which sites and keys were already reported (tests use this between cases)."""
    _reported.clear()
    _rate_limiter.clear()
