"""The statistics buffer: where ``on_end`` appends span records until the fold takes them.

Two kinds, with the same records in and out (:data:`._fold.SPAN_RECORD_FIELDS`,
:data:`._fold.RECORD_FIELDS`):

- :class:`~._records.Records`, a C extension built with the wheel when a compiler is at hand
  (``_records.c``): its ``append`` reads the six attribute values the fold needs from the span's
  attribute dict while the span is still in the CPU's caches, into one dense array of C numbers.
  The fold runs seconds later on the background folder's thread; by then the spans' attribute
  dicts and value objects have left the caches, and reading them cost more than everything else
  the fold does (measured on Python 3.11: 1.1 µs per span record folded from memory, 0.5 in cache).
  The statistics processor's ``on_start``/``on_end`` on SDK spans are C code too then
  (:class:`~._records.Hooks`, built and probed by :func:`infertel._internal.compat.statistics_span_hooks`).
- a ``list`` of the record tuples: without the extension, with :data:`USE_EXTENSION` off, and for
  statistics split by extra attributes (the extension reads the six values only).

Both hold the same values: the extension gives back each float and int rebuilt from the C number
it read, and every other object itself; a record whose values are not all of the plain types
(exact dict, float or ``None`` durations, int or ``None`` counts and ids) is kept as its tuple.
"""

from __future__ import annotations

from typing import Any

from infertel import semconv

try:
    from infertel._internal.processors._records import Hooks, RecordBatch, Records
except ImportError:  # built without a compiler, or from a checkout never built: the list
    Records = None  # type: ignore[assignment,misc]
    RecordBatch = None  # type: ignore[assignment,misc]
    Hooks = None  # type: ignore[assignment,misc]

READ_ATTRIBUTES = (
    semconv.GEN_AI_REQUEST_MODEL,
    semconv.ERROR_TYPE,
    semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
    semconv.INFERTEL_TIME_PER_OUTPUT_TOKEN,
    semconv.GEN_AI_USAGE_INPUT_TOKENS,
    semconv.GEN_AI_USAGE_OUTPUT_TOKENS,
)
"""The attributes the C buffer reads from a span record's attribute mapping (the fold needs no other),
in the order ``Records()`` takes them."""

USE_EXTENSION = True
"""Whether new buffers may be the extension's (tests switch it off to compare both kinds)."""


def extension_available() -> bool:
    """Whether the C buffer was built and is switched on."""
    return Records is not None and USE_EXTENSION


def new_buffer(extra_attributes: tuple[str, ...]) -> Any:
    """A :class:`~._records.Records` when :func:`extension_available` and no extra attributes split series.

    Else a list.
    """
    if extra_attributes or not extension_available():
        return []
    return Records(*READ_ATTRIBUTES)


def take(buffer: Any, n: int) -> Any:
    """Remove the oldest ``n`` records of ``buffer``: a list, or a :class:`~._records.RecordBatch`.

    Records appended meanwhile (by other threads) stay: they come after the first ``n``.
    """
    if type(buffer) is list:
        batch = buffer[:n]
        del buffer[:n]
        return batch
    return buffer.take(n)
