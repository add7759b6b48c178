"""The query commands (`traces`, `trace`, `stats`, `logs`) through the real console script.

Expected values come from the raw rows (``SQLiteStore.spans`` / ``logs``), not from the search and
rollup code the commands use. Stores: one filled by ``infertel demo`` (once per session), and one
written by the OpenTelemetry SDK with a nested trace at fixed times (for the tree and exact text).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from infertel_exporters.sqlite import SQLiteSpanExporter, SQLiteStore, StoredLog, StoredSpan
from infertel_exporters.sqlite._buckets import DURATION_BOUNDS, TPOT_BOUNDS, TTFT_BOUNDS, bucket_index, quantile

SERVICE = "infertel-demo"
T0 = (time.time_ns() // 10**9 // 60 - 10) * 60 * 10**9
"""Start of the nested trace: a whole minute about ten minutes ago (within the store's raw-span retention)."""
MS = 1_000_000


def _command() -> list[str]:
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "infertel._internal.cli"]


def infertel(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    env.update(TZ="UTC", COLUMNS="200")
    return subprocess.run([*_command(), *args], capture_output=True, text=True, timeout=timeout, env=env)


def ok_json(*args: str) -> Any:
    result = infertel(*args, "--json")
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    return json.loads(result.stdout)


def iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9 // 1000:06d}Z"


def clock(ns: int, millis: bool = False) -> str:
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // 10**9))
    return text + (f".{ns % 10**9 // MS:03d}" if millis else "")


def aligned(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


# --- the demo's store ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("query-cli") / "demo.db"
    result = infertel("demo", "--requests", "48", "--concurrency", "8", "--seed", "5", "--error-rate", "0.25",
                      "--store", str(db))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return db


@pytest.fixture(scope="session")
def raw(demo_store: Path) -> tuple[list[StoredSpan], list[StoredLog]]:
    with SQLiteStore(demo_store, read_only=True) as store:
        spans, logs = store.spans(limit=None), store.logs(limit=None)
    assert len(spans) == 48 and all(s.parent_span_id is None for s in spans)  # one span per trace
    assert any(s.status_code == "ERROR" for s in spans) and logs
    return spans, logs


def summary(span: StoredSpan) -> dict[str, Any]:
    failed = span.status_code == "ERROR"
    return {
        "trace_id": span.trace_id, "root_span_id": span.span_id, "root_name": span.name, "service": SERVICE,
        "models": [span.model], "status": "error" if failed else "ok", "start_time": iso(span.start_time_ns),
        "start_time_unix_nano": span.start_time_ns, "end_time_unix_nano": span.end_time_ns,
        "duration_s": (span.end_time_ns - span.start_time_ns) / 1e9, "span_count": 1, "error_count": int(failed),
    }  # fmt: skip


def newest_first(spans: list[StoredSpan]) -> list[dict[str, Any]]:
    return [summary(s) for s in sorted(spans, key=lambda s: s.start_time_ns, reverse=True)]


def log_record(log: StoredLog) -> dict[str, Any]:
    return {
        "time": iso(log.time_ns), "time_unix_nano": log.time_ns, "severity_number": log.severity_number,
        "severity_text": log.severity_text, "level": "WARN", "body": log.body, "event_name": log.event_name,
        "attributes": log.attributes, "trace_id": log.trace_id, "span_id": log.span_id, "service": SERVICE,
    }  # fmt: skip


@pytest.mark.slow
def test_traces_json_is_every_trace_newest_first_and_filters(raw: tuple[list[StoredSpan], list[StoredLog]],
                                                             demo_store: Path) -> None:  # fmt: skip
    spans, _ = raw
    store = ("--store", str(demo_store))
    assert ok_json("traces", "--limit", "100", *store) == {"traces": newest_first(spans), "next_cursor": None}
    assert ok_json("traces", "--since", "1h", "--service", SERVICE, "--limit", "100", *store)["traces"] == (
        newest_first(spans)
    )
    failed_gpt = [s for s in spans if s.model == "gpt-4o-mini" and s.status_code == "ERROR"]
    assert failed_gpt
    assert ok_json("traces", "--model", "gpt-4o-mini", "--errors", *store) == {
        "traces": newest_first(failed_gpt), "next_cursor": None,
    }  # fmt: skip
    slow = [s for s in spans if s.end_time_ns - s.start_time_ns >= 300 * MS]
    assert 0 < len(slow) < len(spans)
    assert ok_json("traces", "--min-duration", "300ms", "--limit", "100", *store)["traces"] == newest_first(slow)
    assert ok_json("traces", "--service", "another-service", *store) == {"traces": [], "next_cursor": None}
    # pages of 20: the cursor continues where the previous page stopped
    first = ok_json("traces", "--limit", "20", *store)
    second = ok_json("traces", "--limit", "20", "--cursor", first["next_cursor"], *store)
    third = ok_json("traces", "--limit", "20", "--cursor", second["next_cursor"], *store)
    assert first["traces"] + second["traces"] + third["traces"] == newest_first(spans)
    assert third["next_cursor"] is None


@pytest.mark.slow
def test_traces_text_table(raw: tuple[list[StoredSpan], list[StoredLog]], demo_store: Path) -> None:
    spans, _ = raw
    result = infertel("traces", "--limit", "3", "--store", str(demo_store))
    assert (result.returncode, result.stderr) == (0, "")
    cursor = ok_json("traces", "--limit", "3", "--store", str(demo_store))["next_cursor"]
    rows = [["START", "TRACE ID", "SERVICE", "ROOT SPAN", "MODELS", "SPANS", "ERRORS", "DURATION"]]
    for span in sorted(spans, key=lambda s: s.start_time_ns, reverse=True)[:3]:
        duration_ms = (span.end_time_ns - span.start_time_ns) / MS
        duration = f"{duration_ms:.3g} ms" if duration_ms < 999.5 else f"{duration_ms / 1000:.3g} s"
        rows.append([clock(span.start_time_ns), span.trace_id, SERVICE, span.name, str(span.model), "1",
                     str(int(span.status_code == "ERROR")), duration])  # fmt: skip
    expected = aligned(rows, {5, 6, 7}) + f"\nMore: infertel traces --cursor {cursor} (with the same filters)\n"
    assert result.stdout == expected


@pytest.mark.slow
def test_trace_of_a_failed_request_with_its_log_record(raw: tuple[list[StoredSpan], list[StoredLog]],
                                                      demo_store: Path) -> None:  # fmt: skip
    spans, logs = raw
    span = max((s for s in spans if s.status_code == "ERROR"), key=lambda s: s.start_time_ns)
    (event,) = [log for log in logs if log.trace_id == span.trace_id]
    duration_s = (span.end_time_ns - span.start_time_ns) / 1e9
    assert ok_json("trace", span.trace_id.upper(), "--store", str(demo_store)) == {
        "trace_id": span.trace_id, "services": [SERVICE], "start_time": iso(span.start_time_ns),
        "start_time_unix_nano": span.start_time_ns, "end_time_unix_nano": span.end_time_ns,
        "duration_s": duration_s, "span_count": 1, "error_count": 1,
        "spans": [{
            "span_id": span.span_id, "parent_span_id": None, "name": span.name, "kind": span.kind,
            "status_code": "ERROR", "status_message": span.status_message, "service": SERVICE, "model": span.model,
            "operation": "chat", "start_time": iso(span.start_time_ns), "start_time_unix_nano": span.start_time_ns,
            "end_time_unix_nano": span.end_time_ns, "offset_s": 0.0, "duration_s": duration_s,
            "attributes": span.attributes, "events": [], "links": [], "resource": span.resource, "children": [],
        }],
        "logs": [log_record(event)],
    }  # fmt: skip
    assert event.event_name == "gen_ai.client.operation.exception" and event.span_id == span.span_id


@pytest.mark.slow
def test_logs_json_filters(raw: tuple[list[StoredSpan], list[StoredLog]], demo_store: Path) -> None:
    _, logs = raw
    store = ("--store", str(demo_store))
    ordered = [log_record(log) for log in sorted(logs, key=lambda log: log.time_ns, reverse=True)]
    assert ok_json("logs", "--limit", "500", *store) == {"logs": ordered, "next_cursor": None}
    assert ok_json("logs", "--level", "warn", "--since", "1h", "--service", SERVICE, "--limit", "500", *store) == {
        "logs": ordered, "next_cursor": None,
    }  # fmt: skip
    assert ok_json("logs", "--level", "error", *store) == {"logs": [], "next_cursor": None}
    limited = [r for r in ordered if "rate limit reached" in r["attributes"]["exception.message"]]
    assert 0 < len(limited) < len(ordered)
    assert ok_json("logs", "--grep", "Rate Limit Reached", "--limit", "500", *store)["logs"] == limited
    one = ordered[-1]
    assert ok_json("logs", "--trace", one["trace_id"], *store) == {"logs": [one], "next_cursor": None}
    page = ok_json("logs", "--limit", "1", *store)
    assert page["logs"] == ordered[:1] and page["next_cursor"] is not None

    result = infertel("logs", "--limit", "2", *store)
    assert (result.returncode, result.stderr) == (0, "")
    rows = [["TIME", "LEVEL", "SERVICE", "TRACE ID", "MESSAGE"]] + [
        [clock(r["time_unix_nano"], millis=True), "WARN", SERVICE, r["trace_id"],
         f"gen_ai.client.operation.exception: {r['attributes']['exception.message']}"]
        for r in ordered[:2]
    ]  # fmt: skip
    more = ok_json("logs", "--limit", "2", *store)["next_cursor"]
    assert result.stdout == aligned(rows, set()) + f"\nMore: infertel logs --cursor {more} (with the same filters)\n"


def rounded(value: Any) -> Any:
    """``value`` with every float to 12 significant digits (sums taken in another order differ in the last bits)."""
    if isinstance(value, float):
        return float(f"{value:.12g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


def _percentiles(values: list[float], bounds: tuple[float, ...]) -> dict[str, float | None]:
    counts = [0] * (len(bounds) + 1)
    for value in values:
        counts[bucket_index(bounds, value)] += 1
    return {name: quantile(q, bounds, counts) for name, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))}


@pytest.mark.slow
def test_stats_json_per_model(raw: tuple[list[StoredSpan], list[StoredLog]], demo_store: Path) -> None:
    spans, _ = raw
    doc = ok_json("stats", "--since", "1h", "--by", "model", "--store", str(demo_store))
    start, end = doc["start_time_unix_nano"], doc["end_time_unix_nano"]
    assert end - start == 3600 * 10**9
    assert (doc["start_time"], doc["end_time"], doc["group_by"]) == (iso(start), iso(end), ["model"])
    period_s = (end - start) / 1e9
    expected = []
    for model in sorted({s.model for s in spans if s.model}):
        mine = [s for s in spans if s.model == model]
        errors = sum(s.status_code == "ERROR" for s in mine)
        ttft = [s.attributes["gen_ai.response.time_to_first_chunk"] for s in mine
                if "gen_ai.response.time_to_first_chunk" in s.attributes]  # fmt: skip
        tpot = [s.attributes["infertel.time_per_output_token"] for s in mine
                if "infertel.time_per_output_token" in s.attributes]  # fmt: skip
        assert ttft and tpot  # the demo streams every model
        expected.append({
            "group": {"model": model}, "requests": len(mine), "errors": errors,
            "requests_per_s": len(mine) / period_s, "error_rate": errors / len(mine),
            "latency_s": _percentiles([s.duration_s for s in mine], DURATION_BOUNDS),
            "ttft_s": _percentiles(ttft, TTFT_BOUNDS), "tpot_s": _percentiles(tpot, TPOT_BOUNDS),
            "input_tokens_per_s": sum(s.attributes.get("gen_ai.usage.input_tokens", 0) for s in mine) / period_s,
            "output_tokens_per_s": sum(s.attributes.get("gen_ai.usage.output_tokens", 0) for s in mine) / period_s,
            "in_flight": 0.0,
        })  # fmt: skip
    expected.sort(key=lambda row: (-row["requests"], row["group"]["model"]))
    assert rounded(doc["rows"]) == rounded(expected)


@pytest.mark.slow
def test_stats_text_table(demo_store: Path) -> None:
    from infertel.dashboard.panels import format_value, panel

    result = infertel("stats", "--store", str(demo_store))
    assert (result.returncode, result.stderr) == (0, "")
    doc = ok_json("stats", "--store", str(demo_store))
    assert doc["group_by"] == ["service", "model"]

    def show(panel_id: str, value: float | None, suffix: str = "") -> str:
        return format_value(panel(panel_id), value).removesuffix(suffix)

    rows = [["SERVICE", "MODEL", "REQUESTS", "ERRORS", "ERROR RATE", "REQ/S", "P50", "P95", "P99", "TTFT P95",
             "TPOT P95", "IN TOK/S", "OUT TOK/S", "IN FLIGHT"]]  # fmt: skip
    for r in doc["rows"]:
        rows.append([
            r["group"]["service"], r["group"]["model"], str(r["requests"]), str(r["errors"]),
            show("error_rate", r["error_rate"]), show("requests_per_s", r["requests_per_s"], " req/s"),
            show("latency_p50", r["latency_s"]["p50"]), show("latency_p95", r["latency_s"]["p95"]),
            show("latency_p99", r["latency_s"]["p99"]), show("ttft_p95", r["ttft_s"]["p95"]),
            show("tpot_p95", r["tpot_s"]["p95"]), show("input_tokens_per_s", r["input_tokens_per_s"], " tok/s"),
            show("output_tokens_per_s", r["output_tokens_per_s"], " tok/s"), show("in_flight", r["in_flight"]),
        ])  # fmt: skip
    assert [r["group"]["service"] for r in doc["rows"]] == [SERVICE] * 4
    assert result.stdout == "Last 1h, by service, model:\n" + aligned(rows, set(range(2, 14))) + "\n"


# --- a nested trace written by the OpenTelemetry SDK at fixed times -------------------------------
TRACE_ID = 0x5B8EFFF798038103D269B633813FC60C


@pytest.fixture
def nested_store(tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "nested.db"
    exporter = SQLiteSpanExporter(db)
    provider = TracerProvider(resource=Resource.create({"service.name": "chat-api"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("query-cli-test")
    remote = SpanContext(TRACE_ID, 0x00F067AA0BA902B7, is_remote=True, trace_flags=TraceFlags(1))
    top = trace_api.set_span_in_context(NonRecordingSpan(remote))
    root = tracer.start_span("POST /v1/chat", context=top, kind=SpanKind.SERVER, start_time=T0)
    in_root = trace_api.set_span_in_context(root)
    chat = tracer.start_span(
        "chat llama-3-8b",
        context=in_root,
        start_time=T0 + 20 * MS,
        attributes={"gen_ai.request.model": "llama-3-8b", "gen_ai.operation.name": "chat"},
    )
    in_chat = trace_api.set_span_in_context(chat)
    tokenize = tracer.start_span("tokenize", context=in_chat, start_time=T0 + 20 * MS)
    tokenize.end(end_time=T0 + 25 * MS)
    generate = tracer.start_span("generate", context=in_chat, start_time=T0 + 25 * MS)
    generate.set_status(Status(StatusCode.ERROR, "CUDA out of memory"))
    generate.end(end_time=T0 + 1_150 * MS)
    chat.end(end_time=T0 + 1_150 * MS)
    audit = tracer.start_span("audit\x1b[2J", context=in_root, start_time=T0 + 1_150 * MS)
    audit.end(end_time=T0 + 1_200 * MS)
    root.end(end_time=T0 + 1_200 * MS)
    provider.shutdown()
    yield db


def test_trace_prints_the_span_tree_indented_with_durations(nested_store: Path) -> None:
    trace_id = f"{TRACE_ID:032x}"
    result = infertel("trace", trace_id, "--store", str(nested_store))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == (
        f"Trace {trace_id}  chat-api  started {clock(T0, millis=True)}  1.2 s  5 spans, 1 failed\n"
        "\n"
        "SPAN               KIND        START  DURATION  MODEL       STATUS\n"
        "POST /v1/chat      SERVER       +0 s     1.2 s  -           UNSET\n"
        "  chat llama-3-8b  INTERNAL   +20 ms    1.13 s  llama-3-8b  UNSET\n"
        "    tokenize       INTERNAL   +20 ms      5 ms  -           UNSET\n"
        "    generate       INTERNAL   +25 ms    1.12 s  -           ERROR: CUDA out of memory\n"
        "  audit\\x1b[2J     INTERNAL  +1.15 s     50 ms  -           UNSET\n"
    )


def test_trace_json_nests_children_under_parents(nested_store: Path) -> None:
    doc = ok_json("trace", f"{TRACE_ID:032x}", "--store", str(nested_store))

    def shape(node: dict[str, Any]) -> Any:
        return (node["name"], node["offset_s"], node["duration_s"], [shape(child) for child in node["children"]])

    assert [shape(root) for root in doc["spans"]] == [
        ("POST /v1/chat", 0.0, 1.2, [
            ("chat llama-3-8b", 0.02, 1.13, [("tokenize", 0.02, 0.005, []), ("generate", 0.025, 1.125, [])]),
            ("audit\x1b[2J", 1.15, 0.05, []),
        ]),
    ]  # fmt: skip
    assert doc["spans"][0]["parent_span_id"] == "00f067aa0ba902b7"  # its parent is not stored: a root
    assert (doc["span_count"], doc["error_count"], doc["services"], doc["logs"]) == (5, 1, ["chat-api"], [])
    assert (doc["start_time"], doc["duration_s"]) == (iso(T0), 1.2)


# --- errors: one line on stderr, exit status 2, the store never created ----------------------------
@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["traces", "--since", "10x"],
         "infertel traces: error: argument --since: expected a duration like 30s, 10m, 1h or 7d, got '10x' "
         "(see infertel traces --help)"),
        (["stats", "--since", "0s"],
         "infertel stats: error: argument --since: expected a positive duration, got '0s' (see infertel stats --help)"),
        (["logs", "--level", "loud"],
         "infertel logs: error: argument --level: expected one of trace, debug, info, warn, warning, error, fatal, "
         "got 'loud' (see infertel logs --help)"),
        (["trace", "xyz"],
         "infertel trace: error: argument TRACE_ID: expected a trace id of 32 hexadecimal digits, got 'xyz' "
         "(see infertel trace --help)"),
        (["logs", "--trace", "0" * 32],
         "infertel logs: error: argument --trace: expected a trace id of 32 hexadecimal digits, got '"
         + "0" * 32 + "' (see infertel logs --help)"),
        (["stats", "--by", "model,gpu"],
         "infertel stats: error: argument --by: expected distinct comma-separated keys from service, model, "
         "operation, error_type, got 'model,gpu' (see infertel stats --help)"),
        (["traces", "--limit", "0"],
         "infertel traces: error: argument --limit: expected a positive integer, got '0' (see infertel traces --help)"),
    ],
)  # fmt: skip
def test_bad_arguments(args: list[str], line: str) -> None:
    result = infertel(*args)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", line + "\n")


@pytest.mark.parametrize("command", [["traces"], ["trace", "5b8efff798038103d269b633813fc60c"], ["stats"], ["logs"]])
def test_a_missing_store_is_an_error_and_is_not_created(tmp_path: Path, command: list[str]) -> None:
    missing = tmp_path / "nowhere" / "infertel.db"
    result = infertel(*command, "--store", str(missing))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"infertel {command[0]}: error: no store at {missing} (does not exist): run `infertel demo` or an "
        "application with infertel.configure() first, or pass --store PATH\n"
    )
    assert not missing.parent.exists()


def test_the_default_store_is_the_one_configure_uses(tmp_path: Path, nested_store: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "INFERTEL_"))}
    env.update(TZ="UTC", INFERTEL_STORE_PATH=str(nested_store))
    found = subprocess.run([*_command(), "traces", "--json"], capture_output=True, text=True, timeout=60, env=env)
    assert found.returncode == 0, found.stderr
    assert [t["trace_id"] for t in json.loads(found.stdout)["traces"]] == [f"{TRACE_ID:032x}"]
    env.pop("INFERTEL_STORE_PATH")
    env.update(XDG_DATA_HOME=str(tmp_path / "data"))
    missing = subprocess.run([*_command(), "logs"], capture_output=True, text=True, timeout=60, env=env)
    assert missing.returncode == 2
    assert missing.stderr.startswith(
        f"infertel logs: error: no store at {tmp_path / 'data' / 'infertel' / 'infertel.db'}"
    )


def test_unknown_trace_and_bad_cursor_in_an_existing_store(nested_store: Path) -> None:
    before = nested_store.read_bytes()
    absent = "0123456789abcdef0123456789abcdef"
    result = infertel("trace", absent, "--store", str(nested_store))
    assert (result.returncode, result.stdout, result.stderr) == (
        2, "", f"infertel trace: error: no trace {absent} in {nested_store}\n",
    )  # fmt: skip
    result = infertel("logs", "--cursor", "garbage", "--store", str(nested_store))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("infertel logs: error: ") and result.stderr.count("\n") == 1
    assert nested_store.read_bytes() == before  # read-only
    empty = infertel("logs", "--store", str(nested_store))
    assert (empty.returncode, empty.stdout, empty.stderr) == (0, "No log records match.\n", "")


def test_nothing_in_the_period(nested_store: Path) -> None:
    for args, line in [
        (["traces", "--since", "1m"], "No traces match."),
        (["stats", "--since", "1m"], "No requests in the last 1m."),
        (["logs", "--since", "90s"], "No log records match."),
    ]:
        result = infertel(*args, "--store", str(nested_store))
        assert (result.returncode, result.stdout, result.stderr) == (0, line + "\n", ""), args


def test_a_store_of_the_previous_schema_is_refused_in_one_line_and_left_alone(tmp_path: Path) -> None:
    old = tmp_path / "store-v1.db"
    shutil.copyfile(Path(__file__).resolve().parents[1] / "exporters" / "sqlite" / "data" / "store-v1.db", old)
    before = old.read_bytes()
    result = infertel("traces", "--store", str(old))
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith("infertel traces: error: ") and result.stderr.count("\n") == 1
    assert "run any writer once to migrate" in result.stderr
    assert old.read_bytes() == before
