"""On-demand, time-boxed CPU profiles and heap snapshots of the serving process.

Off by default and free while off: no thread, no hook, no tracing until a profile is started.

Owner (issue 15, point 7): helper ``h15-analysis``.
"""

from __future__ import annotations
