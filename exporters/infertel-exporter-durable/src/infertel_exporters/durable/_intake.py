"""The application side and the writer thread of a durable pipeline: bounded queue -> encoded batch -> spool.

``offer()`` runs on the thread that ends a span (the SDK processor's, or the application's own
under a ``SimpleSpanProcessor``): it appends to the bounded queue, waiting at most
``enqueue_timeout_millis`` for room, and never touches the disk or the network. The writer
thread takes batches of up to ``max_batch_items``, encodes them to OTLP protobuf and appends them
to the spool (write-ahead), or to the bounded memory buffer while the spool cannot be written.
:class:`Intake` is that half of :class:`~infertel_exporters.durable._pipeline.Pipeline`, which
creates the queue, locks and thread it uses.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from infertel_exporters.durable._memory import MemoryBuffer
    from infertel_exporters.durable._spool import Spool

_logger = logging.getLogger(__name__)

_DISK_RETRY_S = 30.0


class Intake:
    """``offer()`` and the writer thread of a :class:`~infertel_exporters.durable._pipeline.Pipeline`.

    Thread safety: ``offer``/``offer_one`` may be called from any number of threads at once; the
    writer loop runs on the pipeline's one writer thread; ``_write`` runs under ``_write_lock``.
    """

    # Set by Pipeline (its __init__ and _start_runtime), declared here for the type checker.
    signal: str
    spool: Spool | None
    shut_down: bool
    _encode: Callable[[Sequence[Any]], bytes]
    _count: Callable[[Sequence[Any]], int]
    _max_queue_items: int
    _max_batch_items: int
    _schedule_delay_s: float
    _enqueue_timeout_s: float
    _memory_max_bytes: int
    _write_through: bool
    _fsync_every_record: bool
    _pending: collections.deque[Any]
    _offer_lock: threading.Lock
    _space: threading.Condition
    _wake_writer: threading.Event
    _wake_sender: threading.Event
    _stop_writer: bool
    _writer_busy: bool
    _write_lock: threading.Lock
    _memory: MemoryBuffer
    _disk_failed_at: float | None

    if TYPE_CHECKING:  # Pipeline's accounting

        def drop(self, items: int, reason: str) -> None:
            """Count ``items`` lost for good because of ``reason``."""

        def _note_error(self, message: str) -> None: ...

    # --- application side ---------------------------------------------------------------------
    def offer(self, items: Sequence[Any]) -> bool:
        """Queue ``items``; wait at most ``enqueue_timeout_millis`` for room, else drop and count them."""
        n = len(items)
        if self.shut_down:
            self.drop(n, "shutdown")
            return False
        if self._write_through:
            # In the spool (page cache) before the caller goes on: a SIGKILL from here on loses nothing.
            with self._write_lock:
                self._write(list(items))
            return True
        deadline = None
        queued = False
        with self._space:
            while True:
                if len(self._pending) + n <= self._max_queue_items:
                    self._pending.extend(items)
                    queued = True
                    break
                if deadline is None:
                    deadline = time.monotonic() + self._enqueue_timeout_s
                    self._wake_writer.set()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._space.wait(remaining)
        if not queued:
            self.drop(n, "queue_full")
            return False
        if len(self._pending) >= self._max_batch_items:
            self._wake_writer.set()
        return True

    def offer_one(self, item: Any) -> bool:
        """:meth:`offer` for one item, with a fast path for the span processor's ``on_end``.

        Bound: the check and the append are one step under the queue's lock, as in :meth:`offer`
        (an unlocked append checked beforehand could pass the bound: a thread paused between its
        check and its append while others fill the queue). Only a full queue takes the slow path.
        """
        if self._write_through or self.shut_down:
            return self.offer((item,))
        pending = self._pending
        with self._offer_lock:
            room = len(pending) < self._max_queue_items
            if room:
                pending.append(item)
        if not room:
            return self.offer((item,))
        if len(pending) >= self._max_batch_items:
            self._wake_writer.set()
        return True

    # --- writer thread ------------------------------------------------------------------------
    def _write_loop(self) -> None:
        while True:
            self._wake_writer.wait(self._schedule_delay_s)
            self._wake_writer.clear()
            self._writer_busy = True
            try:
                while self._pending:
                    batch: list[Any] = []
                    while self._pending and len(batch) < self._max_batch_items:
                        batch.append(self._pending.popleft())
                    with self._space:
                        self._space.notify_all()
                    with self._write_lock:
                        self._write(batch)
                if self.spool is not None:
                    self.spool.sync(if_due=True)
            except Exception:  # noqa: BLE001 - a bug here must not kill the thread and stall export
                _logger.exception("durable %s export writer failed", self.signal)
            finally:
                self._writer_busy = False
            if self._stop_writer and not self._pending:
                return

    def _write(self, batch: list[Any]) -> None:
        n = self._count(batch)
        try:
            payload = self._encode(batch)
        except Exception:  # noqa: BLE001
            _logger.exception("durable %s export cannot encode a batch", self.signal)
            self.drop(n, "encode_error")
            return
        if self.spool is not None and len(payload) > self.spool.segment_bytes and len(batch) > 1:
            # Keep records within a segment, so a small size bound drops old data, not whole new batches.
            per_item = len(payload) / len(batch)
            step = max(int(self.spool.segment_bytes * 0.8 / per_item), 1)
            for start in range(0, len(batch), step):
                self._write(batch[start : start + step])
            return
        created = time.time()
        if self.spool is not None and self._disk_usable():
            try:
                self.drop(self.spool.append(payload, n, created), "spool_bound")
                if self._fsync_every_record:
                    self.spool.sync()
                self._wake_sender.set()
                return
            except ValueError:
                self.drop(n, "too_large")
                return
            except OSError as error:
                self._disk_failed_at = time.monotonic()
                self._note_error(f"cannot write the spool: {error}")
                _logger.warning(
                    "durable %s export cannot write its spool (%s); buffering in memory (bounded to %d bytes)",
                    self.signal,
                    error,
                    self._memory_max_bytes,
                )
        self._remember(payload, n, created)
        self._wake_sender.set()

    def _disk_usable(self) -> bool:
        if self._memory:
            return False  # drain the memory buffer first, to keep the order
        return self._disk_failed_at is None or time.monotonic() - self._disk_failed_at > _DISK_RETRY_S

    def _remember(self, payload: bytes, n: int, created: float) -> None:
        if len(payload) > self._memory_max_bytes:
            self.drop(n, "too_large")
            return
        self.drop(self._memory.add(payload, n, created), "memory_full")
