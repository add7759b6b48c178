"""What the store-reading commands (``traces``, ``trace``, ``stats``, ``logs``) share.

Option types that reject bad values in one line (durations, levels, trace ids), read-only opening
of the store (never created, never migrated, never written), times for people and for scripts, and
a plain aligned table. Everything printed passes through :func:`printable`, so a log body or a span
name cannot drive the terminal with escape sequences.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infertel._internal.commands import STORE_HELP, CommandError

if TYPE_CHECKING:
    from infertel_exporters.sqlite import SQLiteStore

_UNITS_S = {"ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")

LEVELS: dict[str, int] = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "warning": 13, "error": 17, "fatal": 21}
"""``--level`` names -> the lowest OpenTelemetry severity number they select."""

_LEVEL_NAMES = ((21, "FATAL"), (17, "ERROR"), (13, "WARN"), (9, "INFO"), (5, "DEBUG"), (1, "TRACE"))
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def duration(text: str) -> float:
    """An ``argparse`` type: a duration such as ``30s``, ``10m``, ``1h30m``, ``7d`` or ``500ms``, in seconds.

    Example:
        >>> duration("1h30m")
        5400.0
    """
    compact = text.strip().lower()
    parts = _PART.findall(compact)
    if not parts or "".join(n + u for n, u in parts) != compact:
        raise argparse.ArgumentTypeError(f"expected a duration like 30s, 10m, 1h or 7d, got {text!r}")
    seconds = sum(float(number) * _UNITS_S[unit] for number, unit in parts)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive duration, got {text!r}")
    return seconds


def level(text: str) -> int:
    """An ``argparse`` type: a level name (``debug``, ``info``, ``warn``, ``error``, ...) -> its severity number.

    Example:
        >>> level("WARN")
        13
    """
    found = LEVELS.get(text.strip().lower())
    if found is None:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LEVELS)}, got {text!r}")
    return found


def trace_id(text: str) -> str:
    """An ``argparse`` type: a trace id, 32 hexadecimal digits (any case) -> lower case.

    Example:
        >>> trace_id("4BF92F3577B34DA6A3CE929D0E0E4736")
        '4bf92f3577b34da6a3ce929d0e0e4736'
    """
    value = text.strip().lower()
    if not _TRACE_ID.fullmatch(value) or value == "0" * 32:
        raise argparse.ArgumentTypeError(f"expected a trace id of 32 hexadecimal digits, got {text!r}")
    return value


def add_common(parser: argparse.ArgumentParser) -> None:
    """``--store`` and ``--json``, the options every store-reading command has."""
    parser.add_argument("--store", default=None, metavar="PATH", help=STORE_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON (a stable, documented shape) instead of text")


def open_store(path: str | None) -> SQLiteStore:
    """The store at ``path`` (default: the one ``configure()`` and ``infertel demo`` write), read-only.

    Raises:
        CommandError: There is no store file there (it is never created).
    """
    from infertel_exporters.sqlite import SQLiteStore, default_path

    target = Path(path).expanduser() if path else default_path()
    if not target.is_file():
        what = "is not a file" if target.exists() else "does not exist"
        raise CommandError(
            f"no store at {target} ({what}): run `infertel demo` or an application with infertel.configure() first, "
            "or pass --store PATH"
        )
    return SQLiteStore(target, read_only=True)


def since_ns(seconds: float | None, now_ns: int) -> int | None:
    """The start of the last ``seconds`` before ``now_ns`` (``None``: no bound)."""
    return None if seconds is None else now_ns - int(seconds * 1e9)


def now_ns() -> int:
    """Wall-clock time now, in nanoseconds since the Unix epoch."""
    return time.time_ns()


def iso(ns: int | None) -> str | None:
    """Unix nanoseconds as ISO 8601 UTC with microseconds (``2026-12-07T04:40:01.123456Z``).

    Example:
        >>> iso(1_700_000_000_123_456_789)
        '2023-11-14T22:13:20.123456Z'
    """
    if ns is None:
        return None
    moment = _dt.datetime.fromtimestamp(ns // 1_000_000_000, tz=_dt.timezone.utc)
    return f"{moment.strftime('%Y-%m-%dT%H:%M:%S')}.{ns % 1_000_000_000 // 1000:06d}Z"


def local_time(ns: int, *, millis: bool = False) -> str:
    """Unix nanoseconds as local wall-clock time for a table (``2026-12-07 05:40:01``, ``.123`` with ``millis``)."""
    text = _dt.datetime.fromtimestamp(ns // 1_000_000_000).strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{ns % 1_000_000_000 // 1_000_000:03d}" if millis else text


def level_name(severity_number: int | None, severity_text: str | None = None) -> str:
    """A short level name for a severity number (``WARN``), else the record's own text, else ``-``.

    Example:
        >>> level_name(14), level_name(None, "notice"), level_name(None)
        ('WARN', 'notice', '-')
    """
    if severity_number:
        for lowest, name in _LEVEL_NAMES:
            if severity_number >= lowest:
                return name
    return severity_text or "-"


def printable(value: Any) -> str:
    r"""``value`` as one line of text with control characters shown escaped (``\x1b``, ``\n``).

    Example:
        >>> printable("a\nb\x1b[31m")
        'a\\nb\\x1b[31m'
    """
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1] if m.group() != "\n" else "\\n", text)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    """Rows under headers, columns padded to their widest cell, two spaces apart; ``right``: right-aligned columns.

    Example:
        >>> print(table(["A", "B"], [["x", "10"]], right=[1]))
        A   B
        x  10
    """
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=False)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(cell).rjust(width) if index in right else str(cell).ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def write_json(document: Any) -> None:
    """``document`` as indented JSON on stdout (UTF-8 text kept as it is)."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def write(text: str) -> None:
    """``text`` and a newline on stdout."""
    sys.stdout.write(text + "\n")
