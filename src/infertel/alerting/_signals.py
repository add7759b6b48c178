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

from infertel.alerting._expr import Aggregate, Binary, Expr, Quantile, RangeFunction, Scalar, Selector

DIALECTS = ("live", "prometheus")

LABEL_ALIASES = {"model": "gen_ai_request_model", "operation": "gen_ai_operation_name", "service": "service_name"}

# Prometheus names as the OpenTelemetry Prometheus exporter writes infertel's metrics: the server-side
# histograms (``infertel.observe`` in a serving process) or else the client-side ones (API clients).
PROM_DURATION = ("gen_ai_server_request_duration_seconds", "gen_ai_client_operation_duration_seconds")
PROM_TTFT = ("gen_ai_server_time_to_first_token_seconds", "gen_ai_client_operation_time_to_first_chunk_seconds")
PROM_TPOT = ("gen_ai_server_time_per_output_token_seconds", "gen_ai_client_operation_time_per_output_chunk_seconds")
PROM_TOKENS = "gen_ai_client_token_usage"
PROM_IN_FLIGHT = "infertel_gen_ai_in_flight"
PROM_CPU = "system_cpu_utilization"  # per cpu_mode, fractions of all CPUs
PROM_MEMORY = "system_memory_utilization"  # per system_memory_state
PROM_GPU_MEMORY = "hw_gpu_memory_utilization"
PROM_GPU_UTILIZATION = "hw_gpu_utilization"
NODE_FS_AVAIL, NODE_FS_SIZE = "node_filesystem_avail_bytes", "node_filesystem_size_bytes"  # node_exporter
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
CPU = "infertel_live_cpu_utilization"
MEMORY = "infertel_live_memory_utilization"
DISK = "infertel_live_filesystem_utilization"
GPU_MEMORY = "infertel_live_gpu_memory_utilization"
GPU_UTILIZATION = "infertel_live_gpu_utilization"

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
        >>> SIGNALS["requests_per_s"].expr("live", 300, ("gen_ai_request_model",), ()).promql()
        'sum by (gen_ai_request_model) (rate(infertel_live_requests_total[5m]))'
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


def _gauge(name: str) -> Builder:
    return lambda w, by, m: Aggregate("max", Selector(name, m), by=by)


def _live_quantile(name: str, q: str) -> Builder:
    return lambda w, by, m: Aggregate("max", Selector(name, (*m, ("quantile", "=", q))), by=by)


def either(make: Callable[[str], Expr], histograms: tuple[str, str]) -> Expr:
    """``make(server) or make(client)``: the server-side histogram where there is one, else the client's."""
    return Binary("or", make(histograms[0]), make(histograms[1]))


def _prom_quantile(names: tuple[str, str], q: float) -> Builder:
    return lambda w, by, m: either(
        lambda name: Quantile(
            q, Aggregate("sum", RangeFunction("rate", Selector(name + "_bucket", m), w), by=("le", *by))
        ),
        names,
    )


def error_ratio(bad: Expr, total: Expr) -> Expr:
    """``(bad or total * 0) / total``: zero rather than no value when nothing failed."""
    return Binary("/", Binary("or", bad, Binary("*", total, Scalar(0.0))), total)


def _prom_error_rate(w: float, by: tuple[str, ...], m: Matchers) -> Expr:
    return either(lambda h: error_ratio(_rate(h + "_count", w, by, (*m, ERROR_MATCHER)), _rate(h + "_count", w, by, m)),
                  PROM_DURATION)  # fmt: skip


def _prom_cpu(w: float, by: tuple[str, ...], m: Matchers) -> Expr:
    busy = Selector(PROM_CPU, (*m, ("cpu_mode", "!~", "idle|iowait")))
    return Aggregate("max", Aggregate("sum", busy, without=("cpu_mode",)), by=by)


def _prom_disk(w: float, by: tuple[str, ...], m: Matchers) -> Expr:
    used = Binary("-", Scalar(1.0), Binary("/", Selector(NODE_FS_AVAIL, m), Selector(NODE_FS_SIZE, m)))
    return Aggregate("max", used, by=by)


def _signals() -> dict[str, Signal]:
    signals = [
        Signal("requests_per_s", "1/s", lambda w, by, m: _rate(LIVE_REQUESTS, w, by, m),
               lambda w, by, m: either(lambda h: _rate(h + "_count", w, by, m), PROM_DURATION), "requests per second"),
        Signal("error_rate", "ratio",
               lambda w, by, m: error_ratio(_rate(LIVE_ERRORS, w, by, m), _rate(LIVE_REQUESTS, w, by, m)),
               _prom_error_rate, "failed requests / requests"),
        Signal("output_tokens_per_s", "1/s", lambda w, by, m: _rate(LIVE_OUTPUT_TOKENS, w, by, m),
               lambda w, by, m: _rate(PROM_TOKENS + "_sum", w, by, (*m, ("gen_ai_token_type", "=", "output"))),
               "output tokens per second"),
        Signal("in_flight", "count", lambda w, by, m: Aggregate("sum", Selector(LIVE_IN_FLIGHT, m), by=by),
               lambda w, by, m: Aggregate("sum", Selector(PROM_IN_FLIGHT, m), by=by), "requests in flight"),
        Signal("cpu_utilization", "ratio", _gauge(CPU), _prom_cpu, "system CPU busy fraction", ()),
        Signal("memory_utilization", "ratio", _gauge(MEMORY),
               lambda w, by, m: Aggregate("max", Selector(PROM_MEMORY, (*m, ("system_memory_state", "=", "used"))),
                                          by=by),
               "system memory in use", ()),
        Signal("disk_utilization", "ratio", _gauge(DISK), _prom_disk,
               "filesystem space in use (Prometheus: node_exporter's filesystem metrics)", ("mountpoint",)),
        Signal("gpu_memory_utilization", "ratio", _gauge(GPU_MEMORY), _gauge(PROM_GPU_MEMORY), "GPU memory in use",
               ("hw_id",)),
        Signal("gpu_utilization", "ratio", _gauge(GPU_UTILIZATION), _gauge(PROM_GPU_UTILIZATION), "GPU busy fraction",
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

LATENCY_SLI_SERIES = {"live": (LIVE_REQUESTS, LIVE_SLOW)}
"""Total and "slower than le" counters of the latency SLI in process."""


def label_name(name: str) -> str:
    """The Prometheus label for ``name`` (``model`` -> ``gen_ai_request_model``).

    Example:
        >>> label_name("model"), label_name("hw_id")
        ('gen_ai_request_model', 'hw_id')
    """
    return LABEL_ALIASES.get(name, name)
