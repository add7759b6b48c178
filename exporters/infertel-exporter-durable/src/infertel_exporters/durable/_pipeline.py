"""The machinery behind every durable exporter: a bounded queue, a writer thread, a sender thread.

``offer()`` (called by the SDK processor, or by the application's thread under a
``SimpleSpanProcessor``) appends to a bounded in-memory queue and waits at most
``enqueue_timeout_millis`` for room; it never touches the disk or the network. The *writer* thread
encodes batches of up to ``max_batch_items`` to OTLP protobuf and appends them to the spool
(write-ahead: every batch goes to disk first, so a crash at any point loses nothing written). The
*sender* thread reads the oldest unacknowledged record, sends it through the inner exporter's
transport and commits it only when the collector acknowledged it; on failure it backs off
(capped exponential, full jitter) and retries the same record, so order is kept and nothing is
re-sent once acknowledged. When idle, the sender also adopts sibling lanes whose process is gone
(their lock is free) and replays them, so data left by a stopped worker is not stranded. When
the spool directory cannot be written (read-only, disk full) the
records are kept in a bounded memory buffer instead, and every loss is counted.

The queue and the writer thread are :class:`~infertel_exporters.durable._intake.Intake`; this
module adds the sender thread, the accounting, flush, shutdown and the at-fork hook.
"""

from __future__ import annotations

import collections
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from infertel_exporters.durable._intake import Intake
from infertel_exporters.durable._lanes import adopt_orphan
from infertel_exporters.durable._memory import MemoryBuffer
from infertel_exporters.durable._spool import Spool
from infertel_exporters.durable._tally import Tally
from infertel_exporters.durable._transport import Outcome, Sender

_logger = logging.getLogger(__name__)

_DEGRADED_FOR_S = 60.0
"""A pipeline that lost something this recently reports ``degraded``."""
_ADOPT_INTERVAL_S = 30.0


_pipelines: weakref.WeakSet[Pipeline] = weakref.WeakSet()


class Pipeline(Intake):
    """Queue -> writer -> spool -> sender for one signal (see the module docstring)."""

    def __init__(
        self,
        *,
        signal: str,
        encode: Callable[[Sequence[Any]], bytes],
        count: Callable[[Sequence[Any]], int],
        sender: Sender,
        spool: Spool | None,
        max_queue_items: int,
        max_batch_items: int,
        schedule_delay_millis: int,
        enqueue_timeout_millis: int,
        send_timeout_s: float,
        backoff_initial_s: float,
        backoff_max_s: float,
        max_age_s: float,
        memory_max_bytes: int,
        write_through: bool = False,
        reopen: Callable[[], Spool | None] | None = None,
    ) -> None:
        self.signal = signal
        self._encode = encode
        self._count = count
        self._sender = sender
        self.spool = spool
        self._max_queue_items = max_queue_items
        self._max_batch_items = max_batch_items
        self._schedule_delay_s = schedule_delay_millis / 1000
        self._enqueue_timeout_s = enqueue_timeout_millis / 1000
        self._send_timeout_s = send_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._max_age_s = max_age_s
        self._memory_max_bytes = memory_max_bytes
        self._write_through = write_through
        self._fsync_every_record = spool is not None and spool.fsync_interval_s == 0

        self._reopen = reopen
        self._start_runtime()
        _pipelines.add(self)  # the module's one at-fork hook gives a forked child its own lane and threads

    def _start_runtime(self) -> None:
        """Fresh queues, locks, counters and threads (at construction, and in a forked child)."""
        self._pending: collections.deque[Any] = collections.deque()
        # Producers check the bound and append under one lock, so concurrent offers never take the
        # queue past max_queue_items; the writer only removes (no lock needed to shrink it).
        self._offer_lock = threading.Lock()
        self._space = threading.Condition(self._offer_lock)
        self._wake_writer = threading.Event()
        self._wake_sender = threading.Event()
        self._stop_writer = False
        self._stop_sender = threading.Event()
        self._writer_busy = False
        self._write_lock = threading.Lock()
        self._memory = MemoryBuffer(self._memory_max_bytes)
        self._disk_failed_at: float | None = None
        self._adopted: Spool | None = None
        self._replay_orphans = False  # set by shutdown(): adopt and replay every orphan lane now
        self._tally = Tally(self.signal)
        self.last_error: str | None = None
        self.last_error_ns: int | None = None
        self._last_loss_at = -1e18
        self.healthy = True
        self.shut_down = False
        self._writer = threading.Thread(
            target=self._write_loop, name=f"infertel-durable-{self.signal}-writer", daemon=True
        )
        self._sender_thread = threading.Thread(
            target=self._send_loop, name=f"infertel-durable-{self.signal}-sender", daemon=True
        )
        self._writer.start()
        self._sender_thread.start()

    def _after_fork_in_child(self) -> None:
        """A forked child gets its own lane and threads; what was queued belongs to the parent."""
        if self.shut_down:
            return
        for inherited in (self.spool, self._adopted):
            if inherited is not None:
                inherited.abandon()
        self.spool = self._reopen() if self._reopen is not None else None
        self._start_runtime()

    # --- accounting ---------------------------------------------------------------------------
    def drop(self, items: int, reason: str) -> None:
        """Count ``items`` lost for good because of ``reason`` (logged at most once per reason per 10 s)."""
        if items > 0:
            self._note_error(f"lost {items} items ({reason})")
            self._last_loss_at = time.monotonic()
        self._tally.drop(items, reason)

    def _note_error(self, message: str) -> None:
        self.last_error, self.last_error_ns = message, time.time_ns()

    @property
    def target(self) -> str:
        """Where the sender delivers (its description: transport and endpoint)."""
        return self._sender.description

    @property
    def state(self) -> str:
        """``failing``: the collector does not answer; ``degraded``: spool unwritable or a recent loss; else ``ok``."""
        if not self.healthy:
            return "failing"
        if self._memory or time.monotonic() - self._last_loss_at < _DEGRADED_FOR_S:
            return "degraded"
        return "ok"

    @property
    def dropped(self) -> dict[str, int]:
        """Items lost for good so far, by reason (:meth:`drop` counts them)."""
        return self._tally.dropped

    @property
    def delivered(self) -> int:
        """Items the collector acknowledged so far."""
        return self._tally.delivered

    @property
    def backlog_items(self) -> int:
        """Items accepted and not yet acknowledged (queued, spooled or buffered in memory)."""
        spooled = self.spool.backlog_items if self.spool is not None else 0
        return len(self._pending) + spooled + self._memory.items

    @property
    def adopted_items(self) -> int:
        """Items of a lane adopted from a finished process, not yet acknowledged."""
        adopted = self._adopted  # read once: the sender thread drops it when the lane is replayed
        return adopted.backlog_items if adopted is not None else 0

    @property
    def size_bytes(self) -> int:
        """Bytes held on disk (an adopted lane included) plus bytes buffered in memory after a disk failure."""
        on_disk = self.spool.size_bytes if self.spool is not None else 0
        adopted = self._adopted  # read once (see adopted_items)
        if adopted is not None:
            on_disk += adopted.size_bytes
        return on_disk + self._memory.size_bytes

    @property
    def corrupt_records(self) -> int:
        """Torn or corrupt records discarded from the spool."""
        return self.spool.corrupt_records if self.spool is not None else 0

    # --- sender thread ------------------------------------------------------------------------
    def _next(self) -> tuple[Spool | None, Any, bytes, int, float] | None:
        """The oldest undelivered record: own spool, then the memory buffer, then an adopted lane."""
        if self.spool is not None:
            record = self.spool.next_record()
            if record is not None:
                return self.spool, record, record.payload, record.count, record.created
        oldest = self._memory.oldest()
        if oldest is not None:
            payload, count, created = oldest
            return None, None, payload, count, created
        if self._adopted is not None:
            record = self._adopted.next_record()
            if record is not None:
                return self._adopted, record, record.payload, record.count, record.created
            _logger.info("durable %s export replayed the spool lane %s", self.signal, self._adopted.directory)
            self._adopted.close()
            self._adopted = None
        return None

    def _adopt(self) -> None:
        assert self.spool is not None
        self._adopted = adopt_orphan(self.spool)
        if self._adopted is not None:
            _logger.info(
                "durable %s export adopts the spool lane %s left by a finished process",
                self.signal,
                self._adopted.directory,
            )

    def _commit(self, source: Spool | None, record: Any) -> bool:
        """Remove the record just handled; ``False`` if a bound already dropped (and counted) it."""
        if source is not None:
            return source.commit(record)
        self._memory.pop_oldest()
        return True

    def _send_loop(self) -> None:
        backoff = self._backoff_initial_s
        last_expire = time.monotonic()
        last_adopt = -_ADOPT_INTERVAL_S
        while not self._stop_sender.is_set():
            try:
                if self.spool is not None and time.monotonic() - last_expire > 10:
                    last_expire = time.monotonic()
                    self.drop(self.spool.expire(), "expired")
                work = self._next()
                if work is None:
                    replay = self._replay_orphans
                    if self.spool is not None and (replay or time.monotonic() - last_adopt >= _ADOPT_INTERVAL_S):
                        last_adopt = time.monotonic()
                        self._adopt()
                        if self._adopted is not None:
                            continue
                        if replay:
                            self._replay_orphans = False  # none left: shutdown() stops waiting
                    self._wake_sender.wait(0.5)
                    self._wake_sender.clear()
                    continue
                source, record, payload, count, created = work
                if time.time() - created > self._max_age_s:
                    if self._commit(source, record):
                        self.drop(count, "expired")
                    continue
                outcome = self._sender.send(payload, self._send_timeout_s)
                if outcome is Outcome.DELIVERED:
                    if not self._commit(source, record):
                        self._tally.undrop(count, "spool_bound")
                    self._tally.deliver(count)
                    if not self.healthy:
                        _logger.info("durable %s export: %s answers again", self.signal, self._sender.description)
                    self.healthy = True
                    backoff = self._backoff_initial_s
                elif outcome is Outcome.REJECTED:
                    if self._commit(source, record):
                        self.drop(count, "rejected")
                else:
                    self._note_error(f"{self._sender.description} does not answer")
                    if self.healthy:
                        _logger.warning(
                            "durable %s export: %s does not answer; batches stay in the spool and are retried",
                            self.signal,
                            self._sender.description,
                        )
                    self.healthy = False
                    # Full jitter: a fleet of processes does not hammer a recovering collector in step.
                    self._wake_sender.wait(random.uniform(0.5, 1.0) * backoff)
                    self._wake_sender.clear()
                    backoff = min(backoff * 2, self._backoff_max_s)
            except Exception:  # noqa: BLE001 - a bug here must not kill the thread and stall export
                _logger.exception("durable %s export sender failed", self.signal)
                self._stop_sender.wait(1.0)

    # --- flush / shutdown ---------------------------------------------------------------------
    def _wait_written(self, deadline: float) -> bool:
        self._wake_writer.set()
        while self._pending or self._writer_busy:
            if time.monotonic() >= deadline or not self._writer.is_alive():
                return False
            time.sleep(0.002)
            self._wake_writer.set()
        return True

    def force_flush(self, timeout_millis: int) -> bool:
        """Write and try to deliver everything; ``False`` on timeout or if anything was dropped since the last flush."""
        deadline = time.monotonic() + timeout_millis / 1000
        done = self._wait_written(deadline)
        self._wake_sender.set()
        while done and self.backlog_items > 0:
            if time.monotonic() >= deadline:
                done = False
                break
            # One immediate retry was asked for above; after it the sender's backoff applies.
            time.sleep(0.005)
        dropped = self._tally.take_dropped_since_flush()
        return done and dropped == 0

    def _replay_orphan_lanes(self, deadline: float) -> None:
        """Deliver, within ``deadline``, the lanes of sibling processes that are gone.

        A prefork server's workers can end by a signal that skips their exit flush (gunicorn's
        uvicorn workers re-raise SIGTERM with its default action); the master outlives them and
        shuts down last, so what they spooled is delivered now rather than by the next start.
        """
        self._replay_orphans = True
        self._wake_sender.set()
        while self._replay_orphans and self.healthy and time.monotonic() < deadline:
            time.sleep(0.005)
        self._replay_orphans = False

    def shutdown(self, timeout_millis: int) -> bool:
        """Spool what is queued, deliver for at most ``timeout_millis`` if the collector answers, stop.

        What is still spooled stays on disk for the next process; what only lived in memory is
        counted as dropped.
        """
        if self.shut_down:
            return True
        deadline = time.monotonic() + timeout_millis / 1000
        self._stop_writer = True
        self._wait_written(deadline)
        self.shut_down = True
        self._writer.join(max(deadline - time.monotonic(), 0.05))
        if self.healthy:
            self.force_flush(int(max(deadline - time.monotonic(), 0) * 1000))
        if self.healthy and self.spool is not None:
            self._replay_orphan_lanes(deadline)
        self._stop_sender.set()
        self._wake_sender.set()
        self._sender_thread.join(max(deadline - time.monotonic(), 0) + self._send_timeout_s)
        self.drop(self._memory.clear() + len(self._pending), "shutdown")
        if self.spool is not None:
            left = self.spool.backlog_items
            if left:
                _logger.info(
                    "durable %s export keeps %d items in %s for the next process",
                    self.signal,
                    left,
                    self.spool.directory,
                )
            self.spool.close()
        if self._adopted is not None:
            self._adopted.close()
        return True


def _after_fork_in_child() -> None:
    for pipeline in list(_pipelines):
        pipeline._after_fork_in_child()


if hasattr(os, "register_at_fork"):  # one hook for every pipeline of the process
    os.register_at_fork(after_in_child=_after_fork_in_child)
