"""The panel model: every chart of the dashboard and of the Grafana dashboard, as plain data.

One :class:`Panel` per chart says what to draw from the local store (``store_query``, ``group_by``,
``where`` for ``SQLiteStore.timeseries``) and from Prometheus (``promql``), in which unit, and from
which value a reading turns ``warn`` or ``crit``. The HTML pages, the JSON API and
:func:`infertel.dashboard.grafana.grafana_dashboard` are thin views of :data:`PANELS`.

The PromQL uses the names ``opentelemetry-exporter-prometheus`` gives infertel's metrics (dots become
underscores, the unit becomes a suffix such as ``_seconds`` or ``_bytes``, counters end in ``_total``,
histograms are ``_bucket``/``_sum``/``_count``) and Grafana's variables ``$service`` and ``$model``
(regular expressions, ``.*`` for all) and ``$__rate_interval``. Resource attributes are not labels of
the series: ``service.name`` is a label of ``target_info`` only, so every expression joins on
``(job, instance)``, which works for a direct scrape of ``configure(prometheus_port=...)``, for the
OpenTelemetry Collector's Prometheus exporter and for Prometheus' OTLP receiver alike.

GenAI panels read the server-side histograms (``gen_ai.server.*``, in-process models) and the
client-side ones (``gen_ai.client.*``, remote APIs); a model recorded under both shows the server's.

Example:
    >>> from infertel.dashboard.panels import format_value, panel, status_of
    >>> p95 = panel("latency_p95")
    >>> format_value(p95, 0.42), status_of(p95, 0.42)
    ('420 ms', 'ok')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from infertel import semconv
from infertel.dashboard import _promql as pq
from infertel.dashboard._promql import PROMETHEUS_LABELS as PROMETHEUS_LABELS
from infertel.dashboard._promql import prometheus_label as prometheus_label

PAGES: tuple[str, ...] = ("overview", "resources")
"""The pages panels belong to, in display order."""

UNITS: tuple[str, ...] = (
    "req/s", "s", "ratio", "tok/s", "bytes", "bytes/s", "percent", "W", "celsius", "count", "cores",
)  # fmt: skip
"""Units a panel may have: ``ratio`` is a fraction 0..1 shown as a percentage, ``percent`` is already 0..100,
``cores`` is CPU seconds per second."""

STATUSES: tuple[str, ...] = ("ok", "warn", "crit", "none")
"""What :func:`status_of` answers, from best to worst; ``none`` means no data."""


@dataclass(frozen=True)
class Threshold:
    """A value from which a panel's reading is ``warn`` or ``crit``.

    Attributes:
        value: The boundary, in the panel's unit (``ratio`` panels: a fraction 0..1).
        status: ``"warn"`` or ``"crit"``. Whether the boundary is crossed from below or above
            depends on :attr:`Panel.higher_is_worse`.

    Example:
        >>> Threshold(0.05, "crit").status
        'crit'
    """

    value: float
    status: str


@dataclass(frozen=True)
class Panel:
    """One chart: its store query, its PromQL, its unit and its thresholds.

    Attributes:
        id: Stable identifier (``latency_p95``); also the Grafana panel's key.
        title: Human title.
        unit: One of :data:`UNITS`.
        page: ``"overview"`` or ``"resources"``.
        store_query: A ``SQLiteStore.timeseries`` query: a rollup name or ``metric:<name>[:<stat>]``.
        group_by: ``group_by`` of the store query (one series per distinct value).
        promql: The Prometheus expression, with ``$service``, ``$model`` and ``$__rate_interval``.
        thresholds: Boundaries from which a value is ``warn`` / ``crit``.
        higher_is_worse: Whether values above a threshold are bad (else below).
        description: What the chart shows, in one or two sentences.
        where: Exact attribute matches of the store query (``where=`` of ``SQLiteStore.timeseries``).
        requires_gpu: Data exists only where NVML sees a GPU.

    Example:
        >>> panel("error_rate").thresholds[0]
        Threshold(value=0.01, status='warn')
    """

    id: str
    title: str
    unit: str
    page: str
    store_query: str
    group_by: tuple[str, ...]
    promql: str
    thresholds: tuple[Threshold, ...] = ()
    higher_is_worse: bool = True
    description: str = ""
    where: tuple[tuple[str, str], ...] = ()
    requires_gpu: bool = False

    @property
    def prometheus_group_by(self) -> tuple[str, ...]:
        """``group_by`` as Prometheus labels (``model`` -> ``gen_ai_request_model``, dots -> underscores).

        Example:
            >>> panel("latency_p95").prometheus_group_by
            ('gen_ai_request_model',)
        """
        return tuple(prometheus_label(key) for key in self.group_by)


# --- The panels ----------------------------------------------------------------------------------
_BY_MODEL = ("model",)
_GPU = (semconv.HW_NAME, semconv.HW_ID)
_GPU_TYPE = ((semconv.HW_TYPE, semconv.HW_TYPE_GPU),)
_GPU_GENERAL = ((semconv.HW_GPU_TASK, semconv.HW_GPU_TASK_GENERAL),)
_MEMORY_USED = ((semconv.SYSTEM_MEMORY_STATE, "used"),)


def _latency(q: int, warn: float, crit: float) -> Panel:
    return Panel(
        id=f"latency_p{q}", title=f"Latency p{q}", unit="s", page="overview", store_query=f"latency_p{q}",
        group_by=_BY_MODEL,
        promql=pq.server_or_client(pq.quantile(q / 100, pq.SERVER_DURATION), pq.quantile(q / 100, pq.CLIENT_DURATION)),
        thresholds=(Threshold(warn, "warn"), Threshold(crit, "crit")),
        description=f"{q}th percentile of the request duration per model (whole call, streams until their end).",
    )  # fmt: skip


def _ttft(q: int, warn: float, crit: float) -> Panel:
    return Panel(
        id=f"ttft_p{q}", title=f"Time to first token p{q}", unit="s", page="overview", store_query=f"ttft_p{q}",
        group_by=_BY_MODEL,
        promql=pq.server_or_client(pq.quantile(q / 100, pq.SERVER_TTFT), pq.quantile(q / 100, pq.CLIENT_TTFT)),
        thresholds=(Threshold(warn, "warn"), Threshold(crit, "crit")),
        description=f"{q}th percentile of the time from the call to the first token of streamed responses.",
    )  # fmt: skip


def _tpot(q: int, warn: float, crit: float) -> Panel:
    return Panel(
        id=f"tpot_p{q}", title=f"Time per output token p{q}", unit="s", page="overview", store_query=f"tpot_p{q}",
        group_by=_BY_MODEL,
        promql=pq.server_or_client(pq.quantile(q / 100, pq.SERVER_TPOT), pq.quantile(q / 100, pq.CLIENT_TPOT)),
        thresholds=(Threshold(warn, "warn"), Threshold(crit, "crit")),
        description=f"{q}th percentile of the time between output tokens after the first (decode speed).",
    )  # fmt: skip


PANELS: tuple[Panel, ...] = (
    # Overview: GenAI requests per model.
    Panel(
        id="requests_per_s", title="Requests per second", unit="req/s", page="overview",
        store_query="requests_per_s", group_by=_BY_MODEL, promql=pq.requests_per_s(),
        description="Requests that ended per second, per model (errors included).",
    ),
    Panel(
        id="error_rate", title="Error rate", unit="ratio", page="overview", store_query="error_rate",
        group_by=_BY_MODEL, promql=pq.error_rate(), thresholds=(Threshold(0.01, "warn"), Threshold(0.05, "crit")),
        description="Failed requests (error.type set) over all requests, per model.",
    ),
    _latency(50, 1.0, 3.0),
    _latency(95, 3.0, 8.0),
    _latency(99, 5.0, 15.0),
    _ttft(50, 0.5, 1.5),
    _ttft(95, 1.0, 3.0),
    _tpot(50, 0.05, 0.1),
    _tpot(95, 0.1, 0.25),
    Panel(
        id="input_tokens_per_s", title="Input tokens per second", unit="tok/s", page="overview",
        store_query="input_tokens_per_s", group_by=_BY_MODEL, promql=pq.tokens_per_s(semconv.GEN_AI_TOKEN_TYPE_INPUT),
        description="Prompt tokens sent to each model per second.",
    ),
    Panel(
        id="output_tokens_per_s", title="Output tokens per second", unit="tok/s", page="overview",
        store_query="output_tokens_per_s", group_by=_BY_MODEL,
        promql=pq.tokens_per_s(semconv.GEN_AI_TOKEN_TYPE_OUTPUT),
        description="Tokens generated by each model per second.",
    ),
    Panel(
        id="in_flight", title="Requests in flight", unit="count", page="overview", store_query="in_flight",
        group_by=_BY_MODEL,
        promql=pq.per_model(pq.selector(pq.IN_FLIGHT, pq.MODEL_MATCH)),
        description="Requests started and not yet ended, summed over the service's processes.",
    ),
    # Resources: host, process and GPU.
    Panel(
        id="cpu_utilization", title="Host CPU utilization by mode", unit="ratio", page="resources",
        store_query=f"metric:{semconv.SYSTEM_CPU_UTILIZATION}:avg", group_by=(semconv.CPU_MODE,),
        promql=pq.gauge(semconv.SYSTEM_CPU_UTILIZATION, "", (semconv.CPU_MODE,)),
        description="Fraction of the host's CPU time spent in each mode (idle included).",
    ),
    Panel(
        id="process_cpu", title="Process CPU", unit="cores", page="resources",
        store_query=f"metric:{semconv.PROCESS_CPU_TIME}:rate", group_by=("service",),
        promql=pq.counter_rate(semconv.PROCESS_CPU_TIME, "_seconds_total", ("service",)),
        description="CPU seconds per second used by the service's processes (1 = one core busy).",
    ),
    Panel(
        id="memory_utilization", title="Host memory used", unit="ratio", page="resources",
        store_query=f"metric:{semconv.SYSTEM_MEMORY_UTILIZATION}:avg", group_by=(), where=_MEMORY_USED,
        promql=pq.gauge(semconv.SYSTEM_MEMORY_UTILIZATION, "", (), _MEMORY_USED),
        thresholds=(Threshold(0.85, "warn"), Threshold(0.95, "crit")),
        description="Fraction of the host's memory in use.",
    ),
    Panel(
        id="process_memory", title="Process resident memory", unit="bytes", page="resources",
        store_query=f"metric:{semconv.PROCESS_MEMORY_USAGE}:avg", group_by=("service",),
        promql=pq.gauge(semconv.PROCESS_MEMORY_USAGE, "_bytes", ("service",)),
        description="Resident memory of the service's processes (average per process).",
    ),
    Panel(
        id="disk_io", title="Disk I/O", unit="bytes/s", page="resources",
        store_query=f"metric:{semconv.SYSTEM_DISK_IO}:rate", group_by=(semconv.DISK_IO_DIRECTION,),
        promql=pq.host_counter_rate(semconv.SYSTEM_DISK_IO, "_bytes_total", (semconv.DISK_IO_DIRECTION,)),
        description="Bytes read from and written to the host's disks per second.",
    ),
    Panel(
        id="network_io", title="Network I/O", unit="bytes/s", page="resources",
        store_query=f"metric:{semconv.SYSTEM_NETWORK_IO}:rate", group_by=(semconv.NETWORK_IO_DIRECTION,),
        promql=pq.host_counter_rate(semconv.SYSTEM_NETWORK_IO, "_bytes_total", (semconv.NETWORK_IO_DIRECTION,)),
        description="Bytes received and transmitted by the host's network interfaces per second.",
    ),
    Panel(
        id="gpu_utilization", title="GPU utilization", unit="ratio", page="resources",
        store_query=f"metric:{semconv.HW_GPU_UTILIZATION}:avg", group_by=_GPU, where=_GPU_GENERAL,
        promql=pq.gauge(semconv.HW_GPU_UTILIZATION, "", _GPU, _GPU_GENERAL), requires_gpu=True,
        description="Fraction of time each GPU was busy running kernels.",
    ),
    Panel(
        id="gpu_memory_utilization", title="GPU memory used", unit="ratio", page="resources",
        store_query=f"metric:{semconv.HW_GPU_MEMORY_UTILIZATION}:avg", group_by=_GPU,
        promql=pq.gauge(semconv.HW_GPU_MEMORY_UTILIZATION, "", _GPU),
        thresholds=(Threshold(0.9, "warn"), Threshold(0.98, "crit")), requires_gpu=True,
        description="Fraction of each GPU's memory in use.",
    ),
    Panel(
        id="gpu_power", title="GPU power", unit="W", page="resources",
        store_query=f"metric:{semconv.HW_POWER}:avg", group_by=_GPU, where=_GPU_TYPE,
        promql=pq.gauge(semconv.HW_POWER, "_watts", _GPU, _GPU_TYPE), requires_gpu=True,
        description="Power drawn by each GPU.",
    ),
    Panel(
        id="gpu_temperature", title="GPU temperature", unit="celsius", page="resources",
        store_query=f"metric:{semconv.HW_TEMPERATURE}:avg", group_by=_GPU, where=_GPU_TYPE,
        promql=pq.gauge(semconv.HW_TEMPERATURE, "_celsius", _GPU, _GPU_TYPE),
        thresholds=(Threshold(80.0, "warn"), Threshold(90.0, "crit")), requires_gpu=True,
        description="Temperature of each GPU die.",
    ),
    Panel(
        id="gpu_process_memory", title="GPU memory per process", unit="bytes", page="resources",
        store_query=f"metric:{semconv.INFERTEL_GPU_PROCESS_MEMORY_USAGE}:avg",
        group_by=(semconv.HW_NAME, semconv.PROCESS_PID),
        promql=pq.gauge(semconv.INFERTEL_GPU_PROCESS_MEMORY_USAGE, "_bytes", (semconv.HW_NAME, semconv.PROCESS_PID)),
        requires_gpu=True,
        description="GPU memory held by each process on each GPU (host PIDs, as NVML reports them).",
    ),
)  # fmt: skip
"""Every panel, overview first, in display order."""

_BY_ID = {p.id: p for p in PANELS}


def panels(page: str) -> list[Panel]:
    """The panels of one page, in display order.

    Raises:
        ValueError: ``page`` is not one of :data:`PAGES`.

    Example:
        >>> [p.id for p in panels("overview")][:2]
        ['requests_per_s', 'error_rate']
    """
    if page not in PAGES:
        raise ValueError(f"page must be one of {', '.join(PAGES)}, got {page!r}")
    return [p for p in PANELS if p.page == page]


def panel(panel_id: str) -> Panel:
    """The panel with this id.

    Raises:
        ValueError: No panel has this id.

    Example:
        >>> panel("in_flight").unit
        'count'
    """
    try:
        return _BY_ID[panel_id]
    except KeyError:
        raise ValueError(f"panel must be one of {', '.join(_BY_ID)}, got {panel_id!r}") from None


def promql(panel: Panel, *, service: str = ".*", model: str = ".*", rate_interval: str = "1m") -> str:
    """The panel's PromQL with the Grafana variables replaced, ready for Prometheus' HTTP API.

    Args:
        panel: The panel.
        service: Regular expression for ``$service``.
        model: Regular expression for ``$model``.
        rate_interval: Range for ``$__rate_interval`` (e.g. ``"1m"``; at least four scrape intervals).

    Example:
        >>> "[1m]" in promql(panel("requests_per_s"))
        True
    """
    text = panel.promql.replace("$__rate_interval", rate_interval)
    return text.replace("$service", service).replace("$model", model)


def status_of(panel: Panel, value: float | None) -> str:
    """``"ok"``, ``"warn"`` or ``"crit"`` for a reading of ``panel``; ``"none"`` when there is no value.

    Example:
        >>> error_rate = panel("error_rate")
        >>> [status_of(error_rate, v) for v in (0.0, 0.02, 0.05, None)]
        ['ok', 'warn', 'crit', 'none']
    """
    if value is None or math.isnan(value):
        return "none"
    worst = "ok"
    for threshold in panel.thresholds:
        crossed = value >= threshold.value if panel.higher_is_worse else value <= threshold.value
        if crossed and STATUSES.index(threshold.status) > STATUSES.index(worst):
            worst = threshold.status
    return worst


def format_value(panel: Panel, value: float | None) -> str:
    """A reading of ``panel`` for people: ``"12.3 req/s"``, ``"420 ms"``, ``"3.1%"``, ``"1.5 GiB"``; ``"—"`` for none.

    Example:
        >>> format_value(panel("requests_per_s"), 12.34), format_value(panel("error_rate"), 0.031)
        ('12.3 req/s', '3.1%')
    """
    if value is None or math.isnan(value):
        return "—"
    return format_unit(panel.unit, value)


def format_unit(unit: str, value: float) -> str:
    """``value`` in ``unit`` (one of :data:`UNITS`) for people.

    Example:
        >>> format_unit("s", 0.000250), format_unit("bytes", 3 * 2**30)
        ('250 µs', '3.00 GiB')
    """
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if unit == "s":
        return _seconds(value)
    if unit == "ratio":
        return _percent(value * 100)
    if unit == "percent":
        return _percent(value)
    if unit in ("bytes", "bytes/s"):
        return _bytes(value) + ("/s" if unit == "bytes/s" else "")
    suffix = {"req/s": " req/s", "tok/s": " tok/s", "W": " W", "celsius": " °C", "cores": " cores"}.get(unit, "")
    return _number(value) + suffix


def _number(value: float) -> str:
    """Three significant digits, no exponent for everyday magnitudes."""
    magnitude = abs(value)
    if magnitude >= 999.5:  # where "%.3g" would switch to an exponent
        return f"{value:,.0f}"
    if magnitude == 0:
        return "0"
    if magnitude < 0.0009995:
        return f"{value:.2e}"
    return f"{value:.3g}"


def _seconds(value: float) -> str:
    magnitude = abs(value)
    if magnitude >= 0.9995 or magnitude == 0:
        return f"{_number(value)} s"
    if magnitude >= 0.9995e-3:
        return f"{_number(value * 1e3)} ms"
    return f"{_number(value * 1e6)} µs"


def _percent(value: float) -> str:
    if value == 0:
        return "0%"
    return f"{value:.1f}%" if abs(value) >= 0.1 else f"{value:.2g}%"


def _bytes(value: float) -> str:
    if abs(value) < 1024:
        return f"{value:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if abs(value) < 1024:
            return f"{value:.2f} {unit}"
    return f"{value / 1024:.2f} TiB"
