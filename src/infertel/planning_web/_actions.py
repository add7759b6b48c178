"""The record of autoscaling actions: a bounded JSON-lines file next to the store (format version 1).

One line per action, newest last: ``{"v": 1, "time_ns", "replicas", "action", "desired_replicas", "note"}``.
The file keeps the newest ``keep`` actions: when it holds twice as many it is rewritten (to a
temporary file, then renamed) with the newest ``keep``. Lines of another version, or unreadable
ones, are skipped when read (counted in ``skipped``), never fatal.

Threading: one lock per :class:`ActionLog` serialises appends and rewrites in this process; a
rewrite by another process is atomic (rename), so a reader sees the old or the new file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_logger = logging.getLogger(__name__)

VERSION = 1
"""Format version written in every line (``"v"``)."""

KEEP = 1000
"""Actions kept by default."""


def actions_path(store_path: str | os.PathLike[str]) -> Path:
    """The actions file of the store at ``store_path``: ``<store>.autoscaling-actions.jsonl``.

    Example:
        >>> actions_path("/data/infertel.db").name
        'infertel.db.autoscaling-actions.jsonl'
    """
    path = Path(store_path)
    return path.with_name(path.name + ".autoscaling-actions.jsonl")


class ActionLog:
    """Appends and reads the recorded autoscaling actions of one store.

    Args:
        path: The JSON-lines file (see :func:`actions_path`).
        keep: The newest actions kept (>= 1).

    Example:
        >>> import tempfile, pathlib
        >>> folder = tempfile.TemporaryDirectory()
        >>> log = ActionLog(pathlib.Path(folder.name) / "a.jsonl", keep=2)
        >>> _ = log.append({"time_ns": 1, "replicas": 3, "action": "scale_up", "desired_replicas": 3, "note": ""})
        >>> [a["replicas"] for a in log.read()]
        [3]
        >>> folder.cleanup()
    """

    def __init__(self, path: Path, *, keep: int = KEEP) -> None:
        if not isinstance(keep, int) or keep < 1:
            raise ValueError(f"actions keep must be an integer >= 1, got {keep!r}")
        self.path = Path(path)
        self.keep = keep
        self.skipped = 0
        self._lock = threading.Lock()

    def append(self, action: Mapping[str, Any]) -> dict[str, Any]:
        """Write ``action`` (with the format version) and bound the file; returns the stored record."""
        record = {"v": VERSION, **action}
        line = json.dumps(record, separators=(",", ":"), ensure_ascii=True) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(line)
            lines = self._lines()
            if len(lines) > 2 * self.keep:
                tmp = self.path.with_name(self.path.name + ".tmp")
                tmp.write_text("".join(lines[-self.keep :]), encoding="utf-8")
                os.replace(tmp, self.path)
        return record

    def _lines(self) -> list[str]:
        try:
            with self.path.open(encoding="utf-8", errors="replace") as f:
                return f.readlines()
        except FileNotFoundError:
            return []

    def read(self) -> list[dict[str, Any]]:
        """The newest ``keep`` actions, oldest first (lines of another version or unreadable: skipped)."""
        with self._lock:
            lines = self._lines()
        records: list[dict[str, Any]] = []
        skipped = 0
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                skipped += 1
                continue
            if not isinstance(record, dict) or record.get("v") != VERSION:
                skipped += 1
                continue
            records.append(record)
        if skipped and skipped != self.skipped:
            _logger.warning("skipped %d unreadable lines in %s", skipped, self.path)
        self.skipped = skipped
        return records[-self.keep :]

    def last(self) -> dict[str, Any] | None:
        """The newest action, or None."""
        records = self.read()
        return records[-1] if records else None
