"""One alert engine per host: a non-blocking ``flock`` on a lock file beside the engine's store.

Under a prefork server (gunicorn, ``uvicorn --workers``) every worker that calls
``configure(alert_rules=...)`` builds an engine over the same store file. Only the worker holding
the lock evaluates and notifies; the others retry every evaluation interval, so when the leader
dies (its lock goes with its file descriptor, whatever killed it) another worker takes over within
one interval and carries on from the alerts, notifications, silences and acknowledgements the store
holds.

Fork safety: a ``flock`` belongs to the open file description, which a forked child shares. The
child must not think it leads, and must not keep the parent's lock alive after the parent dies, nor
unlock it under the parent: infertel's at-fork hook (:mod:`infertel._internal.forking`) calls
:func:`reset_after_fork`, which closes the child's copy of the descriptor (never ``LOCK_UN``).
Descriptors are opened with ``O_CLOEXEC``, so programs a worker runs do not inherit them.

Where ``fcntl`` does not exist (Windows) every engine evaluates, as before, and says so once.
"""

from __future__ import annotations

import logging
import os
import weakref
from pathlib import Path
from typing import Any

from infertel._internal import forking  # noqa: F401  (its at-fork hook calls reset_after_fork in a child)

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None  # type: ignore[assignment]

_logger = logging.getLogger(__name__)

SUFFIX = ".alerting.lock"
"""The lock file is the store's path with this suffix (``infertel.db.alerting.lock``); it holds the leader's pid."""

_live: weakref.WeakSet[LeaderLock] = weakref.WeakSet()
_said_unsupported = False


def lock_path(store_path: str | os.PathLike[str]) -> Path:
    """The lock file of the engines sharing ``store_path``.

    Example:
        >>> lock_path("/srv/data/infertel.db").as_posix()
        '/srv/data/infertel.db.alerting.lock'
    """
    return Path(str(store_path) + SUFFIX)


class LeaderLock:
    """The leadership of the engines sharing one store: held by at most one process of the host.

    Threading: :meth:`try_acquire` and :meth:`release` run on the engine's thread (never in a
    finalizer or a signal handler); :attr:`held` may be read from any thread. Exceptions: an
    unexpected ``OSError`` (a read-only folder) is logged once and counts as not acquired.

    Args:
        path: The lock file (created ``0600`` if missing).

    Example:
        >>> import tempfile
        >>> folder = tempfile.TemporaryDirectory()
        >>> lock = LeaderLock(Path(folder.name) / "store.db.alerting.lock")
        >>> lock.try_acquire(), lock.held
        (True, True)
        >>> lock.release()
        >>> lock.held
        False
        >>> folder.cleanup()
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._pid = os.getpid()
        self._failed = False
        _live.add(self)

    @property
    def held(self) -> bool:
        """Whether this process leads (a forked child never does until it takes the lock itself)."""
        return fcntl is None or (self._fd is not None and self._pid == os.getpid())

    def try_acquire(self) -> bool:
        """Take the lock if no other process holds it (never blocks); ``True`` when this process leads."""
        global _said_unsupported
        if fcntl is None:
            if not _said_unsupported:
                _said_unsupported = True
                _logger.info("alerting: no fcntl.flock here: every process that starts an alert engine evaluates")
            return True
        if self.held:
            return True
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as exc:
            return self._failure(exc)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process leads
            os.close(fd)
            return False
        except OSError as exc:
            os.close(fd)
            return self._failure(exc)
        try:  # who leads, for people and tests: the lock file holds the leader's pid
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the lock holds without it
        self._fd, self._pid = fd, os.getpid()
        return True

    def _failure(self, exc: OSError) -> bool:
        if not self._failed:
            self._failed = True
            _logger.warning("alerting: cannot take the leader lock %s (%s): this engine does not evaluate", self.path,
                            exc)  # fmt: skip
        return False

    def release(self) -> None:
        """Give leadership up (closing the descriptor ends the lock); another process may take it."""
        fd, self._fd = self._fd, None
        if fd is not None and self._pid == os.getpid():
            os.close(fd)

    def forget_after_fork(self) -> None:
        """In a forked child: drop the parent's descriptor without unlocking (the parent keeps leading)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


def reset_after_fork() -> None:
    """Called in a forked child by infertel's at-fork hook: no lock of the parent stays held here.

    Example:
        >>> reset_after_fork()
    """
    for lock in list(_live):
        lock.forget_after_fork()


def held_by(path: str | os.PathLike[str]) -> Any:
    """The pid the lock file names (the leader's, or the last one's), ``None`` if it names none.

    Example:
        >>> held_by("/nonexistent/store.db.alerting.lock") is None
        True
    """
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
