"""The quantities rules watch, each as an in-process expression and a Prometheus one.

Two dialects name the same quantity:

* ``"live"``: series the engine samples in process each round (:mod:`._sources`): counters
  integrated from ``infertel.stats()``, its windowed quantiles, and the resource snapshot;
* ``"prometheus"``: the series infertel's Prometheus endpoint exposes
  (``gen_ai_client_operation_duration_seconds_bucket`` ...), the rendering used by
  ``infertel prometheus-rules``.

Resource signals use the same series names in both. Labels are the Prometheus label names;
``model`` and ``operation`` are accepted as aliases in ``by`` and ``where``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from infertel.alerting._expr import Aggregate, Binary, Expr, Quantile, RangeFunction, Selector

DIALECTS = ("live", "prometheus")

LABEL_ALIASES = {"model": "gen_ai_request_model", "operation": "gen_ai_operation_name", "service": "service_name"}

# Prometheus names as the OpenTelemetry Prometheus exporter writes infertel's metrics.
PROM_DURATION = "gen_ai_client_operation_duration_seconds"
PROM_TTFT = "gen_ai_client_operation_time_to_first_chunk_seconds"
PROM_TPOT = "gen_ai_client_operation_time_per_output_chunk_seconds"
PROM_TOKENS = "gen_ai_client_token_usage"
PROM_IN_FLIGHT = "infertel_gen_ai_in_flight"
ERROR_MATCHER = ("error_type", "!=", "")

# Series the live source writes (see _sources.LiveSource).
LIVE_REQUESTS = "infertel_live_requests_total"
LIVE_ERRORS = "infertel_live_errors_total"
LIVE_SLOW = "infertel_live_slow_requests_total"
LIVE_OUTPUT_TOKENS = "infertel_live_output_tokens_total"
LIVE_LATENCY = "infertel_live_latency_seconds"
LIVE_TTFT = "infertel_live_ttft_seconds"
LIVE_TPOT = "infertel_live_tpot_seconds"
LIVE_IN_FLIGHT = "infertel_live_in_flight"
CPU = "system_cpu_utilization_ratio"
MEMORY = "system_memory_utilization_ratio"
DISK = "system_filesystem_utilization_ratio"
GPU_MEMORY = "hw_gpu_memory_utilization_ratio"
GPU_UTILIZATION = "hw_gpu_utilization_ratio"

Matchers = tuple[tuple[str, str, str], ...]
Builder = Callable[[float, tuple[str, ...], Matchers], Expr]


@dataclass(frozen=True)
class Signal:
    """A named quantity with its expression in each dialect.

    Attributes:
        name: The catalog key used in rules (``"latency_p99"``).
        unit: ``"s"``, ``"ratio"``, ``"1/s"``, ``"count"``.
        live: ``(window_s, by, matchers) -> Expr`` over the live series.
        prometheus: The same over Prometheus' series.
        description: One line for docs and annotations.

    Example:
        >>> SIGNALS["error_rate"].expr("prometheus", 300, ("gen_ai_request_model",), ()).promql()[:20]
        '(sum by (gen_ai_requ'
    """

    name: str
    unit: str
    live: Builder
    prometheus: Builder
    description: str
    by: tuple[str, ...] = ("model",)
    """Labels a rule keeps by default (``()`` for host-wide resources)."""

    def expr(self, dialect: str, window_s: float, by: tuple[str, ...], matchers: Matchers) -> Expr:
        """The expression in ``dialect`` (``"live"`` or ``"prometheus"``)."""
        builder = self.live if dialect == "live" else self.prometheus
        return builder(window_s, by, matchers)


def _rate(name: str, window_s: float, by: tuple[str, ...], matchers: Matchers) -> Expr:
    return Aggregate("sum", RangeFunction("rate", Selector(name, matchers), window_s), by=by)


def _ratio(bad: Expr, total: Expr) -> Expr:
    return Binary("/", bad, total)


def _gauge(name: str) -> Builder:
    return lambda w, by, m: Aggregate("max", Selector(name, m), by=by)


def _live_quantile(name: str, q: str) -> Builder:
    return lambda w, by, m: Aggregate("max", Selector(name, (*m, ("quantile", "=", q))), by=by)


def _prom_quantile(name: str, q: float) -> Builder:
    return lambda w, by, m: Quantile(
        q, Aggregate("sum", RangeFunction("rate", Selector(name + "_bucket", m), w), by=("le", *by))
    )


def _signals() -> dict[str, Signal]:
    signals = [
        Signal("requests_per_s", "1/s", lambda w, by, m: _rate(LIVE_REQUESTS, w, by, m),
               lambda w, by, m: _rate(PROM_DURATION + "_count", w, by, m), "requests per second"),
        Signal("error_rate", "ratio",
               lambda w, by, m: _ratio(_rate(LIVE_ERRORS, w, by, m), _rate(LIVE_REQUESTS, w, by, m)),
               lambda w, by, m: _ratio(_rate(PROM_DURATION + "_count", w, by, (*m, ERROR_MATCHER)),
                                       _rate(PROM_DURATION + "_count", w, by, m)),
               "failed requests / requests"),
        Signal("output_tokens_per_s", "1/s", lambda w, by, m: _rate(LIVE_OUTPUT_TOKENS, w, by, m),
               lambda w, by, m: _rate(PROM_TOKENS + "_sum", w, by, (*m, ("gen_ai_token_type", "=", "output"))),
               "output tokens per second"),
        Signal("in_flight", "count", lambda w, by, m: Aggregate("sum", Selector(LIVE_IN_FLIGHT, m), by=by),
               lambda w, by, m: Aggregate("sum", Selector(PROM_IN_FLIGHT, m), by=by), "requests in flight"),
        Signal("cpu_utilization", "ratio", _gauge(CPU), _gauge(CPU), "system CPU busy fraction", ()),
        Signal("memory_utilization", "ratio", _gauge(MEMORY), _gauge(MEMORY), "system memory in use", ()),
        Signal("disk_utilization", "ratio", _gauge(DISK), _gauge(DISK), "filesystem space in use", ("mountpoint",)),
        Signal("gpu_memory_utilization", "ratio", _gauge(GPU_MEMORY), _gauge(GPU_MEMORY), "GPU memory in use",
               ("hw_id",)),
        Signal("gpu_utilization", "ratio", _gauge(GPU_UTILIZATION), _gauge(GPU_UTILIZATION), "GPU busy fraction",
               ("hw_id",)),
    ]  # fmt: skip
    for label, live, prom in (("latency", LIVE_LATENCY, PROM_DURATION), ("ttft", LIVE_TTFT, PROM_TTFT),
                              ("tpot", LIVE_TPOT, PROM_TPOT)):  # fmt: skip
        for q, suffix in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99")):
            signals.append(
                Signal(
                    f"{label}_{suffix}",
                    "s",
                    _live_quantile(live, str(q)),
                    _prom_quantile(prom, q),
                    f"{suffix} {label} in seconds",
                )  # fmt: skip
            )
    return {s.name: s for s in signals}


SIGNALS: Mapping[str, Signal] = _signals()
"""Every signal by name."""

LATENCY_SLI_SERIES = {
    "live": (LIVE_REQUESTS, LIVE_SLOW),
    "prometheus": (PROM_DURATION + "_count", PROM_DURATION + "_bucket"),
}
"""Total and "faster than le" counters of the latency SLI, per dialect."""

ERROR_SLI_SERIES = {
    "live": (LIVE_REQUESTS, LIVE_ERRORS),
    "prometheus": (PROM_DURATION + "_count", PROM_DURATION + "_count"),
}
"""Total and failed counters of the error SLI, per dialect (Prometheus: errors carry ``error_type``)."""


def label_name(name: str) -> str:
    """The Prometheus label for ``name`` (``model`` -> ``gen_ai_request_model``).

    Example:
        >>> label_name("model"), label_name("hw_id")
        ('gen_ai_request_model', 'hw_id')
    """
    return LABEL_ALIASES.get(name, name)
