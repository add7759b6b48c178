"""Read metrics back from an InMemoryMetricReader as plain structures for exact assertions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics.export import Gauge, InMemoryMetricReader, Sum


@dataclass
class Read:
    unit: str
    kind: str  # "gauge", "counter" (monotonic sum) or "updowncounter"
    points: dict[frozenset[tuple[str, Any]], float]  # attributes -> value

    def by(self, **match: Any) -> dict[frozenset[tuple[str, Any]], float]:
        """Points whose attributes include ``match`` (dots in keys written as ``__``)."""
        want = {key.replace("__", "."): value for key, value in match.items()}
        return {attrs: value for attrs, value in self.points.items() if want.items() <= dict(attrs).items()}

    def value(self, **match: Any) -> float:
        found = self.by(**match)
        assert len(found) == 1, f"expected one point matching {match}, got {found}"
        return next(iter(found.values()))


def collect(reader: InMemoryMetricReader, scope: str | None = None) -> dict[str, Read]:
    data = reader.get_metrics_data()
    out: dict[str, Read] = {}
    if data is None:
        return out
    for resource_metrics in data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            if scope is not None and scope_metrics.scope.name != scope:
                continue
            for metric in scope_metrics.metrics:
                if isinstance(metric.data, Gauge):
                    kind = "gauge"
                elif isinstance(metric.data, Sum):
                    kind = "counter" if metric.data.is_monotonic else "updowncounter"
                else:
                    kind = type(metric.data).__name__
                points = {frozenset(p.attributes.items()): p.value for p in metric.data.data_points}
                if points:
                    out[metric.name] = Read(metric.unit, kind, points)
    return out
