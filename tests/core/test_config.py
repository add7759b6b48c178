"""Settings resolution: keyword arguments > environment > defaults, and every ValueError case."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from infertel._internal.config import (
    DEFAULT_CONTENT_MAX_LENGTH,
    Settings,
    SignalExport,
    default_store_path,
    redact_headers,
    redact_url,
    resolve,
)
from infertel.environment_variables import INFERTEL_RAISE_INTERNAL_ERRORS


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(("OTEL_", "INFERTEL_", "XDG_")) and key != INFERTEL_RAISE_INTERNAL_ERRORS:
            monkeypatch.delenv(key)


def test_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve() == Settings(
        service_name=None,
        service_version=None,
        resource_attributes=(),
        traces=SignalExport(None, "grpc", (), False, ("infertel_store",)),
        metrics=SignalExport(None, "grpc", (), False, ("infertel_store",)),
        logs=SignalExport(None, "grpc", (), False, ("infertel_store",)),
        sampler="parentbased_always_on",
        sampler_arg=None,
        disabled=False,
        capture_content=False,
        content_max_length=DEFAULT_CONTENT_MAX_LENGTH,
        store_path=tmp_path / ".local" / "share" / "infertel" / "infertel.db",
        metric_export_interval_millis=None,
        prometheus_port=None,
        prometheus_host="127.0.0.1",
    )
    assert resolve().uses_store


def test_default_store_path_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_store_path() == tmp_path / "home" / ".local" / "share" / "infertel" / "infertel.db"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_store_path() == tmp_path / "xdg" / "infertel" / "infertel.db"
    monkeypatch.setenv("INFERTEL_STORE_PATH", str(tmp_path / "explicit.db"))
    assert default_store_path() == tmp_path / "explicit.db"
    assert resolve().store_path == tmp_path / "explicit.db"
    assert resolve(store_path=tmp_path / "kw.db").store_path == tmp_path / "kw.db"


def test_base_endpoint_gets_signal_paths_for_http_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    settings = resolve()
    assert settings.traces == SignalExport("http://collector:4318/v1/traces", "http/protobuf", (), False, ("otlp",))
    assert settings.metrics == SignalExport("http://collector:4318/v1/metrics", "http/protobuf", (), False, ("otlp",))
    assert settings.logs == SignalExport("http://collector:4318/v1/logs", "http/protobuf", (), False, ("otlp",))
    assert not settings.uses_store

    with_query = resolve(endpoint="https://c:4318/otlp/?tenant=a")
    assert with_query.metrics.endpoint == "https://c:4318/otlp/v1/metrics?tenant=a"

    grpc = resolve(protocol="grpc")  # the keyword argument beats OTEL_EXPORTER_OTLP_PROTOCOL
    assert grpc.traces == SignalExport("http://collector:4318/", "grpc", (), False, ("otlp",))


def test_per_signal_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318/custom/path")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-common=1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-logs=2")
    settings = resolve()
    assert settings.traces == SignalExport(
        "http://traces:4318/custom/path", "http/protobuf", (("x-common", "1"),), False, ("otlp",)
    )
    assert settings.metrics == SignalExport("http://base:4317", "grpc", (("x-common", "1"),), False, ("otlp",))
    assert settings.logs == SignalExport("http://base:4317", "grpc", (("x-logs", "2"),), False, ("otlp",))


def test_keyword_arguments_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://env-traces:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-env=1")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_on")
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    monkeypatch.setenv("INFERTEL_CAPTURE_CONTENT_MAX_LENGTH", "10")
    monkeypatch.setenv("INFERTEL_PROMETHEUS_PORT", "9464")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "5000")
    env_only = resolve()
    assert (env_only.service_name, env_only.traces.endpoint, env_only.sampler) == (
        "from-env",
        "http://env-traces:4317",
        "always_on",
    )
    assert (env_only.disabled, env_only.capture_content, env_only.content_max_length) == (True, True, 10)
    assert (env_only.prometheus_port, env_only.metric_export_interval_millis) == (9464, 5000)
    assert env_only.traces.headers == (("x-env", "1"),)
    assert not env_only.traces.explicit

    kw = resolve(
        service_name="from-kw",
        endpoint="http://kw:4317",
        headers={"X-Kw": "2"},
        sampler="traceidratio",
        sampler_arg=0.25,
        disabled=False,
        capture_content=False,
        content_max_length=20,
        prometheus_port=0,
        metric_export_interval_millis=1000,
    )
    assert kw.service_name == "from-kw"
    assert kw.traces == SignalExport("http://kw:4317", "grpc", (("x-kw", "2"),), True, ("otlp",), True, True)
    assert (kw.sampler, kw.sampler_arg) == ("traceidratio", 0.25)
    assert (kw.disabled, kw.capture_content, kw.content_max_length) == (False, False, 20)
    assert (kw.prometheus_port, kw.metric_export_interval_millis) == (0, 1000)


def test_headers_text_form_is_url_decoded() -> None:
    settings = resolve(headers="Authorization=Bearer%20s3cret, x-tenant = acme ,")
    assert settings.traces.headers == (("authorization", "Bearer s3cret"), ("x-tenant", "acme"))
    assert "s3cret" not in repr(settings)
    assert redact_headers(settings.traces.headers) == {"authorization": "***", "x-tenant": "***"}


@pytest.mark.parametrize(
    ("name", "arg", "expected"),
    [
        ("always_on", None, ("always_on", None)),
        ("ALWAYS_OFF", None, ("always_off", None)),
        ("parentbased_always_on", "0.3", ("parentbased_always_on", None)),
        ("parentbased_always_off", None, ("parentbased_always_off", None)),
        ("traceidratio", None, ("traceidratio", 1.0)),
        ("traceidratio", "0", ("traceidratio", 0.0)),
        ("parentbased_traceidratio", "0.5", ("parentbased_traceidratio", 0.5)),
    ],
)
def test_samplers_from_environment(
    monkeypatch: pytest.MonkeyPatch, name: str, arg: str | None, expected: tuple[str, float | None]
) -> None:
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", name)
    if arg is not None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
    settings = resolve()
    assert (settings.sampler, settings.sampler_arg) == expected


def test_sampler_instance_is_kept() -> None:
    assert resolve(sampler=ALWAYS_OFF).sampler is ALWAYS_OFF


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("SPAN_ONLY", True), ("span_and_event", True), ("event_only", True), ("1", True),
     ("false", False), ("NO_CONTENT", False), ("0", False), ("", False)],
)  # fmt: skip
def test_capture_modes(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", value)
    assert resolve().capture_content is expected


@pytest.mark.parametrize(
    ("kwargs", "env", "fragments"),
    [
        ({"protocol": "http/json"}, {}, ["configure(protocol=...)", "'http/json'", "grpc, http/protobuf"]),
        ({}, {"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"}, ["OTEL_EXPORTER_OTLP_PROTOCOL", "grpc, http/protobuf"]),
        ({}, {"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL": "udp"}, ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf"]),
        ({"endpoint": "collector:4317"}, {}, ["configure(endpoint=...)", "http/https scheme"]),
        ({"endpoint": "ftp://collector:21"}, {}, ["configure(endpoint=...)", "http/https scheme"]),
        ({"endpoint": "http://:4317"}, {}, ["configure(endpoint=...)", "no host"]),
        ({"endpoint": "http://collector:99999"}, {}, ["configure(endpoint=...)", "invalid port", "1-65535"]),
        ({"endpoint": "http://collector:abc"}, {}, ["configure(endpoint=...)", "invalid port"]),
        ({"endpoint": "http://collector:0"}, {}, ["configure(endpoint=...)", "invalid port"]),
        ({"endpoint": ""}, {}, ["configure(endpoint=...)", "non-empty URL"]),
        ({"traces_endpoint": "localhost"}, {}, ["configure(traces_endpoint=...)", "scheme"]),
        ({}, {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http//broken"}, ["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "scheme"]),
        ({"sampler_arg": -0.1, "sampler": "traceidratio"}, {}, ["configure(sampler_arg=...)", "0 to 1"]),
        ({"sampler_arg": 1.5, "sampler": "traceidratio"}, {}, ["configure(sampler_arg=...)", "0 to 1"]),
        ({"sampler_arg": float("nan"), "sampler": "traceidratio"}, {}, ["configure(sampler_arg=...)", "0 to 1"]),
        ({}, {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "-1"}, ["OTEL_TRACES_SAMPLER_ARG"]),
        ({}, {"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "half"}, ["not a number"]),
        ({"sampler": "sometimes"}, {}, ["configure(sampler=...)", "unknown sampler", "parentbased_traceidratio"]),
        ({}, {"OTEL_TRACES_SAMPLER": "jaeger_remote"}, ["OTEL_TRACES_SAMPLER", "always_on"]),
        ({"sampler": 3}, {}, ["configure(sampler=...)", "Sampler"]),
        ({"capture_content": "maybe"}, {}, ["configure(capture_content=...)", "unknown capture mode", "span_only"]),
        ({}, {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "all"}, ["OTEL_INSTRUMENTATION_GENAI_CAPTURE"]),
        ({"headers": "novalue"}, {}, ["configure(headers=...)", "entry 1", "key=value"]),
        ({}, {"OTEL_EXPORTER_OTLP_HEADERS": "a=1,=secret"}, ["OTEL_EXPORTER_OTLP_HEADERS", "entry 2"]),
        ({"headers": {"bad name": "v"}}, {}, ["configure(headers=...)", "without whitespace"]),
        ({"headers": 42}, {}, ["configure(headers=...)", "dict"]),
        ({"prometheus_port": -1}, {}, ["configure(prometheus_port=...)", "0-65535"]),
        ({"prometheus_port": 70000}, {}, ["configure(prometheus_port=...)", "0-65535"]),
        ({"prometheus_port": "http"}, {}, ["configure(prometheus_port=...)", "not a port"]),
        ({"prometheus_port": True}, {}, ["configure(prometheus_port=...)", "not a port"]),
        ({}, {"INFERTEL_PROMETHEUS_PORT": "90a"}, ["INFERTEL_PROMETHEUS_PORT", "not a port"]),
        ({"prometheus_host": "http://x"}, {}, ["configure(prometheus_host=...)", "bind address"]),
        ({"disabled": "perhaps"}, {}, ["configure(disabled=...)", "not a boolean", "true"]),
        ({}, {"OTEL_SDK_DISABLED": "disable"}, ["OTEL_SDK_DISABLED", "not a boolean"]),
        ({"content_max_length": 0}, {}, ["configure(content_max_length=...)", "> 0"]),
        ({}, {"INFERTEL_CAPTURE_CONTENT_MAX_LENGTH": "x"}, ["INFERTEL_CAPTURE_CONTENT_MAX_LENGTH", "integer"]),
        ({"metric_export_interval_millis": -5}, {}, ["configure(metric_export_interval_millis=...)", "> 0"]),
        ({}, {"OTEL_METRIC_EXPORT_INTERVAL": "soon"}, ["OTEL_METRIC_EXPORT_INTERVAL", "integer"]),
        ({"resource_attributes": ["a"]}, {}, ["configure(resource_attributes=...)", "dict"]),
    ],
)
def test_invalid_settings_raise_value_error_naming_setting_and_accepted_values(
    monkeypatch: pytest.MonkeyPatch, kwargs: dict[str, object], env: dict[str, str], fragments: list[str]
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError) as info:
        resolve(**kwargs)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_errors_never_echo_secrets() -> None:
    with pytest.raises(ValueError) as bad_header:
        resolve(headers="authorization=Bearer topsecret,broken")
    assert "topsecret" not in str(bad_header.value)
    with pytest.raises(ValueError) as bad_port:
        resolve(endpoint="https://user:topsecret@collector:99999/?token=topsecret")
    assert "topsecret" not in str(bad_port.value)
    assert "user:***@collector:99999" in str(bad_port.value)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://collector:4317", "http://collector:4317"),
        ("https://user:pw@collector:4318/v1/traces", "https://user:***@collector:4318/v1/traces"),
        ("https://apikey@collector/v1/traces", "https://***@collector/v1/traces"),
        ("http://c:1/p?api_key=abc&x=1#frag", "http://c:1/p?api_key=***&x=***"),
        (None, None),
    ],
)
def test_redact_url(url: str | None, expected: str | None) -> None:
    assert redact_url(url) == expected
