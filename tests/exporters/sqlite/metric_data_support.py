"""Helpers shared by the sqlite exporter's metric tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any


def at_time(data: Any, time_ns: int) -> Any:
    """``MetricsData`` with every point's time set to ``time_ns`` (start times kept: cumulative series go on)."""
    return replace(data, resource_metrics=[
        replace(rm, scope_metrics=[
            replace(sm, metrics=[
                replace(m, data=replace(m.data, data_points=[
                    replace(p, time_unix_nano=time_ns) for p in m.data.data_points]))
                for m in sm.metrics])
            for sm in rm.scope_metrics])
        for rm in data.resource_metrics])  # fmt: skip
