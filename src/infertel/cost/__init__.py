"""Per-request cost from a user price table, recorded on spans and as counters.

Owner (issue 15, point 6): helper ``h15-analysis``.
"""

from __future__ import annotations
