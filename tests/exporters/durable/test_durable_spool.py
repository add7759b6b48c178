"""The on-disk spool alone: framing, order, commit, restart, corruption, bounds, the lane lock."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from infertel_exporters.durable._spool import HEADER_SIZE, MAGIC, Spool, SpoolLocked, frame


def _spool(path: Path, **options: float) -> Spool:
    settings: dict[str, float] = {"max_bytes": 1 << 20, "max_age_s": 3600, "segment_bytes": 1 << 16}
    settings.update(options)
    return Spool(path, **settings)  # type: ignore[arg-type]


def _drain(spool: Spool) -> list[tuple[bytes, int]]:
    out = []
    while (record := spool.next_record()) is not None:
        out.append((record.payload, record.count))
        spool.commit(record)
    return out


def test_records_come_back_in_order_once_and_survive_a_restart(tmp_path: Path) -> None:
    spool = _spool(tmp_path, segment_bytes=300)
    payloads = [bytes([i]) * (50 + i) for i in range(20)]
    for i, payload in enumerate(payloads):
        assert spool.append(payload, i + 1) == 0
    assert spool.backlog_items == sum(range(1, 21))
    assert len(list(tmp_path.glob("*.seg"))) > 3  # rotated into several segments
    first = spool.next_record()
    assert first is not None and (first.payload, first.count) == (payloads[0], 1)
    assert spool.next_record() == first  # not committed: the same record again
    spool.commit(first)
    second = spool.next_record()
    assert second is not None
    spool.commit(second)
    spool.close()

    reopened = _spool(tmp_path, segment_bytes=300)
    assert reopened.backlog_items == sum(range(3, 21))
    assert _drain(reopened) == [(p, i + 1) for i, p in enumerate(payloads)][2:]
    assert reopened.backlog_items == 0
    assert reopened.next_record() is None
    assert reopened.corrupt_records == 0
    reopened.close()
    # Fully read segments are deleted; only the empty active segment of the reopened spool is left.
    assert sum(p.stat().st_size for p in tmp_path.glob("*.seg")) == 0


def test_a_second_live_owner_is_refused(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    with pytest.raises(SpoolLocked):
        _spool(tmp_path)
    spool.close()
    _spool(tmp_path).close()


def test_a_torn_tail_is_discarded_and_counted(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    spool.append(b"a" * 100, 1)
    spool.append(b"b" * 100, 2)
    spool.close()
    segment = sorted(tmp_path.glob("*.seg"))[-1]
    # A crash in the middle of writing the third record: its header and half its payload.
    with segment.open("ab") as fh:
        fh.write(frame(b"c" * 100, 3, time.time())[: HEADER_SIZE + 50])
    reopened = _spool(tmp_path)
    assert _drain(reopened) == [(b"a" * 100, 1), (b"b" * 100, 2)]
    assert reopened.corrupt_records == 1
    reopened.append(b"d" * 10, 4)  # and the spool goes on working
    assert _drain(reopened) == [(b"d" * 10, 4)]
    reopened.close()


def test_a_corrupt_record_and_a_garbage_segment_do_not_stop_the_replay(tmp_path: Path) -> None:
    spool = _spool(tmp_path)
    for name in (b"one", b"two", b"three"):
        spool.append(name * 30, 1)
    spool.close()
    segment = sorted(tmp_path.glob("*.seg"))[-1]
    data = bytearray(segment.read_bytes())
    second = data.index(MAGIC, 1)
    data[second + HEADER_SIZE + 5] ^= 0xFF  # flip a payload byte of the second record: CRC mismatch
    segment.write_bytes(bytes(data))
    (tmp_path / f"{0:020d}.seg").write_bytes(os.urandom(500))  # an older segment full of garbage
    reopened = _spool(tmp_path)
    assert [payload for payload, _ in _drain(reopened)] == [b"one" * 30, b"three" * 30]
    assert reopened.corrupt_records == 2
    reopened.close()


def test_the_size_bound_drops_the_oldest_segments_and_reports_their_items(tmp_path: Path) -> None:
    spool = _spool(tmp_path, max_bytes=2000, segment_bytes=500)
    dropped = 0
    for i in range(40):
        dropped += spool.append(bytes([i]) * 100, 10)
    kept = _drain(spool)
    assert spool.size_bytes <= 2000
    assert dropped == 400 - 10 * len(kept)
    assert dropped > 0
    # What is kept is the newest data, still in order.
    assert [payload[0] for payload, _ in kept] == list(range(40 - len(kept), 40))
    with pytest.raises(ValueError, match="exceeds the spool bound"):
        spool.append(b"x" * 5000, 1)
    spool.close()


def test_the_age_bound_drops_old_segments(tmp_path: Path) -> None:
    spool = _spool(tmp_path, max_age_s=60, segment_bytes=200)
    for i in range(5):
        spool.append(bytes([i]) * 150, 7)
    old = time.time() - 120
    for segment in sorted(tmp_path.glob("*.seg"))[:-1]:
        os.utime(segment, (old, old))
    spool.close()
    reopened = _spool(tmp_path, max_age_s=60, segment_bytes=200)
    assert reopened.expire() == 4 * 7
    assert [payload[0] for payload, _ in _drain(reopened)] == [4]
    reopened.close()
