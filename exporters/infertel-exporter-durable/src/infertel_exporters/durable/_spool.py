"""An append-only, segmented, bounded on-disk spool of framed records.

Layout of one spool directory (one per signal and *lane*)::

    lock                      flock()ed by the one live process that owns the lane
    cursor                    committed read position: segment id, offset, items (CRC-checked)
    00000000000000000007.seg  segments, appended in id order, never rewritten

A record is ``header | payload`` with the header ``<4sIIId``: magic ``b"ISP1"``, payload length,
CRC-32 of (count, created, payload), item count, creation time (Unix seconds). Each record is
written with one ``write()`` on an ``O_APPEND`` descriptor, so a process killed at any point leaves
at most one torn record at a segment's tail. A new process never appends to an old segment: it
opens a fresh one, so old segments are read-only and recovery happens while reading them (a torn
tail or a CRC mismatch is counted, then skipped by resynchronising on the next magic). Nothing
corrupt stops the replay.

fsync policy: the active segment and the segments rotated since the last sync are fsync()ed
every ``fsync_interval_s`` seconds by the writer thread (:meth:`Spool.sync`, outside the lock),
and on close; the cursor is rewritten in place (one ``pwrite``, CRC-checked on load; a torn
cursor restarts from the oldest segment) and not fsync()ed. A killed process (SIGKILL, OOM)
therefore loses nothing that reached ``write()``;
a power loss can lose up to ``fsync_interval_s`` of records or re-send records whose
acknowledgement had not reached the disk.

Threading: every public method takes the spool's lock; one writer thread appends and one sender
thread reads and commits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import logging
import os
import struct
import threading
import time
import zlib
from pathlib import Path

_logger = logging.getLogger(__name__)

MAGIC = b"ISP1"
_HEADER = struct.Struct("<4sIIId")
_META = struct.Struct("<Id")
HEADER_SIZE = _HEADER.size
_CURSOR = struct.Struct("<QQI")
_SUFFIX = ".seg"


@dataclasses.dataclass(frozen=True)
class Record:
    """One spooled batch: where it is, how many items, when it was written, its bytes."""

    segment: int
    offset: int
    end: int
    count: int
    created: float
    payload: bytes


def frame(payload: bytes, count: int, created: float) -> bytes:
    """Frame ``payload`` as one spool record (header + payload)."""
    meta = _META.pack(count, created)
    crc = zlib.crc32(payload, zlib.crc32(meta))
    return _HEADER.pack(MAGIC, len(payload), crc, count, created) + payload


@dataclasses.dataclass
class _Segment:
    seg_id: int
    path: Path
    size: int
    items: int
    mtime: float


class SpoolLocked(OSError):
    """Another live process holds this spool directory."""


class Spool:
    """A bounded spool directory owned by this process (see the module docstring).

    Args:
        directory: The lane directory; created if missing.
        max_bytes: Bound on the total size of the segments. Appending past it drops the oldest
            whole segments (their unsent items are reported by :meth:`append`).
        max_age_s: Records older than this are dropped unsent.
        segment_bytes: A segment is closed once it reaches this size.
        fsync_interval_s: See the module docstring; ``0`` fsyncs every record.

    Raises:
        SpoolLocked: Another live process owns ``directory``.
        OSError: The directory cannot be created, locked or written.
    """

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        max_age_s: float,
        segment_bytes: int,
        fsync_interval_s: float = 1.0,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self.segment_bytes = segment_bytes
        self.fsync_interval_s = fsync_interval_s
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise SpoolLocked(f"spool directory {directory} is owned by another process") from None
        self._segments: dict[int, _Segment] = {}
        self._cursor_fd = -1
        self.corrupt_records = 0
        for path in sorted(directory.glob("*" + _SUFFIX)):
            with contextlib.suppress(ValueError, OSError):
                seg_id = int(path.name[: -len(_SUFFIX)])
                stat = path.stat()
                self._segments[seg_id] = _Segment(seg_id, path, stat.st_size, self._count_items(path), stat.st_mtime)
        self._read_seg, self._read_off, self._read_done = self._load_cursor()
        for seg_id in [s for s in self._segments if s < self._read_seg]:
            # Older than the committed position: fully delivered before a crash stopped their removal.
            with contextlib.suppress(OSError):
                self._segments.pop(seg_id).path.unlink()
        self._active: _Segment | None = None
        self._active_fd = -1
        self._unsynced: list[Path] = []
        self._last_fsync = time.monotonic()
        self._closed = False

    # --- open / cursor ----------------------------------------------------------------------
    @staticmethod
    def _count_items(path: Path) -> int:
        """Sum of the item counts in the headers of ``path`` (payloads are skipped, not checked)."""
        items = 0
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            offset = 0
            while offset + HEADER_SIZE <= size:
                fh.seek(offset)
                magic, length, _crc, count, _created = _HEADER.unpack(fh.read(HEADER_SIZE))
                if magic != MAGIC or offset + HEADER_SIZE + length > size:
                    break
                items += count
                offset += HEADER_SIZE + length
        return items

    def _load_cursor(self) -> tuple[int, int, int]:
        first = min(self._segments, default=0)
        try:
            raw = (self.directory / "cursor").read_bytes()[: _CURSOR.size + 4]
            seg_id, offset, done = _CURSOR.unpack(raw[: _CURSOR.size])
            if zlib.crc32(raw[: _CURSOR.size]) != int.from_bytes(raw[_CURSOR.size :], "little"):
                raise ValueError("torn cursor")
        except (OSError, struct.error, ValueError):
            return first, 0, 0
        if seg_id not in self._segments:
            return first, 0, 0
        return seg_id, offset, done

    def _save_cursor(self) -> None:
        # One small pwrite() in place (CRC-checked when read back): a rename per commit costs milliseconds.
        data = _CURSOR.pack(self._read_seg, self._read_off, self._read_done)
        if self._cursor_fd < 0:
            self._cursor_fd = os.open(self.directory / "cursor", os.O_WRONLY | os.O_CREAT, 0o600)
        os.pwrite(self._cursor_fd, data + zlib.crc32(data).to_bytes(4, "little"), 0)

    # --- sizes ------------------------------------------------------------------------------
    @property
    def size_bytes(self) -> int:
        """Bytes on disk in segments (committed records included until their segment goes)."""
        with self._lock:
            return sum(s.size for s in self._segments.values())

    @property
    def backlog_items(self) -> int:
        """Items written and not yet committed."""
        with self._lock:
            return self._backlog_items()

    def _backlog_items(self) -> int:
        total = sum(s.items for s in self._segments.values() if s.seg_id >= self._read_seg)
        return max(total - self._read_done, 0)

    @property
    def backlog_bytes(self) -> int:
        """Bytes written and not yet committed."""
        with self._lock:
            total = sum(s.size for s in self._segments.values() if s.seg_id >= self._read_seg)
            return max(total - self._read_off, 0)

    # --- writing ----------------------------------------------------------------------------
    def append(self, payload: bytes, count: int, created: float | None = None) -> int:
        """Append one record; return how many older items the bounds dropped to make room.

        Raises:
            ValueError: The record alone is larger than ``max_bytes`` (nothing is written).
            OSError: The write failed (disk full, read-only, ...); nothing is half-written
                that the reader would not discard.
        """
        data = frame(payload, count, time.time() if created is None else created)
        if len(data) > self.max_bytes:
            raise ValueError(f"record of {len(data)} bytes exceeds the spool bound of {self.max_bytes} bytes")
        with self._lock:
            if self._closed:
                raise OSError("spool is closed")
            if self._active is None or self._active.size + len(data) > self.segment_bytes:
                self._rotate()
            dropped = self._enforce_bounds(len(data))
            active = self._active
            assert active is not None
            written = os.write(self._active_fd, data)
            if written != len(data):
                # A short write (disk full) leaves a torn record: retire the segment, the reader discards it.
                active.size += written
                self._close_active()
                raise OSError(f"short write to {active.path} ({written} of {len(data)} bytes)")
            active.size += written
            active.items += count
            active.mtime = time.time()
            return dropped

    def _rotate(self) -> None:
        if self._active is not None:
            self._unsynced.append(self._active.path)
        self._close_active(sync=False)
        seg_id = max(self._segments, default=0) + 1
        path = self.directory / f"{seg_id:020d}{_SUFFIX}"
        self._active_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._active = _Segment(seg_id, path, 0, 0, time.time())
        self._segments[seg_id] = self._active
        if not any(s < seg_id for s in self._segments) or self._read_seg not in self._segments:
            self._read_seg, self._read_off, self._read_done = seg_id, 0, 0

    def _close_active(self, *, sync: bool = True) -> None:
        if self._active_fd >= 0:
            if sync:
                with contextlib.suppress(OSError):
                    os.fsync(self._active_fd)
            os.close(self._active_fd)
        self._active_fd = -1
        self._active = None

    def _enforce_bounds(self, incoming: int) -> int:
        """Drop the oldest inactive segments over the size or age bound; return unsent items dropped."""
        dropped = 0
        horizon = time.time() - self.max_age_s
        for seg in sorted(self._segments.values(), key=lambda s: s.seg_id):
            if seg is self._active:
                break
            total = sum(s.size for s in self._segments.values()) + incoming
            if total <= self.max_bytes and seg.mtime >= horizon:
                break
            dropped += self._drop_segment(seg)
        return dropped

    def _drop_segment(self, seg: _Segment) -> int:
        unsent = seg.items
        if seg.seg_id < self._read_seg:
            unsent = 0
        elif seg.seg_id == self._read_seg:
            unsent = max(seg.items - self._read_done, 0)
        with contextlib.suppress(OSError):
            seg.path.unlink()
        del self._segments[seg.seg_id]
        if seg.seg_id == self._read_seg:
            self._advance_segment()
        return unsent

    def _advance_segment(self) -> None:
        later = [s for s in self._segments if s > self._read_seg]
        if later:
            self._read_seg, self._read_off, self._read_done = min(later), 0, 0
        else:
            self._read_off, self._read_done = 0, 0
        with contextlib.suppress(OSError):
            self._save_cursor()

    def expire(self) -> int:
        """Drop inactive segments past the age bound; return the unsent items dropped."""
        with self._lock:
            return self._enforce_bounds(-(1 << 62))

    def sync(self, *, if_due: bool = False) -> None:
        """Sync the active segment to disk (with ``if_due``, only once ``fsync_interval_s`` has passed).

        The fsync runs outside the spool's lock, so appends never wait for it.
        """
        with self._lock:
            now = time.monotonic()
            if if_due and now - self._last_fsync < self.fsync_interval_s:
                return
            self._last_fsync = now
            fd = os.dup(self._active_fd) if self._active_fd >= 0 else -1
            rotated, self._unsynced = self._unsynced, []
        for path in rotated:  # segments closed since the last sync (rotation does not wait for the disk)
            with contextlib.suppress(OSError):
                rotated_fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(rotated_fd)
                finally:
                    os.close(rotated_fd)
        if fd >= 0:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    # --- reading ----------------------------------------------------------------------------
    def next_record(self) -> Record | None:
        """The oldest uncommitted record, or ``None`` when the reader has caught up.

        Torn tails and corrupt records are counted in :attr:`corrupt_records` and skipped.
        """
        with self._lock:
            while not self._closed and self._read_seg in self._segments:
                seg = self._segments[self._read_seg]
                record = self._read_at(seg)
                if record is not None:
                    return record
                if seg is self._active:
                    return None
                # An inactive segment read to its end: every record in it is committed or discarded.
                with contextlib.suppress(OSError):
                    seg.path.unlink()
                del self._segments[seg.seg_id]
                self._advance_segment()
            return None

    def _read_at(self, seg: _Segment) -> Record | None:
        while True:
            try:
                with seg.path.open("rb") as fh:
                    fh.seek(self._read_off)
                    header = fh.read(HEADER_SIZE)
                    if not header:
                        return None
                    if len(header) == HEADER_SIZE:
                        magic, length, crc, count, created = _HEADER.unpack(header)
                        if magic == MAGIC:
                            payload = fh.read(length)
                            if len(payload) == length and zlib.crc32(payload, zlib.crc32(header[12:])) == crc:
                                end = self._read_off + HEADER_SIZE + length
                                return Record(seg.seg_id, self._read_off, end, count, created, payload)
                    fh.seek(self._read_off)
                    rest = fh.read()
            except OSError:
                _logger.warning("cannot read spool segment %s; skipping it", seg.path, exc_info=True)
                self.corrupt_records += 1
                self._read_off = max(seg.size, self._read_off)
                return None
            # Torn tail or corruption: count it, resynchronise on the next magic (or give up on the segment).
            self.corrupt_records += 1
            _logger.warning(
                "discarding a torn or corrupt record in spool segment %s at offset %d", seg.path, self._read_off
            )
            nxt = rest.find(MAGIC, 1)
            if nxt <= 0:
                self._read_off += len(rest)
                return None
            self._read_off += nxt

    def commit(self, record: Record) -> bool:
        """Mark ``record`` as delivered (or deliberately dropped); it is never read again.

        Returns ``False`` when a bound dropped its segment meanwhile (its items were counted as dropped).
        """
        with self._lock:
            if self._closed or record.segment != self._read_seg or record.offset != self._read_off:
                return False
            self._read_off = record.end
            self._read_done += record.count
            self._save_cursor()
            return True

    def abandon(self) -> None:
        """In a forked child: close the inherited descriptors without touching the parent's lane."""
        self._closed = True
        for fd in (self._active_fd, self._cursor_fd, self._lock_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._active_fd = self._cursor_fd = -1

    def close(self) -> None:
        """Sync and close the active segment, release the lock."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._close_active()
            if self._cursor_fd >= 0:
                os.close(self._cursor_fd)
            os.close(self._lock_fd)
