"""Rules over the store's rollups: spans written by the real SQLite exporter, read back by the engine."""

from __future__ import annotations

import time
from pathlib import Path

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from infertel import semconv
from infertel.alerting import AlertEngine, StoreSource, ThresholdRule, load_rules
from infertel_exporters.sqlite import SQLiteSpanExporter, SQLiteStore


def _write_spans(path: Path, now_ns: int) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(SQLiteSpanExporter(str(path))))
    tracer = provider.get_tracer("test")
    for i in range(40):
        model = "llama" if i % 2 == 0 else "mistral"
        start = now_ns - 60 * 10**9 + i * 10**9
        span = tracer.start_span(f"chat {model}", start_time=start, attributes={
            semconv.GEN_AI_OPERATION_NAME: "chat", semconv.GEN_AI_REQUEST_MODEL: model})  # fmt: skip
        if model == "llama" and i % 4 == 0:  # half of llama's requests fail
            span.set_attribute(semconv.ERROR_TYPE, "timeout")
        span.end(end_time=start + 200_000_000)
    provider.shutdown()


def test_rules_read_the_newest_rollup_of_every_model(tmp_path: Path) -> None:
    path = tmp_path / "infertel.db"
    # All 40 spans inside one 10-minute rollup bucket (the previous one): a window that crossed a bucket boundary
    # would leave part of them in an older bucket than the newest one the rule reads.
    now = (time.time() // 600 - 1) * 600 + 100
    _write_spans(path, int(now * 1e9))
    store = SQLiteStore(str(path), read_only=True)
    source = StoreSource(store, ["error_rate", "requests_per_s"], lookback_s=600, step_s=600)
    samples = sorted((name, labels["gen_ai_request_model"], value) for name, labels, value, _ in source.collect(now))
    assert [(n, m) for n, m, _ in samples] == [
        ("infertel_store_error_rate", "llama"), ("infertel_store_error_rate", "mistral"),
        ("infertel_store_requests_per_s", "llama"), ("infertel_store_requests_per_s", "mistral"),
    ]  # fmt: skip
    assert [v for _, _, v in samples[:2]] == [0.5, 0.0]
    item = {"alert": "StoredErrors", "series": "infertel_store_error_rate", "threshold": 0.25, "severity": "page"}
    (rule,) = load_rules({"defaults": False, "rules": [item]})
    assert rule == ThresholdRule("StoredErrors", series="infertel_store_error_rate", threshold=0.25, severity="page")
    engine = AlertEngine([rule], source=source)
    alerts = engine.evaluate(now)
    assert [(a.name, dict(a.labels), a.value, a.state) for a in alerts] == [
        ("StoredErrors", {"gen_ai_request_model": "llama", "severity": "page", "alertname": "StoredErrors"}, 0.5,
         "firing"),
    ]  # fmt: skip
    store.close()
