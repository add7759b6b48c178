"""The table of counted parents: one count per request between nested GenAI spans of one series.

When a counted GenAI span has a parent, the fold remembers the parent's span id with the span's
series key until that parent ends: a parent of the same series is the same request (an HTTP
server span that learns its GenAI attributes at its end, around the in-process model call; a
wrapper observed with the same model and operation), not counted again. Every parent is
remembered, whatever it is when the child ends: the FastAPI middleware sets the server span's
``gen_ai.*`` attributes only when the response is sent, so a parent that is not (yet) a GenAI
span may still become one. Most parents never end as GenAI spans (plain HTTP server spans), so
the table is bounded and forgets its oldest entries.

Why two plain dicts: an ``OrderedDict`` that forgets its oldest entry on each insert past the
bound costs about 0.17 µs per GenAI span with a parent (a node per entry, ``popitem(last=False)``);
a plain dict cannot forget its oldest entry cheaply (``next(iter(d))`` scans the slots deleted
before it: about 2 µs at 4,096 entries). Here a parent goes into ``young`` (a plain dict insert);
when ``young`` holds more than the bound it becomes ``old`` and the previous ``old`` is forgotten
at once. A lookup pops the id from both (``young`` holds the newer key when both have it).

What it remembers: at least what an ``OrderedDict`` of the same bound (the table before) did, at
most ``2 * bound + 1`` entries. ``old`` is forgotten when ``young`` holds more than ``bound`` live entries,
all newer than every entry of ``old``; an ``OrderedDict`` holding an entry of ``old`` would then
hold more than ``bound`` entries newer than it, so it would have forgotten that entry already
(it forgets oldest first, one at a time). So the statistics are the same wherever the
``OrderedDict`` found the parent; where it had forgotten it (more than ``bound`` parents pending
at once), this table may still find it, and the request counts once instead of twice.
"""

from __future__ import annotations

from typing import Any

MAX_PENDING_PARENTS = 4096
"""Live entries of ``young`` before it becomes ``old``: parents of counted GenAI spans are remembered
until they end: at least the newest 4,096 of those still pending, at most 8,193 entries."""


class ParentTable:
    """Parent span id -> series key of a counted GenAI child, in two generations (see the module docstring).

    Only the fold touches it (under the statistics lock); :meth:`clear` empties it in place.

    Example:
        >>> table = ParentTable()
        >>> table.young[0x1234] = ("m", "chat")
        >>> table.items(), len(table)
        ([(4660, ('m', 'chat'))], 1)
    """

    __slots__ = ("old", "young")

    def __init__(self) -> None:
        self.young: dict[int, Any] = {}
        self.old: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.young) + len(self.old)

    def __bool__(self) -> bool:
        return bool(self.young or self.old)

    def items(self) -> list[tuple[int, Any]]:
        """Every entry, ``old`` then ``young`` (oldest first within each), for tests and debugging."""
        return [*self.old.items(), *self.young.items()]

    def clear(self) -> None:
        """Forget every parent (after a fork)."""
        self.young.clear()
        self.old.clear()
