"""Resolve and validate what :func:`infertel.configure` was asked to do.

Precedence, for every setting: keyword argument > ``INFERTEL_*`` / ``OTEL_*`` environment variable >
default. A value that cannot be used raises :class:`ValueError` naming the setting (the keyword
argument or the environment variable it came from) and the accepted values; secrets (header values,
URL passwords) never appear in those messages or in logs.
"""

from __future__ import annotations

import math
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infertel import environment_variables as ev
from infertel._internal import exporter_names

SIGNALS = ("traces", "metrics", "logs")
PROTOCOLS = ("grpc", "http/protobuf")
DEFAULT_PROTOCOL = "grpc"  # what opentelemetry-python's own auto-configuration defaults to
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)
DEFAULT_SAMPLER = "parentbased_always_on"
_RATIO_SAMPLERS = ("traceidratio", "parentbased_traceidratio")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")
# OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: booleans, plus the newer GenAI content modes.
_CAPTURE_ON = _TRUE + ("span_only", "event_only", "span_and_event")
_CAPTURE_OFF = _FALSE + ("no_content",)
DEFAULT_CONTENT_MAX_LENGTH = 4096
DEFAULT_PROMETHEUS_HOST = "127.0.0.1"
_REDACTED = "***"

OTEL_SDK_DISABLED = "OTEL_SDK_DISABLED"
OTEL_SERVICE_NAME = "OTEL_SERVICE_NAME"
OTEL_TRACES_SAMPLER = "OTEL_TRACES_SAMPLER"
OTEL_TRACES_SAMPLER_ARG = "OTEL_TRACES_SAMPLER_ARG"
OTEL_METRIC_EXPORT_INTERVAL = "OTEL_METRIC_EXPORT_INTERVAL"
OTEL_CAPTURE_CONTENT = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
OTEL_LOGGING_AUTO_INSTRUMENTATION = "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED"


@dataclass(frozen=True)
class SignalExport:
    """Where one signal goes: its exporter names, and the OTLP endpoint, protocol and headers ``otlp`` uses."""

    endpoint: str | None
    protocol: str
    headers: tuple[tuple[str, str], ...] = ()
    explicit: bool = False
    """Whether the destination came from a ``configure()`` argument (not only from the environment)."""
    exporters: tuple[str, ...] = (exporter_names.STORE,)
    """Exporter names (:mod:`infertel._internal.exporter_names`), in order; empty: not exported."""
    endpoint_argument: bool = False
    """Whether ``endpoint`` came from a ``configure()`` argument (else the OTLP exporter reads the environment)."""
    headers_argument: bool = False
    """Whether ``headers`` came from ``configure(headers=...)`` (else the OTLP exporter reads the environment)."""

    def __repr__(self) -> str:  # never print header values
        return (
            f"SignalExport(exporters={self.exporters!r}, endpoint={redact_url(self.endpoint)!r}, "
            f"protocol={self.protocol!r}, headers={redact_headers(self.headers)!r}, explicit={self.explicit!r})"
        )


@dataclass(frozen=True)
class Settings:
    """Everything ``configure()`` resolved, compared as a whole to make a repeated call a no-op."""

    service_name: str | None = None
    service_version: str | None = None
    resource_attributes: tuple[tuple[str, Any], ...] = ()
    traces: SignalExport = field(default_factory=lambda: SignalExport(None, DEFAULT_PROTOCOL))
    metrics: SignalExport = field(default_factory=lambda: SignalExport(None, DEFAULT_PROTOCOL))
    logs: SignalExport = field(default_factory=lambda: SignalExport(None, DEFAULT_PROTOCOL))
    sampler: Any = DEFAULT_SAMPLER  # a name from SAMPLERS, or a Sampler instance the user built
    sampler_arg: float | None = None
    disabled: bool = False
    capture_content: bool = False
    content_max_length: int = DEFAULT_CONTENT_MAX_LENGTH
    store_path: Path | None = None
    metric_export_interval_millis: int | None = None
    prometheus_port: int | None = None
    prometheus_host: str = DEFAULT_PROMETHEUS_HOST
    resource_metrics: bool | None = None  # None: INFERTEL_RESOURCE_METRICS decides (on by default)
    durable: bool = True  # spool what OTLP collectors cannot take (INFERTEL_DURABLE)
    export_logs: bool = False  # a LoggingHandler on the root logger (OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED)
    alert_rules: Any = None  # rules file path / mapping / tuple of rules (INFERTEL_ALERT_RULES); None: no alert engine
    prices: Any = None  # infertel.cost.PriceTable (configure(prices=...) / INFERTEL_PRICES); None: no cost recorded

    def export(self, signal: str) -> SignalExport:
        """The :class:`SignalExport` of ``"traces"``, ``"metrics"`` or ``"logs"``."""
        return {"traces": self.traces, "metrics": self.metrics, "logs": self.logs}[signal]

    @property
    def uses_store(self) -> bool:
        """Whether any signal goes to the embedded SQLite store."""
        return any(exporter_names.STORE in self.export(s).exporters for s in SIGNALS)


def default_store_path() -> Path:
    """The embedded store's file: ``$INFERTEL_STORE_PATH`` or ``${XDG_DATA_HOME:-~/.local/share}/infertel/infertel.db``.

    Example:
        >>> default_store_path().name
        'infertel.db'
    """
    from infertel_exporters.sqlite import default_path  # the store's own rule, so both always agree

    return default_path()


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _pick(kwarg: Any, kwarg_name: str, env_name: str) -> tuple[Any, str]:
    """The keyword argument if given, else the env var's text; plus the setting's name for messages."""
    if kwarg is not None:
        return kwarg, f"configure({kwarg_name}=...)"
    return _env(env_name), env_name


def parse_bool(value: Any, setting: str, *, true: tuple[str, ...] = _TRUE, false: tuple[str, ...] = _FALSE) -> bool:
    """A boolean setting from a bool or its text; ``ValueError`` naming ``setting`` otherwise."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in true:
        return True
    if text in false:
        return False
    raise ValueError(f"{setting}: {value!r} is not a boolean (accepted: {', '.join(v for v in true + false if v)})")


def parse_protocol(value: Any, setting: str) -> str:
    """``grpc`` or ``http/protobuf``."""
    text = str(value).strip().lower()
    if text not in PROTOCOLS:
        raise ValueError(f"{setting}: unknown OTLP protocol {value!r} (accepted: {', '.join(PROTOCOLS)})")
    return text


def validate_endpoint(value: Any, setting: str) -> str:
    """An ``http(s)://host[:port][/path]`` URL, returned stripped; ``ValueError`` if malformed."""
    accepted = "accepted: http://host[:port][/path] or https://host[:port][/path]"
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{setting}: the endpoint must be a non-empty URL ({accepted})")
    text = value.strip()
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{setting}: endpoint {redact_url(text)!r} has no http/https scheme ({accepted})")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{setting}: endpoint {redact_url(text)!r} has an invalid port (accepted: 1-65535)") from None
    if not parts.hostname:
        raise ValueError(f"{setting}: endpoint {redact_url(text)!r} has no host ({accepted})")
    if port == 0:
        raise ValueError(f"{setting}: endpoint {redact_url(text)!r} has an invalid port (accepted: 1-65535)")
    return text


def parse_headers(value: Any, setting: str) -> tuple[tuple[str, str], ...]:
    """Headers from a mapping or the ``key1=value1,key2=value2`` text form (values URL-encoded).

    Error messages name the entry's position, never its value (it may be a secret).
    """
    if isinstance(value, Mapping):
        items = [(str(k), str(v)) for k, v in value.items()]
    elif isinstance(value, str):
        items = []
        for index, entry in enumerate(value.split(","), start=1):
            if not entry.strip():
                continue
            key, sep, val = entry.partition("=")
            if not sep or not key.strip():
                raise ValueError(
                    f"{setting}: header entry {index} is not 'key=value' "
                    "(accepted: comma-separated key=value pairs with URL-encoded values, or a dict)"
                )
            items.append((urllib.parse.unquote(key.strip()), urllib.parse.unquote(val.strip())))
    else:
        raise ValueError(f"{setting}: expected a dict or 'key=value,...' text, got {type(value).__name__}")
    for key, _ in items:
        if not key or any(c.isspace() for c in key):
            raise ValueError(f"{setting}: header names must be non-empty without whitespace")
    return tuple((k.lower(), v) for k, v in items)


def parse_port(value: Any, setting: str, *, allow_zero: bool = True) -> int:
    """A TCP port (0 means "any free port" where ``allow_zero``)."""
    low = 0 if allow_zero else 1
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise TypeError
        port = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{setting}: {value!r} is not a port number (accepted: integers {low}-65535)") from None
    if not low <= port <= 65535:
        raise ValueError(f"{setting}: port {port} is out of range (accepted: {low}-65535)")
    return port


def _parse_positive_int(value: Any, setting: str) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        number = int(str(value).strip()) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{setting}: {value!r} is not an integer (accepted: integers > 0)") from None
    if number <= 0:
        raise ValueError(f"{setting}: {number} is not positive (accepted: integers > 0)")
    return number


def _parse_sampler(sampler: Any, sampler_arg: Any) -> tuple[Any, float | None]:
    value, setting = _pick(sampler, "sampler", OTEL_TRACES_SAMPLER)
    if value is None:
        value = DEFAULT_SAMPLER
    if not isinstance(value, str):
        from opentelemetry.sdk.trace.sampling import Sampler

        if isinstance(value, Sampler):
            return value, None
        raise ValueError(f"{setting}: expected a sampler name or a Sampler, got {type(value).__name__}")
    name = value.strip().lower()
    if name not in SAMPLERS:
        raise ValueError(f"{setting}: unknown sampler {value!r} (accepted: {', '.join(SAMPLERS)})")
    arg_value, arg_setting = _pick(sampler_arg, "sampler_arg", OTEL_TRACES_SAMPLER_ARG)
    if name not in _RATIO_SAMPLERS:
        return name, None
    if arg_value is None:
        return name, 1.0
    try:
        if isinstance(arg_value, bool):
            raise TypeError
        ratio = float(arg_value)
    except (TypeError, ValueError):
        raise ValueError(f"{arg_setting}: {arg_value!r} is not a number (accepted: a ratio from 0 to 1)") from None
    if math.isnan(ratio) or not 0.0 <= ratio <= 1.0:
        raise ValueError(f"{arg_setting}: sampling ratio {arg_value!r} is out of range (accepted: 0 to 1)")
    return name, ratio


def _signal_export(signal: str, kwargs: Mapping[str, Any]) -> SignalExport:
    upper = signal.upper()
    proto_value, proto_setting = _pick(kwargs.get("protocol"), "protocol", f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL")
    if proto_value is None:
        proto_value, proto_setting = _env("OTEL_EXPORTER_OTLP_PROTOCOL"), "OTEL_EXPORTER_OTLP_PROTOCOL"
    protocol = parse_protocol(proto_value, proto_setting) if proto_value is not None else DEFAULT_PROTOCOL

    # A signal's own endpoint is used as is; the base endpoint gets /v1/<signal> appended for
    # OTLP/HTTP (as the OTLP exporter specification says). Keyword arguments beat env vars.
    candidates = (
        (kwargs.get(f"{signal}_endpoint"), f"configure({signal}_endpoint=...)", False),
        (kwargs.get("endpoint"), "configure(endpoint=...)", True),
        (_env(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT"), f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT", False),
        (_env("OTEL_EXPORTER_OTLP_ENDPOINT"), "OTEL_EXPORTER_OTLP_ENDPOINT", True),
    )
    endpoint: str | None = None
    from_argument = False
    for value, setting, is_base in candidates:
        if value is None:
            continue
        from_argument = setting.startswith("configure(")
        endpoint = validate_endpoint(value, setting)
        if is_base and protocol == "http/protobuf":
            parts = urllib.parse.urlsplit(endpoint)
            endpoint = urllib.parse.urlunsplit(parts._replace(path=parts.path.rstrip("/") + f"/v1/{signal}"))
        break

    headers: tuple[tuple[str, str], ...] = ()
    header_value, header_setting = _pick(kwargs.get("headers"), "headers", f"OTEL_EXPORTER_OTLP_{upper}_HEADERS")
    if header_value is None:
        header_value, header_setting = _env("OTEL_EXPORTER_OTLP_HEADERS"), "OTEL_EXPORTER_OTLP_HEADERS"
    if header_value is not None:
        headers = parse_headers(header_value, header_setting)
    names = exporter_names.select(signal, endpoint_argument=from_argument, endpoint_variable=endpoint is not None)
    # Explicit: what configure() was told, which it adds even to providers someone else installed.
    explicit = from_argument or (kwargs.get("store_path") is not None and exporter_names.STORE in names)
    headers_argument = kwargs.get("headers") is not None
    return SignalExport(endpoint, protocol, headers, explicit, names, from_argument, headers_argument)


def resolve(**kwargs: Any) -> Settings:
    """Merge ``configure()``'s keyword arguments with the environment into validated :class:`Settings`.

    Example:
        >>> resolve(endpoint="http://127.0.0.1:4318", protocol="http/protobuf").traces.endpoint
        'http://127.0.0.1:4318/v1/traces'
    """
    disabled_value, disabled_setting = _pick(kwargs.get("disabled"), "disabled", OTEL_SDK_DISABLED)
    disabled = parse_bool(disabled_value, disabled_setting) if disabled_value is not None else False

    capture_value, capture_setting = _pick(kwargs.get("capture_content"), "capture_content", OTEL_CAPTURE_CONTENT)
    capture = False
    if capture_value is not None:
        try:
            capture = parse_bool(capture_value, capture_setting, true=_CAPTURE_ON, false=_CAPTURE_OFF)
        except ValueError:
            accepted = ", ".join(v for v in _CAPTURE_ON + _CAPTURE_OFF if v)
            raise ValueError(
                f"{capture_setting}: unknown capture mode {capture_value!r} (accepted: {accepted})"
            ) from None

    length_value, length_setting = _pick(
        kwargs.get("content_max_length"), "content_max_length", ev.INFERTEL_CAPTURE_CONTENT_MAX_LENGTH
    )
    max_length = (
        _parse_positive_int(length_value, length_setting) if length_value is not None else DEFAULT_CONTENT_MAX_LENGTH
    )

    interval_value, interval_setting = _pick(
        kwargs.get("metric_export_interval_millis"), "metric_export_interval_millis", OTEL_METRIC_EXPORT_INTERVAL
    )
    interval = _parse_positive_int(interval_value, interval_setting) if interval_value is not None else None

    port_value, port_setting = _pick(kwargs.get("prometheus_port"), "prometheus_port", ev.INFERTEL_PROMETHEUS_PORT)
    port = parse_port(port_value, port_setting) if port_value is not None else None
    host_value, host_setting = _pick(kwargs.get("prometheus_host"), "prometheus_host", ev.INFERTEL_PROMETHEUS_HOST)
    host = DEFAULT_PROMETHEUS_HOST
    if host_value is not None:
        host = str(host_value).strip()
        if not host or any(c in host for c in "/ ?#@"):
            raise ValueError(f"{host_setting}: {host_value!r} is not a bind address (accepted: an IP or host name)")

    resource_metrics = kwargs.get("resource_metrics")
    if resource_metrics is not None and not isinstance(resource_metrics, bool):
        raise ValueError(f"resource_metrics: {resource_metrics!r} is not accepted (accepted: True, False, None)")
    durable_value, durable_setting = _pick(kwargs.get("durable"), "durable", ev.INFERTEL_DURABLE)
    durable = parse_bool(durable_value, durable_setting) if durable_value is not None else True
    logs_value, logs_setting = _pick(kwargs.get("export_logs"), "export_logs", OTEL_LOGGING_AUTO_INSTRUMENTATION)
    export_logs = parse_bool(logs_value, logs_setting) if logs_value is not None else False

    service_name, _ = _pick(kwargs.get("service_name"), "service_name", OTEL_SERVICE_NAME)
    attributes = kwargs.get("resource_attributes") or {}
    if not isinstance(attributes, Mapping):
        raise ValueError("configure(resource_attributes=...): expected a dict of attribute name to value")
    store_path = kwargs.get("store_path")
    sampler, sampler_arg = _parse_sampler(kwargs.get("sampler"), kwargs.get("sampler_arg"))
    rules_value, rules_setting = _pick(kwargs.get("alert_rules"), "alert_rules", ev.INFERTEL_ALERT_RULES)
    if rules_value is not None:
        from infertel.alerting._configure import normalize

        rules_value = normalize(rules_value, rules_setting)
    prices_value, prices_setting = _pick(kwargs.get("prices"), "prices", ev.INFERTEL_PRICES)
    if prices_value is not None:
        from infertel.cost import load_prices

        prices_value = load_prices(prices_value, prices_setting)

    return Settings(
        service_name=service_name,
        service_version=kwargs.get("service_version"),
        resource_attributes=tuple(sorted((str(k), v) for k, v in attributes.items())),
        traces=_signal_export("traces", kwargs),
        metrics=_signal_export("metrics", kwargs),
        logs=_signal_export("logs", kwargs),
        sampler=sampler,
        sampler_arg=sampler_arg,
        disabled=disabled,
        capture_content=capture,
        content_max_length=max_length,
        store_path=Path(store_path).expanduser() if store_path is not None else default_store_path(),
        metric_export_interval_millis=interval,
        prometheus_port=port,
        prometheus_host=host,
        resource_metrics=resource_metrics,
        durable=durable,
        export_logs=export_logs,
        alert_rules=rules_value,
        prices=prices_value,
    )


def redact_url(url: str | None) -> str | None:
    """``url`` with any password and query-string values replaced by ``***`` (for logs and errors).

    Example:
        >>> redact_url("https://user:s3cret@collector:4318/v1/traces?api_key=abc")
        'https://user:***@collector:4318/v1/traces?api_key=***'
    """
    if url is None:
        return None
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostport = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{_REDACTED}@{hostport}" if ":" in userinfo else f"{_REDACTED}@{hostport}"
        query = "&".join(f"{k}={_REDACTED}" for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return "<unparseable URL>"


def redact_headers(headers: tuple[tuple[str, str], ...] | Mapping[str, str]) -> dict[str, str]:
    """Header names with every value replaced by ``***``."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: _REDACTED for k, _ in items}
