"""PromQL building blocks of the panel model (:mod:`infertel.dashboard.panels`).

Metric names are the ones ``opentelemetry-exporter-prometheus`` writes for infertel's instruments (dots
become underscores, the unit a suffix, counters end in ``_total``); every expression keeps the series of
the processes whose ``service.name`` (a label of ``target_info`` only) matches ``$service``.
"""

from __future__ import annotations

import re

from infertel import semconv

PROMETHEUS_LABELS: dict[str, str] = {
    "model": "gen_ai_request_model",
    "service": "service_name",
    "operation": "gen_ai_operation_name",
    "error_type": "error_type",
}
"""Store ``group_by`` keys that are not metric attributes -> the Prometheus label holding them."""


def prometheus_label(key: str) -> str:
    """The Prometheus label of a store ``group_by`` key or an attribute name.

    Example:
        >>> prometheus_label("model"), prometheus_label("network.io.direction")
        ('gen_ai_request_model', 'network_io_direction')
    """
    return PROMETHEUS_LABELS.get(key) or re.sub(r"[^a-zA-Z0-9_]", "_", key)


# --- PromQL building blocks ------------------------------------------------------------------------
_RATE = "[$__rate_interval]"
_MODEL = prometheus_label("model")
_SERVICE = prometheus_label("service")
_HOST = prometheus_label("host.name")
MODEL_MATCH = f'{_MODEL}=~"$model"'
_SERVICE_JOIN = f'* on (job, instance) group_left ({_SERVICE}) target_info{{{_SERVICE}=~"$service"}}'
"""Keeps the series of processes whose ``service.name`` matches ``$service`` and adds that label."""


def name(otel_name: str, suffix: str = "") -> str:
    """The Prometheus metric name the exporter writes for ``otel_name`` (``suffix``: unit, ``_total`` ...)."""
    return otel_name.replace(".", "_") + suffix


def selector(metric: str, *matchers: str) -> str:
    return f"{metric}{{{','.join(matchers)}}}" if matchers else metric


def per_model(inner: str) -> str:
    return f"sum by ({_MODEL}) ({inner} {_SERVICE_JOIN})"


def model_rate(metric: str, *matchers: str) -> str:
    """Per-model rate of a counter or of a histogram's ``_count`` / ``_sum`` in the selected services."""
    return per_model(f"rate({selector(metric, MODEL_MATCH, *matchers)}{_RATE})")


def quantile(q: float, histogram: str) -> str:
    inner = f"rate({selector(histogram + '_bucket', MODEL_MATCH)}{_RATE})"
    return f"histogram_quantile({q}, sum by (le, {_MODEL}) ({inner} {_SERVICE_JOIN}))"


def server_or_client(server: str, client: str) -> str:
    """The server-side expression per model, else the client-side one (``or`` matches on the model label)."""
    return f"{server} or {client}"


SERVER_DURATION = name(semconv.GEN_AI_SERVER_REQUEST_DURATION, "_seconds")
CLIENT_DURATION = name(semconv.GEN_AI_CLIENT_OPERATION_DURATION, "_seconds")
SERVER_TTFT = name(semconv.GEN_AI_SERVER_TIME_TO_FIRST_TOKEN, "_seconds")
CLIENT_TTFT = name(semconv.GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK, "_seconds")
SERVER_TPOT = name(semconv.GEN_AI_SERVER_TIME_PER_OUTPUT_TOKEN, "_seconds")
CLIENT_TPOT = name(semconv.GEN_AI_CLIENT_TIME_PER_OUTPUT_CHUNK, "_seconds")
_TOKEN_USAGE = name(semconv.GEN_AI_CLIENT_TOKEN_USAGE)
IN_FLIGHT = name(semconv.INFERTEL_GEN_AI_IN_FLIGHT)
_ERRORS = f'{prometheus_label(semconv.ERROR_TYPE)}!=""'


def requests_per_s() -> str:
    return server_or_client(model_rate(SERVER_DURATION + "_count"), model_rate(CLIENT_DURATION + "_count"))


def error_rate() -> str:
    def ratio(histogram: str) -> str:
        total = model_rate(histogram + "_count")
        # A model without errors has no error series: "or total * 0" gives it 0 instead of no value.
        return f"({model_rate(histogram + '_count', _ERRORS)} or {total} * 0) / {total}"

    return server_or_client(ratio(SERVER_DURATION), ratio(CLIENT_DURATION))


def tokens_per_s(token_type: str) -> str:
    return model_rate(_TOKEN_USAGE + "_sum", f'{prometheus_label(semconv.GEN_AI_TOKEN_TYPE)}="{token_type}"')


def _resource(aggregation: str, by: tuple[str, ...], inner: str) -> str:
    labels = ", ".join(prometheus_label(key) for key in by)
    return f"{aggregation} by ({labels}) ({inner} {_SERVICE_JOIN})"


def gauge(otel_name: str, suffix: str, by: tuple[str, ...], where: tuple[tuple[str, str], ...] = ()) -> str:
    matchers = [f'{prometheus_label(key)}="{value}"' for key, value in where]
    return _resource("avg", by, selector(name(otel_name, suffix), *matchers))


def counter_rate(otel_name: str, suffix: str, by: tuple[str, ...]) -> str:
    return _resource("sum", by, f"rate({name(otel_name, suffix)}{_RATE})")


def host_counter_rate(otel_name: str, suffix: str, by: tuple[str, ...]) -> str:
    """Rate of a host-wide counter summed over hosts, each host once however many processes report it."""
    labels = ", ".join(prometheus_label(key) for key in by)
    join = f'* on (job, instance) group_left ({_HOST}) target_info{{{_SERVICE}=~"$service"}}'
    per_host = f"max by ({labels}, {_HOST}) (rate({name(otel_name, suffix)}{_RATE}) {join})"
    return f"sum by ({labels}) ({per_host})"
