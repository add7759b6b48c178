"""The default rule pack, drawn from the reference systems and vLLM's shipped alerts; each rule switchable."""

from __future__ import annotations

from collections.abc import Mapping

from infertel.alerting._expr import Aggregate, Binary, Expr, RangeFunction, Scalar, Selector
from infertel.alerting._rules import Compiled, Rule, ThresholdRule
from infertel.alerting._signals import LIVE_REQUESTS, PROM_DURATION, either


class _NoTraffic(ThresholdRule):
    """No requests for ``window_s`` while the hour before had some (both dialects)."""

    def compile(self, dialect: str) -> Compiled:
        by = ("gen_ai_request_model",)

        def increase(offset_s: float, range_s: float) -> Expr:
            def one(series: str) -> Expr:
                return Aggregate("sum", RangeFunction("increase", Selector(series, (), offset_s), range_s), by=by)

            return one(LIVE_REQUESTS) if dialect == "live" else either(lambda h: one(h + "_count"), PROM_DURATION)

        now = increase(0.0, self.window_s)
        before = increase(self.window_s, 3600.0)
        condition = Binary("and", Binary("==", now, Scalar(0.0)), Binary(">", before, Scalar(0.0)))
        return Compiled((), (self._alert(condition),))


def _pack() -> dict[str, Rule]:
    rules: list[Rule] = [
        ThresholdRule("InfertelHighCpu", signal="cpu_utilization", op=">", threshold=0.8, for_s=300,
                      annotations={"summary": "CPU above 80% for 5 minutes ({{ $value | humanizePercentage }})"}),
        ThresholdRule("InfertelHighMemory", signal="memory_utilization", op=">", threshold=0.9, for_s=180,
                      annotations={"summary": "memory above 90% for 3 minutes ({{ $value | humanizePercentage }})"}),
        ThresholdRule("InfertelDiskFull", signal="disk_utilization", op=">", threshold=0.85, for_s=300,
                      annotations={"summary": "disk {{ $labels.mountpoint }} above 85% "
                                   "({{ $value | humanizePercentage }})"}),
        ThresholdRule("InfertelHighErrorRate", signal="error_rate", op=">", threshold=0.05, for_s=300,
                      severity="page",
                      annotations={"summary": "error rate of {{ $labels.gen_ai_request_model }} above 5% "
                                   "({{ $value | humanizePercentage }})"}),
        ThresholdRule("InfertelHighTtftP99", signal="ttft_p99", op=">", threshold=2.0, for_s=300,
                      annotations={"summary": "p99 time to first token of {{ $labels.gen_ai_request_model }} is "
                                   "{{ $value | humanizeDuration }}"}),
        ThresholdRule("InfertelHighTpotP99", signal="tpot_p99", op=">", threshold=0.2, for_s=300,
                      annotations={"summary": "p99 time per output token of {{ $labels.gen_ai_request_model }} is "
                                   "{{ $value | humanizeDuration }}"}),
        ThresholdRule("InfertelHighGpuMemory", signal="gpu_memory_utilization", op=">", threshold=0.95, for_s=300,
                      annotations={"summary": "GPU {{ $labels.hw_id }} memory above 95%"}),
        _NoTraffic("InfertelNoRequests", signal="requests_per_s", window_s=900, for_s=0,
                   annotations={"summary": "no requests to {{ $labels.gen_ai_request_model }} for 15 minutes"}),
    ]  # fmt: skip
    return {rule.name: rule for rule in rules}


DEFAULT_RULES: Mapping[str, Rule] = _pack()


def default_rules(*, disable: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> list[Rule]:
    """The default pack without the rules named in ``disable`` (or only those in ``only``).

    Raises:
        ValueError: a name is not in the pack.

    Example:
        >>> [r.name for r in default_rules(only=("InfertelHighCpu",))]
        ['InfertelHighCpu']
    """
    for name in (*disable, *(only or ())):
        if name not in DEFAULT_RULES:
            raise ValueError(f"default alert rule {name!r} does not exist; accepted: {', '.join(DEFAULT_RULES)}")
    return [r for name, r in DEFAULT_RULES.items() if name not in disable and (only is None or name in only)]
