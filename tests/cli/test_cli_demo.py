from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from infertel import semconv
from infertel._internal.demo.engine import MODELS, make_plans
from infertel.version import __version__
from infertel_exporters.sqlite import SQLiteStore


def _command() -> list[str]:
    script = shutil.which("infertel", path=os.path.dirname(sys.executable))
    return [script] if script else [sys.executable, "-m", "infertel._internal.cli"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["COLUMNS"] = "200"
    return env


def _run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_command(), *args], capture_output=True, text=True, timeout=timeout, env=_env())


@pytest.mark.slow
def test_demo_writes_every_request_to_the_store_and_summarises_it(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    requests, seed, error_rate = 40, 7, 0.15
    result = _run("demo", "--requests", str(requests), "--concurrency", "4", "--seed", str(seed),
                  "--error-rate", str(error_rate), "--store", str(db))  # fmt: skip
    assert result.returncode == 0, result.stderr
    plans = make_plans(requests, seed=seed, error_rate=error_rate)
    per_model = Counter(p.model.name for p in plans)
    errors = Counter(p.model.name for p in plans if p.error)
    assert sum(errors.values()) >= 2  # the seed gives this run failures to show

    # the table: one row per model with the requests and errors of the plan
    for model in MODELS:
        if per_model[model.name]:
            assert re.search(
                rf"{re.escape(model.name)}\s+{per_model[model.name]}\s+{errors[model.name]}\s", result.stdout
            ), result.stdout  # noqa: E501
    assert re.search(rf"all\s+{requests}\s+{sum(errors.values())}", result.stdout)
    assert "read back from the SQLite store" in result.stdout
    assert str(db) in result.stdout
    # the closing line: the command that opens the dashboard on this store (the extra is installed here)
    assert result.stdout.rstrip().splitlines()[-2:] == [
        "See it in a browser at http://127.0.0.1:8686/ after running:",
        f"infertel dashboard --store {db}",
    ]

    # the store: exactly one span per request, with the GenAI attributes, errors as errors
    with SQLiteStore(db) as store:
        spans = store.spans(limit=None)
        exception_events = {
            log.span_id: log
            for log in store.logs(limit=None)
            if log.event_name == semconv.GEN_AI_CLIENT_OPERATION_EXCEPTION
        }
    assert len(spans) == requests
    assert Counter(s.model for s in spans) == per_model
    by_model = {m.name: m for m in MODELS}
    for span in spans:
        model = by_model[span.attributes[semconv.GEN_AI_REQUEST_MODEL]]
        assert span.name == f"chat {model.name}"
        assert span.operation == span.attributes[semconv.GEN_AI_OPERATION_NAME] == "chat"
        assert span.attributes[semconv.GEN_AI_PROVIDER_NAME] == model.provider
        assert span.kind == ("CLIENT" if model.kind == "client" else "INTERNAL")
        assert span.resource["service.name"] == "infertel-demo"
        assert span.parent_span_id is None
        style = span.attributes[semconv.INFERTEL_DEMO_CALL_STYLE]
        if span.status_code == "ERROR":
            assert span.attributes[semconv.ERROR_TYPE].rsplit(".", 1)[-1] in ("RateLimitError", "TimeoutError")
            # The exception is a gen_ai.client.operation.exception event record in the span's context.
            event = exception_events[span.span_id]
            assert event.attributes[semconv.EXCEPTION_TYPE] == span.attributes[semconv.ERROR_TYPE]
            assert event.attributes[semconv.EXCEPTION_MESSAGE] == span.status_message
            assert not any(e.name == "exception" for e in span.events)
        else:
            assert span.attributes[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] >= 1
            assert span.attributes[semconv.GEN_AI_USAGE_INPUT_TOKENS] >= 1
            if style != "async" and style != "sync":
                assert span.attributes[semconv.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] > 0
    assert Counter(s.model for s in spans if s.status_code == "ERROR") == errors
    styles = Counter(s.attributes[semconv.INFERTEL_DEMO_CALL_STYLE] for s in spans)
    assert set(styles) == {"async", "async_stream", "sync", "sync_stream", "context_manager"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--requests", "0"], "--requests"),
        (["demo", "--requests", "many"], "--requests"),
        (["demo", "--concurrency", "-3"], "--concurrency"),
        (["demo", "--error-rate", "1.5"], "--error-rate"),
        (["demo", "--seed", "x"], "--seed"),
        (["demo", "--bogus"], "unrecognized arguments"),
        (["launch"], "invalid choice"),
        ([], "a command is required"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(args: list[str], message: str) -> None:
    result = _run(*args, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1  # one line, no usage block
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = _run("--version", timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == f"infertel {__version__}"


def test_invalid_environment_is_a_usage_error(tmp_path: Path) -> None:
    env = _env()
    env["OTEL_EXPORTER_OTLP_PROTOCOL"] = "carrier-pigeon"
    result = subprocess.run([*_command(), "demo", "--requests", "1", "--store", str(tmp_path / "x.db")],
                            capture_output=True, text=True, timeout=60, env=env)  # fmt: skip
    assert result.returncode == 2
    assert "OTEL_EXPORTER_OTLP_PROTOCOL" in result.stderr
    assert "Traceback" not in result.stderr
