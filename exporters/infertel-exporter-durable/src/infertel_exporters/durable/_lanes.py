"""Lanes: one spool directory per live process, so several processes (workers) can share a spool dir.

``<spool_dir>/<signal>/lane-<n>``: a process takes the first lane whose lock is free. A lane left
with data by a process that is gone is adopted by a live process's sender when it is idle.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from infertel_exporters.durable._spool import Spool, SpoolLocked

_logger = logging.getLogger(__name__)

_MAX_LANES = 16


def open_lane(directory: Path, **options: Any) -> Spool | None:
    """The first lane of ``directory`` no other live process owns, or ``None`` (logged) if none can be used."""
    last_error: OSError | None = None
    for lane in range(_MAX_LANES):
        try:
            return Spool(directory / f"lane-{lane}", **options)
        except SpoolLocked:
            continue
        except OSError as error:
            last_error = error
            break
    _logger.warning(
        "durable export cannot use spool directory %s (%s); batches are buffered in memory only",
        directory,
        last_error or "all lanes are owned by other processes",
    )
    return None


def adopt_orphan(own: Spool) -> Spool | None:
    """A sibling lane of ``own`` whose process is gone (lock free) and that still holds data, locked."""
    for lane in sorted(own.directory.parent.glob("lane-*")):
        if lane == own.directory or not any(lane.glob("*.seg")):
            continue
        try:
            orphan = Spool(
                lane,
                max_bytes=own.max_bytes,
                max_age_s=own.max_age_s,
                segment_bytes=own.segment_bytes,
                fsync_interval_s=own.fsync_interval_s,
            )
        except OSError:  # SpoolLocked included: its owner is alive
            continue
        if orphan.backlog_items > 0:
            return orphan
        orphan.close()
    return None
